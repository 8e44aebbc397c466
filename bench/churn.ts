// Churn under load: a real HAProxy (master-worker), real backends and the
// Marathon double; wrk drives steady keep-alive load through HAProxy at the
// two churning apps while the Marathon double plays a churn scenario
// (scale-ups, kills, health flaps and drains, plus structural changes that
// need a reload). Run once with the runtime API (`targets[].runtimeApi`) and
// once reload-only, and print both side by side as a Markdown table.
//
//   npm run build && node dist/bench/churn.js [--duration 60] [--ops 200] [--structural 20]
//       [--rate 4000] [--connections 8] [--quiet-ms 10] [--max-delay-ms 100] [--seed 1]
//       [--modes runtime,reload] [--max-churn 6] [--core 3] [--slots 16]
//
// Method and caveats: bench/README.md, section "bench/churn.ts".
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseServersState, type ServerState } from '../src/targets/haproxy/runtime.js';
import { serversOf } from '../src/targets/haproxy/servers.js';
import { haproxyTarget, startHaproxy } from '../test/support/haproxy.js';
import { httpGet } from '../test/support/http.js';
import { MarathonDouble } from '../test/support/marathon-double.js';
import { freePort } from '../test/support/ports.js';
import { runCommand } from '../test/support/processes.js';
import { tempDir } from '../test/support/tmp.js';
import { eventually, sleep } from '../test/support/wait.js';
import { BackendHost } from './lib/churn-backends.js';
import { followText } from './lib/churn-logs.js';
import { applyingCycle, cycleStart, measure, renderTable, type ModeResult } from './lib/churn-report.js';
import { HEALTH_CHECK, makePlan, play, type Plan } from './lib/churn-scenario.js';
import { SwitchyardProcess, type Install } from './lib/churn-switchyard.js';
import { runWrk } from './lib/churn-wrk.js';

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    ops: { type: 'string', default: '200' },
    structural: { type: 'string', default: '20' },
    rate: { type: 'string', default: '4000' },
    connections: { type: 'string', default: '8' },
    'quiet-ms': { type: 'string', default: '10' },
    'max-delay-ms': { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
    modes: { type: 'string', default: 'runtime,reload' },
    'max-churn': { type: 'string', default: '6' },
    core: { type: 'string', default: '3' },
    slots: { type: 'string', default: '16' },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  console.log(
    readFileSync(new URL(import.meta.url), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('//'))
      .map((l) => l.slice(3))
      .join('\n'),
  );
  process.exit(0);
}
const num = (name: keyof typeof flags): number => {
  const v = Number(flags[name]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name}: not a number: ${String(flags[name])}`);
  return v;
};
const opts = {
  seconds: num('duration'),
  ops: num('ops'),
  structural: num('structural'),
  rate: num('rate'),
  connections: Math.max(1, num('connections')),
  quietMs: num('quiet-ms'),
  maxDelayMs: num('max-delay-ms'),
  seed: num('seed'),
  maxChurn: Math.max(1, num('max-churn')),
  core: Math.max(2, num('core')),
  slots: num('slots'),
  modes: flags.modes!.split(',').map((m) => m.trim()) as Array<'runtime' | 'reload'>,
};
for (const m of opts.modes) if (m !== 'runtime' && m !== 'reload') throw new Error(`--modes: unknown mode ${m}`);

const repo = process.cwd();
const WARMUP_MS = 2000;
/** After the last operation: time to apply it, then the window for the end-state check. */
const SETTLE_MS = 2000;
const CHECK_MS = 2000;
const LOADED = ['/churn/a', '/churn/b'] as const;
const VHOST_A = 'a.churn.test';
/** Delay per request per connection that gives `rate` requests/s over both wrk runs. */
/** The part of each mode's load during which the churn is played. */
const CHURN_WINDOW_MS = opts.seconds * 1000 - WARMUP_MS - SETTLE_MS - CHECK_MS - 1000;
if (CHURN_WINDOW_MS <= 0)
  throw new Error(`--duration ${opts.seconds} leaves no time for the churn (it needs more than 7 s)`);
const delayMs = opts.rate > 0 ? Math.max(1, Math.round((2 * opts.connections * 1000) / opts.rate)) : 0;
const log = (s: string) => process.stderr.write(`[churn] ${s}\n`);

/** The master's reload counter from `show proc`. */
async function masterReloads(showProc: () => Promise<string>): Promise<number> {
  const answer = await eventually(showProc, { timeoutMs: 5000 });
  const m = /^\d+\s+master\s+(\d+)/m.exec(answer);
  if (!m) throw new Error(`show proc: ${answer}`);
  return Number(m[1]);
}

async function runMode(mode: 'runtime' | 'reload', plan: Plan): Promise<ModeResult> {
  const dir = tempDir(`churn-${mode}-`);
  const host = BackendHost.spawn();
  const clock = await host.clockSkewNs();
  if (!clock.inside) throw new Error('the backend host process does not share this process clock (CLOCK_MONOTONIC)');
  const core = (app: string) => Array.from({ length: opts.core }, (_, i) => `${app.split('/').pop()}-core-${i + 1}`);
  const extra = ['idle-1', 'idle-2', 'new-app-1', 'new-app-2'];
  const ports = await host.start([...LOADED.flatMap(core), ...extra, ...plan.freshBackends]);

  const marathon = new MarathonDouble({ keepAliveMs: 1000 });
  const url = await marathon.start();
  const [portA, portB, portIdle, httpPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const newAppPorts = await Promise.all(Array.from({ length: opts.structural }, () => freePort()));
  const addApp = (id: string, port: number, backends: readonly string[], labels: Record<string, string> = {}) => {
    marathon.addApp({ id, ports: [port], labels, healthChecks: [HEALTH_CHECK] });
    for (const b of backends) marathon.addTask(id, { host: '127.0.0.1', ports: [ports.get(b)!], healthy: true });
  };
  addApp('/churn/a', portA, core('/churn/a'), { HAPROXY_0_VHOST: VHOST_A });
  addApp('/churn/b', portB, core('/churn/b'));
  addApp('/churn/idle', portIdle, ['idle-1', 'idle-2'], { HAPROXY_0_VHOST: 'idle.churn.test' });

  const output = join(dir, 'haproxy.cfg');
  const admin = join(dir, 'admin.sock');
  const httpListen = `127.0.0.1:${await freePort()}`;
  const vars: Record<string, unknown> = { bind: '127.0.0.1', httpPort, statsSocket: admin, serverSlots: opts.slots };
  if (mode === 'runtime') vars.serverStateFile = join(dir, 'servers.state');
  const sy = SwitchyardProcess.spawn(repo, dir, {
    marathon: { endpoints: [url], pollIntervalMs: 600_000 },
    targets: [
      {
        ...haproxyTarget(dir, output),
        ...(mode === 'runtime' ? { runtimeApi: admin } : {}),
        vars,
      },
    ],
    reload: { quietMs: opts.quietMs, maxDelayMs: opts.maxDelayMs },
    http: { listen: httpListen },
    log: { level: 'info', format: 'json' },
  });
  const cleanup: Array<() => Promise<unknown>> = [() => host.stop(), () => marathon.stop(), () => sy.stop()];
  try {
    await eventually(() => readFileSync(output, 'utf8'), {
      timeoutMs: 20_000,
      message: `no config from Switchyard:\n${sy.tail.join('\n')}`,
    });
    const haproxy = await startHaproxy({ configFile: output, dir });
    cleanup.push(() => haproxy.stop());
    const hapFollower = followText(() => haproxy.logs());
    await eventually(
      async () => {
        const h = await sy.health();
        if (h.status !== 200) throw new Error(h.body);
        for (const [port, hostHeader] of [
          [portA, undefined],
          [httpPort, VHOST_A],
          [portB, undefined],
        ] as const) {
          const r = await httpGet(`http://127.0.0.1:${port}/`, hostHeader ? { headers: { host: hostHeader } } : {});
          if (r.status !== 200) throw new Error(`port ${port}: ${r.status}`);
        }
      },
      { timeoutMs: 20_000, message: 'Switchyard healthy and HAProxy serving' },
    );
    // Let the first checked reload retries settle before the baseline.
    await sleep(500);
    const installsBefore = sy.installs.length;
    const problemsBefore = sy.problems.length;
    const before = await sy.counters();
    const masterBefore = await masterReloads(() => haproxy.showProc());

    const wrkOpts = { connections: opts.connections, seconds: opts.seconds, delayMs, dir };
    const wrks = Promise.all([
      runWrk({
        ...wrkOpts,
        label: `${VHOST_A} on the shared listener`,
        url: `http://127.0.0.1:${httpPort}/`,
        host: VHOST_A,
      }),
      runWrk({ ...wrkOpts, label: '/churn/b on its service port', url: `http://127.0.0.1:${portB}/` }),
    ]);
    // Awaited below; this only keeps a failing wrk from crashing the run before the error is reported.
    wrks.catch(() => undefined);
    const wrkStart = process.hrtime.bigint();
    await sleep(WARMUP_MS);
    const intervalMs = CHURN_WINDOW_MS / plan.ops.length;
    log(`${mode}: playing ${plan.ops.length} operations, one every ${intervalMs.toFixed(0)} ms, under load`);
    const { played, alive } = await play(
      plan,
      { marathon, ports, newAppPort: (k) => newAppPorts[k]!, newAppBackends: ['new-app-1', 'new-app-2'] },
      process.hrtime.bigint(),
      intervalMs,
    );
    await sleep(SETTLE_MS);
    const checkFrom = process.hrtime.bigint();
    const wrk = await wrks;
    const wrkEnd = process.hrtime.bigint();
    if (Number(wrkEnd - checkFrom) / 1e6 < 500)
      log(`${mode}: warning: the end-state check window is only ${Number(wrkEnd - checkFrom) / 1e6} ms`);
    // The installed file must say what HAProxy does: every server's address, weight and maintenance state.
    const fileServers = serversOf(readFileSync(output, 'utf8'));
    const liveServers = new Map<string, ServerState>(
      parseServersState(await haproxy.runtime('show servers state')).map((x) => [`${x.backend}/${x.name}`, x]),
    );
    const drift: string[] = [];
    for (const [key, f] of fileServers) {
      const x = liveServers.get(key);
      const want = `${f.host}:${f.port} weight ${f.weight}${f.disabled ? ' maint' : ''}`;
      const got = x ? `${x.addr}:${x.port} weight ${x.weight}${x.maint ? ' maint' : ''}` : 'missing';
      if (want !== got) drift.push(`${key}: file ${want}, HAProxy ${got}`);
    }
    const after = await sy.counters();
    const masterAfter = await masterReloads(() => haproxy.showProc());
    const hits = await host.hits();
    const installs = sy.installs.slice(installsBefore);

    // End state: every backend of the loaded apps gets requests iff the registry says it serves.
    const mismatches: string[] = [];
    for (const app of LOADED) {
      const backends = new Set([
        ...core(app),
        ...plan.ops.flatMap((o) => (o.type === 'membership' && o.app === app ? [o.backend] : [])),
      ]);
      for (const b of backends) {
        const expected = core(app).includes(b) || alive.get(b)?.state === 'serving';
        const got = (hits.get(b) ?? []).some((t) => t >= Number(checkFrom) && t <= Number(wrkEnd));
        if (expected !== got)
          mismatches.push(
            `${app} ${b}: registry says ${expected ? 'serving' : (alive.get(b)?.state ?? 'gone')}, HAProxy ${got ? 'sends' : 'sends nothing'}`,
          );
      }
    }

    // Reload cycles that applied a structural change; any other reload was for membership alone.
    const structural = new Set<Install>();
    const structuralVia = new Map<string, number>();
    for (const p of played) {
      if (p.op.type !== 'structural') continue;
      const c = applyingCycle(installs, p.emittedAt, p.op.app) ?? installs.find((i) => cycleStart(i) >= p.emittedAt);
      if (c) structural.add(c);
      const how = c?.how ?? 'none';
      structuralVia.set(how, (structuralVia.get(how) ?? 0) + 1);
    }
    const membershipReloads = installs.filter((i) => i.how === 'reload' && !structural.has(i));
    const measured = measure(played, installs, hits, Number(wrkEnd));
    const hapLog = hapFollower.stop();
    const hapLogs = hapLog.text;
    if (hapLog.lost) log(`${mode}: warning: part of HAProxy's log was lost between two reads`);
    // A server HAProxy's own checks took down (a slot pointing at the wrong port would), or a failed load.
    const checkDownLines = hapLogs
      .split('\n')
      .filter((l) => (/is DOWN/.test(l) && /reason:/.test(l)) || /Loading failure/.test(l));
    const result: ModeResult = {
      mode: mode === 'runtime' ? 'runtime API' : 'reload only',
      wrk,
      played,
      measured,
      reloadsLogged: installs.filter((i) => i.how === 'reload').length,
      liveLogged: installs.filter((i) => i.how === 'live').length,
      reloadsMetric: after.reloads - before.reloads,
      reloadFailuresMetric: after.reloadFailures - before.reloadFailures,
      liveMetric: after.runtimeUpdates - before.runtimeUpdates,
      masterReloads: masterAfter - masterBefore,
      membershipReloads,
      structuralVia,
      finalMismatches: mismatches,
      drift,
      servers: fileServers.size,
      checkDownLines,
      problems: sy.problems.slice(problemsBefore),
      maxLateMs: Math.max(...played.map((p) => p.lateMs)),
      seconds: Number(wrkEnd - wrkStart) / 1e9,
      unresolved: measured.filter((m) => m.op.direction === 'up' && m.ms === null && !m.alreadyThere).length,
    };
    // The raw material, for KEEP_TMP=1 runs.
    writeFileSync(
      join(dir, 'churn-result.json'),
      JSON.stringify(
        {
          ...result,
          played: played.map((p) => ({ ...p.op, emittedAt: String(p.emittedAt), lateMs: p.lateMs })),
          measured: measured.map((m) => ({
            ...m.op,
            emittedAt: String(m.emittedAt),
            via: m.via,
            ms: m.ms,
            gapMs: m.gapMs,
            duringReload: m.duringReload,
            alreadyThere: m.alreadyThere,
          })),
          membershipReloads: membershipReloads.map((i) => ({ ...i, at: String(i.at) })),
          structuralVia: Object.fromEntries(structuralVia),
          wrk: wrk.map((w) => ({ ...w, statuses: Object.fromEntries(w.statuses) })),
          installs: installs.map((i) => ({ ...i, at: String(i.at) })),
        },
        null,
        1,
      ),
    );
    writeFileSync(join(dir, 'haproxy.log'), hapLogs);
    for (const w of wrk) log(`${mode}: wrk ${w.label}:\n${w.text.trim()}`);
    for (const p of result.problems.slice(0, 10)) log(`${mode}: switchyard: ${p}`);
    for (const m of mismatches.slice(0, 10)) log(`${mode}: end state: ${m}`);
    for (const d of drift.slice(0, 10)) log(`${mode}: file ≠ HAProxy: ${d}`);
    if (mode === 'runtime')
      for (const i of membershipReloads.slice(0, 10))
        log(`${mode}: reload for membership alone: ${JSON.stringify({ ...i, at: undefined })}`);
    for (const l of checkDownLines.slice(0, 10)) log(`${mode}: haproxy: ${l}`);
    log(`${mode}: done; raw data in ${dir} (KEEP_TMP=1 keeps it)`);
    return result;
  } finally {
    for (const stop of cleanup.reverse()) await stop().catch((e: Error) => log(`cleanup: ${e.message}`));
  }
}

