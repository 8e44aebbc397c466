import { request } from 'node:http';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MarathonDouble } from '../../test/support/marathon-double.js';
import { freePort } from '../../test/support/ports.js';
import { tempDir } from '../../test/support/tmp.js';
import { agentHost, eventApp, syntheticCluster } from './cluster.js';
import { serving, stopSwitchyard, unlessExits } from './measure.js';
import { cpuTimes, statusMb, untilIdle } from './proc.js';
import { ScaleEvents } from './scale-events.js';
import { median, msBetween } from './stats.js';
import { spawnSwitchyard, type SwitchyardRun } from './switchyard.js';
import { OutputWatcher } from './watch.js';

// The default shape: Switchyard in its own process with the repository's
// two default targets (config/switchyard.json: templates/haproxy.cfg.hbs and
// templates/nginx.conf.hbs), a monitor reading GET /api/state once per scale
// event, and Marathon's whole event sequence for each scale event.

/** What the default shape measured at one cluster size. */
export interface ShapeResult {
  readonly apps: number;
  /** Spawn → both output files in place (one start, with the code cache the one-target runs left). */
  readonly coldMs: number;
  /** Per measured scale event: its first timed event → the change in both files (the later of the two). */
  readonly eventMs: number[];
  /** Scale-ups: health_status_changed_event → both files serve the new task. */
  readonly upMs: number[];
  /** Scale-downs: status_update_event TASK_KILLING → neither file sends the task traffic. */
  readonly downMs: number[];
  /** The same clock per target: event → that target's file. */
  readonly perTargetMs: Readonly<Record<string, number[]>>;
  /** GET /api/state, fully read, once per scale event (ms) and its size. */
  readonly stateMs: number[];
  readonly stateBytes: number;
  /** Switchyard's CPU for that read (from the request until it is idle again), per scale event. */
  readonly stateCpuPerEventMs: number;
  /** Switchyard's CPU (utime+stime) per scale event: the whole sequence, its app refreshes and the state read. */
  readonly cpuPerEventMs: number;
  /** Its child processes' (reload `true`) per scale event. */
  readonly childCpuPerEventMs: number;
  /** VmHWM at the end (cold start and events). */
  readonly peakRssMb: number;
  /** VmHWM once the cold start was done (both files in place, the process idle), and after the first state read. */
  readonly coldPeakRssMb: number;
  readonly firstReadPeakRssMb: number;
  readonly configBytes: Readonly<Record<string, number>>;
  /** hrtime window of the measured events, for a --cpu-prof profile. */
  readonly window: [bigint, bigint];
  readonly warnings: string[];
}

export interface ShapeOptions {
  /** The checkout whose bin/switchyard.js and templates/ run (the benchmark's own, or another build's). */
  readonly repo: string;
  readonly apps: number;
  /** Measured scale events (even: half up, half down), after 2 warm-up events. */
  readonly events: number;
  readonly nodeArgs?: readonly string[];
  /** Share of a core Switchyard may use and still count as idle between phases (0; under --cpu-prof more). */
  readonly idleShare?: number;
  readonly progress: (line: string) => void;
}

const TARGETS = ['haproxy', 'nginx'] as const;
const WARMUP_EVENTS = 2;
const TIMEOUT_MS = 60_000;
/** How long Switchyard must use no CPU before the next phase of a scale event is played. */
const QUIET_MS = 150;

/**
 * The repository's default config (config/switchyard.json) with Marathon as
 * the source: its HAProxy and nginx targets and vars, validate off and
 * reload `true` (so only Switchyard's own work is timed, plus a fork),
 * reload.quietMs 0 (a coalescing window would only add its own wait).
 */
export function shapeConfig(repo: string, url: string, dir: string, listenPort: number) {
  const target = (name: string, template: string, httpPort: number) => ({
    name,
    template: join(repo, 'templates', template),
    output: join(dir, name, 'out.cfg'),
    validate: '',
    reload: 'true',
    vars: { bind: '127.0.0.1', httpPort },
  });
  return {
    marathon: { endpoints: [url], pollIntervalMs: 3_600_000, requestTimeoutMs: 120_000 },
    targets: [target('haproxy', 'haproxy.cfg.hbs', 8080), target('nginx', 'nginx.conf.hbs', 8081)],
    reload: { quietMs: 0, timeoutMs: 120_000 },
    http: { listen: `127.0.0.1:${listenPort}` },
    log: { level: 'info', format: 'json' },
  };
}

