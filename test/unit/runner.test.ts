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
import { FakeClock, settle } from '../support/fake-clock.js';
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
      overLimit: {},
    };
  }
}

function setup(reload: { quietMs: number; maxDelayMs: number; minIntervalMs: number }, sourceNames = ['a']) {
  const clock = new FakeClock();
  const dir = mkdtempSync(join(tmpdir(), 'sy-runner-'));
  writeFileSync(join(dir, 't.hbs'), '{{#each services}}{{id}}:{{#each backends}}{{port}},{{/each}}\n{{/each}}');
  const reloads: number[] = [];
  const failing = { reload: false, hold: null as Promise<void> | null };
  const exec: Exec = async () => {
    reloads.push(clock.now());
    await failing.hold;
    return { code: failing.reload ? 1 : 0, output: failing.reload ? 'reload refused' : '', timedOut: false, ms: 0 };
  };
  const output = join(dir, 'out.cfg');
  const target = new Target(
    { name: 't', template: join(dir, 't.hbs'), output, validate: '', reload: 'reload', runtimeApi: '', vars: {} },
    { exec, log: silentLogger(), commandTimeoutMs: 1000, cwd: dir, minReloadIntervalMs: reload.minIntervalMs, clock },
  );
  const sources = sourceNames.map((n) => new ManualSource(n));
  const runner = new Runner(
    { reload: { ...reload, timeoutMs: 1000 }, guard: { enabled: false, maxDrop: 0.5, holdMs: 60_000 } },
    new StateStore(),
    sources,
    [target],
    silentLogger(),
    new Metrics(),
    clock,
  );
  /** Moves the fake clock on, then lets the cycles it started finish (their file and process work is real). */
  const tick = async (ms: number) => {
    await clock.advance(ms);
    await runner['cycling'].idle();
  };
  return { runner, sources, reloads, output, failing, clock, tick };
}

