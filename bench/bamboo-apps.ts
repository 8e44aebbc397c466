// The first build of the Bamboo-compatible `apps` view (render/derived.ts),
// which a Bamboo-style template reads: N Marathon apps × 5 tasks, shaped as
// the scale bench's. The first build runs on the main thread at start and
// after any structural change (an app added or gone), so its time is how long
// the event loop is held for it.
//
//   npm run build && node dist/bench/bamboo-apps.js [--sizes 1000,5000] [--runs 15]
//
// Prints per size: the very first build in this process (cold JIT), the
// median and p90 of later first builds (each with a fresh render cache), the
// part of it spent making the app objects alone (no interning), and an event
// that replaces one service (the patched view).
import { parseArgs } from 'node:util';
import { RenderCache } from '../src/render/cache.js';
import { templateData } from '../src/render/data.js';
import type { Backend, Service, Snapshot } from '../src/state/model.js';
import { agentHost, appId, SERVICE_PORT_BASE, TASKS_PER_APP } from './lib/cluster.js';
import { fmt, median, pct, table } from './lib/stats.js';

const { values: args } = parseArgs({
  options: { sizes: { type: 'string', default: '1000,5000' }, runs: { type: 'string', default: '15' } },
});

function serviceOf(app: number, port = 31000): Service {
  const backends: Backend[] = Array.from({ length: TASKS_PER_APP }, (_, t) => ({
    id: `${appId(app).slice(1).replace(/\//g, '_')}.task-${t}`,
    host: agentHost(app * TASKS_PER_APP + t),
    port: port + t,
    weight: 1,
    healthy: true,
    draining: false,
    checkPort: null,
  }));
  return {
    id: appId(app),
    name: appId(app),
    source: 'marathon',
    portIndex: 0,
    servicePort: SERVICE_PORT_BASE + app,
    mode: 'http',
    vhosts: [],
    paths: [],
    acl: null,
    balance: 'roundrobin',
    sticky: false,
    healthCheck: { protocol: 'HTTP', path: '/health', intervalSeconds: 10, timeoutSeconds: 20 },
    bindAddress: null,
    sslCert: null,
    redirectToHttps: false,
    backendWeight: 0,
    raw: {},
    labels: { HAPROXY_GROUP: 'external', team: `team-${app % 50}` },
    env: { SERVICE_NAME: `svc-${app}`, LOG_LEVEL: 'info' },
    backends,
  };
}

function snapshotOf(size: number, version = 1): Snapshot {
  const services = Array.from({ length: size }, (_, i) => serviceOf(i)).sort((a, b) => (a.id < b.id ? -1 : 1));
  return { version, services, rules: [] };
}

const vars = { bind: '127.0.0.1', httpPort: 8080 };

/** Milliseconds to read `apps` from a fresh view of the snapshot with `cache`; the service views are built first, untimed. */
function timeApps(snapshot: Snapshot, cache: RenderCache): number {
  const data = templateData(snapshot, vars, { cache });
  void data.services.length;
  const t0 = performance.now();
  void data.apps.length;
  return performance.now() - t0;
}

const rows: string[][] = [];
const runs = Number(args.runs);
for (const size of args.sizes.split(',').map(Number)) {
  const snapshot = snapshotOf(size);
  const first = timeApps(snapshot, new RenderCache());
  const builds: number[] = [];
  for (let i = 0; i < runs; i++) builds.push(timeApps(snapshot, new RenderCache()));
  // The same view read again through a cache that built it: interned apps are kept.
  const warm = new RenderCache();
  timeApps(snapshot, warm);
  const k = Math.floor(size / 2);
  const services = snapshot.services.map((s) => (s.id === appId(k) ? serviceOf(k, 41000) : s));
  const event = timeApps({ ...snapshot, version: 2, services }, warm);
  const added = timeApps(
    { ...snapshot, version: 3, services: [...services, serviceOf(size)].sort((a, b) => (a.id < b.id ? -1 : 1)) },
    warm,
  );
  rows.push([String(size), fmt(first), fmt(median(builds)), fmt(pct(builds, 90)), fmt(event, 2), fmt(added)]);
}
console.log(
  table(
    [
      'apps',
      'first build, cold JIT (ms)',
      'first build, median (ms)',
      'p90 (ms)',
      'one service replaced (ms)',
      'one app added, warm cache (ms)',
    ],
    rows,
  ),
);
