import type { Install } from './churn-switchyard.js';
import type { Op, Played } from './churn-scenario.js';
import type { WrkResult } from './churn-wrk.js';

// From raw observations (wrk's counts, Switchyard's install log, the
// backends' request arrival times, the played operations) to the numbers in
// the table. See bench/README.md ("bench/churn.ts") for the method.

const NS_PER_MS = 1e6;

/** Which install cycle applied a change: the first that started after the event and names the service. */
export function applyingCycle(installs: readonly Install[], emittedAt: bigint, service: string): Install | undefined {
  return installs.find((i) => cycleStart(i) >= emittedAt && i.services.includes(service));
}

/** When a cycle started: the log line's arrival minus the apply time it reports. */
export function cycleStart(i: Install): bigint {
  return i.at - BigInt(Math.round(i.ms * NS_PER_MS));
}

/** One measured membership change. */
export interface Measured {
  readonly op: Extract<Op, { type: 'membership' }>;
  readonly emittedAt: bigint;
  /** 'live' or 'reload': how the cycle that applied it installed; null if none was found. */
  readonly via: Install['how'] | null;
  /** Up: event → first request at the backend. Down: event → last request at it (0: none after the event). Null: not resolved. */
  readonly ms: number | null;
  /** Up only: first → second request at the backend, the sampling resolution. */
  readonly gapMs: number | null;
  /** The event came while a reload cycle was in flight: cycles run one at a time, so it waited for that reload. */
  readonly duringReload: boolean;
  /**
   * HAProxy was already where the change leads when it came (an up change to
   * a backend still getting requests, a down change to one not getting any
   * yet): the change before it on that backend had not reached HAProxy. Not
   * timed; counted.
   */
  readonly alreadyThere: boolean;
}

/** A backend that got a request in this window before an event was being sent requests at that moment. */
export const SERVING_WINDOW_MS = 100;