describe('runner', () => {
  it('renders nothing until every source has synced once', async () => {
    const { runner, sources, output, tick } = setup({ quietMs: 0, maxDelayMs: 0, minIntervalMs: 0 }, ['a', 'b']);
    await runner.start();
    sources[0]!.sink!({ kind: 'sync', source: 'a', services: [service('x', [backend('1', 1)])] });
    await tick(1000);
    expect(existsSync(output)).to.equal(false);
    expect(runner.health().status).to.equal('starting');
    sources[1]!.sink!({ kind: 'sync', source: 'b', services: [] });
    await tick(0);
    expect(existsSync(output)).to.equal(true);
    expect(runner.health().status).to.equal('ok');
    await runner.stop();
  });

  it('turns a burst of changes into one render and one reload, quietMs after the last', async () => {
    const { runner, sources, reloads, clock, tick } = setup({ quietMs: 30, maxDelayMs: 1000, minIntervalMs: 0 });
    await runner.start();
    const sink = sources[0]!.sink!;
    sink({ kind: 'sync', source: 'a', services: [] });
    await tick(30);
    const base = reloads.length;
    for (let i = 1; i <= 50; i++) sink({ kind: 'upsert', source: 'a', service: service('x', [backend('1', i)]) });
    const last = clock.now();
    await tick(29);
    expect(reloads.length - base).to.equal(0);
    await tick(1);
    expect(reloads.slice(base)).to.deep.equal([last + 30]);
    await tick(5000);
    expect(reloads.length - base).to.equal(1);
    await runner.stop();
  });

  it('does not wait longer than maxDelayMs under a steady trickle of changes', async () => {
    const { runner, sources, reloads, clock, tick } = setup({ quietMs: 50, maxDelayMs: 100, minIntervalMs: 0 });
    await runner.start();
    const sink = sources[0]!.sink!;
    sink({ kind: 'sync', source: 'a', services: [] });
    await tick(50);
    const base = reloads.length;
    const first = clock.now();
    for (let i = 1; i <= 12; i++) {
      sink({ kind: 'upsert', source: 'a', service: service('x', [backend('1', i)]) });
      await tick(25);
    }
    // Changes come every 25 ms, quietMs (50) never passes: maxDelayMs after the first change forces each cycle.
    expect(reloads.slice(base, base + 3)).to.deep.equal([first + 100, first + 200, first + 300]);
    await runner.stop();
  });

  it('tries a failed target again on its own, waiting 1 s, then 2 s, and back to 1 s after a success', async () => {
    const { runner, sources, reloads, failing, clock, tick } = setup({ quietMs: 0, maxDelayMs: 0, minIntervalMs: 0 });
    await runner.start();
    failing.reload = true;
    sources[0]!.sink!({ kind: 'sync', source: 'a', services: [service('x', [backend('1', 1)])] });
    await tick(0);
    const start = clock.now();
    expect(reloads).to.deep.equal([start]);
    expect(runner.health().failing).to.deep.equal(['t']);
    await tick(999);
    expect(reloads).to.have.length(1);
    await tick(1);
    expect(reloads).to.deep.equal([start, start + 1000]);
    await tick(2000);
    expect(reloads).to.deep.equal([start, start + 1000, start + 3000]);
    failing.reload = false;
    await tick(4000);
    expect(reloads).to.deep.equal([start, start + 1000, start + 3000, start + 7000]);
    expect(runner.health().status).to.equal('ok');
    await tick(60_000);
    expect(reloads).to.have.length(4);
    await runner.stop();
  });

  it('runs a cycle that falls due while one is in flight right after it, not alongside', async () => {
    const { runner, sources, reloads, failing, output, clock, tick } = setup({
      quietMs: 0,
      maxDelayMs: 0,
      minIntervalMs: 0,
    });
    await runner.start();
    const sink = sources[0]!.sink!;
    sink({ kind: 'sync', source: 'a', services: [] });
    await tick(0);
    let release!: () => void;
    failing.hold = new Promise((resolve) => (release = resolve));
    sink({ kind: 'upsert', source: 'a', service: service('x', [backend('1', 1)]) });
    await clock.advance(0);
    while (reloads.length < 2) await settle(); // the cycle is in its reload, held
    sink({ kind: 'upsert', source: 'a', service: service('x', [backend('1', 2)]) });
    await clock.advance(0);
    expect(reloads).to.have.length(2);
    failing.hold = null;
    release();
    await runner['cycling'].idle();
    expect(reloads).to.have.length(3);
    expect(readFileSync(output, 'utf8')).to.equal('x:2,\n');
    await runner.stop();
  });

  it('keeps reloads at least minIntervalMs apart and still converges on the last state', async () => {
    const { runner, sources, reloads, output, tick } = setup({ quietMs: 0, maxDelayMs: 0, minIntervalMs: 150 });
    await runner.start();
    const sink = sources[0]!.sink!;
    sink({ kind: 'sync', source: 'a', services: [] });
    await tick(0);
    for (let i = 1; i <= 5; i++) {
      sink({ kind: 'upsert', source: 'a', service: service('x', [backend('1', i)]) });
      await tick(20);
    }
    await tick(400);
    // One reload for the sync; the five changes, held back, in one more.
    expect(reloads).to.have.length(2);
    expect(reloads[1]! - reloads[0]!).to.be.at.least(150);
    expect(readFileSync(output, 'utf8')).to.equal('x:5,\n');
    await runner.stop();
  });

  it('runs a cycle when an input outside the state changes (a host name moved), after the quiet time', async () => {
    const { runner, sources, tick } = setup({ quietMs: 50, maxDelayMs: 500, minIntervalMs: 0 });
    await runner.start();
    sources[0]!.sink!({ kind: 'sync', source: 'a', services: [service('x', [backend('1', 1)])] });
    await tick(50);
    let cycles = 0;
    runner.onCycle(() => cycles++);
    runner.inputChanged();
    await tick(49);
    expect(cycles).to.equal(0);
    await tick(1);
    expect(cycles).to.equal(1);
  });

  it('does not render again for a change that alters nothing', async () => {
    const { runner, sources, reloads, clock, tick } = setup({ quietMs: 0, maxDelayMs: 0, minIntervalMs: 0 });
    await runner.start();
    const sink = sources[0]!.sink!;
    sink({ kind: 'sync', source: 'a', services: [service('x', [backend('1', 1)])] });
    await tick(0);
    expect(reloads).to.have.length(1);
    sink({ kind: 'sync', source: 'a', services: [service('x', [backend('1', 1)])] });
    expect(clock.pending()).to.deep.equal([]);
    await tick(1000);
    expect(reloads).to.have.length(1);
    await runner.stop();
  });
});
