import { spawn } from 'node:child_process';

/** How a command ended: its exit code (null if killed), and what it said, stdout then stderr, trimmed. */
export interface ExecResult {
  readonly code: number | null;
  readonly output: string;
  readonly timedOut: boolean;
  readonly ms: number;
}

/** Runs shell commands in a directory; an interface so tests and benchmarks can count or replace them. */
export type Exec = (command: string, timeoutMs: number, cwd?: string) => Promise<ExecResult>;

const MAX_OUTPUT = 64 * 1024;

/**
 * Runs a command through `/bin/sh -c` in a process group of its own, so a
 * command that hangs is killed with everything it started once `timeoutMs`
 * passes.
 */
export const shellExec: Exec = (command, timeoutMs, cwd) =>
  new Promise((resolve) => {
    const started = performance.now();
    const child = spawn('/bin/sh', ['-c', command], { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const take = (cur: string, chunk: Buffer) => (cur.length < MAX_OUTPUT ? cur + chunk.toString('utf8') : cur);
    child.stdout.on('data', (c: Buffer) => (out = take(out, c)));
    child.stderr.on('data', (c: Buffer) => (err = take(err, c)));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    const finish = (code: number | null, extra = '') => {
      clearTimeout(timer);
      const output = [out.trim(), err.trim(), extra].filter(Boolean).join('\n').slice(0, MAX_OUTPUT);
      resolve({ code, output, timedOut, ms: performance.now() - started });
    };
    child.on('error', (e) => finish(null, e.message));
    child.on('close', (code) => finish(timedOut ? null : code));
  });

/** Quotes a value for `/bin/sh`. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
