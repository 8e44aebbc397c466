import { open, readFile, readlink, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { listenLines, refusals, withListenLines } from './reload-check.js';
import { messageOf } from '../../errors.js';

// `bin/nginx-reload`: sends the nginx master SIGHUP and exits 0 only once
// every worker is a new one (nginx replaces them only after it applied the
// whole new config, listeners included); 1 with nginx's own words when its
// error log shows an `[emerg]` since the signal, or when no new workers
// appear in time (the old ones keep serving the old config). A bind failure
// is named with the `listen` line it is about, `file:N`, for quarantine.

const USAGE = 'usage: nginx-reload PID_FILE [TIMEOUT_SECONDS] [--error-log FILE] [--config FILE]';
const POLL_MS = 20;
/** The most of the error log read after the signal: nginx's words for one refused config are a few lines. */
const MAX_TAIL_BYTES = 64 * 1024;

/** How the reload went: served by new workers, or the reason it was not. */
export type NginxReloadOutcome = { readonly kind: 'served' } | { readonly kind: 'failed'; readonly reason: string };

/** The command's arguments. */
export interface NginxReloadOptions {
  readonly pidFile: string;
  readonly timeoutMs: number;
  /** Where the config's `error_log` writes; null: only the workers tell (a failure then takes the whole timeout). */
  readonly errorLog: string | null;
  /** The config nginx loads; null: read from the master's command line (`-c`, against `-p`). */
  readonly config: string | null;
}

/** Parses the command line; throws the usage line on nonsense. */
export function nginxReloadOptions(argv: readonly string[]): NginxReloadOptions {
  const args = [...argv];
  const option = (name: string): string | null => {
    const at = args.indexOf(name);
    if (at < 0) return null;
    const value = args[at + 1];
    if (value === undefined) throw new Error(USAGE);
    args.splice(at, 2);
    return value;
  };
  const errorLog = option('--error-log');
  const config = option('--config');
  const [pidFile, timeout = '10', ...rest] = args;
  const seconds = Number(timeout);
  if (!pidFile || rest.length > 0 || !(seconds > 0)) throw new Error(USAGE);
  return { pidFile, timeoutMs: seconds * 1000, errorLog, config };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The master's workers that serve: its children titled `nginx: worker process`, not those shutting down after a reload. */
async function workers(master: number): Promise<number[]> {
  const children = await readFile(`/proc/${master}/task/${master}/children`, 'utf8').catch(() => '');
  const out: number[] = [];
  for (const pid of children.split(' ').filter(Boolean).map(Number)) {
    const title = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (title.startsWith('nginx: worker process') && !title.includes('shutting down')) out.push(pid);
  }
  return out;
}

async function sizeOf(path: string): Promise<number> {
  return (await stat(path).catch(() => ({ size: 0 }))).size;
}

/** What was written to `path` after `offset` (at most MAX_TAIL_BYTES); a rotated (shorter) log is read from its start. */
async function tail(path: string, offset: number): Promise<string> {
  const f = await open(path, 'r').catch(() => null);
  if (!f) return '';
  try {
    const size = (await f.stat()).size;
    const from = size < offset ? 0 : offset;
    const buf = Buffer.alloc(Math.min(MAX_TAIL_BYTES, size - from));
    await f.read(buf, 0, buf.length, from);
    return buf.toString('utf8');
  } finally {
    await f.close();
  }
}

/** The config the master loads: `--config`, else `-c` of its command line against `-p` (or its working directory). */
async function configFile(opts: NginxReloadOptions, master: number): Promise<string | null> {
  if (opts.config) return opts.config;
  try {
    // nginx retitles its master "nginx: master process <argv joined by spaces>": the words are the arguments.
    const title = await readFile(`/proc/${master}/cmdline`, 'utf8');
    const argv = title
      .replace(/^nginx: master process /, '')
      .replace(/\0+$/, '')
      .split(/[\0 ]+/);
    const arg = (flag: string) => {
      const at = argv.indexOf(flag);
      return at >= 0 ? (argv[at + 1] ?? null) : null;
    };
    const prefix = arg('-p') ?? (await readlink(`/proc/${master}/cwd`));
    const conf = arg('-c');
    return conf === null ? null : resolve(prefix, conf);
  } catch {
    // The master's command line cannot be read here (another PID namespace): nginx's words stand alone.
    return null;
  }
}

/** Signals the master and waits for the verdict. */
export async function reloadNginx(opts: NginxReloadOptions): Promise<NginxReloadOutcome> {
  const deadline = Date.now() + opts.timeoutMs;
  const master = Number((await readFile(opts.pidFile, 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(master) || master <= 0) return { kind: 'failed', reason: `no nginx pid in ${opts.pidFile}` };
  const before = await workers(master);
  const offset = opts.errorLog ? await sizeOf(opts.errorLog) : 0;
  try {
    process.kill(master, 'SIGHUP');
  } catch (e) {
    return { kind: 'failed', reason: `cannot signal nginx ${master}: ${messageOf(e)}` };
  }
  for (;;) {
    if (opts.errorLog) {
      const words = refusals(await tail(opts.errorLog, offset));
      if (words.length > 0) {
        const file = await configFile(opts, master);
        const text = file && (await readFile(file, 'utf8').catch(() => null));
        const named = file && text ? withListenLines(words, file, listenLines(text)) : words;
        return {
          kind: 'failed',
          reason: `nginx did not apply the new config; the old workers keep serving: ${named.join(' | ')}`,
        };
      }
    }
    const now = await workers(master);
    if (now.length > 0 && now.every((p) => !before.includes(p))) return { kind: 'served' };
    if (Date.now() >= deadline)
      return {
        kind: 'failed',
        reason: `no new workers after ${Math.round(opts.timeoutMs / 1000)}s: nginx did not apply the new config (its error log says why)`,
      };
    await sleep(POLL_MS);
  }
}

/** The command: exit code 0 when new workers serve the new config, 1 with the reason on stderr otherwise. */
export async function main(argv: readonly string[]): Promise<number> {
  let opts: NginxReloadOptions;
  try {
    opts = nginxReloadOptions(argv);
  } catch (e) {
    process.stderr.write(`${messageOf(e)}\n`);
    return 2;
  }
  const outcome = await reloadNginx(opts);
  if (outcome.kind === 'served') return 0;
  process.stderr.write(`nginx-reload: ${outcome.reason}\n`);
  return 1;
}
