import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBackends, type Backend } from '../support/backends.js';
import { haproxyTarget, type HaproxyHandle } from '../support/haproxy.js';
import { countHits, httpGet } from '../support/http.js';
import { MarathonDouble } from '../support/marathon-double.js';
import { freePort } from '../support/ports.js';
import { haproxyOnFirstInstall, spawnSwitchyard, type SwitchyardProcess } from '../support/switchyard-process.js';
import { tempDir } from '../support/tmp.js';
import { eventually, sleep } from '../support/wait.js';
import { startZookeeper, type ZookeeperHandle } from '../support/zookeeper.js';

const SESSION_MS = 3000;
const FLEET = '/switchyard/fleet';

/** One sidecar host: a Switchyard process and its HAProxy, bound to a loopback address of its own. */
interface Member {
  readonly n: number;
  readonly bind: string;
  readonly output: string;
  readonly sy: SwitchyardProcess;
  readonly haproxy: HaproxyHandle;
}

interface FleetHealth {
  role: 'leader' | 'follower';
  leader: string | null;
  members: number;
  version: number;
  ageMs: number | null;
  refused: string[];
}

// Several Switchyard processes, each beside its own real HAProxy, sharing one
// ZooKeeper (real) and one Marathon (the double, which counts what it serves).
describe('fleet: one elected sidecar follows Marathon and the others render its published view', function () {
  this.timeout(180_000);
  let zk: ZookeeperHandle;
  let marathon: MarathonDouble;
  let backends: Backend[];
  let servicePort: number;
  let httpPort: number;
  const members: Member[] = [];
  const alive = () => members.filter((m) => !m.sy.exited.aborted);

  const config = (bind: string, output: string, dir: string, marathonExtra: Record<string, unknown> = {}) => ({
    marathon: {
      endpoints: [marathon.url],
      pollIntervalMs: 3_600_000,
      streamIdleTimeoutMs: 2000,
      requestTimeoutMs: 2000,
      ...marathonExtra,
    },
    zookeeper: { connect: zk.connect, sessionTimeoutMs: SESSION_MS },
    fleet: { path: FLEET, heartbeatMs: 500 },
    targets: [{ ...haproxyTarget(dir, output), vars: { bind, httpPort, timeoutClient: '5s' } }],
    reload: { quietMs: 20, maxDelayMs: 200 },
  });

  const startMember = async (n: number): Promise<Member> => {
    const dir = tempDir(`fleet-${n}-`);
    const bind = `127.0.0.${n + 1}`;
    const output = join(dir, 'haproxy.cfg');
    const sy = await spawnSwitchyard(config(bind, output, dir), dir);
    const haproxy = await haproxyOnFirstInstall(sy, output);
    return { n, bind, output, sy, haproxy };
  };

  const fleetOf = async (m: Member): Promise<FleetHealth> => (await m.sy.health()).body.fleet as FleetHealth;
  const leaderOf = async (): Promise<Member> => {
    const roles = await Promise.all(alive().map(async (m) => [m, (await fleetOf(m)).role] as const));
    const leaders = roles.filter(([, role]) => role === 'leader').map(([m]) => m);
    if (leaders.length !== 1) throw new Error(`${leaders.length} leaders`);
    return leaders[0]!;
  };
  const served = async (m: Member, n = 12) =>
    [...(await countHits(`http://${m.bind}:${servicePort}/`, n)).keys()].sort();
  const everyoneServes = (names: string[], of: () => Member[] = alive, timeoutMs = 20_000) =>
    eventually(
      async () => {
        for (const m of of()) expect(await served(m, names.length * 4), `sidecar ${m.n}`).to.deep.equal(names);
      },
      { timeoutMs, intervalMs: 100, message: `every sidecar serving ${names.join(', ')}` },
    );
  const serverLines = (m: Member) =>
    readFileSync(m.output, 'utf8')
      .split('\n')
      .filter((l) => /^\s*server /.test(l))
      .join('\n');

  before(async () => {
    zk = await startZookeeper();
    backends = await startBackends(['b1', 'b2', 'b3', 'b4', 'b5', 'b6']);
    [servicePort, httpPort] = [await freePort(), await freePort()];
    marathon = new MarathonDouble({ keepAliveMs: 500 });
    await marathon.start();
    marathon.addApp({ id: '/web', ports: [servicePort], instances: 2 });
    for (const b of backends.slice(0, 2)) marathon.addTask('/web', { host: b.host, ports: [b.port] });
    // One at a time, so the first one leads and its first fetch is the fleet's.
    for (let n = 1; n <= 3; n++) members.push(await startMember(n));
    await everyoneServes(['b1', 'b2']);
  });

  after(async () => {
    // With KEEP_TMP set, each sidecar's log stays in its directory.
    for (const m of members) writeFileSync(join(m.sy.dir, 'switchyard.log'), m.sy.output.text());
    await Promise.all(members.map(async (m) => (await m.sy.stop(), await m.haproxy.stop())));
    await marathon?.stop();
    await Promise.all((backends ?? []).map((b) => b.close()));
    await zk?.stop();
  });

  it('serves the app through every sidecar’s HAProxy', async () => {
    for (const m of members) expect(await served(m)).to.deep.equal(['b1', 'b2']);
  });

  it('holds one Marathon event stream and made one full apps fetch for the whole fleet', async () => {
    expect(marathon.streamCount()).to.equal(1);
    expect(marathon.requestCount('/v2/events')).to.equal(1);
    expect(marathon.requestCount('/v2/apps')).to.equal(1);
  });

  it('has exactly one leader, named alike by every member, with every member counted', async () => {
    const leader = await leaderOf();
    const views = await Promise.all(members.map(fleetOf));
    const named = (await fleetOf(leader)).leader;
    expect(named).to.include(`/${leader.sy.pid}/`);
    for (const v of views) {
      expect(v.leader).to.equal(named);
      expect(v.refused).to.deep.equal([]);
    }
    expect((await fleetOf(leader)).members).to.equal(3);
  });

  it('serves a scale change on every sidecar', async () => {
    marathon.addTask('/web', { host: backends[2]!.host, ports: [backends[2]!.port] });
    await everyoneServes(['b1', 'b2', 'b3']);
  });

  it('renders the same server lines on every sidecar', async () => {
    await eventually(() => {
      const lines = members.map(serverLines);
      expect(lines[0]).to.match(/server /);
      for (const l of lines.slice(1)) expect(l.split('\n')).to.deep.equal(lines[0]!.split('\n'));
    });
  });

  it('installs byte for byte what `switchyard render` makes from Marathon directly with the same config', async () => {
    const m = members[0]!;
    // Asynchronously: the Marathon double answering it runs in this process.
    const { stdout } = await promisify(execFile)(process.execPath, [
      join(process.cwd(), 'bin/switchyard.js'),
      'render',
      '--config',
      join(m.sy.dir, 'switchyard.json'),
    ]);
    expect(readFileSync(m.output, 'utf8')).to.equal(stdout);
  });

  it('reports role, view version and age, publishes and hand-overs on /metrics', async () => {
    const leader = await leaderOf();
    const follower = members.find((m) => m !== leader)!;
    expect(await leader.sy.metric('switchyard_fleet_leader')).to.equal(1);
    expect(await follower.sy.metric('switchyard_fleet_leader')).to.equal(0);
    const version = (await fleetOf(follower)).version;
    expect(await follower.sy.metric('switchyard_fleet_view_version')).to.equal(version);
    expect(await follower.sy.metric('switchyard_fleet_view_age_seconds')).to.be.within(0, 60);
    expect(await leader.sy.metric('switchyard_fleet_publishes_total')).to.be.greaterThan(0);
    expect(await leader.sy.metric('switchyard_fleet_takeovers_total')).to.equal(1);
    expect(await follower.sy.metric('switchyard_fleet_publishes_total')).to.equal(0);
    expect(await follower.sy.metric('switchyard_fleet_takeovers_total')).to.equal(0);
  });

  it('refuses to follow a leader whose Marathon settings differ, and says so on /health', async () => {
    const dir = tempDir('fleet-odd-');
    const odd = await spawnSwitchyard(config('127.0.0.9', join(dir, 'haproxy.cfg'), dir, { group: 'internal' }), dir);
    try {
      await eventually(async () => {
        const h = await odd.health();
        const fleet = h.body.fleet as FleetHealth;
        expect(fleet.refused).to.deep.equal(['marathon.group']);
        expect(h.status).to.equal(503);
        expect(JSON.stringify(h.body.sources)).to.include('fleet settings differ');
      });
      expect((await fleetOf(await leaderOf())).members).to.equal(3);
      expect(marathon.streamCount()).to.equal(1);
    } finally {
      await odd.stop();
    }
  });

  it('hands over when the leader is SIGKILLed: a change made meanwhile is served by the survivors, and no request fails', async () => {
    const leader = await leaderOf();
    const survivors = () => alive().filter((m) => m !== leader);
    const failures: string[] = [];
    let requests = 0;
    let loading = true;
    const load = survivors().map(async (m) => {
      while (loading) {
        try {
          const r = await httpGet(`http://${m.bind}:${servicePort}/`, { timeoutMs: 5000 });
          if (r.status !== 200) failures.push(`sidecar ${m.n}: HTTP ${r.status}`);
        } catch (e) {
          failures.push(`sidecar ${m.n}: ${(e as Error).message}`);
        }
        requests++;
      }
    });
    leader.sy.signal('SIGKILL');
    await eventually(() => expect(leader.sy.exited.aborted).to.equal(true));
    const kill = marathon.addTask('/web', { host: backends[3]!.host, ports: [backends[3]!.port] });
    await everyoneServes(['b1', 'b2', 'b3', 'b4'], survivors, SESSION_MS + 8000);
    loading = false;
    await Promise.all(load);
    expect(kill).to.be.a('string');
    expect(requests).to.be.greaterThan(0);
    expect(failures).to.deep.equal([]);
    await leaderOf();
    expect(marathon.streamCount()).to.equal(1);
    await leader.haproxy.stop();
  });

  it('fences a stale leader: SIGSTOPped past its session and resumed, it never publishes over the new one', async () => {
    const stale = await leaderOf();
    const others = () => alive().filter((m) => m !== stale);
    const before = (await stale.sy.metric('switchyard_fleet_publishes_total')) ?? 0;
    await stale.sy.pause();
    await eventually(
      async () => {
        for (const m of others()) expect((await fleetOf(m)).role).to.equal('leader');
      },
      { timeoutMs: SESSION_MS + 10_000, intervalMs: 100, message: 'a new leader' },
    );
    const fresh = others()[0]!;
    // Elected first, then it claims the view: wait until the view names it.
    const named = await eventually(async () => {
      const leader = (await fleetOf(fresh)).leader;
      expect(leader).to.include(`/${fresh.sy.pid}/`);
      return leader;
    });
    // A change the stale leader's Marathon stream holds for it when it wakes.
    marathon.addTask('/web', { host: backends[4]!.host, ports: [backends[4]!.port] });
    await everyoneServes(['b1', 'b2', 'b3', 'b4', 'b5'], others, 10_000);
    await stale.sy.resume();
    await eventually(async () => expect((await fleetOf(stale)).role).to.equal('follower'), { timeoutMs: 15_000 });
    expect(await stale.sy.metric('switchyard_fleet_publishes_total')).to.equal(before);
    // Its own account of the leader comes back with the view it reads on its new session.
    await eventually(async () => {
      for (const m of alive()) expect((await fleetOf(m)).leader, `sidecar ${m.n}`).to.equal(named);
    });
    expect(await stale.sy.metric('switchyard_fleet_publishes_total')).to.equal(before);
    await everyoneServes(['b1', 'b2', 'b3', 'b4', 'b5']);
  });

  it('keeps every sidecar serving through a ZooKeeper outage of twice the session timeout, then catches up', async () => {
    await zk.stop();
    const gone = backends[0]!;
    const task = [...(marathon.getApp('/web')?.tasks ?? [])].find((t) => t.ports?.[0] === gone.port)!;
    marathon.killTask(task.id);
    marathon.addTask('/web', { host: backends[5]!.host, ports: [backends[5]!.port] });
    const deadline = Date.now() + 2 * SESSION_MS;
    while (Date.now() < deadline) {
      for (const m of alive())
        expect(await served(m, 10), `sidecar ${m.n}`).to.deep.equal(['b1', 'b2', 'b3', 'b4', 'b5']);
      await sleep(200);
    }
    await zk.start();
    await everyoneServes(['b2', 'b3', 'b4', 'b5', 'b6'], alive, 30_000);
  });
});
