// The render and install path in the shape users run, in one process: the
// repository's two default targets (HAProxy and nginx templates, no validate
// or reload command, so only Switchyard's own work is timed), N services × 5
// backends shaped as the scale bench's Marathon apps, and — between events —
// a read of the template view `/api/state` serves. Each event replaces one
// service (one backend's port changes), as a Marathon scale event does.
//
//   npm run build && node dist/bench/render-shape.js [--sizes 1000,5000] [--events 40] [--no-state-read] [--alloc]
//
// --alloc also samples what the events allocate (garbage included) and
// prints the sites that allocate most.
//
// Prints per size: the first (cold) apply per target, and per event the
// median and p90 of each target's apply and of both together, with the
// render and install stages; heap and RSS after the events.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { TargetConfig } from '../src/config/schema.js';
import { silentLogger } from '../src/log.js';
import { RenderCache } from '../src/render/cache.js';
import { templateData } from '../src/render/data.js';
import type { Snapshot } from '../src/state/model.js';
import { shellExec } from '../src/targets/exec.js';
import { Target, type ApplyResult } from '../src/targets/target.js';
import { sampleAllocations, type Allocations } from './lib/allocations.js';
import { appId } from './lib/cluster.js';
import { syntheticService, syntheticServices } from './lib/services.js';
import { fmt, median, pct, table } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,5000' },
    events: { type: 'string', default: '40' },
    'no-state-read': { type: 'boolean', default: false },
    alloc: { type: 'boolean', default: false },
  },
});

const repo = process.cwd();

function target(dir: string, name: 'haproxy' | 'nginx', httpPort: number): Target {
  const config: TargetConfig = {
    name,
    template: join(repo, `templates/${name === 'haproxy' ? 'haproxy.cfg' : 'nginx.conf'}.hbs`),
    output: join(dir, name, 'out.cfg'),
    validate: '',
    reload: '',
    runtimeApi: '',
    vars: { bind: '127.0.0.1', httpPort },
  };
  return new Target(config, { exec: shellExec, log: silentLogger(), commandTimeoutMs: 10_000, cwd: dir });
}

interface Row {
  size: number;
  cold: Record<string, number>;
  per: Record<string, number[]>;
  render: Record<string, number[]>;
  install: Record<string, number[]>;
  both: number[];
  stateMs: number[];
  heapMb: number;
  rssMb: number;
  /** What the events allocated (--alloc); null without. */
  alloc: Allocations | null;
}

function check(r: ApplyResult): ApplyResult {
  if (r.kind === 'failed') throw new Error(`${r.target}: ${r.error.stage}: ${r.error.message}`);
  return r;
}

async function measure(size: number, events: number, stateRead: boolean, alloc: boolean): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-shape-'));
  try {
    const targets = [target(dir, 'haproxy', 8080), target(dir, 'nginx', 8081)];
    for (const t of targets) await t.init();
    const services = syntheticServices(size);
    let snapshot: Snapshot = { version: 1, services, rules: [] };
    const row: Row = {
      size,
      cold: {},
      per: { haproxy: [], nginx: [] },
      render: { haproxy: [], nginx: [] },
      install: { haproxy: [], nginx: [] },
      both: [],
      stateMs: [],
      heapMb: 0,
      rssMb: 0,
      alloc: null,
    };
    // The state view keeps a cache of its own from read to read, as the daemon's StateView does.
    const stateCache = new RenderCache();
    for (const t of targets) row.cold[t.name] = check(await t.apply(snapshot)).ms;
    const stopSampling = alloc ? await sampleAllocations(repo) : null;
    for (let e = 0; e < events + 4; e++) {
      if (stateRead) {
        const s = performance.now();
        const { services: view } = templateData(snapshot, {}, { cache: stateCache });
        stateCache.endRender();
        JSON.stringify(view.length);
        row.stateMs.push(performance.now() - s);
      }
      const app = (e * 7919 + 13) % size;
      const next = snapshot.services.slice();
      const at = next.findIndex((s) => s.id === appId(app));
      next[at] = syntheticService(app, { portBump: e + 1 });
      snapshot = { version: snapshot.version + 1, services: next, rules: [] };
      const started = performance.now();
      const results = [];
      for (const t of targets) results.push(check(await t.apply(snapshot)));
      const both = performance.now() - started;
      if (e < 4) continue; // warm-up
      row.both.push(both);
      for (const r of results) {
        row.per[r.target]!.push(r.ms);
        row.render[r.target]!.push(r.stages.render ?? 0);
        row.install[r.target]!.push(r.stages.install ?? 0);
      }
    }
    if (stopSampling) row.alloc = await stopSampling();
    const mem = process.memoryUsage();
    row.heapMb = mem.heapUsed / 2 ** 20;
    row.rssMb = mem.rss / 2 ** 20;
    return row;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const sizes = args.sizes.split(',').map(Number);
const rows: Row[] = [];
for (const size of sizes) {
  process.stderr.write(`render-shape: ${size} services…\n`);
  rows.push(await measure(size, Number(args.events), !args['no-state-read'], args.alloc));
}
const mp = (xs: number[]) => `${fmt(median(xs))} / ${fmt(pct(xs, 90))}`;
process.stdout.write(
  `\nRender + install, two targets${args['no-state-read'] ? '' : ', a state read between events'} (ms, median / p90)\n\n`,
);
process.stdout.write(
  table(
    [
      'services',
      'cold haproxy',
      'cold nginx',
      'event both',
      'haproxy',
      'render',
      'install',
      'nginx',
      'render',
      'install',
      'state read',
      'heap MB',
      'RSS MB',
    ],
    rows.map((r) => [
      String(r.size),
      fmt(r.cold.haproxy),
      fmt(r.cold.nginx),
      mp(r.both),
      mp(r.per.haproxy!),
      mp(r.render.haproxy!),
      mp(r.install.haproxy!),
      mp(r.per.nginx!),
      mp(r.render.nginx!),
      mp(r.install.nginx!),
      r.stateMs.length ? mp(r.stateMs) : '—',
      fmt(r.heapMb, 0),
      fmt(r.rssMb, 0),
    ]),
  ) + '\n',
);
for (const r of rows) {
  if (!r.alloc) continue;
  const mb = (b: number) => fmt(b / 2 ** 20);
  const renders = (Number(args.events) + 4) * 2;
  process.stdout.write(
    `\nAllocated during ${Number(args.events) + 4} events at ${r.size} services, garbage included (sampled): ` +
      `${mb(r.alloc.totalBytes)} MB, ${fmt(r.alloc.totalBytes / renders / 1024, 0)} KB per target render\n\n` +
      table(
        ['site', 'MB', 'share'],
        r.alloc.bySite
          .slice(0, 15)
          .map(([site, bytes]) => [site, mb(bytes), `${fmt((100 * bytes) / r.alloc!.totalBytes, 0)} %`]),
      ) +
      '\n',
  );
}
