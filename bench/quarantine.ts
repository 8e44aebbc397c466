// Issue 12's benchmark: one poisoned app among a burst of healthy changes,
// at 1000 and 5000 apps × 5 tasks, Switchyard in its own process with the
// default HAProxy template, validated by a real `haproxy -c`.
//
//   npm run build && node dist/bench/quarantine.js [--sizes 1000,5000] [--burst 50]
//
// Per size, one table: for the same burst (a new task on each of --burst
// apps) with no poison, and with one poisoned new app of each kind — one the
// pre-checks catch (a missing certificate), ones whose line HAProxy names (a
// raw backend label it refuses; a readable file that is no certificate on the
// app's own listener), one it names only by the shared TLS listener's line
// and the file (the same file, the app without a port of its own), and one
// it names by no line at all (a raw frontend label pointing at no backend:
// found by bisection) — the validations run and the
// time from the burst to the healthy changes installed; beside them
// marathon-lb's app-by-app re-validation (N validations × the measured
// `haproxy -c` time of that config). See bench/README.md.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MarathonDouble } from '../test/support/marathon-double.js';
import { freePort } from '../test/support/ports.js';
import { tempDir } from '../test/support/tmp.js';
import { sleep } from '../test/support/wait.js';
import { eventApp, SERVICE_PORT_BASE, syntheticCluster } from './lib/cluster.js';
import { haproxyCheckFloor } from './lib/floors.js';
import { serving, stopSwitchyard, unlessExits } from './lib/measure.js';
import { loadAverage, untilIdle } from './lib/proc.js';
import { fmt, msBetween, table } from './lib/stats.js';
import { spawnSwitchyard, type SwitchyardRun } from './lib/switchyard.js';
import { OutputWatcher } from './lib/watch.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,5000' },
    burst: { type: 'string', default: '50' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write('node dist/bench/quarantine.js [--sizes 1000,5000] [--burst 50]\n');
  process.exit(0);
}
const sizes = args.sizes.split(',').map(Number);
const burst = Number(args.burst);
if (sizes.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(burst) || burst < 1) {
  process.stderr.write('--sizes: positive integers, comma-separated; --burst: a positive integer\n');
  process.exit(2);
}

const repo = resolve('.');
const signed = (ms: number) => `${ms >= 0 ? '+' : ''}${fmt(ms, 0)}`;
const progress = (line: string) => process.stderr.write(`${line}\n`);

/** One poison: the labels of a new app that HAProxy would refuse, and how Switchyard should find it. */
interface Poison {
  readonly name: string;
  labels(dir: string): Record<string, string>;
  /** Whether it has a service port (a listener of its own); without one its certificate is on the shared TLS listener only. */
  readonly ownPort: boolean;
}

const POISONS: readonly (Poison | null)[] = [
  null,
  {
    name: 'missing certificate (HAPROXY_0_SSL_CERT)',
    labels: (dir) => ({ HAPROXY_0_SSL_CERT: join(dir, 'missing.pem') }),
    ownPort: true,
  },
  {
    name: 'raw label HAProxy refuses (HAPROXY_0_BACKEND_HEAD)',
    labels: () => ({ HAPROXY_0_BACKEND_HEAD: 'no-such-keyword on' }),
    ownPort: true,
  },
  {
    name: 'readable non-certificate, own listener + shared TLS listener',
    labels: (dir) => ({ HAPROXY_0_SSL_CERT: join(dir, 'not-a-certificate.pem') }),
    ownPort: true,
  },
  {
    name: 'readable non-certificate, shared TLS listener only (no port)',
    labels: (dir) => ({ HAPROXY_0_SSL_CERT: join(dir, 'not-a-certificate.pem') }),
    ownPort: false,
  },
  {
    name: 'raw frontend label naming no backend (HAProxy names no line)',
    labels: () => ({ HAPROXY_0_FRONTEND_HEAD: 'use_backend no-such-backend' }),
    ownPort: true,
  },
];

interface Row {
  readonly poison: string;
  readonly validations: number;
  readonly ms: number;
  readonly finding: string;
}

/** Lines of the counter file: one per validate run. */
function validations(file: string): number {
  return readFileSync(file, 'utf8').length;
}

async function quarantinedAs(healthUrl: string, service: string): Promise<string> {
  const body = JSON.parse(await (await fetch(healthUrl)).text()) as {
    status: string;
    quarantined: { service: string; finding: string }[];
  };
  const entry = body.quarantined.find((q) => q.service === service);
  return entry ? `${entry.finding} (/health ${body.status})` : `not quarantined (/health ${body.status})`;
}

