import { statSync, watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

/**
 * Notices each new version of an output file that is installed by rename
 * (write a temp file beside it, rename over it), as Switchyard's targets do.
 *
 * Why fs.watch and not polling: inotify wakes us within microseconds of the
 * rename and costs nothing in between, so the measuring process takes no CPU
 * from the measured one on a 2-core machine; polling stat() at 1 ms would
 * cost a steady few percent of a core and still quantise by up to 1 ms. A
 * rename always gives the file a new inode, so "the inode differs from the
 * last one seen" is the test for "a new file is in place"; the timestamp is
 * taken right then, and the content check (reading up to tens of MB) runs
 * after it, off the clock. A slow stat() poll (every 250 ms) backs the
 * watcher up in case an inotify event is ever lost; a version found by it
 * is flagged.
 */
export class OutputWatcher {
  private readonly watcher: FSWatcher;
  private readonly poll: NodeJS.Timeout;
  private lastIno: number | null;
  private waiters: Array<() => void> = [];
  /** Versions seen: when, and whether the poll rather than inotify found it. */
  private seen: Array<{ ino: number; at: bigint; polled: boolean }> = [];

  constructor(readonly file: string) {
    this.lastIno = inode(file);
    const name = basename(file);
    this.watcher = watch(dirname(file), (_event, filename) => {
      if (filename === name) this.check(false);
    });
    this.poll = setInterval(() => this.check(true), 250);
  }

  close(): void {
    this.watcher.close();
    clearInterval(this.poll);
  }

  /**
   * Resolves with the time the first new version satisfying `accept(content)` appeared,
   * counting only versions installed after this call; rejects after timeoutMs.
   */
  async next(
    accept: (content: string) => boolean,
    timeoutMs: number,
  ): Promise<{ at: bigint; polled: boolean; content: string }> {
    const deadline = Date.now() + timeoutMs;
    let from = this.seen.length;
    for (;;) {
      while (from < this.seen.length) {
        const version = this.seen[from++]!;
        let content: string;
        try {
          content = await readFile(this.file, 'utf8');
        } catch {
          continue;
        }
        // The file may have been replaced again meanwhile; a later version is checked in its turn.
        if (inode(this.file) === version.ino && accept(content))
          return { at: version.at, polled: version.polled, content };
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no accepted new version of ${this.file} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private check(polled: boolean): void {
    const at = process.hrtime.bigint();
    const ino = inode(this.file);
    if (ino === null || ino === this.lastIno) return;
    this.lastIno = ino;
    this.seen.push({ ino, at, polled });
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

function inode(file: string): number | null {
  try {
    const st = statSync(file);
    return st.size > 0 ? st.ino : null;
  } catch {
    return null;
  }
}
