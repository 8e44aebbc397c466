import type { SizeResult } from './measure.js';
import { fmt, max, median, pct, table } from './stats.js';

// The peers' published figures (issue 7; 2 cores, a Marathon API simulator)
// and the targets Switchyard is held to, by cluster size (apps × 5 tasks).

interface Peer {
  readonly eventMs?: string;
  readonly coldMs?: string;
  readonly rssMb?: string;
}
export const BAMBOO: Readonly<Record<number, Peer>> = {
  1000: { eventMs: '115' },
  5000: { eventMs: '450', coldMs: '530', rssMb: '130' },
};
export const MARATHON_LB: Readonly<Record<number, Peer>> = {
  1000: { eventMs: '470–710' },
  5000: { eventMs: '4800', coldMs: '4400', rssMb: '245' },
};
export const TARGETS: Readonly<Record<number, { eventMs: number; coldMs: number; rssMb: number }>> = {
  1000: { eventMs: 15, coldMs: 250, rssMb: 80 },
  5000: { eventMs: 45, coldMs: 600, rssMb: 130 },
  10000: { eventMs: 90, coldMs: 1200, rssMb: 250 },
};

const stageMedian = (installs: ReadonlyArray<{ stages: Readonly<Record<string, number>> }>, stage: string) =>
  median(installs.map((i) => i.stages[stage]).filter((x): x is number => typeof x === 'number'));

const mark = (value: number, target: number | undefined) =>
  target === undefined || Number.isNaN(value) ? '' : value <= target ? ' ✓' : ' ✗';

/** The table for one size: rows are measures, columns Switchyard, the target and the peers. */
export function sizeTable(r: SizeResult, validate: boolean): string {
  const target = TARGETS[r.apps];
  const bamboo = BAMBOO[r.apps] ?? {};
  const mlb = MARATHON_LB[r.apps] ?? {};
  const cold = median(r.coldSpawnMs);
  const ev = median(r.eventMs);
  const stages = validate ? ['render', 'validate', 'install', 'reload'] : ['render', 'install', 'reload'];
  const rows: string[][] = [
    [
      `cold start: spawn → first config (median of ${r.coldSpawnMs.length}; min–max)`,
      `${fmt(cold, 0)}${mark(cold, target?.coldMs)} (${fmt(Math.min(...r.coldSpawnMs), 0)}–${fmt(max(r.coldSpawnMs), 0)})`,
      target ? `≤ ${target.coldMs}` : '',
      bamboo.coldMs ?? '',
      mlb.coldMs ?? '',
    ],
    ...(r.coldFirstMs !== null
      ? [['cold start without a code cache (first start after a build or install)', fmt(r.coldFirstMs, 0), '', '', '']]
      : []),
    [
      'cold start: CPU of the Switchyard process, spawn → first config (ms, median)',
      fmt(median(r.coldCpuMs), 0),
      '',
      '',
      '',
    ],
    ...(r.coldFirstCpuMs !== null
      ? [['cold start without a code cache: CPU, spawn → first config (ms)', fmt(r.coldFirstCpuMs, 0), '', '', '']]
      : []),
    ['peak RSS when the first config is in place, VmHWM (MB, median)', fmt(median(r.coldPeakRssMb), 0), '', '', ''],
    ['cold start: first GET /v2/apps → first config', fmt(median(r.coldRequestMs), 0), '', '', ''],
    ['  of which the double sending /v2/apps', fmt(median(r.coldServeMs), 0), '', '', ''],
    ['  of which Switchyard\'s "marathon synced" (fetch + translate)', fmt(median(r.coldSyncMs), 0), '', '', ''],
    ...stages.map((s) => [
      `  first install, stage ${s} (log)`,
      fmt(median(r.coldStages.map((x) => x[s] ?? NaN).filter((x) => !Number.isNaN(x))), 1),
      '',
      '',
      '',
    ]),
    [
      `event → config installed, median (${r.eventMs.length} events)`,
      `${fmt(ev, 1)}${mark(ev, target?.eventMs)}`,
      target ? `≤ ${target.eventMs}` : '',
      bamboo.eventMs ?? '',
      mlb.eventMs ?? '',
    ],
    ['event → config installed, p90', fmt(pct(r.eventMs, 90), 1), '', '', ''],
    ['event → config installed, max', fmt(max(r.eventMs), 1), '', '', ''],
    [
      '  task added (median) / task killed (median)',
      `${fmt(median(r.upMs), 1)} / ${fmt(median(r.downMs), 1)}`,
      '',
      '',
      '',
    ],
    ...stages.map((s) => [`  per event, stage ${s} (log median)`, fmt(stageMedian(r.eventInstalls, s), 1), '', '', '']),
    ['CPU per event, Switchyard process (ms)', fmt(r.cpuPerEventMs, 1), '', '', ''],
    [
      `CPU per event, its child processes (${validate ? 'haproxy -c, ' : ''}reload \`true\`) (ms)`,
      fmt(r.childCpuPerEventMs, 1),
      '',
      '',
      '',
    ],
    [
      'peak RSS, VmHWM (MB)',
      `${fmt(r.peakRssMb, 0)}${mark(r.peakRssMb, target?.rssMb)}`,
      target ? `≤ ${target.rssMb}` : '',
      bamboo.rssMb ?? '',
      mlb.rssMb ?? '',
    ],
    ['RSS after the first config (MB)', fmt(r.startRssMb, 0), '', '', ''],
    ['config size (KB)', fmt(r.configBytes / 1024, 0), '', '', ''],
  ];
  return table(['measure', 'Switchyard', 'target', 'Bamboo', 'marathon-lb'], rows);
}

/** One line per size, for the overview. */
export function summaryTable(results: readonly SizeResult[]): string {
  const rows = results.map((r) => {
    const t = TARGETS[r.apps];
    const cold = median(r.coldSpawnMs);
    const ev = median(r.eventMs);
    const verdict = t
      ? [cold <= t.coldMs, ev <= t.eventMs, r.peakRssMb <= t.rssMb].map((ok) => (ok ? '✓' : '✗')).join(' ')
      : '';
    return [
      `${r.apps} × 5`,
      fmt(cold, 0),
      fmt(median(r.coldRequestMs), 0),
      fmt(median(r.coldCpuMs), 0),
      fmt(median(r.coldPeakRssMb), 0),
      fmt(ev, 1),
      fmt(pct(r.eventMs, 90), 1),
      fmt(max(r.eventMs), 1),
      fmt(r.cpuPerEventMs, 1),
      fmt(r.peakRssMb, 0),
      fmt(r.configBytes / 1024, 0),
      verdict,
    ];
  });
  return table(
    [
      'apps × tasks',
      'cold: spawn→file',
      'cold: /v2/apps→file',
      'cold: CPU ms',
      'cold: peak RSS MB',
      'event median',
      'p90',
      'max',
      'CPU ms/event',
      'peak RSS MB',
      'config KB',
      'targets cold/event/RSS',
    ],
    rows,
  );
}
