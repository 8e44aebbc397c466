import { constants, type Stats } from 'node:fs';
import { lstat, open, realpath } from 'node:fs/promises';
import { messageOf } from '../errors.js';

/** A registry file read, or why it was not: the reason names the problem, never the content. */
export type FileRead =
  | { readonly ok: true; readonly bytes: Buffer }
  /** `limit`: the config key of the size limit it went past, when that was why. */
  | { readonly ok: false; readonly reason: string; readonly limit?: string };

const CHUNK = 64 * 1024;

/**
 * Reads `path` if, once its symlinks are resolved (Kubernetes mounts
 * ConfigMaps as links), it is a regular file of at most `maxBytes`. Opened
 * non-blocking and checked on the open descriptor, so a FIFO, a device or a
 * file that grows while read can neither hang the source nor fill memory.
 */
export async function readRegularFile(path: string, maxBytes: number, limitKey: string): Promise<FileRead> {
  let real: string;
  try {
    real = await realpath(path);
    const kind = fileKind(await lstat(real));
    if (kind !== null) return { ok: false, reason: notRegular(path, real, kind) };
  } catch (e) {
    return { ok: false, reason: `cannot read: ${errorCode(e)}` };
  }
  let fh;
  try {
    fh = await open(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    return { ok: false, reason: `cannot open: ${errorCode(e)}` };
  }
  try {
    // Checked again on what was opened: the path may have been swapped since.
    const st = await fh.stat();
    const kind = fileKind(st);
    if (kind !== null) return { ok: false, reason: notRegular(path, real, kind) };
    const over = () => ({ ok: false as const, reason: `larger than ${maxBytes} bytes (${limitKey})`, limit: limitKey });
    if (st.size > maxBytes) return over();
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, maxBytes + 1 - total));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) return over();
      chunks.push(buf.subarray(0, bytesRead));
    }
    return { ok: true, bytes: Buffer.concat(chunks, total) };
  } catch (e) {
    return { ok: false, reason: `cannot read: ${errorCode(e)}` };
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** null for a regular file, else what it is. */
function fileKind(st: Stats): string | null {
  if (st.isFile()) return null;
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function notRegular(path: string, real: string, kind: string): string {
  return `not a regular file: ${real === path ? '' : `it resolves to ${real}, `}${kind}`;
}

function errorCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? messageOf(e);
}
