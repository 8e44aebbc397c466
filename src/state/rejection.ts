import { isSingleLine } from './validate.js';

// What every source reports when a value fails a boundary check, and the one
// way a value is shown in a log line or an error message. A source decides
// what a rejection costs (the field left out, the instance or service
// skipped) and how it is logged; the record only says what was refused.

/** A registry value refused at the trust boundary: where it was, which field, the value itself, and what was expected. */
export interface Rejection {
  /** What holds the value, as an operator would look for it: a Marathon app id, a znode path, `services[3] (web)`. */
  readonly where: string;
  /** The field inside it, dotted: `labels.HAPROXY_0_PORT`, `tasks[].host`, `backends[0].port`. */
  readonly field: string;
  /** The value as it came; `undefined` when the field is missing. Shown only through describeValue. */
  readonly value: unknown;
  /** What would have been taken, in words: `a port 1-65535`. */
  readonly expected: string;
}

/** Hears the rejections of one check; the source that passes it in logs them. */
export type Reject = (rejection: Rejection) => void;

/**
 * The rejection as one line, without its `where` (which a log line carries in
 * a field of its own): `bad port 70000: expected a port 1-65535`, or
 * `missing port: expected a port 1-65535`. A field name that is itself hostile (a
 * label key from the registry) is shown quoted, like the value.
 */
export function rejectionReason(r: Rejection): string {
  const field = isSingleLine(r.field, 200) ? r.field : describeValue(r.field, 200);
  if (r.value === undefined) return `missing ${field}: expected ${r.expected}`;
  return `bad ${field} ${describeValue(r.value)}: expected ${r.expected}`;
}

/** The rejection as one line with its place first, for messages that have no separate field for it. */
export function describeRejection(r: Rejection): string {
  const where = isSingleLine(r.where, 200) ? r.where : describeValue(r.where, 200);
  return `${where}: ${rejectionReason(r)}`;
}

/**
 * A value quoted for a log line or an error message: JSON (so control
 * characters show escaped and cannot forge a line), cut to `max` characters.
 * Never throws: JSON too deep to serialize, or an object whose `toString` is
 * data, is described by its type instead.
 */
export function describeValue(v: unknown, max = 80): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = Array.isArray(v) ? `(an array nested too deep to show)` : `(${typeof v} that cannot be shown)`;
  }
  return s.length > max ? s.slice(0, max - 3) + '...' : s;
}
