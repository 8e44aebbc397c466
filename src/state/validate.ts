import { isIPv6 } from 'node:net';
import { BALANCE_ALGORITHMS, type Balance, type Mode } from './model.js';
import type { Reject } from './rejection.js';

// The boundary checks every source applies before a value may enter the
// state. Each is an allowlist: what passes is safe to print bare into an
// HAProxy or nginx config, so no registry value can start a new line, a
// comment, a block or a second argument.

const ID = /^[A-Za-z0-9._/-]{1,200}$/;
const LABEL_HOST = /^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$/;
const PATH = /^\/[A-Za-z0-9._~%/:@!&*+,=-]{0,254}$/;
const BACKEND_ID = /^[A-Za-z0-9._:@-]{1,200}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
// The alphabet of an IPv6 literal as registries write it (no brackets, no zone id); isIPv6 checks the grammar.
const IPV6 = /^[0-9A-Fa-f:.]{2,45}$/;
const CERT_PATH = /^(\/[A-Za-z0-9._-]+)+$/;
// Control characters, including the Unicode line and paragraph separators
// some config readers also break lines on.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** A service id: `[A-Za-z0-9._/-]`, no `..` segment games, at most 200 characters. */
export function isServiceId(s: unknown): s is string {
  return typeof s === 'string' && ID.test(s) && !s.split('/').some((seg) => seg === '..');
}

/** A backend id, used (escaped) as a proxy server name. */
export function isBackendId(s: unknown): s is string {
  return typeof s === 'string' && BACKEND_ID.test(s);
}

/** A DNS name (RFC 1123 labels, underscores tolerated as real registries use them) or an IPv4/IPv6 literal. */
export function isHost(s: unknown): s is string {
  if (typeof s !== 'string' || s.length === 0 || s.length > 253) return false;
  if (IPV4.test(s)) return true;
  // A real IPv6 address, not merely its alphabet: `a:b` or `:::` would read as host:port to a proxy.
  if (s.includes(':')) return IPV6.test(s) && isIPv6(s);
  return s.split('.').every((label) => LABEL_HOST.test(label)) && !/^\d+$/.test(s.split('.').pop()!);
}

/** A virtual host as matched against the Host header: a DNS name (not an IP literal), optionally with one leading `*.` wildcard. */
export function isVhost(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  const bare = s.startsWith('*.') ? s.slice(2) : s;
  // Not IPV6.test: that alphabet also spells DNS names such as "cafe.be".
  return bare.length > 0 && !bare.includes(':') && !IPV4.test(bare) && isHost(bare);
}

/**
 * A URL path prefix: starts with `/`, no spaces, quotes, `#`, `;`, braces,
 * `$` or control characters, and no `.` or `..` segment (proxies normalize
 * those away before matching, so such a prefix could only mislead).
 */
export function isPathPrefix(s: unknown): s is string {
  return typeof s === 'string' && PATH.test(s) && !s.split('/').some((seg) => seg === '.' || seg === '..');
}

export function isPort(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

/** HAProxy's weight range. */
export function isWeight(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 256;
}

/** An integer from `min` to `max`, both included. */
export function isIntegerIn(n: unknown, min: number, max: number): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max;
}

/** Parses a decimal integer written as a label value; null when it is not one within `min`–`max`. */
export function parseInteger(v: string, min: number, max: number): number | null {
  const n = /^-?\d{1,9}$/.test(v.trim()) ? Number(v.trim()) : null;
  return isIntegerIn(n, min, max) ? n : null;
}

/** An address a listener may bind: an IPv4 or IPv6 literal, never a name (a bind must not depend on DNS). */
export function isBindAddress(s: unknown): s is string {
  return typeof s === 'string' && (IPV4.test(s) || (IPV6.test(s) && isIPv6(s)));
}

/**
 * A certificate file for HAProxy's `crt`: an absolute path of
 * `[A-Za-z0-9._-]` segments, none of them `.` or `..`, at most 255 characters.
 */
export function isCertPath(s: unknown): s is string {
  return (
    typeof s === 'string' &&
    s.length <= 255 &&
    CERT_PATH.test(s) &&
    !s.split('/').some((seg) => seg === '.' || seg === '..')
  );
}

