import { join } from 'node:path';
import { socketExchange } from './ports.js';
import { abortOnExit, captureOutput, runCommand, spawnTracked, terminate } from './processes.js';
import { errorText, eventually, sleep } from './wait.js';

/** Where to find the config, and a private directory for the master CLI socket. */
export interface HaproxyOptions {
  configFile: string;
  dir: string;
}

/** A running HAProxy master (master-worker mode) and its master CLI. */
export interface HaproxyHandle {
  readonly pid: number;
  readonly masterSocket: string;
  /** The master's and workers' stderr/stdout so far. */
  logs(): string;
  /** Raw `show proc` answer from the master CLI. */
  showProc(): Promise<string>;
  /** PIDs of the current workers (not the old ones still draining after a reload). */
  workerPids(): Promise<number[]>;
  /** Sends `cmd` to the first worker's runtime API through the master CLI and returns the answer text. */
  runtime(cmd: string): Promise<string>;
  /** Reloads through the master CLI; resolves once a new worker exists, rejects with the master's log if loading failed. */
  reload(): Promise<void>;
  /** Soft stop (SIGUSR1), SIGTERM after 2 s; resolves once the master has exited. */
  stop(): Promise<void>;
}

interface ProcList {
  reloads: number;
  failed: number;
  workers: number[];
}

/** Starts `haproxy -W -S <dir>/master.sock -f <configFile>` in the foreground and resolves once a worker is listed; rejects with its output if it exits first. */
export async function startHaproxy({ configFile, dir }: HaproxyOptions): Promise<HaproxyHandle> {
  const masterSocket = join(dir, 'master.sock');
  // SIGTERM on runner death: the master then hard-stops its workers too.
  const child = spawnTracked('haproxy', ['-W', '-S', masterSocket, '-f', configFile], { parentDeathSignal: 'SIGTERM' });
  const output = captureOutput(child);
  const exited = abortOnExit(child, 'haproxy master');
  const master = (cmd: string): Promise<string> => socketExchange({ path: masterSocket }, `${cmd}\n`, 2000);
  const showProc = (): Promise<string> => master('show proc');

  const handle: HaproxyHandle = {
    pid: child.pid!,
    masterSocket,
    logs: output.text,
    showProc,
    workerPids: async () => parseShowProc(await showProc()).workers,
    runtime: (cmd) => master(`@1 ${cmd}`),
    async reload() {
      try {
        const before = parseShowProc(await showProc());
        await sendReload(master);
        const outcome = await eventually(
          async () => {
            const answer = await showProc();
            const now = parseShowProc(answer);
            if (now.failed > before.failed) return 'failed';
            if (now.reloads <= before.reloads || !now.workers.some((pid) => !before.workers.includes(pid))) {
              throw new Error(`no new worker yet:\n${answer}`);
            }
            return 'reloaded';
          },
          { timeoutMs: 10_000, message: 'haproxy reload', signal: exited },
        );
        if (outcome === 'failed') throw new Error('the master reported a failed reload (Loading failure!)');
      } catch (err) {
        throw new Error(
          `haproxy reload failed (${configFile}): ${errorText(err)}\n--- haproxy output ---\n${output.text()}`,
          { cause: err },
        );
      }
    },
    async stop() {
      await terminate(child, 'SIGUSR1');
    },
  };

  try {
    await eventually(
      async () => {
        if (parseShowProc(await showProc()).workers.length === 0) throw new Error('no worker listed yet');
      },
      { timeoutMs: 10_000, message: 'haproxy master CLI', signal: exited },
    );
  } catch (err) {
    await terminate(child, 'SIGTERM');
    throw new Error(
      `haproxy did not start (${configFile}): ${errorText(err)}\n--- haproxy output ---\n${output.text()}`,
      { cause: err },
    );
  }
  return handle;
}

/** Runs `haproxy -c -f <configFile>`; `ok` is true when the config is valid (warnings do not make it false). */
export async function haproxyCheck(configFile: string): Promise<{ ok: boolean; output: string }> {
  const { code, output } = await runCommand('haproxy', ['-c', '-f', configFile]);
  return { ok: code === 0, output };
}

// The master re-execs itself on reload, refusing connections for ~30 ms; a reset right after
// sending means the command was taken.
async function sendReload(master: (cmd: string) => Promise<string>): Promise<void> {
  const deadline = Date.now() + 2000;
  for (;;) {
    try {
      await master('reload');
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ECONNRESET' || code === 'EPIPE') return;
      if ((code !== 'ECONNREFUSED' && code !== 'ENOENT') || Date.now() > deadline) throw err;
      await sleep(25);
    }
  }
}

// `show proc` lists the master ("<pid> master <reloads> [failed: N] ..."), then "# workers",
// "# old workers" (draining after a reload) and "# programs" sections.
function parseShowProc(answer: string): ProcList {
  const list: ProcList = { reloads: -1, failed: -1, workers: [] };
  let section = 'master';
  for (const line of answer.split('\n')) {
    if (line.startsWith('#')) {
      if (!line.startsWith('#<')) section = line.slice(1).trim();
      continue;
    }
    const masterLine = /^(\d+)\s+master\s+(\d+)\s+\[failed: (\d+)\]/.exec(line);
    if (masterLine) {
      list.reloads = Number(masterLine[2]);
      list.failed = Number(masterLine[3]);
    }
    const workerLine = /^(\d+)\s+worker\b/.exec(line);
    if (workerLine && section === 'workers') list.workers.push(Number(workerLine[1]));
  }
  if (list.reloads < 0) throw new Error(`unexpected show proc answer:\n${answer}`);
  return list;
}

/**
 * A Switchyard target for the default HAProxy template, validated with
 * `haproxy -c` and reloaded, checked, through the master CLI of an HAProxy
 * started by `startHaproxy({ dir })`. Spread it and add `vars` and the rest.
 */
export function haproxyTarget(dir: string, output: string) {
  const repo = process.cwd();
  return {
    name: 'haproxy',
    template: join(repo, 'templates/haproxy.cfg.hbs'),
    output,
    validate: 'haproxy -c -f {{file}}',
    reload: `${join(repo, 'bin/haproxy-reload')} ${join(dir, 'master.sock')}`,
  };
}
