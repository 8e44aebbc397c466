import { readFileSync } from 'node:fs';

// Reads a process's CPU time and memory from /proc (Linux only).

const TICK_MS = 10; // USER_HZ is 100 on every Linux ABI Node runs on (getconf CLK_TCK)

/** CPU time in ms: the process's own (utime+stime) and that of its waited-for children (cutime+cstime). */
export interface CpuTimes {
  readonly self: number;
  readonly children: number;
}

export function cpuTimes(pid: number): CpuTimes {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may hold spaces and parentheses: split after its closing one; rest[0] is field 3.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const n = (field: number) => Number(rest[field - 3]);
  return { self: (n(14) + n(15)) * TICK_MS, children: (n(16) + n(17)) * TICK_MS };
}

/** A kB field of /proc/PID/status (VmHWM = peak RSS, VmRSS = now) in MB. */
export function statusMb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(m[1]) / 1024;
}

/** The 1-minute load average, to say how busy the machine was. */
export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/**
 * Resolves once the process has used at most `share` of one core for
 * `quietMs` (by default none: its utime+stime, in 10 ms ticks, stood still),
 * sampling every 20 ms; rejects after `timeoutMs`. This is how a benchmark
 * waits for Switchyard to finish the work an event started when that work
 * may log nothing (a render that changes no byte, an app refresh): reading
 * /proc costs the measured process nothing. Under `--cpu-prof` the
 * profiler's sampling thread keeps a share of a core busy, hence `share`.
 */
export async function untilIdle(pid: number, quietMs = 100, timeoutMs = 30_000, share = 0): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const samples: Array<{ at: number; cpu: number }> = [{ at: Date.now(), cpu: cpuTimes(pid).self }];
  for (;;) {
    if (Date.now() > deadline) throw new Error(`process ${pid} still busy after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const now = { at: Date.now(), cpu: cpuTimes(pid).self };
    samples.push(now);
    // The newest window spanning quietMs: its oldest sample at least quietMs back.
    while (samples.length > 2 && now.at - samples[1]!.at >= quietMs) samples.shift();
    const oldest = samples[0]!;
    if (now.at - oldest.at >= quietMs && now.cpu - oldest.cpu <= share * (now.at - oldest.at)) return;
  }
}
