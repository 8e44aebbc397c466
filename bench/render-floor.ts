// What the first render of a template costs, and how much of it is
// Handlebars' own: in a fresh process each (a cold start's first render runs
// before the JIT has seen any of it), N services × 5 backends shaped as the
// scale bench's Marathon apps, the same template data either way:
//
// - Handlebars alone: a new environment with the shipped helpers as they
//   are and the shipped partials, compiled with Switchyard's options, rendered once — no per-item
//   cache, no helper wrappers, no budget.
// - Switchyard: loadTemplate (parse, lint, cached loops, wrapped helpers)
//   and the first render into a new render cache, as a target's first apply.
//
// Both must give the same bytes, or the bench fails.
//
//   npm run build && node dist/bench/render-floor.js [--sizes 1000,5000] [--runs 3]
import Handlebars from 'handlebars';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RenderCache } from '../src/render/cache.js';
import { templateData, type Vars } from '../src/render/data.js';
import { helpers } from '../src/render/helpers.js';
import { compileOptions, loadTemplate } from '../src/render/template.js';
import { fmt, median, table } from './lib/stats.js';
import { syntheticServices } from './lib/services.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,5000' },
    runs: { type: 'string', default: '3' },
    child: { type: 'string' },
    apps: { type: 'string' },
    template: { type: 'string' },
  },
});

const repo = process.cwd();
const TEMPLATES: Record<string, Vars> = {
  'haproxy.cfg': { bind: '127.0.0.1', httpPort: 8080 },
  'nginx.conf': { bind: '127.0.0.1', httpPort: 8081 },
};
const MODES = ['handlebars', 'switchyard'] as const;
type Mode = (typeof MODES)[number];

/** One fresh process's measurements. */
interface Sample {
  readonly dataMs: number;
  /** Handlebars alone: compile + first render; Switchyard: loadTemplate + first render. */
  readonly firstMs: number;
  readonly bytes: number;
  readonly sha: string;
}

async function child(mode: Mode, apps: number, name: string): Promise<Sample> {
  const file = join(repo, 'templates', `${name}.hbs`);
  const snapshot = { version: 1, services: syntheticServices(apps), rules: [] };
  const cache = new RenderCache();
  const t0 = performance.now();
  const data = templateData(snapshot, TEMPLATES[name]!, { cache });
  const t1 = performance.now();
  let text: string;
  if (mode === 'handlebars') {
    const hbs = Handlebars.create();
    hbs.registerHelper(helpers);
    const options = compileOptions(hbs);
    const partials = join(repo, 'templates', 'partials');
    for (const p of readdirSync(partials).filter((f) => f.endsWith('.hbs')))
      hbs.registerPartial(basename(p, '.hbs'), hbs.compile(readFileSync(join(partials, p), 'utf8'), options));
    text = hbs.compile(readFileSync(file, 'utf8'), options)(data, {
      allowProtoPropertiesByDefault: false,
    });
  } else {
    const template = await loadTemplate(file);
    text = template.renderFragments(data, cache).fragments.join('');
  }
  const t2 = performance.now();
  return {
    dataMs: t1 - t0,
    firstMs: t2 - t1,
    bytes: Buffer.byteLength(text),
    sha: createHash('sha256').update(text).digest('hex'),
  };
}

function spawnChild(mode: Mode, apps: number, name: string): Sample {
  const out = execFileSync(
    process.execPath,
    [fileURLToPath(import.meta.url), '--child', mode, '--apps', String(apps), '--template', name],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  return JSON.parse(out) as Sample;
}

async function main(): Promise<void> {
  const runs = Number(args.runs);
  const rows: string[][] = [];
  for (const apps of args.sizes.split(',').map(Number))
    for (const name of Object.keys(TEMPLATES)) {
      process.stderr.write(`render-floor: ${apps} services, ${name}…\n`);
      const samples: Record<Mode, Sample[]> = { handlebars: [], switchyard: [] };
      for (let r = 0; r < runs; r++) for (const mode of MODES) samples[mode].push(spawnChild(mode, apps, name));
      const shas = new Set(MODES.flatMap((m) => samples[m].map((s) => s.sha)));
      if (shas.size !== 1) throw new Error(`${name} at ${apps} services: the two renders differ`);
      const med = (mode: Mode, k: 'dataMs' | 'firstMs') => fmt(median(samples[mode].map((s) => s[k])));
      rows.push([
        String(apps),
        name,
        med('switchyard', 'dataMs'),
        med('handlebars', 'firstMs'),
        med('switchyard', 'firstMs'),
        fmt(samples.handlebars[0]!.bytes / 1024, 0),
      ]);
    }
  process.stdout.write(
    `\nFirst render in a fresh process (ms, median of ${runs}; the same bytes either way)\n\n` +
      table(
        [
          'services',
          'template',
          'template data',
          'Handlebars alone: compile + first render',
          'Switchyard: load + first render',
          'config KB',
        ],
        rows,
      ) +
      '\n',
  );
}

if (args.child)
  process.stdout.write(JSON.stringify(await child(args.child as Mode, Number(args.apps), args.template!)));
else await main();
