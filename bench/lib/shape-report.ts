import type { SizeResult } from './measure.js';
import type { ShapeResult } from './shape.js';
import { fmt, median, pct, table } from './stats.js';

// The figures issue 11 holds Switchyard to, and the ones it quotes (2 cores):
// its targets, Bamboo's from a side-by-side run (cold start, peak RSS; the
// event figures are issue 7's), and main before the work, as the issue
// measured it (default shape at 5000 × 5; one target at 1000 / 5000).

interface Figures {
  readonly coldMs?: string;
  readonly rssMb?: string;
  readonly eventMs?: string;
  readonly shapeEventMs?: string;
  readonly shapeP90Ms?: string;
  readonly shapeCpuMs?: string;
  readonly shapeRssMb?: string;
}
export const ISSUE_TARGETS: Readonly<Record<number, Figures>> = {
  1000: { coldMs: '≤ 200', rssMb: '≤ 80', eventMs: '≤ 15' },
  5000: { coldMs: '≤ 500', rssMb: '≤ 125', eventMs: '≤ 45', shapeEventMs: '≤ 45', shapeRssMb: '≤ 200' },
};
export const ISSUE_BAMBOO: Readonly<Record<number, Figures>> = {
  1000: { coldMs: '131', rssMb: '38', eventMs: '115' },
  5000: { coldMs: '572', rssMb: '132', eventMs: '450' },
};
export const ISSUE_MAIN_BEFORE: Readonly<Record<number, Figures>> = {
  1000: { coldMs: '322', rssMb: '121', eventMs: '12' },
  5000: {
    coldMs: '967',
    rssMb: '196',
    eventMs: '30–41',
    shapeEventMs: '231',
    shapeP90Ms: '343',
    shapeCpuMs: '600',
    shapeRssMb: '605',
  },
};

/** Everything measured for one build at one size, over the runs. */
export interface BuildRuns {
  readonly label: string;
  readonly oneTarget: SizeResult[];
  readonly shape: ShapeResult[];
  /** The 1-minute load average at the start of each run. */
  readonly load: string[];
}

/** The median over runs of one figure per run; with several runs, the range beside it. */
function overRuns(values: readonly number[], digits: number): string {
  const v = values.filter((x) => !Number.isNaN(x));
  if (v.length === 0) return '—';
  const m = fmt(median(v), digits);
  return v.length === 1 ? m : `${m} (${fmt(Math.min(...v), digits)}–${fmt(Math.max(...v), digits)})`;
}

const allOf = (rs: readonly SizeResult[], pick: (r: SizeResult) => readonly number[]) => rs.flatMap(pick);

/**
 * One table per size: rows are the issue's measures (one target, then the
 * default shape), columns each measured build, then the issue's target,
 * Bamboo and main-before figures. Per-run figures (medians, p90, CPU, RSS)
 * are the median over runs, range in brackets; cold starts are the median of
 * every cold start of every run.
 */
