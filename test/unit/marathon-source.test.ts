// The Marathon source's concurrency in-process: a fake Marathon whose answers
// the spec releases by hand, a fake event stream, and a clock moved by hand.

import { expect } from 'chai';
import { configSchema, type MarathonConfig } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import { MarathonSource, type MarathonApi } from '../../src/sources/marathon/source.js';
import type { StreamHandlers } from '../../src/sources/marathon/stream.js';
import type { MarathonApp } from '../../src/sources/marathon/types.js';
import type { Change } from '../../src/state/model.js';
import { FakeClock, settle } from '../support/fake-clock.js';

/** Marathon's REST API, each full fetch held until the spec answers or fails it. */
class FakeMarathon implements MarathonApi {
  readonly fetches: Array<{ answer: (apps: MarathonApp[]) => Promise<void>; fail: (e: Error) => Promise<void> }> = [];
  readonly apps_ = new Map<string, MarathonApp>();

  apps(onApp: (app: MarathonApp) => void): Promise<number> {
    return new Promise((resolve, reject) => {
      this.fetches.push({
        answer: async (apps) => {
          for (const a of apps) onApp(a);
          resolve(apps.length);
          await settle();
        },
        fail: async (e) => {
          reject(e);
          await settle();
        },
      });
    });
  }

  /** While true, each single-app fetch waits in `appFetches` for the spec to answer it. */
  holdApps = false;
  readonly appFetches: Array<(app: MarathonApp | null) => Promise<void>> = [];

  async app(id: string): Promise<MarathonApp | null> {
    if (!this.holdApps) return this.apps_.get(id) ?? null;
    return new Promise((resolve) =>
      this.appFetches.push(async (app) => {
        resolve(app);
        await settle();
      }),
    );
  }

  /** The fetch in flight, answered next. */
  get pending() {
    const f = this.fetches.shift();
    if (!f) throw new Error('no full fetch is in flight');
    return f;
  }
}

function config(extra: Partial<MarathonConfig> = {}): MarathonConfig {
  return configSchema.parse({
    marathon: { endpoints: ['http://marathon.test:8080'], pollIntervalMs: 10_000, ...extra },
    targets: [{ name: 't', template: 't.hbs', output: 'out.cfg' }],
  }).marathon!;
}

const app = (id: string, tasks: string[]): MarathonApp => ({
  id,
  ports: [10000],
  tasks: tasks.map((t, i) => ({ id: t, host: '10.0.0.1', ports: [31000 + i], state: 'TASK_RUNNING' })),
});

function setup(extra: Partial<MarathonConfig> = {}) {
  const clock = new FakeClock();
  const marathon = new FakeMarathon();
  const streams: StreamHandlers[] = [];
  const openStream = (handlers: StreamHandlers) => {
    streams.push(handlers);
    return { open: async () => undefined, close: () => undefined };
  };
  const source = new MarathonSource(config(extra), silentLogger(), undefined, { client: marathon, openStream, clock });
  const changes: Change[] = [];
  const backendsOf = (id: string): string[] => {
    let last: string[] | null = null;
    for (const c of changes) {
      if (c.kind === 'sync') last = c.services.find((s) => s.id === id)?.backends.map((b) => b.id) ?? null;
      if (c.kind === 'upsert' && c.service.id === id) last = c.service.backends.map((b) => b.id);
      if (c.kind === 'remove' && c.id === id) last = null;
    }
    return last ?? [];
  };
  /** The backends of a service that take traffic, as the state last heard. */
  const servedOf = (id: string): string[] => {
    let last: string[] = [];
    const ids = (s: { backends: readonly { id: string; healthy: boolean }[] } | undefined) =>
      s?.backends.flatMap((b) => (b.healthy ? [b.id] : [])) ?? [];
    for (const c of changes) {
      if (c.kind === 'sync') last = ids(c.services.find((s) => s.id === id));
      if (c.kind === 'upsert' && c.service.id === id) last = ids(c.service);
      if (c.kind === 'remove' && c.id === id) last = [];
    }
    return last;
  };
  return {
    clock,
    marathon,
    streams,
    source,
    changes,
    backendsOf,
    servedOf,
    start: () => source.start((c) => changes.push(c)),
  };
}

