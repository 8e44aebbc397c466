// A fleet of sidecars on one Marathon, against the same number of sidecars
// each following Marathon itself.
//
//   npm run bench:fleet [-- --sizes 10,30 --apps 500 --window 60 --handover]
//
// Per size N: N standalone sidecars, then 1 leader + N followers sharing a
// fleet path, each a `switchyard serve` process with a small heap
// (--max-old-space-size=96) rendering the default HAProxy template (no
// validate, no reload: the proxy's own cost is the same either way), against
// the Marathon double (bulk-loaded: --apps apps × 5 tasks) and a real
// ZooKeeper. Over --window seconds, one scale change every 2 s (a task added
// or killed, each on another app). Measured: Marathon's requests and bytes
// per minute, the event → installed latency on each follower (standalone: on
// each sidecar) from the install log line naming the app, and what the
// leader wrote to ZooKeeper per change. With --handover, the leader of the
// smallest fleet is SIGKILLed and a change made at once: the timeline until
// every survivor installed it.
import { join } from 'node:path';
import { ZkSession } from '../src/sources/zookeeper/client.js';
import { silentLogger } from '../src/log.js';
import { MarathonDouble } from '../test/support/marathon-double.js';
import { freePort } from '../test/support/ports.js';
import { startZookeeper, type ZookeeperHandle } from '../test/support/zookeeper.js';
import { agentHost, appId, syntheticCluster } from './lib/cluster.js';
import { spawnMember, type BenchMember } from './lib/fleet-members.js';
import { cpuTimes, loadAverage } from './lib/proc.js';
import { fmt, median, pct, table } from './lib/stats.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const SIZES = arg('sizes', '10,30').split(',').map(Number);
const APPS = Number(arg('apps', '500'));
const WINDOW_S = Number(arg('window', '60'));
const HANDOVER = process.argv.includes('--handover');
const CHANGE_EVERY_MS = 2000;
const SESSION_MS = 10_000;
const NODE_ARGS = ['--max-old-space-size=96'];
const repo = process.cwd();

/** What one run (a size, with or without fleet) measured. */
interface RunResult {
  readonly sidecars: number;
  readonly requestsPerMin: number;
  readonly fullFetchesPerMin: number;
  readonly mbPerMin: number;
  readonly streams: number;
  readonly latencies: number[];
  readonly missed: number;
  readonly changes: number;
  readonly zkBytesPerChange: number | null;
  readonly zkDataBytes: number | null;
  readonly cpuSecondsPerMin: number;
  readonly startMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(100);
  }
}

function sidecarConfig(marathon: string, zk: ZookeeperHandle, fleetPath: string | null) {
  return (dir: string) => ({
    marathon: { endpoints: [marathon] },
    ...(fleetPath
      ? { zookeeper: { connect: zk.connect, sessionTimeoutMs: SESSION_MS }, fleet: { path: fleetPath } }
      : {}),
    targets: [
      {
        name: 'haproxy',
        template: join(repo, 'templates/haproxy.cfg.hbs'),
        output: join(dir, 'haproxy.cfg'),
        vars: { bind: '127.0.0.1', httpPort: 8080 },
      },
    ],
  });
}

/** The metric's value in a Prometheus text page, or null. */
async function metric(url: string, name: string): Promise<number | null> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : null;
}

/** Total data bytes of the znodes under `path`. */
async function zkDataBytes(session: ZkSession, path: string): Promise<number> {
  let total = (await session.getData(path)).data.length;
  for (const child of await session.getChildren(path)) total += await zkDataBytes(session, `${path}/${child}`);
  return total;
}

/** The change made at step k: a task added to (even k) or killed from (odd k) app k/2. */
function change(marathon: MarathonDouble, k: number): string {
  const id = appId(Math.floor(k / 2) % APPS);
  if (k % 2 === 0) marathon.addTask(id, { host: agentHost(k), healthy: true });
  else {
    const tasks = marathon.getApp(id)?.tasks ?? [];
    marathon.killTask(tasks[tasks.length - 1]!.id);
  }
  return id;
}

/** For each change and each measured member, ms from the change to the first install naming its app. */
function latencies(members: readonly BenchMember[], changes: ReadonlyArray<{ id: string; at: number }>) {
  const out: number[] = [];
  let missed = 0;
  for (const m of members) {
    const installs = m.logged('config installed');
    for (const c of changes) {
      const hit = installs.find((e) => e.at >= c.at && Array.isArray(e.services) && e.services.includes(c.id));
      if (hit) out.push(hit.at - c.at);
      else missed++;
    }
  }
  return { out, missed };
}