/** First index in ascending `xs` whose value is > x. */
function upperBound(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Measures every membership change from the backends' request times: an up
 * change by the backend's first request after the event, a down change by
 * its last request after the event (before its next change). `endNs` bounds
 * the last one.
 */
export function measure(
  played: readonly Played[],
  installs: readonly Install[],
  hits: ReadonlyMap<string, number[]>,
  endNs: number,
): Measured[] {
  const out: Measured[] = [];
  played.forEach((p, i) => {
    if (p.op.type !== 'membership') return;
    const op = p.op;
    const next = played.slice(i + 1).find((q) => q.op.type === 'membership' && q.op.backend === op.backend);
    const until = next ? Number(next.emittedAt) : endNs;
    const e = Number(p.emittedAt);
    const times = hits.get(op.backend) ?? [];
    const via = applyingCycle(installs, p.emittedAt, op.app)?.how ?? null;
    let ms: number | null = null;
    let gapMs: number | null = null;
    const k = upperBound(times, e) - 1;
    const servingAtEvent = k >= 0 && times[k]! > e - SERVING_WINDOW_MS * NS_PER_MS;
    const alreadyThere = op.direction === 'up' ? servingAtEvent : op.direction === 'down' ? !servingAtEvent : false;
    if (alreadyThere) {
      // Not timed: see Measured.alreadyThere.
    } else if (op.direction === 'up') {
      const j = upperBound(times, e);
      if (j < times.length && times[j]! < until) {
        ms = (times[j]! - e) / NS_PER_MS;
        if (j + 1 < times.length) gapMs = (times[j + 1]! - times[j]!) / NS_PER_MS;
      }
    } else if (op.direction === 'down') {
      const j = upperBound(times, until - 1) - 1;
      ms = j >= 0 && times[j]! > e ? (times[j]! - e) / NS_PER_MS : 0;
    }
    const duringReload = installs.some((c) => c.how === 'reload' && cycleStart(c) < p.emittedAt && c.at > p.emittedAt);
    out.push({ op, emittedAt: p.emittedAt, via, ms, gapMs, duringReload, alreadyThere });
  });
  return out;
}

export function median(xs: readonly number[]): number {
  return pct(xs, 50);
}

/** Nearest-rank percentile; NaN for no samples. */
export function pct(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** "median / p99 (n)" in ms, or "–". */
export function latencyCell(xs: readonly number[]): string {
  if (xs.length === 0) return '–';
  return `${median(xs).toFixed(0)} / ${pct(xs, 99).toFixed(0)} ms (n=${xs.length})`;
}

/** Everything one mode produced, for the table. */
export interface ModeResult {
  readonly mode: 'runtime API' | 'reload only';
  readonly wrk: readonly WrkResult[];
  readonly played: readonly Played[];
  readonly measured: readonly Measured[];
  readonly reloadsLogged: number;
  readonly liveLogged: number;
  readonly reloadsMetric: number;
  readonly reloadFailuresMetric: number;
  readonly liveMetric: number;
  readonly masterReloads: number;
  /** Reload cycles that applied no structural change: caused by membership alone. */
  readonly membershipReloads: readonly Install[];
  /** Structural operations and the cycle that applied each. */
  readonly structuralVia: ReadonlyMap<string, number>;
  readonly finalMismatches: readonly string[];
  /** Servers whose address, weight or maintenance state differ between the installed file and HAProxy. */
  readonly drift: readonly string[];
  readonly servers: number;
  readonly checkDownLines: readonly string[];
  readonly problems: readonly string[];
  readonly maxLateMs: number;
  readonly seconds: number;
  readonly unresolved: number;
}

export function renderTable(results: readonly ModeResult[]): string {
  const sum = (r: ModeResult, f: (w: WrkResult) => number) => r.wrk.reduce((s, w) => s + f(w), 0);
  const lat = (r: ModeResult, kinds: readonly string[], via: string, free = false) =>
    latencyCell(
      r.measured
        .filter((m) => kinds.includes(m.op.kind) && m.via === via && m.ms !== null && !(free && m.duringReload))
        .map((m) => m.ms!),
    );
  const DOWN = ['kill', 'kill-via-killing', 'flap-down', 'drain'];
  const count = (r: ModeResult, pred: (p: Played) => boolean) => r.played.filter(pred).length;
  const rows: Array<[string, (r: ModeResult) => string]> = [
    [
      'wrk requests (keep-alive, 2 × wrk)',
      (r) => `${sum(r, (w) => w.requests)} (${(sum(r, (w) => w.requests) / r.seconds).toFixed(0)}/s)`,
    ],
    ['non-2xx responses', (r) => String(sum(r, (w) => w.non2xx))],
    ['responses by status', (r) => statusCell(r.wrk)],
    [
      'socket errors (connect/read/write/timeout)',
      (r) => {
        const s = (k: keyof WrkResult['socket']) => sum(r, (w) => w.socket[k]);
        return `${s('connect') + s('read') + s('write') + s('timeout')} (${s('connect')}/${s('read')}/${s('write')}/${s('timeout')})`;
      },
    ],
    [
      'wrk latency p50 / p99 / max (per wrk)',
      (r) =>
        r.wrk
          .map(
            (w) =>
              `${(w.latencyUs.p50 / 1000).toFixed(1)}/${(w.latencyUs.p99 / 1000).toFixed(1)}/${(w.latencyUs.max / 1000).toFixed(0)} ms`,
          )
          .join(', '),
    ],
    [
      'membership changes played',
      (r) => {
        const by = new Map<string, number>();
        for (const p of r.played) if (p.op.type === 'membership') by.set(p.op.kind, (by.get(p.op.kind) ?? 0) + 1);
        return `${count(r, (p) => p.op.type === 'membership')} (${[...by].map(([k, n]) => `${k} ${n}`).join(', ')})`;
      },
    ],
    [
      'structural changes played (applied by: …)',
      (r) =>
        `${count(r, (p) => p.op.type === 'structural')} (${[...r.structuralVia].map(([k, n]) => `${k} ${n}`).join(', ')})`,
    ],
    [
      'reloads (log / metrics / HAProxy master)',
      (r) =>
        `${r.reloadsLogged} / ${r.reloadsMetric} / ${r.masterReloads}${r.reloadFailuresMetric ? ` (${r.reloadFailuresMetric} failed)` : ''}`,
    ],
    ['reloads for membership alone', (r) => String(r.membershipReloads.length)],
    ['runtime updates (log / metrics)', (r) => `${r.liveLogged} / ${r.liveMetric}`],
    [
      'membership changes applied live / by reload',
      (r) => {
        const m = r.measured;
        return `${m.filter((x) => x.via === 'live').length} / ${m.filter((x) => x.via === 'reload').length}${m.some((x) => x.via === null) ? ` (${m.filter((x) => x.via === null).length} no cycle found)` : ''}`;
      },
    ],
    ['**scale-up → serving, via runtime API** (median / p99)', (r) => lat(r, ['scale-up'], 'live')],
    ['  … of those, not arriving during a reload', (r) => lat(r, ['scale-up'], 'live', true)],
    ['**scale-up → serving, via reload** (median / p99)', (r) => lat(r, ['scale-up'], 'reload')],
    ['health back up → serving, via runtime API', (r) => lat(r, ['flap-up'], 'live')],
    ['health back up → serving, via reload', (r) => lat(r, ['flap-up'], 'reload')],
    ['taken out → last request, via runtime API', (r) => lat(r, DOWN, 'live')],
    ['taken out → last request, via reload', (r) => lat(r, DOWN, 'reload')],
    [
      'membership changes arriving during a reload (they wait for it)',
      (r) => String(r.measured.filter((m) => m.duringReload).length),
    ],
    [
      'resolution: new backend, 1st → 2nd request (median)',
      (r) => {
        const gaps = r.measured.filter((m) => m.gapMs !== null).map((m) => m.gapMs!);
        return gaps.length ? `${median(gaps).toFixed(1)} ms` : '–';
      },
    ],
    [
      'changes not timed: HAProxy already there / undone before served',
      (r) => `${r.measured.filter((m) => m.alreadyThere).length} / ${r.unresolved}`,
    ],
    ['end state: backends serving ≠ registry', (r) => String(r.finalMismatches.length)],
    ['end state: installed file ≠ HAProxy `show servers state`', (r) => `${r.drift.length} of ${r.servers} servers`],
    ['HAProxy log: servers DOWN by its checks, failed loads', (r) => String(r.checkDownLines.length)],
    ['Switchyard warn/error lines', (r) => String(r.problems.length)],
    ['churn kept its schedule (max lateness)', (r) => `${r.maxLateMs.toFixed(1)} ms`],
  ];
  const head = `| | ${results.map((r) => r.mode).join(' | ')} |`;
  const rule = `|---|${results.map(() => '---').join('|')}|`;
  return [head, rule, ...rows.map(([name, f]) => `| ${name} | ${results.map(f).join(' | ')} |`)].join('\n');
}

function statusCell(wrk: readonly WrkResult[]): string {
  const all = new Map<number, number>();
  for (const w of wrk) for (const [code, n] of w.statuses) all.set(code, (all.get(code) ?? 0) + n);
  return (
    [...all]
      .sort(([a], [b]) => a - b)
      .map(([code, n]) => `${code}: ${n}`)
      .join(', ') || '–'
  );
}
