import { readFile, readlink } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { resolve } from 'node:path';
import {
  configBinds,
  frontendStatuses,
  listenersOf,
  parseShowProc,
  unservedListeners,
  type BindAddress,
  type ConfigBinds,
  type ProcList,
} from './reload-check.js';
import { messageOf } from '../../errors.js';

// `bin/haproxy-reload`: reloads an HAProxy running in master-worker mode
// through its master CLI and exits 0 only once a new worker serves every
// listener of the new config; 1 with the reason otherwise. HAProxy 2.6's
// master CLI answers `reload` with nothing and keeps its startup messages
// to its own stderr, so the reason comes from what can be asked: `show proc`
// (a failed load), the new worker's `show stat` and `show fd` (paused
// frontends), and, for a failed load, a bind of each of the new config's
// addresses here (the address this host lacks, the port another process
// holds) — each named by its `[file:line]`, which the target maps to the
// service whose fragment holds it.

const USAGE = 'usage: haproxy-reload MASTER_SOCKET [TIMEOUT_SECONDS] [--config FILE]';
/** A frontend of the new worker may take a moment to open; past this it is not going to. */
const SETTLE_MS = 1000;
const POLL_MS = 20;

/** How the reload went: served, or the reason it was not. */
export type ReloadOutcome = { readonly kind: 'served' } | { readonly kind: 'failed'; readonly reason: string };

/** The command's arguments. */
export interface ReloadOptions {
  readonly socket: string;
  readonly timeoutMs: number;
  /** The config HAProxy loads; null: read from the master's command line (`-f`). */
  readonly config: string | null;
}

/** Parses the command line; throws the usage line on nonsense. */
export function reloadOptions(argv: readonly string[]): ReloadOptions {
  const args = [...argv];
  let config: string | null = null;
  const at = args.indexOf('--config');
  if (at >= 0) {
    config = args[at + 1] ?? null;
    if (config === null) throw new Error(USAGE);
    args.splice(at, 2);
  }
  const [socket, timeout = '10', ...rest] = args;
  const seconds = Number(timeout);
  if (!socket || rest.length > 0 || !(seconds > 0)) throw new Error(USAGE);
  return { socket, timeoutMs: seconds * 1000, config };
}

