import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MarathonDouble } from '../../test/support/marathon-double.js';
import { freePort } from '../../test/support/ports.js';
import { terminate } from '../../test/support/processes.js';
import { tempDir } from '../../test/support/tmp.js';
import { eventually, sleep } from '../../test/support/wait.js';
import { agentHost, eventApp, syntheticCluster, TASKS_PER_APP } from './cluster.js';
import { firstEmit, recordAppListRequests } from './marathon.js';
import { cpuTimes, statusMb } from './proc.js';
import { median, msBetween } from './stats.js';
import { spawnSwitchyard, type InstallLog, type SwitchyardRun } from './switchyard.js';
import { OutputWatcher } from './watch.js';

/** What one cluster size measured. */
export interface SizeResult {
  readonly apps: number;
  /** Spawn → output file in place, one per cold start (with the code cache a previous start left). */
  readonly coldSpawnMs: number[];
  /** The same for a start with no code cache (the first after an install or a build); null without a bundle. */
  readonly coldFirstMs: number | null;
  /** First GET /v2/apps seen by the double → output file in place. */
  readonly coldRequestMs: number[];
  /** First GET /v2/apps → the double finished sending it. */
  readonly coldServeMs: number[];
  /** Per-stage ms of the first install (from the log), per cold start. */
  readonly coldStages: Array<Readonly<Record<string, number>>>;
  /** Switchyard's own "marathon synced" ms (fetch + translate) of the first sync, per cold start. */
  readonly coldSyncMs: number[];
  /**
   * CPU (utime+stime) the Switchyard process used from spawn to its first
   * config, per cold start, and for the start without a code cache: unlike
   * wall time, other processes on the machine barely change it.
   */
  readonly coldCpuMs: number[];
  readonly coldFirstCpuMs: number | null;
  /** Peak RSS (VmHWM) when the first config was in place, per cold start. */
  readonly coldPeakRssMb: number[];
  /** Event (double's emittedAt) → new output in place, per measured event. */
  readonly eventMs: number[];
  readonly upMs: number[];
  readonly downMs: number[];
  /** Versions found by the backup stat poll instead of inotify (their time is less exact). */
  readonly polled: number;
  /** `config installed` log lines of the measured events. */
  readonly eventInstalls: InstallLog[];
  /** Switchyard's own CPU (utime+stime) per measured event, and its child processes' (validate, reload). */
  readonly cpuPerEventMs: number;
  readonly childCpuPerEventMs: number;
  readonly peakRssMb: number;
  /** RSS right after the first config was installed. */
  readonly startRssMb: number;
  readonly configBytes: number;
  /** The first config, for the floors. */
  readonly configText: string;
  readonly outputFile: string;
  /** Profile windows (hrtime ns) when run under --cpu-prof. */
  readonly windows: { cold: [bigint, bigint]; events: [bigint, bigint] } | null;
  readonly warnings: string[];
}

export interface SizeOptions {
  readonly repo: string;
  readonly apps: number;
  readonly events: number;
  readonly coldRuns: number;
  readonly validate: boolean;
  /** Extra node flags for every Switchyard process of this size (--cpu-prof …: only the last one is measured on events). */
  readonly nodeArgs?: readonly string[];
  readonly progress: (line: string) => void;
  /** Hook after the double is loaded and before Switchyard runs (the floors use it). */
  readonly withDouble?: (url: string) => Promise<void>;
}

const COLD_TIMEOUT_MS = 120_000;
const WARMUP_EVENTS = 2;

function codeCaches(repo: string): string[] {
  const dir = join(repo, 'dist/bundle');
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.cache'))
        .map((f) => join(dir, f))
    : [];
}

function removeCodeCache(repo: string): void {
  for (const f of codeCaches(repo)) rmSync(f, { force: true });
}

/** Rejects when the child exits before `p` settles, quoting its last log lines. */
export function unlessExits<T>(run: SwitchyardRun, p: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`switchyard exited (code ${code}, signal ${signal}):\n${run.log.tail.join('\n')}`));
    run.child.once('exit', onExit);
    p.then(
      (v) => {
        run.child.off('exit', onExit);
        resolve(v);
      },
      (e: unknown) => {
        run.child.off('exit', onExit);
        reject(
          e instanceof Error ? new Error(`${e.message}\n--- switchyard log tail ---\n${run.log.tail.join('\n')}`) : e,
        );
      },
    );
  });
}

