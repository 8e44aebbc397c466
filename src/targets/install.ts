import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

// Atomic installation: a reader of the output path sees the old file or the
// new one, never a part of either, even if the process dies mid-way.

/** A file written beside its destination, synced to disk, not yet in place. */
export interface Candidate {
  readonly path: string;
  install(): Promise<void>;
  discard(): Promise<void>;
}

/** Writes the content to a temporary file in the output's own directory (so rename is atomic) and fsyncs it. */
export async function writeCandidate(output: string, text: string | Buffer): Promise<Candidate> {
  const dir = dirname(output);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `.${basename(output)}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(path, 'wx', 0o644);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } catch (e) {
    await unlink(path).catch(() => undefined);
    throw e;
  } finally {
    await fh.close();
  }
  let done = false;
  return {
    path,
    async install() {
      await rename(path, output);
      done = true;
      await syncDir(dir);
    },
    async discard() {
      if (!done) await unlink(path).catch(() => undefined);
    },
  };
}

/** Atomically replaces `output` with the content. */
export async function installText(output: string, content: string | Buffer): Promise<void> {
  const c = await writeCandidate(output, content);
  try {
    await c.install();
  } finally {
    await c.discard();
  }
}

/** The file's content, or null when it does not exist. */
export async function readInstalled(output: string): Promise<string | null> {
  try {
    return await readFile(output, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Makes the rename itself durable. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    await fh.close();
  }
}
