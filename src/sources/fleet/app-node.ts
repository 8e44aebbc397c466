import { createHash } from 'node:crypto';
import type { Service } from '../../state/model.js';
import { partName } from './layout.js';

// One app's published services in ZooKeeper: a head znode holding a header
// line and the first bytes of the JSON, then as many part znodes as the rest
// needs. The header names the view version the app was written in and the
// digest of the whole JSON, so a reader can tell an app written by an update
// not yet committed (its version is ahead of the view's), and parts written
// by a newer update than their head (the digest does not match).

/** What a head znode says about its app. */
export interface AppHeader {
  /** The view version this content was written in. */
  readonly v: number;
  /** Znodes holding the JSON: the head and `parts - 1` part znodes. */
  readonly parts: number;
  /** sha256 (hex) of the whole JSON. */
  readonly sha: string;
}

/** One znode to write: its name under the apps path and its data. */
export interface AppZnode {
  readonly name: string;
  readonly data: Buffer;
}

/** An app ready to write: its digest and znodes, the parts first and the head last. */
export interface EncodedApp {
  readonly sha: string;
  readonly znodes: readonly AppZnode[];
}

/** Parts an app may have: with ~1 MB each, far beyond any real app. */
export const MAX_PARTS = 64;

/** The JSON of one app's services, in port order: the same services always give the same bytes (and digest). */
export function appJson(services: readonly Service[]): Buffer {
  return Buffer.from(JSON.stringify([...services].sort((a, b) => a.portIndex - b.portIndex)));
}

export function digest(json: Buffer): string {
  return createHash('sha256').update(json).digest('hex');
}

/** Splits an app's JSON into znodes of at most `partBytes` bytes each (the head's header line included). */
export function encodeApp(key: string, json: Buffer, version: number, partBytes: number): EncodedApp {
  const sha = digest(json);
  const headerFor = (parts: number) => Buffer.from(JSON.stringify({ v: version, parts, sha }) + '\n');
  // The header's length depends on the number of parts only through its digits: settle it in two rounds.
  let parts = 1;
  for (let round = 0; round < 2; round++) {
    const first = partBytes - headerFor(parts).length;
    parts = json.length <= first ? 1 : 1 + Math.ceil((json.length - first) / partBytes);
  }
  const header = headerFor(parts);
  const first = partBytes - header.length;
  if (parts > MAX_PARTS) throw new Error(`app ${decodeURIComponent(key)} needs ${parts} znodes; at most ${MAX_PARTS}`);
  const znodes: AppZnode[] = [];
  for (let i = 1; i < parts; i++) {
    const start = first + (i - 1) * partBytes;
    znodes.push({ name: partName(key, i), data: json.subarray(start, start + partBytes) });
  }
  znodes.push({ name: key, data: Buffer.concat([header, json.subarray(0, first)]) });
  return { sha, znodes };
}

/** A head znode's header and the JSON bytes it carries; null when it is not one. */
export function readHead(data: Buffer): { header: AppHeader; body: Buffer } | null {
  const nl = data.indexOf(0x0a);
  if (nl < 0 || nl > 512) return null;
  let h: unknown;
  try {
    h = JSON.parse(data.subarray(0, nl).toString('utf8'));
  } catch {
    return null;
  }
  const { v, parts, sha } = (h ?? {}) as Record<string, unknown>;
  if (!Number.isSafeInteger(v) || (v as number) < 0) return null;
  if (!Number.isInteger(parts) || (parts as number) < 1 || (parts as number) > MAX_PARTS) return null;
  if (typeof sha !== 'string' || !/^[0-9a-f]{64}$/.test(sha)) return null;
  return { header: { v: v as number, parts: parts as number, sha }, body: data.subarray(nl + 1) };
}

/** Reassembling an app from its znodes: the JSON, or why not (yet). */
export type Assembled =
  | { readonly kind: 'ok'; readonly header: AppHeader; readonly json: Buffer }
  /** Written by an update not committed yet, or parts from another update than the head: wait for the next view. */
  | { readonly kind: 'pending'; readonly reason: string }
  | { readonly kind: 'invalid'; readonly reason: string };

/** Puts an app together from its head and `part(i)` (i = 1…parts-1), checked against the view's version and the digest. */
export function assemble(head: Buffer, part: (i: number) => Buffer | null, committed: number): Assembled {
  const read = readHead(head);
  if (!read) return { kind: 'invalid', reason: 'a header line {"v","parts","sha"}' };
  const { header, body } = read;
  if (header.v > committed) return { kind: 'pending', reason: `written in version ${header.v}, view at ${committed}` };
  const chunks = [body];
  for (let i = 1; i < header.parts; i++) {
    const p = part(i);
    if (!p) return { kind: 'pending', reason: `part ${i} of ${header.parts - 1} missing` };
    chunks.push(p);
  }
  const json = chunks.length === 1 ? body : Buffer.concat(chunks);
  if (digest(json) !== header.sha) return { kind: 'pending', reason: 'parts do not match the head (being rewritten)' };
  return { kind: 'ok', header, json };
}
