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
import type { Snapshot } from '../src/state/model.js';
import { syntheticServices } from './lib/services.js';
import { fmt, median, table } from './lib/stats.js';

const { values: args } = parseArgs({
  options: { sizes: { type: 'string', default: '1000,5000' }, runs: { type: 'string', default: '5' } },
});

const vars = { bind: '127.0.0.1', httpPort: 8080 };
const runs = Number(args.runs);
const rows: string[][] = [];
for (const size of args.sizes.split(',').map(Number)) {
  const snapshot: Snapshot = { version: 1, services: syntheticServices(size), rules: [] };
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