/** One command to the master CLI; its whole answer. Rejects while the master re-executes itself (it refuses connections then). */
function ask(socket: string, command: string): Promise<string> {
  return new Promise((done, fail) => {
    const c = connect(socket);
    let answer = '';
    c.setTimeout(2000, () => c.destroy(new Error(`no answer from the master CLI at ${socket}`)));
    c.on('connect', () => c.end(`${command}\n`));
    c.on('data', (d) => (answer += d.toString()));
    c.on('end', () => done(answer));
    c.on('error', fail);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The config files the master loads: `--config`, else each `-f` of its command line (relative to its working directory). */
async function configFiles(opts: ReloadOptions, masterPid: number): Promise<string[]> {
  if (opts.config) return [opts.config];
  try {
    const argv = (await readFile(`/proc/${masterPid}/cmdline`, 'utf8')).split('\0');
    const cwd = await readlink(`/proc/${masterPid}/cwd`);
    return argv.flatMap((a, i) => (a === '-f' && argv[i + 1] ? [resolve(cwd, argv[i + 1]!)] : []));
  } catch {
    // Another PID namespace (HAProxy in its own container): the reason names no line then.
    return [];
  }
}

async function readConfigs(files: readonly string[]): Promise<Array<{ file: string; binds: ConfigBinds }>> {
  const out: Array<{ file: string; binds: ConfigBinds }> = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => null);
    if (text !== null) out.push({ file, binds: configBinds(text) });
  }
  return out;
}

/** Whether this host lets a process listen on `a` now: null if so, else the system's reason. */
function bindRefusal(a: BindAddress): Promise<string | null> {
  return new Promise((done) => {
    const s = createServer();
    // "listen EADDRINUSE: address already in use 127.0.0.1:80" → "EADDRINUSE: address already in use"
    s.once('error', (e: NodeJS.ErrnoException) => done(e.message.replace(/^listen /, '').replace(/ \S+:\d+$/, '')));
    s.listen({ host: a.host || '0.0.0.0', port: a.port, exclusive: true }, () => s.close(() => done(null)));
  });
}

/**
 * After a failed load: the binds of the new config this host refuses. A
 * port in use is the proxy's own when the running worker listens on it.
 */
async function refusedBinds(
  configs: ReadonlyArray<{ file: string; binds: ConfigBinds }>,
  heldByProxy: ReadonlySet<number>,
): Promise<string[]> {
  const found: string[] = [];
  for (const { file, binds } of configs) {
    for (const b of binds.binds) {
      for (const a of b.addresses) {
        const refusal = await bindRefusal(a);
        if (refusal === null || (refusal.startsWith('EADDRINUSE') && heldByProxy.has(a.port))) continue;
        found.push(`[${file}:${b.line}] frontend ${b.section}: cannot bind ${a.host || '*'}:${a.port} (${refusal})`);
      }
    }
  }
  return found;
}

/** Sends `reload`, again while the master refuses connections; a reset after sending means it was taken (the master re-executes itself). */
async function sendReload(socket: string, deadline: number): Promise<void> {
  for (;;) {
    try {
      await ask(socket, 'reload');
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ECONNREFUSED' && code !== 'ENOENT') return;
      if (Date.now() >= deadline) return;
      await sleep(POLL_MS);
    }
  }
}

/** `show proc`, retried while the master refuses connections (it does for a moment around a reload). */
async function procList(socket: string, deadline: number): Promise<ProcList> {
  for (;;) {
    const answer = await ask(socket, 'show proc').catch(() => '');
    const proc = parseShowProc(answer);
    if (proc) return proc;
    if (Date.now() >= deadline) throw new Error(`no answer from the master CLI at ${socket}`);
    await sleep(POLL_MS);
  }
}

/** Reloads and waits for the verdict. */
export async function reloadHaproxy(opts: ReloadOptions): Promise<ReloadOutcome> {
  const deadline = Date.now() + opts.timeoutMs;
  let before: ProcList;
  try {
    before = await procList(opts.socket, Date.now());
  } catch (e) {
    return { kind: 'failed', reason: messageOf(e) };
  }
  const heldBefore = new Set(listenersOf(await ask(opts.socket, '@1 show fd').catch(() => '')).map((l) => l.port));
  await sendReload(opts.socket, deadline);
  let servedSince: number | null = null;
  for (;;) {
    const now = await procList(opts.socket, deadline).catch(() => null);
    if (now && now.failed > before.failed) {
      const configs = await readConfigs(await configFiles(opts, now.masterPid));
      const refused = await refusedBinds(configs, heldBefore);
      const why = refused.length > 0 ? `: ${refused.join('; ')}` : '';
      return {
        kind: 'failed',
        reason: `the master reports a failed reload; the previous worker keeps serving${why}`,
      };
    }
    const worker = now && now.reloads > before.reloads ? now.workers.find((w) => !before.workers.includes(w)) : null;
    if (worker) {
      servedSince ??= Date.now();
      const serving = await servingOf(opts, worker, now!.masterPid);
      if (serving.kind === 'served') return serving;
      if (serving.kind === 'unserved' && (Date.now() - servedSince >= SETTLE_MS || Date.now() >= deadline))
        return { kind: 'failed', reason: `${serving.reason} (the new worker ${worker} runs without it)` };
    }
    if (Date.now() >= deadline)
      return { kind: 'failed', reason: `no new worker after ${Math.round(opts.timeoutMs / 1000)}s` };
    await sleep(POLL_MS);
  }
}

/** Whether the new worker serves every listener: yes, no (why, by the config's lines), or not known yet (it did not answer). */
async function servingOf(
  opts: ReloadOptions,
  worker: number,
  masterPid: number,
): Promise<{ kind: 'served' } | { kind: 'unserved'; reason: string } | { kind: 'unknown' }> {
  const answer = await ask(opts.socket, `@!${worker} show stat -1 1 -1`).catch(() => null);
  if (answer === null || !answer.startsWith('#')) return { kind: 'unknown' };
  const statuses = frontendStatuses(answer);
  const listeners = listenersOf(await ask(opts.socket, `@!${worker} show fd`).catch(() => ''));
  // The first config names the lines; HAProxy numbers each file's lines apart.
  const [first] = await readConfigs(await configFiles(opts, masterPid));
  const reason = unservedListeners(first?.file ?? '(config)', first?.binds ?? null, statuses, listeners);
  return reason === null ? { kind: 'served' } : { kind: 'unserved', reason };
}

/** The command: exit code 0 when the new worker serves the new config, 1 with the reason on stderr otherwise. */
export async function main(argv: readonly string[]): Promise<number> {
  let opts: ReloadOptions;
  try {
    opts = reloadOptions(argv);
  } catch (e) {
    process.stderr.write(`${messageOf(e)}\n`);
    return 2;
  }
  const outcome = await reloadHaproxy(opts);
  if (outcome.kind === 'served') return 0;
  process.stderr.write(`haproxy-reload: ${outcome.reason}\n`);
  return 1;
}
