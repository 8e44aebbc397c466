import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { Runner } from '../../src/runner.js';
import type { Sink, Source, SourceStatus } from '../../src/sources/source.js';
import { StateStore } from '../../src/state/store.js';
import type { Exec } from '../../src/targets/exec.js';
import { Target } from '../../src/targets/target.js';
import { backend, service } from './fixtures.js';

/** A source the test drives by hand. */
class ManualSource implements Source {
  sink: Sink | null = null;
  constructor(readonly name: string) {}
  async start(sink: Sink) {
    this.sink = sink;
  }
  async stop() {}
  status(): SourceStatus {
    return {
      name: this.name,
      synced: true,
      healthy: true,
      lastSyncAt: 0,
      lastError: null,
      detail: {},
      events: {},
      connected: null,
      rejections: [],
    };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function setup(reload: { quietMs: number; maxDelayMs: number; minIntervalMs: number }, sourceNames = ['a']) {
  const dir = mkdtempSync(join(tmpdir(), 'sy-runner-'));
  writeFileSync(join(dir, 't.hbs'), '{{#each services}}{{id}}:{{#each backends}}{{port}},{{/each}}\n{{/each}}');
  const reloads: number[] = [];
  const exec: Exec = async () => {
    reloads.push(Date.now());
    return { code: 0, output: '', timedOut: false, ms: 0 };
  };
  const output = join(dir, 'out.cfg');
  const target = new Target(
    { name: 't', template: join(dir, 't.hbs'), output, validate: '', reload: 'reload', runtimeApi: '', vars: {} },
    { exec, log: silentLogger(), commandTimeoutMs: 1000, cwd: dir, minReloadIntervalMs: reload.minIntervalMs },
  );
  const sources = sourceNames.map((n) => new ManualSource(n));
  const runner = new Runner(
    { reload: { ...reload, timeoutMs: 1000 }, guard: { enabled: false, maxDrop: 0.5, holdMs: 60_000 } },
    new StateStore(),
    sources,
    [target],
    silentLogger(),
    new Metrics(),
  );
  return { runner, sources, reloads, output };
}

describe('runner', () => {
  it('renders nothing until every source has synced once', async () => {
    const { runner, sources, output } = setup({ quietMs: 0, maxDelayMs: 0, minIntervalMs: 0 }, ['a', 'b']);
    await runner.start();
    sources[0]!.sink!({ kind: 'sync', source: 'a', services: [service('x', [backend('1', 1)])] });
    await sleep(50);
    expect(existsSync(output)).to.equal(false);
    expect(runner.health().status).to.equal('starting');
    sources[1]!.sink!({ kind: 'sync', source: 'b', services: [] });
    await sleep(50);
    expect(existsSync(output)).to.equal(true);
    expect(runner.health().status).to.equal('ok');
    await runner.stop();
  });

  it('turns a burst of changes into one render and one reload', async () => {
    const { runner, sources, reloads } = setup({ quietMs: 30, maxDelayMs: 1000, minIntervalMs: 0 });
    await runner.start();
    const sink = sources[0]!.sink!;
    sink({ kind: 'sync', source: 'a', services: [] });
    await sleep(60);
    const base = reloads.length;
    for (let i = 1; i <= 50; i++) sink({ kind: 'upsert', source: 'a', service: service('x', [backend('1', i)]) });
    await sleep(120);
    expect(reloads.length - base).to.equal(1);
    await runner.stop();
  });

  it('does not wait longer than maxDelayMs under a steady trickle of changes', async () => {
    const { runner, sources, reloads } = setup({ quietMs: 50, maxDelayMs: 100, minIntervalMs: 0 });
    await runner.start();
    const sink = sources[0]!.sink!;
    sink({ kind: 'sync', source: 'a', services: [] });
    await sleep(80);
    const base = reloads.length;
    for (let i = 1; i <= 12; i++) {
      sink({ kind: 'upsert', source: 'a', service: service('x', [backend('1', i)]) });
      await sleep(25);
    }
    expect(reloads.length - base).to.be.at.least(1);
    await runner.stop();
  });

  it('keeps reloads at least minIntervalMs apart and still converges on the last state', async () => {
    const { runner, sources, reloads, output } = setup({ quietMs: 0, maxDelayMs: 0, minIntervalMs: 150 });
    await runner.start();
    const sink = sources[0]!.sink!;
    sink({ kind: 'sync', source: 'a', services: [] });
    for (let i = 1; i <= 5; i++) {
      await sleep(20);
      sink({ kind: 'upsert', source: 'a', service: service('x', [backend('1', i)]) });
    }
    await sleep(400);
    const gaps = reloads.slice(1).map((t, i) => t - reloads[i]!);
    expect(Math.min(...gaps)).to.be.at.least(140);
    expect(readFileSync(output, 'utf8')).to.equal('x:5,\n');
    await runner.stop();
  });

  it('does not render again for a change that alters nothing', async () => {
    const { runner, sources, reloads } = setup({ quietMs: 0, maxDelayMs: 0, minIntervalMs: 0 });
    await runner.start();
    const sink = sources[0]!.sink!;
    sink({ kind: 'sync', source: 'a', services: [service('x', [backend('1', 1)])] });
    while (reloads.length === 0) await sleep(10);
    await sleep(30);
    const base = reloads.length;
    sink({ kind: 'sync', source: 'a', services: [service('x', [backend('1', 1)])] });
    await sleep(30);
    expect(reloads.length).to.equal(base);
    await runner.stop();
  });
});
