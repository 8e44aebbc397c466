// Issue 11's proof: Switchyard in the shape users run beside the one-target
// table, at 1000 and 5000 apps × 5 tasks, against the Marathon test double,
// Switchyard in its own process. Optionally a second build (another
// checkout, e.g. a worktree at an older commit) is measured in the same run,
// interleaved size by size.
//
//   npm run build && node dist/bench/shape.js [--sizes 1000,5000] [--events 20] [--runs 1]
//        [--cold-runs 3] [--before /tmp/before] [--profile 5000] [--deadline-min 60]
//
// Per size, one table: the one-target figures of bench/scale.ts (cold start,
// peak RSS, event → config) and the default shape (both default targets, a
// GET /api/state per scale event, Marathon's whole scale sequence): event →
// both files median and p90, CPU per event, peak RSS; the issue's targets,
// Bamboo's and main-before figures beside. See bench/README.md.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { tempDir } from '../test/support/tmp.js';
import { measureSize } from './lib/measure.js';
import { loadAverage } from './lib/proc.js';
import { formatSummary, newestProfile, summarize } from './lib/profile.js';
import { measureShape } from './lib/shape.js';
import { shapeSizeTable, type BuildRuns } from './lib/shape-report.js';
import { fmt, median } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,5000' },
    events: { type: 'string', default: '20' },
    runs: { type: 'string', default: '1' },
    'cold-runs': { type: 'string', default: '3' },
    before: { type: 'string' },
    profile: { type: 'string' },
    'deadline-min': { type: 'string', default: '60' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  process.stdout.write(
    'node dist/bench/shape.js [--sizes 1000,5000] [--events 20] [--runs 1] [--cold-runs 3]\n' +
      '                         [--before CHECKOUT] [--profile SIZES] [--deadline-min 60]\n',
  );
  process.exit(0);
}

const sizes = args.sizes.split(',').map(Number);
const events = Number(args.events);
const runs = Number(args.runs);
const coldRuns = Number(args['cold-runs']);
if (
  sizes.some((n) => !Number.isInteger(n) || n < 1) ||
  !(events >= 2) ||
  events % 2 !== 0 ||
  !(runs >= 0) ||
  !(coldRuns >= 1)
) {
  process.stderr.write(
    'shape: --sizes takes positive integers, --events an even number ≥ 2, --runs ≥ 0 (0: only --profile), --cold-runs ≥ 1\n',
  );
  process.exit(2);
}
const progress = (line: string) => process.stderr.write(`${line}\n`);
const started = Date.now();
// Everything is bounded: past the deadline the process exits, and its exit handlers kill every child.
setTimeout(
  () => {
    progress(`shape: deadline of ${args['deadline-min']} min passed; stopping`);
    process.exit(3);
  },
  Number(args['deadline-min']) * 60_000,
).unref();

/** The commit of a checkout and whether src/ or templates/ differ from it. */
function gitState(repo: string): string {
  try {
    const git = (...a: string[]) => execFileSync('git', a, { cwd: repo, encoding: 'utf8' }).trim();
    const dirty = git('status', '--porcelain', '--', 'src', 'templates').split('\n').filter(Boolean).length;
    return `${git('rev-parse', '--short', 'HEAD')}${dirty > 0 ? ` + ${dirty} uncommitted file(s) in src/, templates/` : ''}`;
  } catch {
    return 'unknown (no git)';
  }
}

/** A checkout to measure and what it measured, by size. */
interface Build {
  readonly repo: string;
  readonly label: string;
  readonly bySize: Map<number, BuildRuns>;
}

function build(repo: string): Build {
  if (!existsSync(join(repo, 'bin/switchyard.js')))
    throw new Error(`${repo} has no bin/switchyard.js (build it first)`);
  return { repo, label: gitState(repo), bySize: new Map() };
}

async function measureBuild(b: Build, apps: number, run: number): Promise<void> {
  const measured = b.bySize.get(apps) ?? { label: b.label, oneTarget: [], shape: [], load: [] };
  b.bySize.set(apps, measured);
  progress(`${b.label}: ${apps} apps × 5 tasks, run ${run + 1}/${runs} (load ${loadAverage()})`);
  measured.load.push(loadAverage().split(' ')[0]!);
  try {
    const one = await measureSize({ repo: b.repo, apps, events, coldRuns, validate: false, progress });
    measured.oneTarget.push(one);
    for (const w of one.warnings) progress(`  note (one target): ${w}`);
  } catch (e) {
    progress(`  one target failed: ${(e as Error).message.split('\n').slice(0, 12).join('\n  ')}`);
  }
  try {
    const shape = await measureShape({ repo: b.repo, apps, events, progress });
    measured.shape.push(shape);
    for (const w of shape.warnings) progress(`  note (default shape): ${w}`);
  } catch (e) {
    progress(`  default shape failed: ${(e as Error).message.split('\n').slice(0, 12).join('\n  ')}`);
  }
}

async function profileShape(repo: string, apps: number): Promise<void> {
  const profDir = join(tempDir(`profile-shape-${apps}-`), 'prof');
  mkdirSync(profDir);
  progress(`profile: default shape, ${apps} apps × 5 tasks under --cpu-prof (load ${loadAverage()})`);
  const r = await measureShape({
    repo,
    apps,
    events,
    progress,
    // The profiler's sampling thread alone keeps ~10 % of a core busy.
    idleShare: 0.3,
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-interval=250'],
  });
  const s = summarize(newestProfile(profDir), repo, r.window[0], r.window[1]);
  console.log(
    `\n### Profile, default shape, ${apps} apps × 5 tasks (node --cpu-prof, 250 µs; times inflated by the profiler)\n`,
  );
  console.log('```');
  console.log(
    `${r.eventMs.length} scale events, event → both files median ${fmt(median(r.eventMs), 1)} ms; ` +
      `${fmt(s.busyMs / r.eventMs.length, 1)} ms of CPU sampled per scale event (whole sequence + state read)`,
  );
  console.log(formatSummary(`scale events (first timed event → last settle)`, s));
  console.log('```');
}

async function main(): Promise<void> {
  const after = build(process.cwd());
  const before = args.before ? build(resolve(args.before)) : null;
  const builds = before ? [before, after] : [after];
  console.log(
    `# Switchyard in the default shape — ${new Date().toISOString()}, ${cpus().length} cores, node ${process.version}`,
  );
  console.log(
    `Builds: ${builds.map((b) => `${b.label} (${b.repo})`).join('; ')}. Load average at the start ${loadAverage()}.`,
  );
  console.log(
    `${runs} run(s); per run and size: the one-target bench (${coldRuns} cold starts, ${events} events) and the default shape ` +
      `(${events} scale events, half up, half down, after 2 warm-up events).`,
  );
  for (let run = 0; run < runs; run++)
    for (const apps of sizes) for (const b of builds) await measureBuild(b, apps, run);
  for (const apps of runs > 0 ? sizes : []) {
    console.log(`\n### ${apps} apps × 5 tasks\n`);
    console.log(
      shapeSizeTable(
        apps,
        builds.map((b) => b.bySize.get(apps) ?? { label: b.label, oneTarget: [], shape: [], load: [] }),
      ),
    );
  }
  if (args.profile) for (const apps of args.profile.split(',').map(Number)) await profileShape(after.repo, apps);
  console.log(`\n(total ${((Date.now() - started) / 1000).toFixed(0)} s; load average at the end ${loadAverage()})`);
}

await main();
process.exit(0);
