// Switchyard at cluster scale: N Marathon apps × 5 tasks (default N = 100,
// 1000, 5000, 10000), against the Marathon test double, Switchyard in its own
// process rendering the default HAProxy template with reload `true`.
//
//   npm run build && node dist/bench/scale.js [--sizes 100,1000,5000,10000] [--events 30]
//        [--validate] [--runtime] [--profile 5000,10000] [--cold-runs 3] [--no-plain] [--no-floors]
//
// Per size: cold start (spawn → first config; first GET /v2/apps → first
// config), event → installed config for single-task scale events, CPU per
// event, peak RSS, config size; the peers' figures and the targets beside.
// --validate adds the same with `haproxy -c -f {{file}}`; --runtime measures
// event → real HAProxy serving, through targets[].runtimeApi; --profile runs
// Switchyard under node --cpu-prof and prints the top self-time functions
// during cold start and during events. See bench/README.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { tempDir } from '../test/support/tmp.js';
import { fetchBody, haproxyCheckFloor, jsonParseFloor, nodeStartFloor, writeFloor } from './lib/floors.js';
import { measureSize, type SizeResult } from './lib/measure.js';
import { loadAverage } from './lib/proc.js';
import { formatSummary, newestProfile, summarize } from './lib/profile.js';
import { sizeTable, summaryTable } from './lib/report.js';
import { measureRuntime, runtimeTable, type RuntimeResult } from './lib/runtime.js';
import { fmt, msBetween, table } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100,1000,5000,10000' },
    events: { type: 'string', default: '30' },
    validate: { type: 'boolean', default: false },
    runtime: { type: 'boolean', default: false },
    profile: { type: 'string' },
    'cold-runs': { type: 'string', default: '3' },
    'no-plain': { type: 'boolean', default: false },
    'no-floors': { type: 'boolean', default: false },
    'deadline-min': { type: 'string', default: '30' },
    'node-args': { type: 'string', default: '' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  process.stdout.write(
    'node dist/bench/scale.js [--sizes 100,1000,5000,10000] [--events 30] [--validate] [--runtime]\n' +
      '                         [--profile SIZES] [--cold-runs 3] [--no-plain] [--no-floors] [--deadline-min 30]\n' +
      '                         [--node-args="FLAGS"]   (node flags for every Switchyard process; note the =)\n',
  );
  process.exit(0);
}

const repo = process.cwd();
const sizes = args.sizes.split(',').map(Number);
const events = Number(args.events);
const coldRuns = Number(args['cold-runs']);
if (sizes.some((n) => !Number.isInteger(n) || n < 1) || !(events >= 2) || events % 2 !== 0 || !(coldRuns >= 1)) {
  process.stderr.write('scale: --sizes takes positive integers, --events an even number ≥ 2, --cold-runs ≥ 1\n');
  process.exit(2);
}
// Extra node flags for every Switchyard process (experiments such as --max-semi-space-size=64).
const nodeArgs = args['node-args'].split(' ').filter(Boolean);
const progress = (line: string) => process.stderr.write(`${line}\n`);
const started = Date.now();
// Everything is bounded: past the deadline the process exits, and its exit handlers kill every child.
setTimeout(
  () => {
    progress(`scale: deadline of ${args['deadline-min']} min passed; stopping`);
    process.exit(3);
  },
  Number(args['deadline-min']) * 60_000,
).unref();

interface Floors {
  apps: number;
  bodyMb: number;
  decodeMs: number;
  parseMs: number;
  writeMs: number;
  checkMs: number;
  configKb: number;
}

async function floorsFor(r: SizeResult, body: Buffer): Promise<Floors> {
  const { decodeMs, parseMs } = await jsonParseFloor(body);
  const dir = tempDir(`floor-${r.apps}-`);
  const file = join(dir, 'haproxy.cfg');
  const writeMs = await writeFloor(file, r.configText);
  const checkMs = await haproxyCheckFloor(file, r.apps >= 5000 ? 2 : 3);
  return {
    apps: r.apps,
    bodyMb: body.length / 2 ** 20,
    decodeMs,
    parseMs,
    writeMs,
    checkMs,
    configKb: r.configText.length / 1024,
  };
}

