import { mkdirSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { abortOnExit, captureOutput, runCommand, spawnTracked, terminate } from './processes.js';
import { tempDir } from './tmp.js';
import { errorText, eventually } from './wait.js';

/** How to run nginx; the config must set `pid` to `pidFile` and must not contain `daemon`. */
export interface NginxOptions {
  prefix: string;
  configFile: string;
  /** Defaults to `<prefix>/nginx.pid`. */
  pidFile?: string;
  /** Where the config sends error_log; scanned for `[emerg]` after a reload. Defaults to `<prefix>/logs/error.log`. */
  errorLog?: string;
}

/** A running nginx master in the foreground. */
export interface NginxHandle {
  readonly pid: number;
  /** nginx's own stderr/stdout so far (errors before error_log is opened go here). */
  logs(): string;
  /** PIDs of the master's current worker processes (not those shutting down after a reload). */
  workerPids(): Promise<number[]>;
  /** SIGHUP; resolves once every worker has been replaced, rejects if the new config failed to apply. */
  reload(): Promise<void>;
  /** Graceful stop (SIGQUIT), SIGTERM after 2 s; resolves once the master has exited. */
  stop(): Promise<void>;
}

/** Starts `nginx -p <prefix> -c <configFile> -g 'daemon off;'` and resolves once the pid file names it and a worker runs; rejects with its output if it exits first. */
export async function startNginx({ prefix, configFile, pidFile, errorLog }: NginxOptions): Promise<NginxHandle> {
  const pidPath = pidFile ?? join(prefix, 'nginx.pid');
  const errorLogPath = errorLog ?? join(prefix, 'logs', 'error.log');
  // SIGTERM on runner death: the master then takes its workers down (they would survive a SIGKILLed master).
  const child = spawnTracked('nginx', ['-p', prefix, '-c', configFile, '-g', 'daemon off;'], {
    parentDeathSignal: 'SIGTERM',
  });
  const output = captureOutput(child);
  const exited = abortOnExit(child, 'nginx master');
  const pid = child.pid!;
  const workerPids = (): Promise<number[]> => currentWorkers(pid);
  const describe = async (): Promise<string> =>
    `--- nginx output ---\n${output.text()}--- ${errorLogPath} ---\n${(await readFile(errorLogPath, 'utf8').catch(() => '(none)')).slice(-4000)}`;

  try {
    await eventually(
      async () => {
        const written = (await readFile(pidPath, 'utf8')).trim();
        if (written !== String(pid)) throw new Error(`${pidPath} holds '${written}', not ${pid}`);
        if ((await workerPids()).length === 0) throw new Error('no worker process yet');
      },
      { timeoutMs: 10_000, message: 'nginx startup', signal: exited },
    );
  } catch (err) {
    await terminate(child, 'SIGTERM');
    throw new Error(`nginx did not start (${configFile}): ${errorText(err)}\n${await describe()}`, { cause: err });
  }

  return {
    pid,
    logs: output.text,
    workerPids,
    async reload() {
      try {
        const before = await workerPids();
        const logOffset = await fileSize(errorLogPath);
        process.kill(pid, 'SIGHUP');
        const outcome = await eventually(
          async () => {
            // A config that fails to apply (syntax, bind) is only logged; the old workers keep running.
            if ((await readFrom(errorLogPath, logOffset)).includes('[emerg]')) return 'failed';
            const now = await workerPids();
            if (now.length === 0 || now.some((p) => before.includes(p)))
              throw new Error(`workers still ${now.join(',')}`);
            return 'reloaded';
          },
          { timeoutMs: 10_000, message: 'nginx reload', signal: exited },
        );
        if (outcome === 'failed') throw new Error('the new config was rejected ([emerg] in error log)');
      } catch (err) {
        throw new Error(`nginx reload failed (${configFile}): ${errorText(err)}\n${await describe()}`, { cause: err });
      }
    },
    async stop() {
      await terminate(child, 'SIGQUIT');
    },
  };
}

/** Runs `nginx -t -p <prefix> -c <configFile>`; `ok` is true when the config is valid. */
export async function nginxTest(prefix: string, configFile: string): Promise<{ ok: boolean; output: string }> {
  const { code, output } = await runCommand('nginx', ['-t', '-p', prefix, '-c', configFile]);
  return { ok: code === 0, output };
}

/** Creates a temporary nginx prefix directory with empty `conf/`, `logs/` and `tmp/` subdirectories. */
export function nginxPrefix(): string {
  const prefix = tempDir('nginx-');
  for (const sub of ['conf', 'logs', 'tmp']) mkdirSync(join(prefix, sub));
  return prefix;
}

// Old workers stay children of the master until their connections drain, retitled
// "nginx: worker process is shutting down"; only the others count as current.
async function currentWorkers(masterPid: number): Promise<number[]> {
  const children = await readFile(`/proc/${masterPid}/task/${masterPid}/children`, 'utf8').catch(() => '');
  const workers: number[] = [];
  for (const pid of children.split(' ').filter(Boolean).map(Number)) {
    const title = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (title.startsWith('nginx: worker process') && !title.includes('shutting down')) workers.push(pid);
  }
  return workers;
}

async function fileSize(path: string): Promise<number> {
  return (await stat(path).catch(() => ({ size: 0 }))).size;
}

async function readFrom(path: string, offset: number): Promise<string> {
  const content = await readFile(path).catch(() => Buffer.alloc(0));
  return content.subarray(offset).toString('utf8');
}
