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
import type { LiveUpdater } from '../../src/targets/haproxy/live.js';
import { recordPath } from '../../src/targets/record.js';
import { Target } from '../../src/targets/target.js';
import { FakeClock } from '../support/fake-clock.js';
import { backend, service } from './fixtures.js';

// A target whose parts throw what no stage expects — a command runner that
// rejects with a string, a live updater that throws null — fails alone, on
// /health, and the runner goes on: the other target installs, and the
// faulty one is tried again and heals.

class ManualSource implements Source {
  sink: Sink | null = null;
  readonly name = 'a';
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

function setup(live: LiveUpdater | null = null) {
  const dir = mkdtempSync(join(tmpdir(), 'sy-target-faults-'));
  writeFileSync(join(dir, 't.hbs'), '{{#each services}}{{id}}:{{#each backends}}{{port}},{{/each}}\n{{/each}}');
  const faulty = { thrown: 'spawn refused' as unknown, on: true, reloads: 0 };
  const throwing: Exec = async () => {
    faulty.reloads++;
    if (faulty.on) throw faulty.thrown;
    return { code: 0, output: '', timedOut: false, ms: 0 };
  };
  const fine: Exec = async () => ({ code: 0, output: '', timedOut: false, ms: 0 });
  const target = (name: string, exec: Exec, withLive: LiveUpdater | null) =>
    new Target(
      {
        name,
        template: join(dir, 't.hbs'),
        output: join(dir, `${name}.cfg`),
        validate: '',
        reload: 'reload',
        runtimeApi: '',
        vars: {},
      },
      { exec, log: silentLogger(), commandTimeoutMs: 1000, cwd: dir, live: withLive },
    );
  const clock = new FakeClock();
  const source = new ManualSource();
  const runner = new Runner(
    {
      reload: { quietMs: 0, maxDelayMs: 0, minIntervalMs: 0, timeoutMs: 1000 },
      guard: { enabled: false, maxDrop: 0.5, holdMs: 60_000 },
    },
    new StateStore(),
    [source],
    [target('bad', throwing, live), target('good', fine, null)],
    silentLogger(),
    new Metrics(),
    clock,
  );
  const tick = async (ms: number) => {
    await clock.advance(ms);
    await runner['cycling'].idle();
  };
  const sync = (port: number) =>
    source.sink!({ kind: 'sync', source: 'a', services: [service('x', [backend('1', port)])] });
  return { runner, faulty, tick, sync, dir, out: (name: string) => readFileSync(join(dir, `${name}.cfg`), 'utf8') };
}

describe('a target that throws what no stage expects', () => {
  it('fails alone: /health names it with the thrown value, and the other target installs', async () => {
    const { runner, tick, sync, out } = setup();
    await runner.start();
    sync(1);
    await tick(0);
    const h = runner.health();
    expect(h.status).to.equal('degraded');
    expect(h.failing).to.deep.equal(['bad']);
    expect(h.targets.bad).to.include({ ok: false, stage: 'fault', lastError: 'unexpected fault: spawn refused' });
    expect(out('good')).to.equal('x:1,\n');
    await runner.stop();
  });

  it('does not stall the runner: the next change installs on the other target', async () => {
    const { runner, tick, sync, out } = setup();
    await runner.start();
    sync(1);
    await tick(0);
    sync(2);
    await tick(0);
    expect(out('good')).to.equal('x:2,\n');
    await runner.stop();
  });

  it('is tried again on its own and reloads once its commands run again', async () => {
    const { runner, faulty, tick, sync } = setup();
    await runner.start();
    sync(1);
    await tick(0);
    const tries = faulty.reloads;
    faulty.on = false;
    await tick(1000);
    expect(faulty.reloads).to.equal(tries + 1);
    expect(runner.health().status).to.equal('ok');
    await runner.stop();
  });

  it('finishes a cycle past a listener that throws: the install is recorded for the next start', async () => {
    const { runner, tick, sync, dir } = setup();
    runner.onCycle(() => {
      throw new Error('a reader broke');
    });
    await runner.start();
    sync(1);
    await tick(0);
    expect(existsSync(recordPath(join(dir, 'good.cfg')))).to.equal(true);
    await runner.stop();
  });

  it('takes a thrown null from a live updater as its fault too', async () => {
    const live: LiveUpdater = {
      async apply() {
        throw null;
      },
      async beforeReload() {},
    };
    const { runner, faulty, tick, sync } = setup(live);
    faulty.on = false;
    await runner.start();
    sync(1);
    await tick(0);
    sync(2);
    await tick(0);
    // The live updater's null is a refused live update: the change takes the reload path instead.
    expect(runner.health().targets.bad).to.include({ ok: true });
    expect(faulty.reloads).to.equal(2);
    await runner.stop();
  });
});
