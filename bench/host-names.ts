// What handing nginx addresses instead of host names costs per event
// (src/targets/hosts/): N services × 5 backends on 1000 agents named like
// Mesos agents, the default nginx template, no validate or reload (the
// render path alone). The lookups are answered in-process: this measures
// Switchyard's side, not DNS.
//
//   npm run build && node dist/bench/host-names.js [--sizes 1000,5000] [--events 20]
//
// Prints per size: the median time of one apply after a one-service change,
// with and without resolveHosts; the first apply (every name looked up once);
// and after one agent's address moves, the apply time and the services
// rendered anew (the render cache's view misses).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { silentLogger } from '../src/log.js';
import { systemClock } from '../src/retry.js';
import type { Backend, Service, Snapshot } from '../src/state/model.js';
import { shellExec } from '../src/targets/exec.js';
import { HostResolver } from '../src/targets/hosts/resolver.js';
import { Target } from '../src/targets/target.js';
import { fmt, median, table } from './lib/stats.js';

const { values: args } = parseArgs({
  options: { sizes: { type: 'string', default: '1000,5000' }, events: { type: 'string', default: '20' } },
});
const AGENTS = 1000;
const TASKS = 5;
const agent = (k: number) => `agent-${String(k % AGENTS).padStart(4, '0')}.mesos-cluster.internal`;

function serviceOf(app: number): Service {
  const backends: Backend[] = Array.from({ length: TASKS }, (_, t) => ({
    id: `svc-${app}.task-${t}`,
    host: agent(app * TASKS + t),
    port: 31000 + t,
    weight: 1,
    healthy: true,
    draining: false,
    checkPort: null,
  }));
  return {
    id: `/team-${app % 50}/svc-${String(app).padStart(5, '0')}`,
    name: `svc-${app}`,
    source: 'marathon',
    portIndex: 0,
    servicePort: 21000 + app,
    mode: 'http',
    vhosts: [`svc-${app}.example.com`],
    paths: [],
    acl: null,
    balance: 'roundrobin',
    sticky: false,
    healthCheck: null,
    bindAddress: null,
    sslCert: null,
    redirectToHttps: false,
    backendWeight: 0,
    raw: {},
    labels: {},
    env: {},
    backends,
  };
}

/** Addresses the in-process resolver answers; `moved` gives one agent a new one. */
const moved = new Set<string>();
const lookup = async (host: string) => {
  const k = Number(/agent-(\d+)/.exec(host)![1]);
  return `10.${moved.has(host) ? 200 : 100}.${Math.floor(k / 250)}.${(k % 250) + 1}`;
};

function nginxTarget(resolveHosts: boolean, hosts: HostResolver): Target {
  const dir = mkdtempSync(join(tmpdir(), 'sy-bench-hosts-'));
  return new Target(
    {
      name: 'nginx',
      template: join(process.cwd(), 'templates', 'nginx.conf.hbs'),
      output: join(dir, 'nginx.conf'),
      validate: '',
      reload: '',
      runtimeApi: '',
      resolveHosts,
      vars: { bind: '127.0.0.1', httpPort: 8080 },
    },
    { exec: shellExec, log: silentLogger(), commandTimeoutMs: 60_000, cwd: dir, hosts, renderBudgetMs: 60_000 },
  );
}

const events = Number(args.events);
const rows: string[][] = [];
for (const size of args.sizes.split(',').map(Number)) {
  const services = Array.from({ length: size }, (_, i) => serviceOf(i)).sort((a, b) => (a.id < b.id ? -1 : 1));
  const hosts = new HostResolver(
    { refreshMs: 3_600_000, timeoutMs: 5000, maxHosts: 10_000, maxConcurrent: 8 },
    systemClock,
    silentLogger(),
    lookup,
  );
  // Both targets take every event in turn, so neither pays the other's warm-up.
  const [names, resolved] = [nginxTarget(false, hosts), nginxTarget(true, hosts)];
  for (const t of [names, resolved]) await t.init();
  let version = 1;
  let current = services;
  await names.apply({ version, services: current, rules: [] });
  const t0 = performance.now();
  await resolved.apply({ version, services: current, rules: [] });
  const first = performance.now() - t0;
  const times = { names: [] as number[], resolved: [] as number[] };
  for (let e = 0; e < events; e++) {
    const i = (e * 37) % size;
    // A redeploy of one app: its tasks on the same agents, on new ports.
    current = current.map((s, j) =>
      j === i ? { ...s, backends: s.backends.map((b) => ({ ...b, port: 32000 + e * 10 + (b.port % 10) })) } : s,
    );
    const snap: Snapshot = { version: ++version, services: current, rules: [] };
    for (const [key, t] of [
      ['names', names],
      ['resolved', resolved],
    ] as const) {
      const t1 = performance.now();
      await t.apply(snap);
      times[key].push(performance.now() - t1);
    }
  }
  // One agent's address moves: the resolver's refresh finds it, and only the services on it render again.
  moved.add(agent(7));
  await hosts['refresh']();
  const misses = resolved.cacheStats().viewMisses;
  const t2 = performance.now();
  await resolved.apply({ version: version + 1, services: current, rules: [] });
  const afterMove = performance.now() - t2;
  moved.clear();
  rows.push([
    String(size),
    fmt(median(times.names)),
    fmt(median(times.resolved)),
    fmt(first),
    fmt(afterMove),
    String(resolved.cacheStats().viewMisses - misses),
    String(hosts.stats().cached),
  ]);
  hosts.close();
}
console.log(
  table(
    [
      'services',
      'apply after a 1-service change, names (ms, median)',
      'same, resolveHosts (ms, median)',
      'first apply, resolveHosts (ms)',
      'apply after 1 agent moved (ms)',
      'services rendered anew',
      'names cached',
    ],
    rows,
  ),
);
