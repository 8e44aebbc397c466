import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnTracked } from '../../test/support/processes.js';

/** One `config installed` log line: total ms and per-stage ms (render, validate, install, reload). */
export interface InstallLog {
  readonly ms: number;
  readonly stages: Readonly<Record<string, number>>;
  readonly version: number;
  /** live (runtime API), reload, or file (no reload command). */
  readonly how?: string;
}

/** Parses Switchyard's JSON log (stderr) as it arrives and keeps what the benchmarks use. */
export class LogTap {
  readonly installs: InstallLog[] = [];
  readonly synced: Array<{ ms: number; apps: number; services: number }> = [];
  readonly errors: string[] = [];
  readonly tail: string[] = [];
  private partial = '';
  private waiters: Array<() => void> = [];

  constructor(child: ChildProcess) {
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => this.feed(chunk));
    }
  }

  /** Resolves once at least `count` installs have been logged; rejects after timeoutMs. */
  async installsAtLeast(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.installs.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`only ${this.installs.length} of ${count} installs logged within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private feed(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      this.tail.push(line);
      if (this.tail.length > 40) this.tail.shift();
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (entry.message === 'config installed') this.installs.push(entry as unknown as InstallLog);
      else if (entry.message === 'marathon synced')
        this.synced.push(entry as unknown as { ms: number; apps: number; services: number });
      if (entry.level === 'error' || entry.level === 'warn') this.errors.push(line.slice(0, 400));
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

export interface SwitchyardRun {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly spawnedAt: bigint;
  readonly log: LogTap;
}

/** Writes `config` to `dir/switchyard.json` and spawns `node [nodeArgs] bin/switchyard.js serve --config …` in its own process. */
export function spawnSwitchyard(
  repo: string,
  dir: string,
  config: unknown,
  nodeArgs: readonly string[] = [],
): SwitchyardRun {
  const file = join(dir, 'switchyard.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  const spawnedAt = process.hrtime.bigint();
  const child = spawnTracked('node', [...nodeArgs, join(repo, 'bin/switchyard.js'), 'serve', '--config', file], {
    cwd: repo,
  });
  if (child.pid === undefined) throw new Error('could not spawn switchyard');
  return { child, pid: child.pid, spawnedAt, log: new LogTap(child) };
}
