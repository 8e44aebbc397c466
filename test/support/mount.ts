import { execFileSync } from 'node:child_process';

/**
 * Runs mount(8). Remounting read-only is refused while a file on it is open for
 * writing (the daemon writes and fsyncs its install record just after an
 * install; on a busy disk that fsync can take seconds): that refusal
 * is retried for up to 20 s, as an operator would.
 */
export function mount(...args: string[]): void {
  for (let tries = 0; ; tries++) {
    try {
      execFileSync('mount', args, { stdio: 'pipe' });
      return;
    } catch (e) {
      if (tries >= 200 || !String((e as { stderr?: Buffer }).stderr ?? '').includes('busy')) throw e;
      execFileSync('sleep', ['0.1']);
    }
  }
}

/** Undoes a mount made by a spec, if it is still there. */
export function unmount(path: string): void {
  try {
    execFileSync('umount', [path], { stdio: 'pipe' });
  } catch {
    // not mounted (any more)
  }
}
