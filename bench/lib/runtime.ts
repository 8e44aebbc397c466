import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { startBackends, type Backend } from '../../test/support/backends.js';
import { startHaproxy, type HaproxyHandle } from '../../test/support/haproxy.js';
import { httpGet } from '../../test/support/http.js';
import { MarathonDouble } from '../../test/support/marathon-double.js';
import { freePort } from '../../test/support/ports.js';
import { tempDir } from '../../test/support/tmp.js';
import { eventually, sleep } from '../../test/support/wait.js';
import { syntheticCluster, TASKS_PER_APP } from './cluster.js';
import { firstEmit } from './marathon.js';
import { cpuTimes } from './proc.js';
import { stopSwitchyard, switchyardConfig, unlessExits } from './measure.js';
import { fmt, max, median, msBetween, pct, table } from './stats.js';
import { spawnSwitchyard, type SwitchyardRun } from './switchyard.js';
import { OutputWatcher } from './watch.js';

// Event → a real HAProxy serving the change, with targets[].runtimeApi set
// (membership changes through HAProxy's runtime API, reloads only for
// structure). A probe app joins the synthetic cluster with two tasks on
// real backends; each round starts a third task on another real backend
// (timed until HAProxy first answers from it) and then kills it (timed until
// HAProxy stops sending to it: the first of 6 answers in a row from the
// others). Never taking an app below half its backends keeps clear of the
// drop guard. The HAProxy master's reload counter tells whether an event
// took the runtime path or a reload.

export interface RuntimeResult {
  readonly apps: number;
  /** Task started → HAProxy answers from its backend. */
  readonly addMs: number[];
  /** Task killed → HAProxy stops sending to it. */
  readonly killMs: number[];
  /** HAProxy reloads during the measured events, and events measured. */
  readonly reloads: number;
  readonly events: number;
  readonly configBytes: number;
  /** Per event, from the `config installed` log lines: how it was applied, and stage medians. */
  readonly how: Readonly<Record<string, number>>;
  readonly renderMs: number;
  readonly installMs: number;
  /** CPU of the Switchyard process and of the HAProxy worker(s) per event (ms). */
  readonly cpuPerEventMs: number;
  readonly haproxyCpuPerEventMs: number;
  readonly haproxyIdleCpuPct: number;
  /** The measured rounds, as hrtime ns (to cut a --cpu-prof profile). */
  readonly window: [bigint, bigint];
  /** The cluster's apps (all but the probe) had no health checks: the file descriptor limit could not fit HAProxy's checks. */
  readonly unchecked: boolean;
}

const PROBE = '/bench/probe';
const PROBE_HOST = 'probe.bench.example.com';