async function modeRun(validate: boolean, withFloors: boolean): Promise<{ results: SizeResult[]; floors: Floors[] }> {
  const results: SizeResult[] = [];
  const floors: Floors[] = [];
  for (const apps of sizes) {
    progress(`${validate ? 'validate' : 'plain'}: ${apps} apps × 5 tasks (load ${loadAverage()})`);
    let body: Buffer | null = null;
    let r: SizeResult;
    try {
      r = await measureSize({
        repo,
        apps,
        events,
        coldRuns,
        validate,
        progress,
        nodeArgs,
        withDouble: withFloors
          ? async (url) => void (body = await fetchBody(`${url}/v2/apps?embed=apps.tasks`))
          : undefined,
      });
    } catch (e) {
      console.log(
        `\n> ${apps} apps (${validate ? 'validate' : 'no validate'}) failed: ${(e as Error).message.split('\n').slice(0, 15).join('\n> ')}`,
      );
      continue;
    }
    results.push(r);
    if (withFloors && body) floors.push(await floorsFor(r, body));
    console.log(
      `\n### ${apps} apps × 5 tasks — ${validate ? 'validate `haproxy -c -f {{file}}`' : 'no validate'}, reload \`true\`, reload.quietMs 0\n`,
    );
    console.log(sizeTable(r, validate));
    if (validate)
      console.log(
        '> The targets and peers are the figures of issue 7; `haproxy -c` alone takes what the floors table says at this size.',
      );
    for (const w of r.warnings) console.log(`> note: ${w}`);
  }
  return { results, floors };
}

function floorsTable(floors: readonly Floors[]): string {
  return table(
    [
      'apps × tasks',
      '/v2/apps body MB',
      'bytes → string ms',
      'JSON.parse ms',
      'write+fsync+rename config ms',
      'haproxy -c ms',
      'config KB',
    ],
    floors.map((f) => [
      `${f.apps} × 5`,
      fmt(f.bodyMb, 1),
      fmt(f.decodeMs, 1),
      fmt(f.parseMs, 1),
      fmt(f.writeMs, 1),
      fmt(f.checkMs, 0),
      fmt(f.configKb, 0),
    ]),
  );
}

async function profileRun(apps: number): Promise<void> {
  const dir = tempDir(`profile-${apps}-`);
  const profDir = join(dir, 'prof');
  mkdirSync(profDir);
  progress(`profile: ${apps} apps × 5 tasks under --cpu-prof (load ${loadAverage()})`);
  const r = await measureSize({
    repo,
    apps,
    events,
    coldRuns: 1,
    validate: false,
    progress,
    nodeArgs: [...nodeArgs, '--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-interval=250'],
  });
  const file = newestProfile(profDir);
  const w = r.windows!;
  console.log(
    `\n### Profile, ${apps} apps × 5 tasks (node --cpu-prof, 250 µs sampling; times are inflated by the profiler)\n`,
  );
  console.log('```');
  console.log(
    `cold start under the profiler: ${fmt(msBetween(w.cold[0], w.cold[1]), 0)} ms; ${r.eventMs.length} events, median ${fmt(r.eventMs.sort((a, b) => a - b)[r.eventMs.length >> 1], 1)} ms`,
  );
  console.log(formatSummary('cold start (spawn → first config in place)', summarize(file, repo, w.cold[0], w.cold[1])));
  const ev = summarize(file, repo, w.events[0], w.events[1]);
  console.log(
    `events: ${fmt(ev.busyMs / r.eventMs.length, 1)} ms of CPU per event (incl. the ${r.eventMs.length} reload commands spawned)`,
  );
  console.log(formatSummary(`events (${r.eventMs.length} events, first emit → last install)`, ev));
  console.log('```');
  console.log(`profile: ${file}${process.env.KEEP_TMP ? '' : ' (removed at exit; set KEEP_TMP=1 to keep it)'}`);
}