async function measureSize(apps: number): Promise<{ rows: Row[]; checkMs: number; configBytes: number }> {
  const double = new MarathonDouble({ keepAliveMs: 10_000 });
  const url = await double.start();
  double.bulkLoad(syntheticCluster(apps));
  const dir = tempDir(`quarantine-bench-${apps}-`);
  const out = join(dir, 'haproxy', 'haproxy.cfg');
  mkdirSync(join(dir, 'haproxy'));
  writeFileSync(join(dir, 'not-a-certificate.pem'), 'not a certificate\n');
  const counter = join(dir, 'validations');
  writeFileSync(counter, '');
  const validate = join(dir, 'validate.sh');
  // Counts each run (one byte), then is exactly the validate command users configure.
  writeFileSync(validate, `#!/bin/sh\nprintf x >> ${counter}\nexec haproxy -c -f "$1"\n`);
  chmodSync(validate, 0o755);
  const listenPort = await freePort();
  const config = {
    marathon: { endpoints: [url], pollIntervalMs: 3_600_000, requestTimeoutMs: 120_000, allowRawLabels: true },
    targets: [
      {
        name: 'haproxy',
        template: join(repo, 'templates/haproxy.cfg.hbs'),
        output: out,
        validate: `${validate} {{file}}`,
        reload: 'true',
        vars: { bind: '127.0.0.1', httpPort: await freePort(), httpsPort: await freePort() },
      },
    ],
    reload: { quietMs: 100, maxDelayMs: 1000, timeoutMs: 120_000 },
    guard: { enabled: false },
    http: { listen: `127.0.0.1:${listenPort}` },
    log: { level: 'info', format: 'json' },
  };
  const watcher = new OutputWatcher(out);
  let run: SwitchyardRun | null = null;
  const rows: Row[] = [];
  try {
    run = spawnSwitchyard(repo, dir, config);
    const live = run;
    await unlessExits(
      live,
      watcher.next((c) => c.length > 0, 300_000),
    );
    await untilIdle(live.pid, 500, 120_000, 0.05);
    let next = 0;
    for (const [i, poison] of POISONS.entries()) {
      const ports = Array.from({ length: burst }, (_, k) => 40_000 + next + k);
      const targets = ports.map((_, k) => eventApp(next + k, apps));
      next += burst;
      const poisonId = `/poison/p${i}`;
      const before = validations(counter);
      const started = process.hrtime.bigint();
      for (const [k, app] of targets.entries())
        double.addTask(app, { host: '127.2.0.1', ports: [ports[k]!], healthy: true });
      if (poison) {
        double.addApp({
          id: poisonId,
          portDefinitions: poison.ownPort ? [{ port: SERVICE_PORT_BASE + apps + i }] : [],
          labels: { HAPROXY_0_VHOST: `poison-${i}.bench.example.com`, ...poison.labels(dir) },
        });
        double.addTask(poisonId, { host: '127.2.0.2', ports: [41_000 + i] });
      }
      const installed = await unlessExits(
        live,
        watcher.next((c) => ports.every((p) => serving(c, `127.2.0.1:${p}`)), 300_000),
      );
      const ms = msBetween(started, installed.at);
      const ran = validations(counter) - before;
      const finding = poison ? await quarantinedAs(`http://127.0.0.1:${listenPort}/health`, poisonId) : '—';
      if (poison && installed.content.includes(`backend ${poisonId.replaceAll('/', ':')}`))
        throw new Error(`${poison.name}: the poisoned app is in the installed config`);
      rows.push({ poison: poison?.name ?? 'none', validations: ran, ms, finding });
      progress(`${apps} apps, poison ${poison?.name ?? 'none'}: ${ran} validations, ${fmt(ms, 0)} ms, ${finding}`);
      if (poison) double.removeApp(poisonId);
      // Let the removal and any retry settle before the next burst.
      await sleep(300);
      await untilIdle(live.pid, 500, 120_000, 0.05);
    }
    const checkMs = await haproxyCheckFloor(out, 3);
    return { rows, checkMs, configBytes: readFileSync(out).length };
  } finally {
    watcher.close();
    if (run) await stopSwitchyard(run.child);
    await double.stop();
  }
}

progress(`quarantine bench: sizes ${sizes.join(',')}, burst ${burst}, ${cpus().length} cores, load ${loadAverage()}`);
for (const apps of sizes) {
  const { rows, checkMs, configBytes } = await measureSize(apps);
  const clean = rows[0]!;
  const body = rows.map((r) => [
    r.poison,
    r.finding,
    String(r.validations),
    fmt(r.ms, 0),
    r === clean ? '—' : signed(r.ms - clean.ms),
  ]);
  body.push([
    "marathon-lb's app-by-app re-validation (computed)",
    '—',
    String(apps),
    fmt(apps * checkMs, 0),
    signed(apps * checkMs - clean.ms),
  ]);
  process.stdout.write(
    `\n### ${apps} apps × 5 tasks, a burst of ${burst} new tasks (config ${fmt(configBytes / 1e6, 1)} MB, ` +
      `haproxy -c ${fmt(checkMs, 0)} ms median of 3)\n\n` +
      table(
        ['poison in the burst', 'found by', 'validations', 'burst → healthy installed (ms)', 'vs no poison (ms)'],
        body,
      ) +
      '\n',
  );
}
progress(`load at the end: ${loadAverage()}`);
