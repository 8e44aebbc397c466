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

  async app(id: string): Promise<MarathonApp | null> {
    return this.apps_.get(id) ?? null;
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
  return { clock, marathon, streams, source, changes, backendsOf, start: () => source.start((c) => changes.push(c)) };
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

  it('fires nothing once stopped', async () => {
    const { clock, marathon, source, start } = setup({ eventStream: false });
    await start();
    await marathon.pending.fail(new Error('down'));
    await source.stop();
    await clock.advance(60_000);
    expect(marathon.fetches).to.have.length(0);
  });
});