export function isMode(s: unknown): s is Mode {
  return s === 'http' || s === 'tcp';
}

export function isBalance(s: unknown): s is Balance {
  return typeof s === 'string' && (BALANCE_ALGORITHMS as readonly string[]).includes(s);
}

/** Free text that stays on one line: labels, env values. At most 4096 characters. */
export function isSingleLine(s: unknown, max = 4096): s is string {
  return typeof s === 'string' && s.length <= max && !CONTROL.test(s);
}

// An ACL criterion: a sample fetch with optional arguments and converters, `req.hdr(host),field(1,:)`.
const ACL_CRITERION = /^[a-z_][a-z0-9_.]*(?:\([^()"'\\\s]*\))?(?:,[a-z_][a-z0-9_.]*(?:\([^()"'\\\s]*\))?)*$/;
// Fetches and converters that read the environment or files: an ACL built on them is an oracle for their contents.
const ACL_READER = /(?:^|,)(?:env|map[a-z0-9_]*)(?:\(|,|$)/;

/**
 * A raw HAProxy ACL criterion (Bamboo's `acl`, the text after `acl <name>`):
 * one line of printable ASCII, no comment sign, starting with a sample fetch,
 * words quoted and escaped as HAProxy reads them (an unbalanced quote or a
 * trailing backslash would fail the whole config), no `$` inside double
 * quotes (HAProxy expands environment variables there), and neither pattern
 * files (`-f`) nor the `env` fetch or `map` converters, which read the host's
 * environment and files. It is operator-supplied through the guarded rules
 * API only. Whether HAProxy knows the fetch is left to its own check.
 */
export function isAclCondition(s: unknown): s is string {
  if (typeof s !== 'string' || s.length === 0 || s.length > 1024 || !/^[\x20-\x7e]+$/.test(s) || s.includes('#'))
    return false;
  const words = haproxyWords(s);
  if (!words || words.length === 0) return false;
  const criterion = s.trimStart().split(/[ \t]/)[0]!;
  return ACL_CRITERION.test(criterion) && !ACL_READER.test(criterion) && !words.includes('-f');
}

/**
 * Splits one HAProxy config line into words the way HAProxy does (blanks
 * separate, `\` escapes, '…' is literal, "…" is literal but for `\` escapes
 * and `$` expansion); null when a quote is left open, a backslash ends the
 * line, or a `$` would be expanded.
 */
export function haproxyWords(line: string): string[] | null {
  const words: string[] = [];
  let word: string | null = null;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
      continue;
    }
    if (c === '\\') {
      if (i + 1 >= line.length) return null;
      word = (word ?? '') + line[++i];
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '$') return null;
      else word += c;
      continue;
    }
    if (c === ' ' || c === '\t') {
      if (word !== null) words.push(word);
      word = null;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote) return null;
  if (word !== null) words.push(word);
  return words;
}

/** Splits a comma-separated label value, trimming blanks. */
export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

/** Parses a decimal port written as a string or number; null when it is not one. */
export function parsePort(v: unknown): number | null {
  const n = typeof v === 'string' && /^\d{1,5}$/.test(v.trim()) ? Number(v.trim()) : v;
  return isPort(n) ? n : null;
}

/**
 * Keeps the string entries of `where`'s `field` that stay on one line, and
 * rejects the rest (a missing or null map is no map, not a rejection).
 * `__proto__` is dropped too: assigning it would set the prototype (or,
 * being a string, silently do nothing) rather than keep a label.
 */
export function safeStringMap(input: unknown, where: string, field: string, reject: Reject): Record<string, string> {
  const out: Record<string, string> = {};
  if (input === undefined || input === null) return out;
  if (typeof input !== 'object' || Array.isArray(input)) {
    reject({ where, field, value: input, expected: 'an object of one-line strings' });
    return out;
  }
  for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
    if (isSingleLine(k, 256) && isSingleLine(v) && k !== '__proto__') out[k] = v;
    else reject({ where, field: `${field}.${k}`, value: v, expected: 'a one-line string under a one-line key' });
  }
  return out;
}
