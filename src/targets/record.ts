import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Snapshot } from '../state/model.js';
import { slotHint } from './haproxy/servers.js';
import { installText } from './install.js';

// What the last process knew about a target's installed file, kept beside
// it. The file alone cannot say whether the proxy ever loaded it (a process
// killed between install and reload leaves a file the proxy never saw), nor
// how many backends each service had (a template's output is not data).

/**
 * The record of an install the proxy took (reloaded, updated live, or no
 * reload configured): the file's digest, and the backend count per service
 * of the snapshot it was rendered from. Written after the install, so a
 * file whose digest differs was never confirmed.
 */
export interface InstallRecord {
  readonly sha256: string;
  readonly version: number;
  readonly backends: Readonly<Record<string, number>>;
  /** The digest of the template version it was rendered from (templateDigest): proven here, it needs no render trial at the next start. */
  readonly template: string | null;
}

/** Where a target's record lives: a dot-file beside its output. */
export function recordPath(output: string): string {
  return join(dirname(output), `.${basename(output)}.switchyard.json`);
}

/** The digest of a config's bytes (a string is taken as UTF-8). */
export function digest(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The digest of a template version: every file's path and text as compiled. */
export function templateDigest(texts: ReadonlyMap<string, string>): string {
  return digest(JSON.stringify([...texts]));
}

/** Records that the proxy took `text`, rendered from `snapshot` with the template version of digest `template`. */
export async function writeRecord(
  output: string,
  text: string | Buffer,
  snapshot: Snapshot,
  template: string | null,
): Promise<void> {
  const backends: Record<string, number> = {};
  for (const s of snapshot.services) backends[s.id] = s.backends.length;
  const record: InstallRecord = { sha256: digest(text), version: snapshot.version, backends, template };
  await installText(recordPath(output), JSON.stringify(record) + '\n');
}

/** What the record says of the installed file: confirmed (with its backends), unconfirmed, or nothing installed. */
export type InstalledState =
  | { readonly kind: 'none' }
  | { readonly kind: 'confirmed'; readonly text: string; readonly record: InstallRecord }
  | {
      readonly kind: 'unconfirmed';
      readonly text: string;
      readonly why: string;
      readonly record: InstallRecord | null;
    };

/** Reads the output and its record; a missing, unreadable or stale record leaves the file unconfirmed. */
export async function installedState(output: string): Promise<InstalledState> {
  let text: string;
  try {
    text = await readFile(output, 'utf8');
  } catch {
    return { kind: 'none' };
  }
  let record: InstallRecord | null;
  try {
    record = parseRecord(await readFile(recordPath(output), 'utf8'));
  } catch {
    return { kind: 'unconfirmed', text, why: 'no install record beside it', record: null };
  }
  if (!record) return { kind: 'unconfirmed', text, why: 'its install record is not readable', record: null };
  if (record.sha256 !== digest(text))
    return { kind: 'unconfirmed', text, why: 'it differs from the last install the proxy took', record };
  return { kind: 'confirmed', text, record };
}

/**
 * Backend count per service of the config the proxy runs: the record's
 * (an unconfirmed file's record still describes the last install the proxy
 * took), or, with no record, what the default HAProxy template's server
 * slots hold; empty when neither says.
 */
export function installedBackends(state: InstalledState): Map<string, number> {
  if (state.kind === 'none') return new Map();
  if (state.record) return new Map(Object.entries(state.record.backends));
  const counts = new Map<string, number>();
  for (const [id, slots] of slotHint(state.text)) counts.set(id, slots.filter((s) => s !== null).length);
  return counts;
}

/** The record from its JSON, or null when it is not one (a hand edit, a truncated write from elsewhere). */
function parseRecord(text: string): InstallRecord | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  const r = raw as Partial<InstallRecord> | null;
  if (!r || typeof r.sha256 !== 'string' || typeof r.version !== 'number' || !r.backends) return null;
  if (typeof r.backends !== 'object' || Array.isArray(r.backends)) return null;
  const backends: Record<string, number> = {};
  for (const [id, n] of Object.entries(r.backends))
    if (Number.isInteger(n) && (n as number) >= 0) backends[id] = n as number;
  return {
    sha256: r.sha256,
    version: r.version,
    backends,
    template: typeof r.template === 'string' ? r.template : null,
  };
}
