// What a template version's render trial (render/trial.ts) costs at cluster
// scale, with the repository's default templates: N services × 5 backends
// shaped as the scale bench's. The trial runs in a worker thread; what the
// main thread still pays is handing the snapshot over (structured clone,
// synchronous) — the longest event-loop hold during the trial says how much.
//
//   npm run build && node dist/bench/render-trial.js [--sizes 1000,5000] [--runs 5]
//
// Prints per size and template: the trial's wall time (worker start, clone,
// compile, data, render), the longest main-thread hold while it ran, and for
// comparison the first render of the same version on the main thread.
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { RenderCache } from '../src/render/cache.js';
import { templateData } from '../src/render/data.js';
import { loadTemplate } from '../src/render/template.js';
import { trialRender } from '../src/render/trial.js';
import type { Backend, Service, Snapshot } from '../src/state/model.js';
import { agentHost, appId, SERVICE_PORT_BASE, TASKS_PER_APP, vhostOf } from './lib/cluster.js';
import { fmt, median, table } from './lib/stats.js';

const { values: args } = parseArgs({
  options: { sizes: { type: 'string', default: '1000,5000' }, runs: { type: 'string', default: '5' } },
});

function serviceOf(app: number): Service {
  const backends: Backend[] = Array.from({ length: TASKS_PER_APP }, (_, t) => ({
    id: `${appId(app).slice(1).replace(/\//g, '_')}.task-${t}`,
    host: agentHost(app * TASKS_PER_APP + t),
    port: 31000 + t,
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
    vhosts: [vhostOf(app)],
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
    labels: { HAPROXY_GROUP: 'external', HAPROXY_0_VHOST: vhostOf(app), team: `team-${app % 50}` },
    env: { SERVICE_NAME: `svc-${app}`, LOG_LEVEL: 'info' },
    backends,
  };
}

const vars = { bind: '127.0.0.1', httpPort: 8080 };
const runs = Number(args.runs);
const rows: string[][] = [];
for (const size of args.sizes.split(',').map(Number)) {
  const services = Array.from({ length: size }, (_, i) => serviceOf(i)).sort((a, b) => (a.id < b.id ? -1 : 1));
  const snapshot: Snapshot = { version: 1, services, rules: [] };
  for (const name of ['haproxy.cfg', 'nginx.conf']) {
    const template = await loadTemplate(join(process.cwd(), 'templates', `${name}.hbs`), { budgetMs: 60_000 });
    const walls: number[] = [];
    const holds: number[] = [];
    for (let i = 0; i < runs; i++) {
      const loop = monitorEventLoopDelay({ resolution: 1 });
      loop.enable();
      const t0 = performance.now();
      const outcome = await trialRender(
        { file: template.file, texts: template.texts, budgetMs: 60_000, snapshot, vars, slots: new Map() },
        1024,
      );
      walls.push(performance.now() - t0);
      loop.disable();
      holds.push(loop.max / 1e6);
      if (outcome.kind !== 'passed') throw new Error(`${name}: trial ${outcome.kind}`);
    }
    const mains: number[] = [];
    for (let i = 0; i < runs; i++) {
      const cache = new RenderCache();
      const t0 = performance.now();
      template.render(templateData(snapshot, vars, { cache }), cache);
      mains.push(performance.now() - t0);
    }
    rows.push([String(size), name, fmt(median(walls)), fmt(Math.max(...holds)), fmt(median(mains))]);
  }
}
console.log(
  table(
    [
      'services',
      'template',
      'trial, wall (ms, median)',
      'longest main-thread hold during it (ms)',
      'first render on the main thread (ms, median)',
    ],
    rows,
  ),
);
