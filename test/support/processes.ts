import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { constants } from 'node:os';

/** How a child ended: an exit code, or the signal that killed it. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Spawn options plus the signal the kernel sends the child if this Node process dies without cleaning up. */
export interface TrackedSpawnOptions extends SpawnOptions {
  parentDeathSignal?: NodeJS.Signals;
}

/** A child's stdout and stderr as they arrive, interleaved, keeping only the newest `maxChars`. */
export interface OutputBuffer {
  text(): string;
}

// Children still running, each the leader of its own process group.
const running = new Set<ChildProcess>();

// Debian installs haproxy and nginx in /usr/sbin, which a non-root PATH usually lacks.
const childEnv = { ...process.env, PATH: `${process.env.PATH ?? '/usr/bin:/bin'}:/usr/sbin:/sbin` };

process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAll();
    // Our listener replaced Node's default action. Exit (rather than re-raise) so 'exit' handlers such
    // as temp-dir removal still run, unless someone else handles the signal.
    if (process.listenerCount(sig) === 0) process.exit(128 + constants.signals[sig]);
  });
}

/**
 * Spawns `cmd` in its own process group and tracks it: the whole group is SIGKILLed when this process
 * exits or gets SIGINT/SIGTERM, and whatever is left of the group is SIGKILLed when the leader exits.
 */
export function spawnTracked(cmd: string, args: readonly string[], opts: TrackedSpawnOptions = {}): ChildProcess {
  const { parentDeathSignal = 'SIGKILL', ...spawnOptions } = opts;
  // setpriv execs `cmd` in place (same PID) with PR_SET_PDEATHSIG, which covers a SIGKILLed test runner too.
  const child = spawn('setpriv', ['--pdeathsig', parentDeathSignal, '--', cmd, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv,
    ...spawnOptions,
    detached: true,
  });
  running.add(child);
  child.once('exit', () => {
    running.delete(child);
    // A crashed nginx master leaves its workers serving on the old port; never let them outlive it.
    signalGroup(child, 'SIGKILL');
  });
  return child;
}

/** Runs a short command to completion and resolves to its exit code and combined output. */
export function runCommand(cmd: string, args: readonly string[]): Promise<{ code: number | null; output: string }> {
  const child = spawnTracked(cmd, args);
  const output = captureOutput(child);
  return new Promise((resolve) => {
    child.once('close', (code) => resolve({ code, output: output.text() }));
  });
}

/** Collects a piped child's stdout and stderr so that failures can quote them. */
export function captureOutput(child: ChildProcess, maxChars = 256_000): OutputBuffer {
  let buffer = '';
  const append = (chunk: string): void => {
    buffer = (buffer + chunk).slice(-maxChars);
  };
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', append);
  }
  return { text: () => buffer };
}

/** True once the child has exited (or was killed). */
export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves with the child's exit status, or rejects if it is still running after `timeoutMs`. */
export function waitExit(child: ChildProcess, timeoutMs: number): Promise<ExitStatus> {
  if (hasExited(child)) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      resolve({ code, signal });
    };
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      reject(new Error(`pid ${child.pid} still running after ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', onExit);
  });
}

/**
 * Sends `first` (the server's graceful-stop signal), escalates to SIGTERM after `graceMs` and to
 * SIGKILL on the whole group after 5 s more, and resolves once the child has exited.
 */
export async function terminate(child: ChildProcess, first: NodeJS.Signals, graceMs = 2000): Promise<ExitStatus> {
  if (hasExited(child)) return waitExit(child, 0);
  child.kill('SIGCONT'); // a SIGSTOPped process would hold every other signal pending
  child.kill(first);
  try {
    return await waitExit(child, graceMs);
  } catch {
    child.kill('SIGTERM');
  }
  try {
    return await waitExit(child, 5000);
  } catch {
    signalGroup(child, 'SIGKILL');
    return waitExit(child, 5000);
  }
}

/**
 * An AbortSignal that aborts, with an error naming `what` and its exit status, once the child has
 * exited and its output has been fully read; create it right after spawning.
 */
export function abortOnExit(child: ChildProcess, what: string): AbortSignal {
  const controller = new AbortController();
  child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
    controller.abort(new Error(`${what} exited (code ${code}, signal ${signal})`));
  });
  return controller.signal;
}

function killAll(): void {
  for (const child of running) signalGroup(child, 'SIGKILL');
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}
