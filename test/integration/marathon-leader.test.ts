// Marathon leadership faults against two Marathon doubles standing for one
// HA cluster: the leader changes from A to B mid-run (A's streams closed as
// Marathon closes them on losing leadership), and an election leaves no
// leader for a few seconds. Switchyard is configured with both endpoints and
// a real HAProxy serves real backends throughout.
//
// The two doubles hold the same apps and tasks (same task ids), as Marathon's
// state in ZooKeeper makes them; the one that takes over has no health
// results yet, as a freshly elected Marathon has none until its checks run.

import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBackends, type Backend } from '../support/backends.js';
import { haproxyTarget, type HaproxyHandle } from '../support/haproxy.js';
import { countHits, httpGet } from '../support/http.js';
import { MarathonDouble } from '../support/marathon-double.js';
import { freePort } from '../support/ports.js';
import { haproxyOnFirstConfig, startSwitchyard, waitForHealth, type SwitchyardHandle } from '../support/switchyard.js';
import { tempDir } from '../support/tmp.js';
import { eventually, sleep } from '../support/wait.js';

const APP = '/shop/web';

describe('Marathon leader change and election (two Marathons, real HAProxy)', function () {
  this.timeout(120_000);
  let dir: string;
  let a: MarathonDouble;
  let b: MarathonDouble;
  let backends: Backend[];
  let haproxy: HaproxyHandle;
  let sy: SwitchyardHandle;
  let servicePort: number;
  let output: string;
  const uuids = { b1: randomUUID(), b2: randomUUID(), b3: randomUUID(), b4: randomUUID() };
  const taskId = (name: keyof typeof uuids) => `${APP.slice(1).replaceAll('/', '_')}.${uuids[name]}`;

  const hits = async (n = 12) => [...(await countHits(`http://127.0.0.1:${servicePort}/`, n)).keys()].sort();

  /** Loads the cluster into one double: health verdicts where `health` says, none at all otherwise. */
  const load = (d: MarathonDouble, health: Partial<Record<keyof typeof uuids, boolean>> | null) => {
    d.addApp({
      id: APP,
      portDefinitions: [{ port: servicePort }],
      healthChecks: [{ protocol: 'HTTP', path: '/health', portIndex: 0, intervalSeconds: 2 }],
    } as never);
    for (const name of ['b1', 'b2', 'b3'] as const) {
      d.addTask(APP, {
        host: '127.0.0.1',
        ports: [backends[Number(name[1]) - 1]!.port],
        uuid: uuids[name],
        ...(health && health[name] !== undefined && { healthy: health[name] }),
      });
    }
  };

  /** Requests through HAProxy every 50 ms until stopped; resolves to the failures seen. */
  const watchServing = () => {
    let running = true;
    const failures: string[] = [];
    let requests = 0;
    const done = (async () => {
      while (running) {
        requests++;
        try {
          const r = await httpGet(`http://127.0.0.1:${servicePort}/`, { timeoutMs: 2000 });
          if (r.status !== 200) failures.push(`HTTP ${r.status}`);
        } catch (e) {
          failures.push((e as Error).message);
        }
        await sleep(50);
      }
    })();
    return async () => {
      running = false;
      await done;
      return { failures, requests };
    };
  };

  /** The state's versions seen from now until stopped: one while nothing changed. */
  const watchVersions = () => {
    const seen = new Set([sy.daemon.runner.health().version]);
    const off = sy.daemon.runner.onCycle(() => seen.add(sy.daemon.runner.health().version));
    return () => {
      off();
      seen.add(sy.daemon.runner.health().version);
      return [...seen];
    };
  };

  before(async () => {
    dir = tempDir('marathon-leader-');
    servicePort = await freePort();
    backends = await startBackends(['b1', 'b2', 'b3', 'b4']);
    a = new MarathonDouble({ keepAliveMs: 500 });
    b = new MarathonDouble({ keepAliveMs: 500, leader: false });
    const [urlA, urlB] = [await a.start(), await b.start()];
    b.setLeader(urlA);
    load(a, { b1: true, b2: true, b3: false });
    load(b, null);
    output = join(dir, 'haproxy.cfg');
    sy = await startSwitchyard(
      {
        marathon: {
          endpoints: [urlA, urlB],
          pollIntervalMs: 60_000,
          streamIdleTimeoutMs: 2000,
          requestTimeoutMs: 2000,
        },
        targets: [
          {
            ...haproxyTarget(dir, output),
            vars: { bind: '127.0.0.1', httpPort: await freePort(), hardStopAfter: '2s' },
          },
        ],
        reload: { quietMs: 20, maxDelayMs: 200 },
        // The guard would hold a drop on purpose; here nothing but the source may keep the backends.
        guard: { enabled: false },
      },
      dir,
      { captureLogs: true },
    );
    haproxy = await haproxyOnFirstConfig(sy, output, dir);
    await eventually(async () => expect(await hits()).to.deep.equal(['b1', 'b2']), { message: 'serving b1 and b2' });
  });

  after(async () => {
    await sy?.stop();
    await haproxy?.stop();
    await a?.stop();
    await b?.stop();
    await Promise.all((backends ?? []).map((x) => x.close()));
  });

  it('follows a leader change from A to B: reconnects, resyncs, serves the last config meanwhile, then follows B', async () => {
    expect(a.streamCount()).to.equal(1);
    const config = readFileSync(output, 'utf8');
    const stopServing = watchServing();
    const stopVersions = watchVersions();
    const syncedBefore = sy.logs.filter((e) => e.message === 'marathon synced').length;

    // A loses leadership (closing its streams); a moment with no leader; B is elected and A stands by for it.
    a.setLeader(null);
    b.setLeader(null);
    await sleep(700);
    b.setLeader(b.url);
    a.setLeader(b.url);

    await eventually(
      () => {
        expect(b.streamCount(), 'stream attached to B').to.equal(1);
        expect(a.streamCount(), 'nothing left on A').to.equal(0);
      },
      { timeoutMs: 20_000, message: 'the event stream moved to B' },
    );
    await waitForHealth(sy, 'ok');
    await eventually(
      () => expect(sy.logs.filter((e) => e.message === 'marathon synced').length).to.be.greaterThan(syncedBefore),
      { message: 'resynced from B' },
    );
    await sleep(500);
    const { failures, requests } = await stopServing();
    expect(failures, `${failures.length} of ${requests} requests failed`).to.deep.equal([]);
    expect(requests).to.be.greaterThan(10);
    // B's answer has no health results: the verdicts from A stand, so the state never changed, nor the config.
    expect(stopVersions(), 'state versions during the leader change').to.have.length(1);
    expect(readFileSync(output, 'utf8')).to.equal(config);

    // Changes made on B are followed: a new task (healthy once B says so), a verdict B reports.
    const b4 = b.addTask(APP, { host: '127.0.0.1', ports: [backends[3]!.port], uuid: uuids.b4 });
    expect(b4).to.equal(taskId('b4'));
    await sleep(300);
    expect(await hits()).to.deep.equal(['b1', 'b2']);
    b.setTaskHealth(b4, true);
    await eventually(async () => expect(await hits()).to.deep.equal(['b1', 'b2', 'b4']), {
      timeoutMs: 10_000,
      message: 'b4 served after B reports it healthy',
    });
    b.setTaskHealth(taskId('b3'), true);
    await eventually(async () => expect(await hits(16)).to.deep.equal(['b1', 'b2', 'b3', 'b4']), {
      timeoutMs: 10_000,
      message: 'b3 served after B reports it healthy',
    });
  });

  it('reuses the last known health verdicts for tasks whose results went missing with the leader', async () => {
    // What B answers: no health results for b1 and b2 (it has not checked them), yet they are served.
    const apps = JSON.parse((await httpGet(`${b.url}/v2/apps?embed=apps.tasks`)).body) as {
      apps: Array<{ tasks: Array<{ id: string; healthCheckResults?: unknown[] }> }>;
    };
    const tasks = new Map(apps.apps[0]!.tasks.map((t) => [t.id, t]));
    expect(tasks.get(taskId('b1'))!.healthCheckResults).to.equal(undefined);
    expect(tasks.get(taskId('b2'))!.healthCheckResults).to.equal(undefined);
    const state = JSON.parse((await httpGet(`${sy.url}/api/state`)).body);
    const web = state.services.find((s: { id: string }) => s.id === APP);
    const healthy = Object.fromEntries(web.allBackends.map((x: { id: string; healthy: boolean }) => [x.id, x.healthy]));
    expect(healthy).to.deep.equal({
      [taskId('b1')]: true,
      [taskId('b2')]: true,
      [taskId('b3')]: true,
      [taskId('b4')]: true,
    });
  });

  it('during an election with no leader keeps the last config, says degraded naming marathon, then recovers', async () => {
    const config = readFileSync(output, 'utf8');
    const stopServing = watchServing();
    const stopVersions = watchVersions();

    b.setLeader(null);
    a.setLeader(null);
    await eventually(
      async () => {
        const h = await sy.health();
        expect(h.status).to.equal(503);
        expect(h.body.status).to.equal('degraded');
        expect(h.body.failing).to.deep.equal(['marathon']);
      },
      { timeoutMs: 10_000, message: '/health degraded naming marathon' },
    );

    // A change happens on the cluster while nobody leads; no event can tell of it.
    b.killTask(taskId('b4'));
    for (let i = 0; i < 6; i++) {
      await sleep(500);
      const h = await sy.health();
      expect(h.body.failing, `still degraded after ${(i + 1) * 0.5} s`).to.deep.equal(['marathon']);
      expect(readFileSync(output, 'utf8')).to.equal(config);
    }
    expect(await hits(16)).to.deep.equal(['b1', 'b2', 'b3', 'b4']);
    expect(stopVersions(), 'state versions during the election').to.have.length(1);

    // B is elected again: Switchyard reattaches, resyncs (b4 is gone) and is healthy.
    b.setLeader(b.url);
    a.setLeader(b.url);
    await waitForHealth(sy, 'ok', 20_000);
    await eventually(async () => expect(await hits(16)).to.deep.equal(['b1', 'b2', 'b3']), {
      timeoutMs: 15_000,
      message: 'the resync after the election dropped b4',
    });
    const { failures, requests } = await stopServing();
    // Only b4 may have failed a request: it was killed in the cluster, and its process still runs, so none should.
    expect(failures, `${failures.length} of ${requests} requests failed`).to.deep.equal([]);
    expect(
      sy.logs.some(
        (e) => e.message === 'marathon unreachable; keeping the last known state' && /503/.test(String(e.reason)),
      ),
    ).to.equal(true);
  });
});