export function switchyardConfig(
  repo: string,
  url: string,
  output: string,
  httpPort: number,
  listenPort: number,
  validate: boolean,
  extra: Record<string, unknown> = {},
) {
  return {
    marathon: { endpoints: [url], pollIntervalMs: 3_600_000, requestTimeoutMs: 120_000 },
    targets: [
      {
        name: 'haproxy',
        template: join(repo, 'templates/haproxy.cfg.hbs'),
        output,
        validate: validate ? 'haproxy -c -f {{file}}' : '',
        reload: 'true',
        vars: { bind: '127.0.0.1', httpPort },
        ...extra,
      },
    ],
    reload: { quietMs: 0, timeoutMs: 120_000 },
    http: { listen: `127.0.0.1:${listenPort}` },
    log: { level: 'info', format: 'json' },
  };
}

/**
 * One cluster size: `coldRuns` cold starts (a fresh process and an empty
 * output directory each), then `events` single-task scale events on the
 * last process: a task added (healthy) to an app, then that task killed,
 * alternately, each timed from the double's emit to the new file in place.
 */
export async function measureSize(o: SizeOptions): Promise<SizeResult> {
  const double = new MarathonDouble({ keepAliveMs: 10_000 });
  const url = await double.start();
  const appList = recordAppListRequests(double);
  const t = performance.now();
  double.bulkLoad(syntheticCluster(o.apps));
  o.progress(
    `  ${o.apps} apps × ${TASKS_PER_APP} tasks loaded into the double in ${(performance.now() - t).toFixed(0)} ms`,
  );
  const warnings: string[] = [];
  let run: SwitchyardRun | null = null;
  try {
    if (o.withDouble) await o.withDouble(url);
    const coldSpawnMs: number[] = [];
    const coldRequestMs: number[] = [];
    const coldServeMs: number[] = [];
    const coldStages: Array<Record<string, number>> = [];
    const coldSyncMs: number[] = [];
    const coldCpuMs: number[] = [];
    const coldPeakRssMb: number[] = [];
    let coldFirstCpuMs: number | null = null;
    let output = '';
    let configText = '';
    let coldWindow: [bigint, bigint] = [0n, 0n];
    let startRssMb = NaN;
    let coldFirstMs: number | null = null;
    // Run -1 starts without a code cache and leaves one for the runs that follow (bin/switchyard.js).
    const withBundle = existsSync(join(o.repo, 'dist/bundle'));
    for (let r = withBundle ? -1 : 0; r < o.coldRuns; r++) {
      const last = r === o.coldRuns - 1;
      const first = r < 0;
      if (first) removeCodeCache(o.repo);
      const dir = tempDir(`scale-${o.apps}-`);
      mkdirSync(join(dir, 'out'));
      output = join(dir, 'out', 'haproxy.cfg');
      const config = switchyardConfig(o.repo, url, output, await freePort(), await freePort(), o.validate);
      const watcher = new OutputWatcher(output);
      appList.reset();
      run = spawnSwitchyard(o.repo, dir, config, o.nodeArgs ?? []);
      try {
        const v = await unlessExits(
          run,
          watcher.next((c) => c.length > 0, COLD_TIMEOUT_MS),
        );
        const cpuMs = cpuTimes(run.pid).self;
        if (first) {
          coldFirstMs = msBetween(run.spawnedAt, v.at);
          coldFirstCpuMs = cpuMs;
          // The daemon writes its code cache shortly after its first config.
          const written = () => {
            if (codeCaches(o.repo).length === 0) throw new Error('no code cache yet');
          };
          await eventually(written, { timeoutMs: 10_000, intervalMs: 50 }).catch(() =>
            warnings.push('no code cache was written after the first start'),
          );
        } else {
          const req = appList.list[0];
          coldSpawnMs.push(msBetween(run.spawnedAt, v.at));
          coldCpuMs.push(cpuMs);
          coldPeakRssMb.push(statusMb(run.pid, 'VmHWM'));
          if (req) {
            coldRequestMs.push(msBetween(req.requestedAt, v.at));
            if (req.finishedAt !== null) coldServeMs.push(msBetween(req.requestedAt, req.finishedAt));
          }
          if (v.polled) warnings.push('a cold start was detected by the backup poll (±250 ms)');
          configText = v.content;
          coldWindow = [run.spawnedAt, v.at];
          await unlessExits(run, run.log.installsAtLeast(1, 30_000));
          coldStages.push(run.log.installs[0]!.stages);
          if (run.log.synced[0]) coldSyncMs.push(run.log.synced[0].ms);
          if (last) startRssMb = statusMb(run.pid, 'VmRSS');
        }
      } finally {
        watcher.close();
      }
      o.progress(
        first
          ? `  first start, no code cache: ${coldFirstMs!.toFixed(0)} ms from spawn`
          : `  cold start ${r + 1}/${o.coldRuns}: ${coldSpawnMs[coldSpawnMs.length - 1]!.toFixed(0)} ms from spawn`,
      );
      if (!last) {
        await terminate(run.child, 'SIGTERM');
        run = null;
      }
    }
    if (run === null) throw new Error('no run');
    const live = run;

    // Let start-up work (GC, the reload command, logging) finish before events.
    await sleep(500);
    const watcher = new OutputWatcher(output);
    const upMs: number[] = [];
    const downMs: number[] = [];
    const eventMs: number[] = [];
    let polled = 0;
    let installsBefore = 0;
    let cpu0 = cpuTimes(live.pid);
    let eventsFrom = 0n;
    let eventsTo = 0n;
    const eventTimeoutMs = o.validate ? 60_000 : 30_000;
    try {
      const total = WARMUP_EVENTS + o.events;
      let task = '';
      let address = '';
      for (let k = 0; k < total; k++) {
        if (k === WARMUP_EVENTS) {
          installsBefore = live.log.installs.length;
          cpu0 = cpuTimes(live.pid);
        }
        const up = k % 2 === 0;
        const app = eventApp(Math.floor(k / 2), o.apps);
        let emitted: bigint;
        let accept: (c: string) => boolean;
        if (up) {
          const host = agentHost(k * 37);
          const port = 45_000 + k;
          emitted = firstEmit(double, () => (task = double.addTask(app, { host, ports: [port], healthy: true })));
          address = `${host}:${port}`;
          const added = address;
          accept = (c) => serving(c, added);
        } else {
          const killed = task;
          const gone = address;
          emitted = firstEmit(double, () => double.killTask(killed));
          accept = (c) => !serving(c, gone);
        }
        if (k === WARMUP_EVENTS) eventsFrom = emitted;
        const expected = live.log.installs.length + 1;
        const v = await unlessExits(live, watcher.next(accept, eventTimeoutMs));
        eventsTo = v.at;
        if (k >= WARMUP_EVENTS) {
          const ms = msBetween(emitted, v.at);
          eventMs.push(ms);
          (up ? upMs : downMs).push(ms);
          if (v.polled) polled++;
        }
        // The cycle ends after the install (directory fsync, reload command, log line): wait for it, then a short gap.
        await unlessExits(live, live.log.installsAtLeast(expected, eventTimeoutMs));
        await sleep(20);
      }
    } finally {
      watcher.close();
    }
    const cpu1 = cpuTimes(live.pid);
    const eventInstalls = live.log.installs.slice(installsBefore);
    if (eventInstalls.length !== o.events)
      warnings.push(`${eventInstalls.length} installs logged for ${o.events} events`);
    const result: SizeResult = {
      apps: o.apps,
      coldSpawnMs,
      coldFirstMs,
      coldRequestMs,
      coldServeMs,
      coldStages,
      coldSyncMs,
      coldCpuMs,
      coldFirstCpuMs,
      coldPeakRssMb,
      eventMs,
      upMs,
      downMs,
      polled,
      eventInstalls,
      cpuPerEventMs: (cpu1.self - cpu0.self) / o.events,
      childCpuPerEventMs: (cpu1.children - cpu0.children) / o.events,
      peakRssMb: statusMb(live.pid, 'VmHWM'),
      startRssMb,
      configBytes: statSync(output).size,
      configText,
      outputFile: output,
      windows: { cold: coldWindow, events: [eventsFrom, eventsTo] },
      warnings: [...warnings, ...live.log.errors.slice(0, 5)],
    };
    o.progress(
      `  events: median ${median(eventMs).toFixed(1)} ms over ${eventMs.length}; peak RSS ${result.peakRssMb.toFixed(0)} MB`,
    );
    return result;
  } finally {
    if (run) await stopSwitchyard(run.child);
    await double.stop();
  }
}

