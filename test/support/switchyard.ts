import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { Daemon } from '../../src/daemon.js';
import { createLogger, Logger, silentLogger, type LogEntry } from '../../src/log.js';
import type { ApplyResult } from '../../src/targets/target.js';
import { startHaproxy, type HaproxyHandle } from './haproxy.js';
import { httpGet } from './http.js';
import { eventually } from './wait.js';

/** A Switchyard daemon running in the test process, with its HTTP face on a free port. */
export interface SwitchyardHandle {
  readonly daemon: Daemon;
  readonly url: string;
  /** Every log entry (level, message, meta) when started with `captureLogs`; empty otherwise. */
  readonly logs: LogEntry[];
  health(): Promise<{ status: number; body: { status: string; failing: string[] } & Record<string, unknown> }>;
  /** Resolves after the next cycle in which `target` installed a new config. */
  nextInstall(target: string): Promise<ApplyResult>;
  stop(): Promise<void>;
}

export type { LogEntry };

/** Options of startSwitchyard. */
export interface StartOptions {
  /** Keep every log entry (debug and up) in `handle.logs`, to check what was logged. */
  captureLogs?: boolean;
}

/** A logger that pushes every entry into `entries` (and prints too, under SWITCHYARD_TEST_LOG). */
export function capturingLogger(entries: LogEntry[]): Logger {
  const print = process.env.SWITCHYARD_TEST_LOG ? createLogger('debug', 'text') : null;
  return new Logger('debug', (entry) => {
    entries.push(entry);
    print?.[entry.level](entry.message, entry);
  });
}

/**
 * Starts a daemon from a raw config object whose relative paths resolve
 * against `dir` (the config is also written there, as an operator would have
 * it). Logs are silent unless SWITCHYARD_TEST_LOG is set, or kept in
 * `handle.logs` with `captureLogs`.
 */
export async function startSwitchyard(
  raw: Record<string, unknown>,
  dir: string,
  opts: StartOptions = {},
): Promise<SwitchyardHandle> {
  const full = { http: { listen: '127.0.0.1:0' }, ...raw };
  writeFileSync(join(dir, 'switchyard.json'), JSON.stringify(full, null, 2));
  const config = parseConfig(full, dir);
  const logs: LogEntry[] = [];
  const log = opts.captureLogs
    ? capturingLogger(logs)
    : process.env.SWITCHYARD_TEST_LOG
      ? createLogger('debug', 'text')
      : silentLogger();
  const daemon = new Daemon(config, log);
  await daemon.start();
  const url = `http://127.0.0.1:${daemon.address!.port}`;
  return {
    daemon,
    url,
    logs,
    async health() {
      const r = await httpGet(`${url}/health`);
      return { status: r.status, body: JSON.parse(r.body) };
    },
    nextInstall(target) {
      return new Promise((resolve) => {
        const off = daemon.runner.onCycle((results) => {
          const r = results.find((x) => x.target === target && x.kind === 'installed');
          if (r) {
            off();
            resolve(r);
          }
        });
      });
    },
    stop: () => daemon.stop(),
  };
}

/** Waits until /health answers with this status word. */
export async function waitForHealth(
  sy: SwitchyardHandle,
  status: 'ok' | 'degraded' | 'starting',
  timeoutMs = 15_000,
): Promise<void> {
  await eventually(
    async () => {
      const h = await sy.health();
      if (h.body.status !== status)
        throw new Error(`health is ${h.body.status} (${JSON.stringify(h.body.failing)}), waiting for ${status}`);
    },
    { timeoutMs, message: `health never became ${status}` },
  );
}

/**
 * Starts HAProxy on the first config Switchyard installs, as on a real host,
 * and waits for /health to say ok: the install came before HAProxy ran, so its
 * reload failed and Switchyard retries it.
 */
export async function haproxyOnFirstConfig(sy: SwitchyardHandle, output: string, dir: string): Promise<HaproxyHandle> {
  await eventually(() => readFileSync(output, 'utf8'), { message: 'first config never installed' });
  const haproxy = await startHaproxy({ configFile: output, dir });
  await waitForHealth(sy, 'ok');
  return haproxy;
}