/** One GET on a fresh connection; status 0 when refused. */
function probe(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        agent: false,
        headers: { Host: PROBE_HOST, Connection: 'close' },
        timeout: 2000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

/**
 * Polls every 2 ms (so the poller leaves CPU to Switchyard and HAProxy) until
 * `ok` holds for `run` answers in a row; resolves with the time the first of
 * them arrived.
 */
async function until(
  port: number,
  ok: (r: { status: number; body: string }) => boolean,
  timeoutMs: number,
  run = 1,
): Promise<bigint> {
  const deadline = Date.now() + timeoutMs;
  let first: bigint | null = null;
  let streak = 0;
  let last: string;
  for (;;) {
    const r = await probe(port);
    const at = process.hrtime.bigint();
    last = `${r.status} ${r.body.slice(0, 80)}`;
    if (ok(r)) {
      first ??= at;
      if (++streak >= run) return first;
    } else {
      first = null;
      streak = 0;
    }
    if (Date.now() > deadline)
      throw new Error(`HAProxy did not reach the expected answer within ${timeoutMs} ms (last: ${last})`);
    await sleep(2);
  }
}

async function reloadCount(haproxy: HaproxyHandle): Promise<number> {
  const m = /^\d+\s+master\s+(\d+)/m.exec(await haproxy.showProc());
  return m ? Number(m[1]) : NaN;
}

/** This process's file descriptor limit (soft); children inherit it. NaN when prlimit cannot tell. */
function fdLimit(): number {
  try {
    return Number(
      execFileSync('prlimit', ['--pid', String(process.pid), '--nofile', '--output=SOFT', '--noheadings'], {
        encoding: 'utf8',
      }).trim(),
    );
  } catch {
    return NaN;
  }
}

/**
 * HAProxy wants file descriptors for every listener and every checked server
 * (5000 apps: about 45 000) and refuses to start below that; children inherit
 * this process's limit, so raise it (needs CAP_SYS_RESOURCE, i.e. root, for
 * more than the hard limit). Returns the limit in force afterwards.
 */
function raiseFdLimit(wanted: number): number {
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${wanted}:${wanted}`], { stdio: 'ignore' });
  } catch {
    // Left as it is: the caller compares the limit with what HAProxy needs.
  }
  return fdLimit();
}

function cpuOf(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += cpuTimes(pid).self;
    } catch {
      // gone
    }
  }
  return total;
}

export interface RuntimeOptions {
  readonly repo: string;
  readonly apps: number;
  readonly events: number;
  readonly progress: (l: string) => void;
  /** Extra node flags for Switchyard (--cpu-prof …). */
  readonly nodeArgs?: readonly string[];
}

export async function measureRuntime(o: RuntimeOptions): Promise<RuntimeResult> {
  // Slots: the next power of two above the tasks, at least 4 (templates/haproxy.cfg.hbs); each checked one holds a descriptor.
  const checkedServers = o.apps * 2 ** Math.ceil(Math.log2(TASKS_PER_APP + 1));
  const fds = checkedServers + o.apps + 5_000;
  let limit = fdLimit();
  if (!(fds <= limit)) {
    limit = raiseFdLimit(Math.max(fds, 65_536));
    o.progress(
      `  file descriptor limit now ${limit} (HAProxy needs one per listener and checked server: about ${fds})`,
    );
  }
  // Where the limit cannot be raised (no CAP_SYS_RESOURCE), HAProxy refuses to start with every server
  // checked; the cluster then goes without Marathon health checks, while the probe app, the one measured, keeps its own.
  const unchecked = !(fds <= limit);
  if (unchecked)
    o.progress(`  the cluster's apps go without health checks: ${fds} descriptors needed, ${limit} allowed`);
  const double = new MarathonDouble({ keepAliveMs: 10_000 });
  const url = await double.start();
  const backends = await startBackends(['rt-base-1', 'rt-base-2', 'rt-new-1', 'rt-new-2']);
  const [base1, base2, new1, new2] = backends as [Backend, Backend, Backend, Backend];
  const dir = tempDir(`runtime-${o.apps}-`);
  mkdirSync(join(dir, 'out'));
  const output = join(dir, 'out', 'haproxy.cfg');
  const adminSock = join(dir, 'admin.sock');
  const httpPort = await freePort();
  const listen = await freePort();
  let run: SwitchyardRun | null = null;
  let haproxy: HaproxyHandle | null = null;
  let haproxyIdle: number;
  try {
    double.bulkLoad([
      ...syntheticCluster(o.apps, { healthChecks: !unchecked }),
      {
        id: PROBE,
        labels: { HAPROXY_0_VHOST: PROBE_HOST },
        portDefinitions: [{ port: 0, protocol: 'tcp', labels: {} }],
        healthChecks: [{ protocol: 'HTTP', path: '/health', portIndex: 0 }],
        tasks: [
          { host: '127.0.0.1', ports: [base1.port], healthy: true },
          { host: '127.0.0.1', ports: [base2.port], healthy: true },
        ],
      },
    ]);
    const config = switchyardConfig(o.repo, url, output, httpPort, listen, true, {
      runtimeApi: adminSock,
      reload: `${join(o.repo, 'bin/haproxy-reload')} ${join(dir, 'master.sock')} 60`,
      vars: { bind: '127.0.0.1', httpPort, statsSocket: adminSock },
    });
    const watcher = new OutputWatcher(output);
    run = spawnSwitchyard(o.repo, dir, config, o.nodeArgs ?? []);
    const live = run;
    try {
      await unlessExits(
        live,
        watcher.next((c) => c.length > 0, 120_000),
      );
    } finally {
      watcher.close();
    }
    const configBytes = (await import('node:fs')).statSync(output).size;
    haproxy = await startHaproxy({ configFile: output, dir });
    // The first reload ran before HAProxy existed and failed; Switchyard retries it after a back-off.
    await unlessExits(
      live,
      eventually(
        async () => {
          const h = await httpGet(`http://127.0.0.1:${listen}/health`);
          if (h.status !== 200) throw new Error(`health ${h.status}: ${h.body.slice(0, 300)}`);
        },
        { timeoutMs: 90_000, intervalMs: 200, message: 'switchyard healthy with HAProxy running' },
      ),
    );
    await until(httpPort, (r) => r.status === 200 && r.body.startsWith('rt-base-'), 30_000, 4);
    o.progress(
      `  HAProxy serving ${o.apps} apps × ${TASKS_PER_APP} tasks + the probe (${(configBytes / 1024).toFixed(0)} KB config)`,
    );

    const addMs: number[] = [];
    const killMs: number[] = [];
    const rounds = Math.max(1, o.events / 2);
    let reloadsBefore = NaN;
    let installsBefore = 0;
    let cpu0 = 0;
    let hap0 = 0;
    let workers: number[] = [];
    let from = 0n;
    // HAProxy's own load with this many checked servers, before any event.
    {
      const w = await haproxy.workerPids();
      const a = cpuOf(w);
      const t = performance.now();
      await sleep(2000);
      const idlePct = (100 * (cpuOf(w) - a)) / (performance.now() - t);
      o.progress(`  HAProxy worker CPU while idle (health checks): ${idlePct.toFixed(0)}% of a core`);
      haproxyIdle = idlePct;
    }
    // Round -1 warms up and is not counted.
    for (let i = -1; i < rounds; i++) {
      if (i === 0) {
        reloadsBefore = await reloadCount(haproxy);
        installsBefore = live.log.installs.length;
        workers = await haproxy.workerPids();
        cpu0 = cpuTimes(live.pid).self;
        hap0 = cpuOf(workers);
      }
      const next = i % 2 === 0 ? new1 : new2;
      let task = '';
      const addedAt = firstEmit(
        double,
        () => (task = double.addTask(PROBE, { host: '127.0.0.1', ports: [next.port], healthy: true })),
      );
      if (i === 0) from = addedAt;
      const served = await unlessExits(
        live,
        until(httpPort, (r) => r.status === 200 && r.body === next.name, 60_000),
      );
      await sleep(50);
      const killedAt = firstEmit(double, () => double.killTask(task));
      const gone = await unlessExits(
        live,
        until(httpPort, (r) => r.status === 200 && r.body !== next.name, 60_000, 6),
      );
      if (i >= 0) {
        addMs.push(msBetween(addedAt, served));
        killMs.push(msBetween(killedAt, gone));
      }
      await sleep(50);
    }
    const to = process.hrtime.bigint();
    const cpuPerEventMs = (cpuTimes(live.pid).self - cpu0) / (rounds * 2);
    const haproxyCpuPerEventMs = (cpuOf(workers) - hap0) / (rounds * 2);
    const reloads = (await reloadCount(haproxy)) - reloadsBefore;
    const installs = live.log.installs.slice(installsBefore);
    const how: Record<string, number> = {};
    for (const i of installs) how[i.how ?? '?'] = (how[i.how ?? '?'] ?? 0) + 1;
    const stage = (name: string) =>
      median(installs.map((i) => i.stages[name]).filter((x): x is number => typeof x === 'number'));
    o.progress(
      `  runtime: add → serving median ${median(addMs).toFixed(1)} ms, ${reloads} HAProxy reloads for ${rounds * 2} events`,
    );
    return {
      apps: o.apps,
      addMs,
      killMs,
      reloads,
      events: rounds * 2,
      configBytes,
      how,
      renderMs: stage('render'),
      installMs: stage('install'),
      cpuPerEventMs,
      haproxyCpuPerEventMs,
      haproxyIdleCpuPct: haproxyIdle,
      window: [from, to],
      unchecked,
    };
  } finally {
    if (run) await stopSwitchyard(run.child);
    if (haproxy) await haproxy.stop();
    await double.stop();
    await Promise.all(backends.map((b) => b.close()));
  }
}

export function runtimeTable(results: readonly RuntimeResult[]): string {
  return (
    table(
      [
        'apps × tasks',
        'task started → served: median',
        'p90',
        'max',
        'task killed → not sent to: median',
        'p90',
        'max',
        'applied how (log)',
        'HAProxy reloads',
        'render / install ms (log median)',
        'CPU ms/event Switchyard / HAProxy',
        'HAProxy idle CPU %',
        'config KB',
      ],
      results.map((r) => [
        `${r.apps} × 5${r.unchecked ? ' (cluster unchecked†)' : ''}`,
        fmt(median(r.addMs), 1),
        fmt(pct(r.addMs, 90), 1),
        fmt(max(r.addMs), 1),
        fmt(median(r.killMs), 1),
        fmt(pct(r.killMs, 90), 1),
        fmt(max(r.killMs), 1),
        Object.entries(r.how)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
        `${r.reloads} / ${r.events} events`,
        `${fmt(r.renderMs, 1)} / ${fmt(r.installMs, 1)}`,
        `${fmt(r.cpuPerEventMs, 1)} / ${fmt(r.haproxyCpuPerEventMs, 1)}`,
        fmt(r.haproxyIdleCpuPct, 0),
        fmt(r.configBytes / 1024, 0),
      ]),
    ) +
    (results.some((r) => r.unchecked)
      ? "\n\n† The file descriptor limit could not be raised to what HAProxy wants with every server checked, so the cluster's apps had no health checks; the probe app, whose tasks are measured, kept its HTTP check."
      : '')
  );
}