describe('marathon source', () => {
  it('replays an event seen during a full fetch on top of the older answer', async () => {
    const { marathon, streams, source, backendsOf, start } = setup();
    await start();
    streams[0]!.onOpen('http://marathon.test:8080');
    const fetch = marathon.pending;
    // The task dies while the app list is on its way: the list still has it.
    streams[0]!.onEvent('status_update_event', { appId: '/web', taskId: 'web.2', taskStatus: 'TASK_KILLED' });
    await fetch.answer([app('/web', ['web.1', 'web.2'])]);
    expect(backendsOf('/web')).to.deep.equal(['web.1']);
    await source.stop();
  });

  it('makes one more full fetch for reasons that arrive while one is in flight, not one each', async () => {
    const { marathon, streams, source, start } = setup();
    await start();
    streams[0]!.onOpen('http://marathon.test:8080');
    const first = marathon.pending;
    streams[0]!.onClose('connection reset');
    void source['sync']('another reason');
    expect(marathon.fetches).to.have.length(0);
    await first.answer([]);
    expect(marathon.fetches).to.have.length(1);
    await marathon.pending.answer([]);
    expect(marathon.fetches).to.have.length(0);
    await source.stop();
  });

  it('keeps the last view through a failed resync, and retries it after a doubling backoff', async () => {
    const { clock, marathon, source, changes, backendsOf, start } = setup({ eventStream: false });
    await start();
    await marathon.pending.answer([app('/web', ['web.1'])]);
    expect(source.status().healthy).to.equal(true);

    await clock.advance(10_000); // the periodic resync
    await marathon.pending.fail(new Error('connect ECONNREFUSED'));
    expect(backendsOf('/web')).to.deep.equal(['web.1']);
    expect(changes.filter((c) => c.kind === 'sync')).to.have.length(1);
    expect(source.status().lastError).to.contain('ECONNREFUSED');

    await clock.advance(499);
    expect(marathon.fetches).to.have.length(0);
    await clock.advance(1);
    await marathon.pending.fail(new Error('connect ECONNREFUSED'));
    await clock.advance(999);
    expect(marathon.fetches).to.have.length(0);
    await clock.advance(1);
    await marathon.pending.answer([app('/web', ['web.1', 'web.3'])]);
    expect(backendsOf('/web')).to.deep.equal(['web.1', 'web.3']);
    expect(source.status().lastError).to.equal(null);
    await source.stop();
  });

  it('reconnects a lost stream after the backoff, and resyncs meanwhile', async () => {
    const { clock, marathon, streams, source, start } = setup();
    await start();
    streams[0]!.onOpen('http://marathon.test:8080');
    await marathon.pending.answer([]);
    streams[0]!.onClose('stream idle for 30000 ms');
    await marathon.pending.answer([]);
    expect(streams).to.have.length(1);
    await clock.advance(500);
    expect(streams).to.have.length(2);
    await source.stop();
  });

  it("keeps a task that started while its app's own fetch was in flight, though the answer predates it", async () => {
    const { marathon, streams, source, backendsOf, start } = setup();
    await start();
    streams[0]!.onOpen('http://marathon.test:8080');
    await marathon.pending.answer([app('/web', ['web.1'])]);
    marathon.holdApps = true;
    streams[0]!.onEvent('api_post_event', { appDefinition: { id: '/web' } });
    const running = { appId: '/web', taskId: 'web.2', taskStatus: 'TASK_RUNNING', host: '10.0.0.2', ports: [31001] };
    streams[0]!.onEvent('status_update_event', running);
    await marathon.appFetches.shift()!(app('/web', ['web.1']));
    expect(backendsOf('/web')).to.deep.equal(['web.1', 'web.2']);
    await source.stop();
  });

  it('keeps an app gone that was terminated while its own fetch was in flight', async () => {
    const { marathon, streams, source, backendsOf, start } = setup();
    await start();
    streams[0]!.onOpen('http://marathon.test:8080');
    await marathon.pending.answer([app('/web', ['web.1'])]);
    marathon.holdApps = true;
    streams[0]!.onEvent('api_post_event', { appDefinition: { id: '/web' } });
    streams[0]!.onEvent('app_terminated_event', { appId: '/web' });
    await marathon.appFetches.shift()!(app('/web', ['web.1']));
    expect(backendsOf('/web')).to.deep.equal([]);
    await source.stop();
  });

  it('fires nothing once stopped', async () => {
    const { clock, marathon, source, start } = setup({ eventStream: false });
    await start();
    await marathon.pending.fail(new Error('down'));
    await source.stop();
    await clock.advance(60_000);
    expect(marathon.fetches).to.have.length(0);
  });
});

