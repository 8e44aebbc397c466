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
