import { BALANCE_ALGORITHMS, type Balance, type Mode } from './model.js';

// The boundary checks every source applies before a value may enter the
// state. Each is an allowlist: what passes is safe to print bare into an
// HAProxy or nginx config, so no registry value can start a new line, a
// comment, a block or a second argument.

const ID = /^[A-Za-z0-9._/-]{1,200}$/;
const LABEL_HOST = /^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$/;
const PATH = /^\/[A-Za-z0-9._~%/:@!&*+,=-]{0,254}$/;
const BACKEND_ID = /^[A-Za-z0-9._:@-]{1,200}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9A-Fa-f:.]{2,45}$/;
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
  if (s.includes(':')) return IPV6.test(s) && s.split(':').length <= 8;
  return s.split('.').every((label) => LABEL_HOST.test(label)) && !/^\d+$/.test(s.split('.').pop()!);
}

/** A virtual host as matched against the Host header: a DNS name, optionally with one leading `*.` wildcard. */
export function isVhost(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  const bare = s.startsWith('*.') ? s.slice(2) : s;
  return bare.length > 0 && !IPV6.test(bare) && isHost(bare);
}

/** A URL path prefix: starts with `/`, no spaces, quotes, `#`, `;`, braces or control characters. */
export function isPathPrefix(s: unknown): s is string {
  return typeof s === 'string' && PATH.test(s);
}

export function isPort(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

/** HAProxy's weight range. */
export function isWeight(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 256;
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

/**
 * A raw HAProxy condition (Bamboo's `acl`): one line, printable ASCII, no
 * comment sign. It is operator-supplied through the guarded rules API only.
 */
export function isAclCondition(s: unknown): s is string {
  return typeof s === 'string' && s.length > 0 && s.length <= 1024 && /^[\x20-\x7e]+$/.test(s) && !s.includes('#');
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

/** Keeps the string entries that stay on one line; reports the keys dropped. */
export function safeStringMap(
  input: unknown,
  onDrop: (key: string) => void,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return out;
  for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
    if (isSingleLine(k, 256) && isSingleLine(v)) out[k] = v;
    else onDrop(k);
  }
  return out;
}