describe('marathon source during a deployment with readiness checks', () => {
  const VERSION = '2026-12-04T04:00:00.000Z';
  /** /web deploying VERSION with a readiness check; `results` as embed=apps.readiness lists them. */
  const deploying = (tasks: string[], results: Array<{ taskId: string; ready: boolean }> = [], deployments = 1) => ({
    ...app('/web', tasks),
    version: VERSION,
    readinessChecks: [{ name: 'readinessCheck', portName: 'http' }],
    deployments: Array.from({ length: deployments }, () => ({ id: 'd1' })),
    readinessCheckResults: results.map((r) => ({ name: 'readinessCheck', ...r })),
  });
  const running = (taskId: string, version = VERSION) => ({
    appId: '/web',
    taskId,
    taskStatus: 'TASK_RUNNING',
    host: '10.0.0.1',
    ports: [31009],
    version,
  });

  /** A source attached to a stream, synced with /web deploying its old task; the new one is then seen starting. */
  async function started() {
    const s = setup();
    await s.start();
    s.streams[0]!.onOpen('http://marathon.test:8080');
    await s.marathon.pending.answer([deploying(['web.old'])]);
    // Marathon lists the new task before its first check has answered.
    s.marathon.apps_.set('/web', deploying(['web.old', 'web.new']));
    s.streams[0]!.onEvent('status_update_event', running('web.new'));
    await settle();
    return s;
  }

  it('holds a task that starts during the deployment out, although the next answer lists no result for it', async () => {
    const { source, servedOf, backendsOf } = await started();
    expect(backendsOf('/web')).to.deep.equal(['web.new', 'web.old']);
    expect(servedOf('/web')).to.deep.equal(['web.old']);
    await source.stop();
  });

  it('serves it once Marathon lists it ready, fetched on the next task news (the old task killed)', async () => {
    const { marathon, streams, source, servedOf } = await started();
    marathon.apps_.set('/web', deploying(['web.new'], [{ taskId: 'web.new', ready: true }]));
    streams[0]!.onEvent('status_update_event', { ...running('web.old'), taskStatus: 'TASK_KILLED' });
    await settle();
    expect(servedOf('/web')).to.deep.equal(['web.new']);
    await source.stop();
  });

  it('keeps the hold through an answer older than the task, which the next answer brings back', async () => {
    const { marathon, streams, source, servedOf, backendsOf, start } = setup();
    await start();
    streams[0]!.onOpen('http://marathon.test:8080');
    await marathon.pending.answer([deploying(['web.old'])]);
    // The fetch that the task's news starts is answered as Marathon stood before the task.
    marathon.apps_.set('/web', deploying(['web.old']));
    streams[0]!.onEvent('status_update_event', running('web.new'));
    await settle();
    marathon.apps_.set('/web', deploying(['web.old', 'web.new']));
    streams[0]!.onEvent('deployment_info', {
      currentStep: { actions: [{ action: 'RestartApplication', app: '/web' }] },
    });
    await settle();
    expect(backendsOf('/web')).to.deep.equal(['web.new', 'web.old']);
    expect(servedOf('/web')).to.deep.equal(['web.old']);
    await source.stop();
  });

  it('lets the results alone decide once the deployment step has succeeded', async () => {
    const { marathon, streams, source, servedOf } = await started();
    marathon.apps_.set('/web', deploying(['web.old', 'web.new']));
    streams[0]!.onEvent('deployment_step_success', {
      currentStep: { actions: [{ action: 'RestartApplication', app: '/web' }] },
    });
    await settle();
    expect(servedOf('/web')).to.deep.equal(['web.new', 'web.old']);
    await source.stop();
  });

  it('lets the results alone decide once the event stream is lost, since the step end may be missed', async () => {
    const { marathon, streams, source, servedOf } = await started();
    streams[0]!.onClose('connection reset');
    expect(servedOf('/web')).to.deep.equal(['web.new', 'web.old']);
    await marathon.pending.answer([deploying(['web.old', 'web.new'])]);
    await source.stop();
  });

  it('does not hold out a task of an older version, which the deployment does not check', async () => {
    const { marathon, streams, source, servedOf, start } = setup();
    await start();
    streams[0]!.onOpen('http://marathon.test:8080');
    await marathon.pending.answer([deploying(['web.old'])]);
    marathon.apps_.set('/web', deploying(['web.old', 'web.back']));
    // A task of the version being replaced, restarted by Marathon's scheduler rather than by the deployment.
    streams[0]!.onEvent('status_update_event', running('web.back', '2026-12-03T00:00:00.000Z'));
    await settle();
    expect(servedOf('/web')).to.deep.equal(['web.back', 'web.old']);
    await source.stop();
  });

  it('holds a task of a version it has not fetched yet, while the fetch shows that version deploying', async () => {
    const { marathon, streams, source, servedOf, start } = setup();
    await start();
    streams[0]!.onOpen('http://marathon.test:8080');
    await marathon.pending.answer([{ ...deploying(['web.old'], [], 0), version: '2026-12-03T00:00:00.000Z' }]);
    // The task's status arrives before the deployment's start shows in a fetch.
    marathon.apps_.set('/web', deploying(['web.old', 'web.new']));
    streams[0]!.onEvent('status_update_event', running('web.new'));
    await settle();
    expect(servedOf('/web')).to.deep.equal(['web.old']);
    await source.stop();
  });

  it('serves a task of a version it has not fetched yet once the fetch shows no deployment', async () => {
    const { marathon, streams, source, servedOf, start } = setup();
    await start();
    streams[0]!.onOpen('http://marathon.test:8080');
    await marathon.pending.answer([{ ...deploying(['web.old'], [], 0), version: '2026-12-03T00:00:00.000Z' }]);
    marathon.apps_.set('/web', deploying(['web.old', 'web.new'], [], 0));
    streams[0]!.onEvent('status_update_event', running('web.new'));
    await settle();
    expect(servedOf('/web')).to.deep.equal(['web.new', 'web.old']);
    await source.stop();
  });

  it('serves a task that starts outside a deployment at once, as without readiness checks', async () => {
    const { marathon, streams, source, servedOf, start } = setup();
    await start();
    streams[0]!.onOpen('http://marathon.test:8080');
    await marathon.pending.answer([deploying(['web.old'], [], 0)]);
    streams[0]!.onEvent('status_update_event', running('web.new'));
    expect(servedOf('/web')).to.deep.equal(['web.new', 'web.old']);
    await source.stop();
  });
});