async function main(): Promise<void> {
  const plan = makePlan({
    seed: opts.seed,
    membershipOps: opts.ops,
    structuralOps: opts.structural,
    maxChurn: opts.maxChurn,
    loadedApps: LOADED,
  });
  const hv = (await runCommand('haproxy', ['-v'])).output.split('\n')[0]!.trim();
  const load0 = loadavg()[0]!.toFixed(2);
  const results: ModeResult[] = [];
  for (const mode of opts.modes) results.push(await runMode(mode, plan));
  const load1 = loadavg()[0]!.toFixed(2);
  const interval = CHURN_WINDOW_MS / plan.ops.length;
  console.log(
    [
      '',
      `### Churn under load: ${opts.ops} membership + ${opts.structural} structural changes in ${opts.seconds} s per mode`,
      '',
      `${hv}, master-worker, checked reload (bin/haproxy-reload), validate \`haproxy -c\`; Switchyard in its own process,`,
      `reload.quietMs=${opts.quietMs}, maxDelayMs=${opts.maxDelayMs}, serverSlots=${opts.slots}; Marathon double; seed ${opts.seed}.`,
      `Load: 2 × wrk -t1 -c${opts.connections} -d${opts.seconds}s keep-alive, ${delayMs} ms pause per request per connection` +
        ` (target ≈${opts.rate || '∞'} req/s), one on /churn/a by Host on the shared listener, one on /churn/b's service port.`,
      `Each loaded app keeps ${opts.core} core backends; churn adds up to ${opts.maxChurn} more; an operation every ${interval.toFixed(0)} ms.`,
      `${availableParallelism()} CPUs; load average (1 min) ${load0} at the start, ${load1} at the end.`,
      '',
      renderTable(results),
      '',
      'Latencies: from the Marathon double emitting the first event of the change to the first request (up) or the last',
      "request (taken out) that backend received under the wrk load, timed in the backends' process on the same monotonic",
      'clock. "via": how the Switchyard cycle that applied the change installed it (its `config installed` log line).',
      'Percentiles are nearest-rank: with n < 100, p99 is the maximum.',
      '',
    ].join('\n'),
  );
}

await main();
