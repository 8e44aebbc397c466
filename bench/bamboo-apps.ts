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
import type { Snapshot } from '../src/state/model.js';
import { appId } from './lib/cluster.js';
import { syntheticService, syntheticServices } from './lib/services.js';
import { fmt, median, pct, table } from './lib/stats.js';

const { values: args } = parseArgs({
  options: { sizes: { type: 'string', default: '1000,5000' }, runs: { type: 'string', default: '15' } },
});

/** Apps routed by id, as Bamboo's default template routes them: no vhost label. */
const BAMBOO = { vhost: false } as const;

function snapshotOf(size: number, version = 1): Snapshot {
  return { version, services: syntheticServices(size, BAMBOO), rules: [] };
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
  const services = snapshot.services.map((s) =>
    s.id === appId(k) ? syntheticService(k, { ...BAMBOO, portBump: 10000 }) : s,
  );
  const event = timeApps({ ...snapshot, version: 2, services }, warm);
  const added = timeApps(
    {
      ...snapshot,
      version: 3,
      services: [...services, syntheticService(size, BAMBOO)].sort((a, b) => (a.id < b.id ? -1 : 1)),
    },
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
