// Reading `server` lines out of an HAProxy config, to tell a membership
// change (only server addresses, weights and enabled states differ) from a
// structural one (anything else).

/** One `server` line: its section, name, address, and the parameters the runtime API can change apart from the rest. */
export interface ServerLine {
  readonly backend: string;
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  readonly disabled: boolean;
  /** Every other parameter, in order: must be equal for a change to be membership only. */
  readonly rest: string;
}

/** A server whose address, weight or enabled state differs between two configs. */
export interface ServerChange {
  readonly from: ServerLine;
  readonly to: ServerLine;
}

const SECTION =
  /^(global|defaults|frontend|backend|listen|peers|resolvers|userlist|program|cache|ring|http-errors|mailers)\b\s*(\S*)/;
const SERVER = /^\s+server\s+(\S+)\s+(\S+)(.*)$/;

/** Parses a server line in a section; null when it is not one or its address has no port. */
export function parseServer(line: string, backend: string): ServerLine | null {
  const m = SERVER.exec(line);
  if (!m) return null;
  const [, name, addr, tail] = m as unknown as [string, string, string, string];
  const colon = addr.lastIndexOf(':');
  const port = Number(addr.slice(colon + 1));
  if (colon < 1 || !Number.isInteger(port)) return null;
  const tokens = tail.trim().split(/\s+/).filter(Boolean);
  let weight = 1;
  let disabled = false;
  const rest: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i] === 'weight' && i + 1 < tokens.length) weight = Number(tokens[++i]);
    else if (tokens[i] === 'disabled') disabled = true;
    else rest.push(tokens[i]!);
  }
  return {
    backend,
    name,
    host: addr.slice(0, colon).replace(/^\[|\]$/g, ''),
    port,
    weight,
    disabled,
    rest: rest.join(' '),
  };
}

/**
 * The server changes that turn `before` into `after`, when those are all
 * that differ; null when anything else changed (the change is structural).
 */
export function membershipChanges(before: string, after: string): ServerChange[] | null {
  const a = before.split('\n');
  const b = after.split('\n');
  if (a.length !== b.length) return null;
  const changes: ServerChange[] = [];
  let section = '';
  for (let i = 0; i < a.length; i++) {
    const header = SECTION.exec(b[i]!);
    if (header) section = header[2] ?? '';
    if (a[i] === b[i]) continue;
    const from = parseServer(a[i]!, section);
    const to = parseServer(b[i]!, section);
    if (!from || !to || from.name !== to.name || from.rest !== to.rest || section === '') return null;
    changes.push({ from, to });
  }
  return changes;
}

/** Every server line of a config, by `backend/name`. */
export function serversOf(config: string): Map<string, ServerLine> {
  const out = new Map<string, ServerLine>();
  let section = '';
  for (const line of config.split('\n')) {
    const header = SECTION.exec(line);
    if (header) section = header[2] ?? '';
    const s = parseServer(line, section);
    if (s) out.set(`${s.backend}/${s.name}`, s);
  }
  return out;
}

/**
 * The slot hint of an installed config written by the default template
 * (backend sections named by escaped service id, servers `s1`…`sN`, parked
 * ones disabled at 127.0.0.1:1); empty for a config of any other shape.
 */
export function slotHint(config: string): Map<string, (string | null)[]> {
  const hint = new Map<string, (string | null)[]>();
  for (const s of serversOf(config).values()) {
    const n = /^s(\d+)$/.exec(s.name);
    if (!n) continue;
    const id = s.backend.replace(/::/g, '/');
    const slots = hint.get(id) ?? [];
    slots[Number(n[1]) - 1] = s.disabled && s.host === '127.0.0.1' && s.port === 1 ? null : `${s.host}:${s.port}`;
    hint.set(id, slots);
  }
  for (const slots of hint.values()) for (let i = 0; i < slots.length; i++) slots[i] ??= null;
  return hint;
}
