import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startHaproxy, type HaproxyHandle } from './haproxy.js';
import { httpGet } from './http.js';
import { freePort } from './ports.js';
import { abortOnExit, captureOutput, hasExited, spawnTracked, terminate, type OutputBuffer } from './processes.js';
import { eventually } from './wait.js';

/** A `switchyard serve` in a process of its own (so a spec can SIGKILL or SIGSTOP it), its HTTP face on a free port. */
export interface SwitchyardProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly url: string;
  readonly dir: string;
  /** Its stderr (JSON log lines) and stdout so far. */
  readonly output: OutputBuffer;
  /** Aborts once the process has exited. */
  readonly exited: AbortSignal;
  health(): Promise<{ status: number; body: Record<string, unknown> & { status: string; failing: string[] } }>;
  /** The value of one metric series (first match of `name` with the given label text, e.g. `{target="haproxy"}`). */
  metric(name: string, labels?: string): Promise<number | null>;
  /** Parsed JSON log entries with this message. */
  logged(message: string): Array<Record<string, unknown>>;
  signal(sig: NodeJS.Signals): void;
  /** Freezes it (SIGSTOP) and resolves once the kernel reports it stopped; `resume` undoes it. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** SIGTERM (a clean stop), resolving once it exited. */
  stop(): Promise<void>;
}

/**
 * Writes `config` (plus an HTTP listener on a free port and JSON logs) to
 * `dir/switchyard.json` and runs `node bin/switchyard.js serve` on it; resolves
 * once /health answers at all.
 */
export async function spawnSwitchyard(config: Record<string, unknown>, dir: string): Promise<SwitchyardProcess> {
  const port = await freePort();
  const file = join(dir, 'switchyard.json');
  writeFileSync(
    file,
    JSON.stringify(
      { ...config, http: { listen: `127.0.0.1:${port}` }, log: { level: 'debug', format: 'json' } },
      null,
      2,
    ),
  );
  const child = spawnTracked(process.execPath, [join(process.cwd(), 'bin/switchyard.js'), 'serve', '--config', file], {
    cwd: dir,
  });
  const output = captureOutput(child, 4_000_000);
  const exited = abortOnExit(child, `switchyard in ${dir}`);
  const url = `http://127.0.0.1:${port}`;
  const freeze = async (sig: 'SIGSTOP' | 'SIGCONT') => {
    child.kill(sig);
    await eventually(
      async () => {
        const state = /^State:\s+(\S)/m.exec(await readFile(`/proc/${child.pid}/status`, 'utf8'))?.[1];
        if ((state === 'T') !== (sig === 'SIGSTOP')) throw new Error(`process state is ${state}`);
      },
      { timeoutMs: 5000, message: `switchyard ${sig}` },
    );
  };
  const handle: SwitchyardProcess = {
    child,
    pid: child.pid!,
    url,
    dir,
    output,
    exited,
    async health() {
      const r = await httpGet(`${url}/health`, { timeoutMs: 2000 });
      return { status: r.status, body: JSON.parse(r.body) };
    },
    async metric(name, labels = '') {
      const text = (await httpGet(`${url}/metrics`, { timeoutMs: 2000 })).body;
      for (const line of text.split('\n'))
        if (line.startsWith(`${name}${labels} `)) return Number(line.slice(line.lastIndexOf(' ') + 1));
      return null;
    },
    logged(message) {
      const entries: Array<Record<string, unknown>> = [];
      for (const line of output.text().split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          if (entry.message === message) entries.push(entry);
        } catch {
          // a line cut by the buffer's start
        }
      }
      return entries;
    },
    signal: (sig) => child.kill(sig),
    pause: () => freeze('SIGSTOP'),
    resume: () => freeze('SIGCONT'),
    async stop() {
      if (!hasExited(child)) await terminate(child, 'SIGTERM', 10_000);
    },
  };
  await eventually(() => handle.health(), {
    timeoutMs: 20_000,
    message: `switchyard in ${dir} never answered`,
    signal: exited,
  });
  return handle;
}

/**
 * Starts HAProxy on the first config the process installs at `output`, as on
 * a real host, and waits for /health to say ok: that install's reload found
 * no HAProxy, and Switchyard's retry must have succeeded.
 */
export async function haproxyOnFirstInstall(sy: SwitchyardProcess, output: string): Promise<HaproxyHandle> {
  await eventually(() => readFileSync(output, 'utf8'), {
    timeoutMs: 20_000,
    message: `no config installed at ${output}`,
    signal: sy.exited,
  });
  const haproxy = await startHaproxy({ configFile: output, dir: sy.dir });
  await eventually(
    async () => {
      const h = await sy.health();
      if (h.body.status !== 'ok') throw new Error(`health is ${h.body.status} (${JSON.stringify(h.body.failing)})`);
    },
    { timeoutMs: 20_000, message: `switchyard in ${sy.dir} never became healthy`, signal: sy.exited },
  );
  return haproxy;
}