/** GET a URL and read the whole body: ms and bytes. */
function readAll(url: string): Promise<{ ms: number; bytes: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () =>
        res.statusCode === 200
          ? resolve({ ms: performance.now() - started, bytes })
          : reject(new Error(`GET ${url}: HTTP ${res.statusCode}`)),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * One size in the default shape: one cold start (spawn → both files), then
 * `events` scale events alternating up and down on apps spread over the
 * cluster. Each plays Marathon's sequence (ScaleEvents) in its two phases;
 * between them Switchyard is let finish (no CPU for 150 ms) and the monitor
 * reads /api/state, so the timed phase starts from a settled process whose
 * last request was the state read — the case where a shared render cache
 * would have been evicted.
 */
export async function measureShape(o: ShapeOptions): Promise<ShapeResult> {
  const double = new MarathonDouble({ keepAliveMs: 10_000 });
  const url = await double.start();
  double.bulkLoad(syntheticCluster(o.apps));
  const scale = new ScaleEvents(double);
  const idleShare = o.idleShare ?? 0;
  const warnings: string[] = [];
  let run: SwitchyardRun | null = null;
  const dir = tempDir(`shape-${o.apps}-`);
  for (const t of TARGETS) mkdirSync(join(dir, t));
  const listenPort = await freePort();
  const config = shapeConfig(o.repo, url, dir, listenPort);
  const files = Object.fromEntries(config.targets.map((t) => [t.name, t.output])) as Record<string, string>;
  const watchers = TARGETS.map((t) => new OutputWatcher(files[t]!));
  const stateUrl = `http://127.0.0.1:${listenPort}/api/state`;
  try {
    run = spawnSwitchyard(o.repo, dir, config, o.nodeArgs ?? []);
    const live = run;
    const cold = await unlessExits(live, Promise.all(watchers.map((w) => w.next((c) => c.length > 0, 120_000))));
    const coldMs = msBetween(
      live.spawnedAt,
      cold.reduce((a, v) => (v.at > a ? v.at : a), 0n),
    );
    o.progress(`  default shape: cold start ${coldMs.toFixed(0)} ms from spawn to both files`);
    await untilIdle(live.pid, 500, TIMEOUT_MS, idleShare);
    const coldPeakRssMb = statusMb(live.pid, 'VmHWM');
    let firstReadPeakRssMb = NaN;

    const eventMs: number[] = [];
    const upMs: number[] = [];
    const downMs: number[] = [];
    const perTargetMs: Record<string, number[]> = { haproxy: [], nginx: [] };
    const stateMs: number[] = [];
    const stateCpuMs: number[] = [];
    let stateBytes = 0;
    let cpu0 = cpuTimes(live.pid);
    let from = 0n;
    let to = 0n;
    let task = '';
    let address = '';
    const total = WARMUP_EVENTS + o.events;
    for (let k = 0; k < total; k++) {
      const measured = k >= WARMUP_EVENTS;
      if (k === WARMUP_EVENTS) cpu0 = cpuTimes(live.pid);
      const up = k % 2 === 0;
      const app = eventApp(Math.floor(k / 2), o.apps);
      // First phase (untimed), then the process settles and the monitor reads the state.
      let second: () => { at: bigint; accept: (c: string) => boolean };
      let after: () => void;
      if (up) {
        const host = agentHost(k * 37);
        const port = 45_000 + k;
        const launched = scale.launch(app, host, port);
        task = launched.task;
        address = `${host}:${port}`;
        const added = address;
        second = () => ({ at: scale.healthy(launched.task, launched.deployment), accept: (c) => serving(c, added) });
        after = () => {};
        await unlessExits(live, untilIdle(live.pid, QUIET_MS, TIMEOUT_MS, idleShare));
      } else {
        const killed = task;
        const gone = address;
        let deployment: ReturnType<ScaleEvents['kill']>['deployment'] | null = null;
        second = () => {
          const kill = scale.kill(app, killed);
          deployment = kill.deployment;
          return { at: kill.at, accept: (c) => !serving(c, gone) };
        };
        after = () => scale.killed(killed, deployment!);
      }
      const stateCpu0 = cpuTimes(live.pid).self;
      const state = await unlessExits(live, readAll(stateUrl));
      stateBytes = state.bytes;
      await unlessExits(live, untilIdle(live.pid, QUIET_MS, TIMEOUT_MS, idleShare));
      if (k === 0) firstReadPeakRssMb = statusMb(live.pid, 'VmHWM');
      if (measured) {
        stateMs.push(state.ms);
        stateCpuMs.push(cpuTimes(live.pid).self - stateCpu0);
      }

      // The timed phase: its first event → the change in both files.
      const { at, accept } = second();
      if (k === WARMUP_EVENTS) from = at;
      const seen = await unlessExits(live, Promise.all(watchers.map((w) => w.next(accept, TIMEOUT_MS))));
      if (measured) {
        const last = seen.reduce((a, v) => (v.at > a ? v.at : a), 0n);
        const ms = msBetween(at, last);
        eventMs.push(ms);
        (up ? upMs : downMs).push(ms);
        TARGETS.forEach((t, i) => perTargetMs[t]!.push(msBetween(at, seen[i]!.at)));
        if (seen.some((v) => v.polled)) warnings.push(`event ${k}: a file was found by the backup poll (±250 ms)`);
      }
      // The rest of the sequence (deployment end, the kill's TASK_KILLED), and its app refreshes.
      after();
      await unlessExits(live, untilIdle(live.pid, QUIET_MS, TIMEOUT_MS, idleShare));
      to = process.hrtime.bigint();
    }
    const cpu1 = cpuTimes(live.pid);
    const result: ShapeResult = {
      apps: o.apps,
      coldMs,
      eventMs,
      upMs,
      downMs,
      perTargetMs,
      stateMs,
      stateBytes,
      stateCpuPerEventMs: stateCpuMs.reduce((a, b) => a + b, 0) / o.events,
      cpuPerEventMs: (cpu1.self - cpu0.self) / o.events,
      childCpuPerEventMs: (cpu1.children - cpu0.children) / o.events,
      peakRssMb: statusMb(live.pid, 'VmHWM'),
      coldPeakRssMb,
      firstReadPeakRssMb,
      configBytes: Object.fromEntries(TARGETS.map((t, i) => [t, Buffer.byteLength(cold[i]!.content)])),
      window: [from, to],
      warnings: [...warnings, ...live.log.errors.slice(0, 5)],
    };
    o.progress(
      `  default shape: event → both files median ${median(eventMs).toFixed(1)} ms over ${eventMs.length}; ` +
        `CPU ${result.cpuPerEventMs.toFixed(0)} ms/event; peak RSS ${result.peakRssMb.toFixed(0)} MB`,
    );
    return result;
  } finally {
    for (const w of watchers) w.close();
    if (run) await stopSwitchyard(run.child);
    await double.stop();
  }
}