/** The commit and whether src/ or templates/ have uncommitted changes: results belong to the code they measured. */
function gitState(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'templates'], {
      cwd: repo,
      encoding: 'utf8',
    })
      .split('\n')
      .filter(Boolean).length;
    return `${head}${dirty > 0 ? ` + ${dirty} uncommitted file(s) in src/ and templates/ (dist/ built from the working tree)` : ''}`;
  } catch {
    return 'unknown (no git)';
  }
}

async function main(): Promise<void> {
  console.log(
    `# Switchyard scale benchmark — ${new Date().toISOString()}, ${(await import('node:os')).cpus().length} cores, node ${process.version}`,
  );
  console.log(`Switchyard build: ${gitState()}; load average at the start ${loadAverage()}.`);
  console.log(
    `Apps × 5 tasks, vhost label + HTTP health check each, tasks healthy. reload.quietMs 0 (no coalescing wait), reload \`true\`.`,
  );
  if (nodeArgs.length > 0) console.log(`Switchyard runs with node ${nodeArgs.join(' ')}.`);
  console.log(
    `Event = one task added (healthy) or killed; timed from the double's emit to the new file in place (inotify). ${events} events per size, after 2 warm-up events.`,
  );
  let floors: Floors[] = [];
  const overview: string[] = [];
  if (!args['no-plain']) {
    const plain = await modeRun(false, !args['no-floors']);
    floors = plain.floors;
    overview.push(`#### Without validate\n\n${summaryTable(plain.results)}`);
  }
  if (args.validate) {
    const v = await modeRun(true, false);
    overview.push(`#### With validate (\`haproxy -c -f {{file}}\`)\n\n${summaryTable(v.results)}`);
  }
  if (args.runtime) {
    const runtime: RuntimeResult[] = [];
    const profiled = new Set((args.profile ?? '').split(',').filter(Boolean).map(Number));
    for (const apps of sizes) {
      progress(`runtime: ${apps} apps × 5 tasks (load ${loadAverage()})`);
      const profDir = profiled.has(apps) ? join(tempDir(`profile-rt-${apps}-`), 'prof') : null;
      if (profDir) mkdirSync(profDir);
      try {
        const prof = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-interval=250'] : [];
        const r = await measureRuntime({ repo, apps, events, progress, nodeArgs: [...nodeArgs, ...prof] });
        if (profDir) {
          const ev = summarize(newestProfile(profDir), repo, r.window[0], r.window[1]);
          console.log(
            `\n### Profile of the runtime-API path, ${apps} apps × 5 tasks (under the profiler: its latencies are not in the table)\n`,
          );
          console.log('```');
          console.log(formatSummary(`events (${r.events} events)`, ev));
          console.log('```');
        } else {
          runtime.push(r);
        }
      } catch (e) {
        console.log(
          `\n> runtime path at ${apps} apps failed: ${(e as Error).message.split('\n').slice(0, 12).join('\n> ')}`,
        );
      }
    }
    if (runtime.length > 0)
      overview.push(
        `#### Runtime API path (real HAProxy; validate on, reload bin/haproxy-reload)\n\n${runtimeTable(runtime)}`,
      );
  }
  if (floors.length > 0) {
    const nodeStart = await nodeStartFloor();
    overview.push(
      `#### Floors (in the benchmark process; haproxy -c as a fresh process)\n\n${floorsTable(floors)}\n\n` +
        `Node.js itself: \`node -e 0\` starts and exits in ${fmt(nodeStart, 0)} ms (median of 5).`,
    );
  }
  if (overview.length > 0) console.log(`\n## Overview\n\n${overview.join('\n\n')}`);
  // With --runtime, --profile applies to the runtime runs instead.
  if (args.profile && !args.runtime) for (const apps of args.profile.split(',').map(Number)) await profileRun(apps);
  console.log(`\n(total ${((Date.now() - started) / 1000).toFixed(0)} s; load average at the end ${loadAverage()})`);
}

await main();
process.exit(0);
