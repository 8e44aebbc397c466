import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnTracked, terminate } from '../../test/support/processes.js';
import { freePort } from '../../test/support/ports.js';
import { tempDir } from '../../test/support/tmp.js';

// Switchyard processes for the fleet benchmark: each writes JSON logs, which
// are kept as entries (message, timestamp and fields) so the benchmark can
// line up what happened when across processes (they share one clock).

/** One JSON log entry, its timestamp as epoch ms. */
export type Entry = Record<string, unknown> & { message: string; at: number };

/** A running sidecar and what it has logged. */
export interface BenchMember {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly url: string;
  readonly entries: Entry[];
  /** Entries with this message, oldest first. */
  logged(message: string): Entry[];
  stop(): Promise<void>;
}

/** Spawns `node [nodeArgs] bin/switchyard.js serve` on `config` (plus an HTTP port and JSON info logs) in a fresh directory. */
export async function spawnMember(
  name: string,
  config: (dir: string) => Record<string, unknown>,
  nodeArgs: readonly string[],
): Promise<BenchMember> {
  const dir = tempDir(`bench-fleet-${name}-`);
  const port = await freePort();
  const file = join(dir, 'switchyard.json');
  writeFileSync(
    file,
    JSON.stringify({ ...config(dir), http: { listen: `127.0.0.1:${port}` }, log: { level: 'info', format: 'json' } }),
  );
  const child = spawnTracked(
    process.execPath,
    [...nodeArgs, join(process.cwd(), 'bin/switchyard.js'), 'serve', '--config', file],
    {
      cwd: dir,
    },
  );
  const entries: Entry[] = [];
  let partial = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        const e = JSON.parse(line) as Record<string, unknown>;
        entries.push({ ...e, message: String(e.message), at: Date.parse(String(e.timestamp)) });
      } catch {
        // not a log line
      }
    }
  });
  child.stdout?.resume();
  return {
    child,
    pid: child.pid!,
    url: `http://127.0.0.1:${port}`,
    entries,
    logged: (message) => entries.filter((e) => e.message === message),
    stop: async () => void (await terminate(child, 'SIGTERM', 5000)),
  };
}