/** SIGTERM (Switchyard finishes an install in flight and exits 0; a --cpu-prof profile is written then). */
export async function stopSwitchyard(child: ChildProcess): Promise<void> {
  await terminate(child, 'SIGTERM', 10_000);
}

/**
 * Whether the config sends traffic to `host:port`: some server line names the
 * address and is neither disabled (HAProxy `disabled`, nginx `down`) nor at
 * weight 0 (HAProxy drains a TASK_KILLING task that way; nginx leaves it
 * out). The template may keep a parked or unhealthy server in its slot,
 * disabled. Server names are the template's business, so the address is what
 * is looked for.
 */
export function serving(config: string, address: string): boolean {
  const needle = ` ${address}`;
  let i = config.indexOf(needle);
  while (i >= 0) {
    const start = config.lastIndexOf('\n', i) + 1;
    const end = config.indexOf('\n', i);
    const line = config.slice(start, end < 0 ? undefined : end);
    const after = line.charAt(i - start + needle.length);
    if (
      (after === ' ' || after === ';') &&
      /^\s*server\s/.test(line) &&
      !/\s(disabled|down)(;|\s|$)/.test(line) &&
      !/\sweight[ =]0(;|\s|$)/.test(line)
    )
      return true;
    i = config.indexOf(needle, i + needle.length);
  }
  return false;
}