async function run(
  n: number,
  fleet: boolean,
  marathon: MarathonDouble,
  zk: ZookeeperHandle,
  session: ZkSession,
  keep: (members: BenchMember[]) => boolean,
): Promise<{ result: RunResult; members: BenchMember[] }> {
  const fleetPath = fleet ? `/bench/fleet-${n}-${Date.now()}` : null;
  const count = fleet ? n + 1 : n;
  const started = Date.now();
  const members: BenchMember[] = [];
  // The leader first, so its first fetch is the fleet's; then the rest at once.
  members.push(await spawnMember(`${fleet ? 'f' : 's'}${n}-0`, sidecarConfig(marathon.url, zk, fleetPath), NODE_ARGS));
  if (fleet) await until('the leader’s first install', () => members[0]!.logged('config installed').length > 0, 60_000);
  for (let i = 1; i < count; i++)
    members.push(
      await spawnMember(`${fleet ? 'f' : 's'}${n}-${i}`, sidecarConfig(marathon.url, zk, fleetPath), NODE_ARGS),
    );
  await until('every first install', () => members.every((m) => m.logged('config installed').length > 0), 180_000);
  const startMs = Date.now() - started;
  await sleep(2000);
  marathon.resetRequestCounts();
  const cpu0 = members.reduce((s, m) => s + cpuTimes(m.pid).self, 0);
  const leader = fleet ? members[0]! : null;
  const zk0 = leader ? ((await metric(leader.url, 'switchyard_fleet_published_bytes_total')) ?? 0) : 0;
  const changes: Array<{ id: string; at: number }> = [];
  const t0 = Date.now();
  for (let k = 0; Date.now() - t0 < WINDOW_S * 1000; k++) {
    const at = Date.now();
    changes.push({ id: change(marathon, k), at });
    await sleep(CHANGE_EVERY_MS - (Date.now() - at));
  }
  const elapsedMin = (Date.now() - t0) / 60_000;
  const counted = marathon.requestTotals();
  const bytes = marathon.bytesServed();
  const streams = marathon.streamCount();
  const zk1 = leader ? ((await metric(leader.url, 'switchyard_fleet_published_bytes_total')) ?? 0) : 0;
  const cpu1 = members.reduce((s, m) => s + cpuTimes(m.pid).self, 0);
  await sleep(3000); // the last changes' installs
  const measured = fleet ? members.slice(1) : members;
  const lat = latencies(measured, changes.slice(0, -1));
  const result: RunResult = {
    sidecars: count,
    requestsPerMin: counted.requests / elapsedMin,
    fullFetchesPerMin: counted.fullFetches / elapsedMin,
    mbPerMin: bytes / 1e6 / elapsedMin,
    streams,
    latencies: lat.out,
    missed: lat.missed,
    changes: changes.length - 1,
    zkBytesPerChange: leader ? (zk1 - zk0) / changes.length : null,
    zkDataBytes: fleetPath ? await zkDataBytes(session, fleetPath) : null,
    cpuSecondsPerMin: (cpu1 - cpu0) / 1000 / elapsedMin,
    startMs,
  };
  if (!keep(members)) await Promise.all(members.map((m) => m.stop()));
  return { result, members };
}

/** SIGKILLs the leader, makes one change at once, and times what follows from the survivors' logs. */
async function handover(members: BenchMember[], marathon: MarathonDouble, session: ZkSession): Promise<string> {
  const leader = members[0]!;
  const survivors = members.slice(1);
  const id = appId(APPS - 1);
  const memberZnodes = async () => {
    const path = (await session.getChildren('/bench'))
      .filter((c) => c.startsWith('fleet-'))
      .sort()
      .pop()!;
    return session.getChildren(`/bench/${path}/members`);
  };
  const before = (await memberZnodes()).length;
  const kill = Date.now();
  leader.child.kill('SIGKILL');
  marathon.addTask(id, { host: agentHost(1), healthy: true });
  const changeAt = Date.now();
  let goneAt = 0;
  await until(
    'every survivor installed the change',
    async () => {
      if (!goneAt && (await memberZnodes()).length < before) goneAt = Date.now();
      return survivors.every((m) =>
        m
          .logged('config installed')
          .some((e) => e.at >= changeAt && Array.isArray(e.services) && e.services.includes(id)),
      );
    },
    SESSION_MS + 60_000,
  );
  const first = (message: string) =>
    Math.min(
      ...survivors.flatMap((m) =>
        m
          .logged(message)
          .filter((e) => e.at >= kill)
          .map((e) => e.at),
      ),
    );
  const installs = survivors.map(
    (m) => m.logged('config installed').find((e) => e.at >= changeAt && (e.services as string[]).includes(id))!.at,
  );
  const newLeader = survivors.find((m) =>
    m.logged('fleet leader: following marathon for the fleet').some((e) => e.at >= kill),
  );
  const rows: Array<[string, number]> = [
    ['leader SIGKILLed', kill],
    ['scale change made in Marathon', changeAt],
    ['leader’s member znode gone (session expired; seen by a bench watch, ±100 ms)', goneAt],
    ['next member elected ("fleet role" leader)', first('fleet leader: following marathon for the fleet')],
    [
      'new leader attached to /v2/events',
      Math.min(
        ...(newLeader
          ?.logged('event stream attached')
          .filter((e) => e.at >= kill)
          .map((e) => e.at) ?? [NaN]),
      ),
    ],
    ['new leader claimed the view', first('fleet view claimed')],
    ['new leader’s full /v2/apps fetch done ("marathon synced")', first('marathon synced')],
    ['new leader published (first commit)', first('fleet view published')],
    ['first survivor installed the change', Math.min(...installs)],
    ['last survivor installed the change', Math.max(...installs)],
  ];
  const failures = survivors.filter((m) => m.child.exitCode !== null).length;
  return [
    `Hand-over: ${survivors.length} survivors, zookeeper.sessionTimeoutMs ${SESSION_MS}, ${failures} survivors exited`,
    table(
      ['step', 'ms after the kill'],
      rows.map(([what, at]) => [what, fmt(at - kill, 0)]),
    ),
  ].join('\n');
}

