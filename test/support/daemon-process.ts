import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpGet } from './http.js';
import { freePort } from './ports.js';
import { abortOnExit, captureOutput, hasExited, spawnTracked, terminate, type OutputBuffer } from './processes.js';
import { eventually } from './wait.js';

/** `switchyard serve` in a process of its own, as an operator runs it: its memory, its event loop, its exits are its own. */
export interface DaemonProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Its stdout and stderr (JSON log lines). */
  readonly output: OutputBuffer;
  /** Aborts once the process has exited: pass to eventually() so a crash fails at once, with its status. */
  readonly exited: AbortSignal;
  alive(): boolean;
  /** Resident set size now, in bytes (VmRSS). */
  rss(): number;
  /** GET /health: status and parsed body. */
  health(): Promise<{ status: number; body: HealthBody }>;
  stop(): Promise<void>;
}

/** The parts of /health the specs read. */
export type HealthBody = { status: string; failing: string[] } & Record<string, unknown>;

/** Writes `raw` (with a free http.listen) as switchyard.json in `dir` and starts `node bin/switchyard.js serve` on it. */
export async function startDaemonProcess(raw: Record<string, unknown>, dir: string): Promise<DaemonProcess> {
  const port = await freePort();
  const http = { ...((raw.http as Record<string, unknown> | undefined) ?? {}), listen: `127.0.0.1:${port}` };
  const config = { log: { level: 'info', format: 'json' }, ...raw, http };
  const file = join(dir, 'switchyard.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  const child = spawnTracked('node', [join(process.cwd(), 'bin/switchyard.js'), 'serve', '--config', file], {
    cwd: dir,
  });
  const output = captureOutput(child, 4_000_000);
  const exited = abortOnExit(child, 'switchyard serve');
  const url = `http://127.0.0.1:${port}`;
  const handle: DaemonProcess = {
    child,
    url,
    output,
    exited,
    alive: () => !hasExited(child),
    rss() {
      const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (!m) throw new Error(`no VmRSS for pid ${child.pid}`);
      return Number(m[1]) * 1024;
    },
    async health() {
      const r = await httpGet(`${url}/health`);
      return { status: r.status, body: JSON.parse(r.body) as HealthBody };
    },
    async stop() {
      await terminate(child, 'SIGTERM');
    },
  };
  await eventually(() => httpGet(`${url}/live`), { timeoutMs: 20_000, signal: exited, message: 'daemon listening' });
  return handle;
}

/** Waits until the daemon's /health says `status`. */
export async function waitForStatus(d: DaemonProcess, status: string, timeoutMs = 20_000): Promise<HealthBody> {
  return eventually(
    async () => {
      const h = await d.health();
      if (h.body.status !== status) throw new Error(`health is ${h.body.status} (${JSON.stringify(h.body.failing)})`);
      return h.body;
    },
    { timeoutMs, signal: d.exited, message: `health never became ${status}` },
  );
}

/**
 * Polls /health back to back while an attack runs: every poll must answer
 * (status 200 or 503 with a JSON body). `stop` resolves with how many
 * answered, how many did not (with the first error) and the slowest answer.
 */
export function watchHealth(d: DaemonProcess, timeoutMs = 5000): { stop(): Promise<HealthWatch> } {
  const result = { answered: 0, failed: 0, firstError: '', worstMs: 0 };
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      try {
        const r = await httpGet(`${d.url}/health`, { timeoutMs });
        JSON.parse(r.body);
        result.answered++;
      } catch (e) {
        result.failed++;
        result.firstError ||= (e as Error).message;
      }
      result.worstMs = Math.max(result.worstMs, performance.now() - t0);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return result;
    },
  };
}

/** What watchHealth saw. */
export interface HealthWatch {
  answered: number;
  failed: number;
  firstError: string;
  worstMs: number;
}