export function shapeSizeTable(apps: number, builds: readonly BuildRuns[]): string {
  const t = ISSUE_TARGETS[apps] ?? {};
  const b = ISSUE_BAMBOO[apps] ?? {};
  const was = ISSUE_MAIN_BEFORE[apps] ?? {};
  const row = (measure: string, cell: (x: BuildRuns) => string, target = '', bamboo = '', before = ''): string[] => [
    measure,
    ...builds.map(cell),
    target,
    bamboo,
    before,
  ];
  const one = (x: BuildRuns, f: (r: SizeResult) => number, digits: number) => overRuns(x.oneTarget.map(f), digits);
  const shape = (x: BuildRuns, f: (r: ShapeResult) => number, digits: number) => overRuns(x.shape.map(f), digits);
  const rows: string[][] = [
    row(
      'one target: cold start, spawn → first config (ms, median of all starts)',
      (x) => fmt(median(allOf(x.oneTarget, (r) => r.coldSpawnMs)), 0),
      t.coldMs,
      b.coldMs,
      was.coldMs,
    ),
    row('one target: cold start without a code cache (ms)', (x) =>
      overRuns(
        x.oneTarget.map((r) => r.coldFirstMs ?? NaN),
        0,
      ),
    ),
    row('one target: peak RSS, VmHWM (MB)', (x) => one(x, (r) => r.peakRssMb, 0), t.rssMb, b.rssMb, was.rssMb),
    row(
      'one target: event → config installed, median (ms)',
      (x) => one(x, (r) => median(r.eventMs), 1),
      t.eventMs,
      b.eventMs,
      was.eventMs,
    ),
    row('one target: event → config installed, p90 (ms)', (x) => one(x, (r) => pct(r.eventMs, 90), 1)),
    row('one target: CPU per event (ms)', (x) => one(x, (r) => r.cpuPerEventMs, 1)),
    row(
      '**default shape: event → both files, median (ms)**',
      (x) => shape(x, (r) => median(r.eventMs), 1),
      t.shapeEventMs,
      '',
      was.shapeEventMs,
    ),
    row(
      'default shape: event → both files, p90 (ms)',
      (x) => shape(x, (r) => pct(r.eventMs, 90), 1),
      '',
      '',
      was.shapeP90Ms,
    ),
    row('  scale-up: health_status_changed_event → both files, median (ms)', (x) => shape(x, (r) => median(r.upMs), 1)),
    row('  scale-down: TASK_KILLING → both files, median (ms)', (x) => shape(x, (r) => median(r.downMs), 1)),
    row('  event → haproxy file / → nginx file, median (ms)', (x) =>
      x.shape.length === 0
        ? '—'
        : `${shape(x, (r) => median(r.perTargetMs.haproxy ?? []), 1)} / ${shape(x, (r) => median(r.perTargetMs.nginx ?? []), 1)}`,
    ),
    row(
      'default shape: CPU per scale event, whole sequence + state read (ms)',
      (x) => shape(x, (r) => r.cpuPerEventMs, 0),
      '',
      '',
      was.shapeCpuMs,
    ),
    row('  of which serving GET /api/state (ms)', (x) => shape(x, (r) => r.stateCpuPerEventMs, 0)),
    row('  the rest: the events, their renders, installs and app refreshes (ms)', (x) =>
      shape(x, (r) => r.cpuPerEventMs - r.stateCpuPerEventMs, 0),
    ),
    row(
      'default shape: peak RSS, VmHWM (MB)',
      (x) => shape(x, (r) => r.peakRssMb, 0),
      t.shapeRssMb,
      '',
      was.shapeRssMb,
    ),
    row('  VmHWM after the cold start / after the first state read (MB)', (x) =>
      x.shape.length === 0
        ? '—'
        : `${shape(x, (r) => r.coldPeakRssMb, 0)} / ${shape(x, (r) => r.firstReadPeakRssMb, 0)}`,
    ),
    row('default shape: cold start, spawn → both files (ms)', (x) => shape(x, (r) => r.coldMs, 0)),
    row('default shape: GET /api/state fully read, median (ms) / size (MB)', (x) =>
      x.shape.length === 0
        ? '—'
        : `${shape(x, (r) => median(r.stateMs), 1)} / ${fmt(median(x.shape.map((r) => r.stateBytes / 2 ** 20)), 1)}`,
    ),
    row('default shape: config sizes haproxy / nginx (KB)', (x) =>
      x.shape.length === 0
        ? '—'
        : `${fmt((x.shape[0]!.configBytes.haproxy ?? NaN) / 1024, 0)} / ${fmt((x.shape[0]!.configBytes.nginx ?? NaN) / 1024, 0)}`,
    ),
    row('load average (1 min) at the start of each run', (x) => x.load.join(', ')),
  ];
  return table(
    ['measure', ...builds.map((x) => x.label), 'target (issue 11)', 'Bamboo', 'main before (issue 11)'],
    rows,
  );
}
