import { isIntegerIn, isSingleLine } from '../../state/validate.js';
import type { FleetSettings } from './settings.js';
import { messageOf } from '../../errors.js';

/**
 * The fleet's small znode: the committed view's version (apps written in a
 * later version are not part of it yet), who leads, the settings its view was
 * made with, and a heartbeat the leader moves while its Marathon view is
 * current. Every write to it is conditional on its znode version, which is
 * what fences a leader that lost its place.
 */
export interface ViewRecord {
  readonly version: number;
  /** Made when the view znode is created: versions compare only within one epoch. */
  readonly epoch: string;
  /** The version of the last commit that came from a full Marathon fetch (so followers pass it as a full view). */
  readonly syncVersion: number;
  /** The leader's member znode name. */
  readonly leader: string;
  /** The leader's own description (host, pid, HTTP address). */
  readonly leaderId: string;
  readonly settings: FleetSettings;
  readonly heartbeat: number;
  readonly members: number;
  readonly apps: number;
}

export function encodeView(v: ViewRecord): Buffer {
  return Buffer.from(JSON.stringify(v));
}

/** The view record in `data`, or the reason it is not one. */
export function decodeView(data: Buffer): ViewRecord | string {
  if (data.length > 16_384) return `view znode of ${data.length} bytes; at most 16384`;
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    return `view znode is not JSON: ${messageOf(e)}`;
  }
  if (v === null || typeof v !== 'object') return 'view znode is not an object';
  const counts = ['version', 'syncVersion', 'heartbeat', 'members', 'apps'] as const;
  for (const k of counts)
    if (!isIntegerIn(v[k], 0, Number.MAX_SAFE_INTEGER)) return `view znode: "${k}" is not a count`;
  for (const k of ['epoch', 'leader', 'leaderId'] as const)
    if (!isSingleLine(v[k], 256)) return `view znode: "${k}" is not one short line`;
  if (v.settings === null || typeof v.settings !== 'object') return 'view znode: "settings" missing';
  return v as unknown as ViewRecord;
}
