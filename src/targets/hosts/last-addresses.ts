import { isIP } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { readRegularFile } from '../../sources/regular-file.js';
import { installText } from '../install.js';

// The addresses a target's installed config was rendered with, kept beside
// it: HAProxy's `init-addr last` takes a server's address from the state
// file of the last run, and so does a restarted Switchyard. Without it a
// restart while the resolver fails would take every backend with a host name
// out of the config — the outage the last good address exists to prevent.

/** Larger than any real one (10000 names × ~300 bytes); a bigger file is not ours and is ignored. */
const MAX_BYTES = 4 * 1024 * 1024;

/** Where a target keeps them: a dot-file beside its output. */
export function lastAddressesPath(output: string): string {
  return join(dirname(output), `.${basename(output)}.hosts.json`);
}

/** The host name → address pairs of the last install; empty when there is no file, or it is not one of ours. */
export async function readLastAddresses(output: string): Promise<Map<string, string>> {
  const read = await readRegularFile(lastAddressesPath(output), MAX_BYTES, 'last addresses').catch(() => null);
  const out = new Map<string, string>();
  if (!read?.ok) return out;
  let raw: unknown;
  try {
    raw = JSON.parse(read.bytes.toString('utf8'));
  } catch {
    return out;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return out;
  // Only addresses go back into a config: a hand-edited value that is not one is dropped.
  for (const [host, address] of Object.entries(raw))
    if (typeof address === 'string' && isIP(address) !== 0) out.set(host, address);
  return out;
}

/** Records the pairs an installed config was rendered with. */
export async function writeLastAddresses(output: string, pairs: ReadonlyMap<string, string>): Promise<void> {
  const sorted = Object.fromEntries([...pairs].sort(([a], [b]) => (a < b ? -1 : 1)));
  await installText(lastAddressesPath(output), JSON.stringify(sorted) + '\n');
}