async function main(): Promise<void> {
  const zk = await startZookeeper({ tickTime: 1000 });
  const session = new ZkSession(zk.connect, { sessionTimeoutMs: 10_000 }, silentLogger());
  session.acquire();
  await until('bench zookeeper session', () => session.isConnected(), 10_000);
  await session.mkdirp('/bench');
  const port = await freePort();
  const marathon = new MarathonDouble({ keepAliveMs: 10_000, port });
  await marathon.start();
  marathon.bulkLoad(syntheticCluster(APPS));
  const fetchBytes = Buffer.byteLength(
    JSON.stringify(await (await fetch(`${marathon.url}/v2/apps?embed=apps.tasks`)).json()),
  );
  const out: string[] = [];
  let timeline = '';
  for (const n of SIZES) {
    const alone = await run(n, false, marathon, zk, session, () => false);
    const withFleet = await run(n, true, marathon, zk, session, (m) => HANDOVER && n === SIZES[0] && m.length > 1);
    if (HANDOVER && n === SIZES[0]) {
      timeline = await handover(withFleet.members, marathon, session);
      await Promise.all(withFleet.members.map((m) => m.stop()));
    }
    const a = alone.result;
    const f = withFleet.result;
    const row = (name: string, x: (r: RunResult) => string) => [name, x(a), x(f)];
    out.push(
      `N = ${n}: ${a.sidecars} sidecars alone vs 1 leader + ${n} followers; ${APPS} apps × 5 tasks (/v2/apps = ${fmt(fetchBytes / 1e6, 1)} MB); ` +
        `one change every ${CHANGE_EVERY_MS / 1000} s for ${WINDOW_S} s; load ${loadAverage()}`,
      table(
        ['measure', `${a.sidecars} alone`, `fleet (${f.sidecars})`],
        [
          row('Marathon requests per minute', (r) => fmt(r.requestsPerMin, 0)),
          row('  of which full /v2/apps fetches per minute', (r) => fmt(r.fullFetchesPerMin, 1)),
          row('Marathon MB served per minute', (r) => fmt(r.mbPerMin, 1)),
          row('event streams open on Marathon', (r) => String(r.streams)),
          row('event → installed, median ms (followers)', (r) => fmt(median(r.latencies), 0)),
          row('event → installed, p99 ms (followers)', (r) => fmt(pct(r.latencies, 99), 0)),
          row(
            'installs not seen (of changes × sidecars)',
            (r) => `${r.missed} of ${r.changes * (r === f ? r.sidecars - 1 : r.sidecars)}`,
          ),
          row('ZooKeeper bytes written per change (incl. heartbeats)', (r) => fmt(r.zkBytesPerChange, 0)),
          row('ZooKeeper data under the fleet path, bytes', (r) => fmt(r.zkDataBytes, 0)),
          row('sidecar CPU, s per minute (all together)', (r) => fmt(r.cpuSecondsPerMin, 1)),
          row('start: first spawn → every sidecar installed, ms', (r) => fmt(r.startMs, 0)),
        ],
      ),
      '',
    );
  }
  process.stdout.write(out.join('\n') + '\n' + timeline + '\n');
  await marathon.stop();
  await session.release();
  await zk.stop();
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
