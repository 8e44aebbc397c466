import type { HelperDelegate } from 'handlebars';
import { describeValue } from '../state/rejection.js';
import { isHost, isPathPrefix, isPort, isSingleLine } from '../state/validate.js';

// Template helpers. The config-context ones refuse what they cannot make safe
// by throwing: the render fails, the last good config stays, and the error
// names the value. They are the second line of defence; the sources' checks
// are the first. Their names are ones no data field uses (`asPort`, not
// `port`, which would shadow `{{port}}`).

/** A helper refused a value; the message says which helper and which value. */
export class HelperRefusal extends Error {
  override name = 'HelperRefusal';
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
/** nginx fails a config with a word (or comment) near its 4 KB read buffer; measured: 4094 characters fail. */
const MAX_NGINX_WORD = 2048;

function refuse(helper: string, value: unknown, expected: string): never {
  throw new HelperRefusal(`${helper}: refused ${describeValue(value)}: expected ${expected}`);
}

/**
 * The text of a scalar (null and undefined print as nothing); anything else
 * is refused: an object's or array's text is not a value the template meant,
 * and one with a `toString` key would not even convert.
 */
function text(helper: string, value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return refuse(helper, value, 'a string, number or boolean');
}

/** Handlebars passes its options object last; this drops it. */
function args(list: unknown[]): unknown[] {
  return list.slice(0, -1);
}

const configHelpers: Record<string, HelperDelegate> = {
  /**
   * A bare HAProxy word: printable ASCII without spaces, quotes, backslash,
   * `#` or `%` (which starts a sample expression or a variable wherever
   * HAProxy reads a log-format string, such as a header value).
   */
  haproxyToken(value: unknown) {
    if (typeof value !== 'string' && typeof value !== 'number') refuse('haproxyToken', value, 'a string or number');
    const s = String(value);
    if (!/^[\x21-\x7e]+$/.test(s) || /["'\\#%]/.test(s))
      refuse('haproxyToken', value, 'one word of printable ASCII without quotes, "\\", "#" or "%"');
    return s;
  },
  /**
   * An HAProxy double-quoted string, `\`, `"` and `$` escaped. `%` is
   * refused: in a log-format string (`http-request set-header`, `return`…)
   * it runs a sample expression (`%[env(SECRET)]`) or fails the whole config,
   * and no escape is right in both kinds of string. So is the empty string:
   * HAProxy drops an empty word, and the words after it would move into its
   * place (`cookie "" check` is a cookie named `check`).
   */
  haproxyString(value: unknown) {
    const s = text('haproxyString', value);
    if (s === '' || CONTROL.test(s) || s.includes('%'))
      refuse('haproxyString', value, 'a non-empty string without control characters or "%"');
    return `"${s.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
  },
  /**
   * An nginx double-quoted string; `$` is refused because nginx expands
   * variables in most strings and has no escape for it, and so is anything
   * over MAX_NGINX_WORD characters: nginx reads its config in 4 KB pieces and
   * fails the whole file on a word that does not fit in one.
   */
  nginxString(value: unknown) {
    const s = text('nginxString', value);
    if (CONTROL.test(s) || s.includes('$') || s.length > MAX_NGINX_WORD)
      refuse('nginxString', value, `no control characters, no "$", at most ${MAX_NGINX_WORD} characters`);
    return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  },
  asHostname(value: unknown) {
    if (!isHost(value)) refuse('asHostname', value, 'a hostname or IP address');
    return value;
  },
  asPort(value: unknown) {
    const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
    if (!isPort(n)) refuse('asPort', value, 'a port 1-65535');
    return n;
  },
  asPath(value: unknown) {
    if (!isPathPrefix(value)) refuse('asPath', value, 'a URL path');
    return value;
  },
  asCidr(value: unknown) {
    const s = typeof value === 'string' ? value : '';
    const m = /^([0-9.]+|[0-9A-Fa-f:]+)\/(\d{1,3})$/.exec(s);
    if (!m || !isHost(m[1]) || Number(m[2]) > (m[1]!.includes(':') ? 128 : 32))
      refuse('asCidr', value, 'an address/prefix-length');
    return s;
  },
  /** Any single-line text, for comments and the like; at most MAX_NGINX_WORD characters (nginx refuses a longer comment too). */
  asLine(value: unknown) {
    const s = text('asLine', value);
    if (!isSingleLine(s, MAX_NGINX_WORD))
      refuse('asLine', value, `a single line of at most ${MAX_NGINX_WORD} characters`);
    return s;
  },
  /** `host:port` as a proxy's server line wants it: an IPv6 address in brackets (`[::1]:8080`), which nginx requires. */
  asHostPort(host: unknown, port: unknown) {
    if (!isHost(host)) refuse('asHostPort', host, 'a hostname or IP address');
    if (!isPort(port)) refuse('asHostPort', port, 'a port 1-65535');
    return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  },
};

const logicHelpers: Record<string, HelperDelegate> = {
  eq: (a: unknown, b: unknown) => a === b,
  ne: (a: unknown, b: unknown) => a !== b,
  gt: (a: unknown, b: unknown) => Number(a) > Number(b),
  lt: (a: unknown, b: unknown) => Number(a) < Number(b),
  not: (a: unknown) => !a,
  and: (...list: unknown[]) => args(list).every(Boolean),
  or: (...list: unknown[]) => args(list).some(Boolean),
  /** The first argument that is not empty. */
  default: (...list: unknown[]) => args(list).find((v) => v !== undefined && v !== null && v !== '') ?? '',
  length: (v: unknown) => (Array.isArray(v) ? v.length : v && typeof v === 'object' ? Object.keys(v).length : 0),
  add: (a: unknown, b: unknown) => Number(a) + Number(b),
  startsWith: (s: unknown, prefix: unknown) => String(s ?? '').startsWith(String(prefix)),
  endsWith: (s: unknown, suffix: unknown) => String(s ?? '').endsWith(String(suffix)),
  trimPrefix: (s: unknown, prefix: unknown) =>
    String(s ?? '').startsWith(String(prefix)) ? String(s).slice(String(prefix).length) : String(s ?? ''),
  /** Sorts a list by a field (or by itself), ascending. */
  sortBy(list: unknown, ...rest: unknown[]) {
    const field = args(rest)[0];
    if (!Array.isArray(list)) return [];
    const key = (v: unknown) =>
      (typeof field === 'string' && v && typeof v === 'object' ? (v as Record<string, unknown>)[field] : v) as
        string | number;
    return [...list].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  },
  /** The first item of a list whose field equals the value, or null. */
  find(list: unknown, field: unknown, value: unknown) {
    if (!Array.isArray(list)) return null;
    return (
      list.find((v) => v && typeof v === 'object' && (v as Record<string, unknown>)[String(field)] === value) ?? null
    );
  },
  /** Groups a list by a field: [{key, items}], keys in first-seen order. */
  groupBy(list: unknown, field: unknown) {
    const groups = new Map<unknown, unknown[]>();
    for (const v of Array.isArray(list) ? list : []) {
      const k = v && typeof v === 'object' ? (v as Record<string, unknown>)[String(field)] : undefined;
      const g = groups.get(k);
      if (g) g.push(v);
      else groups.set(k, [v]);
    }
    return [...groups].map(([key, items]) => ({ key, items }));
  },
};

/** Bamboo's template functions, by their names. */
const bambooHelpers: Record<string, HelperDelegate> = {
  hasKey: (map: unknown, key: unknown) =>
    !!map && typeof map === 'object' && Object.prototype.hasOwnProperty.call(map, String(key)),
  getService(services: unknown, id: unknown) {
    if (Array.isArray(services)) return services.find((s) => s?.id === id) ?? null;
    return services && typeof services === 'object'
      ? ((services as Record<string, unknown>)[String(id)] ?? null)
      : null;
  },
  split: (s: unknown, sep: unknown) => String(s ?? '').split(String(sep)),
  contains: (s: unknown, sub: unknown) => (Array.isArray(s) ? s.includes(sub) : String(s ?? '').includes(String(sub))),
  join: (list: unknown, sep: unknown) => (Array.isArray(list) ? list.join(typeof sep === 'string' ? sep : ',') : ''),
  replace: (s: unknown, from: unknown, to: unknown) =>
    String(s ?? '')
      .split(String(from))
      .join(String(to)),
  toUpper: (s: unknown) => String(s ?? '').toUpperCase(),
  toLower: (s: unknown) => String(s ?? '').toLowerCase(),
  toInt: (s: unknown) => {
    const n = Number.parseInt(String(s), 10);
    return Number.isNaN(n) ? 0 : n;
  },
};

/** Every helper Switchyard registers, by name. */
export const helpers: Record<string, HelperDelegate> = { ...configHelpers, ...logicHelpers, ...bambooHelpers };
