import { isIPv6 } from 'node:net';

// A corpus of hostile registry values, and a reference statement of what each
// field may legitimately hold, written apart from src/state/validate.ts so a
// spec can tell "rejected" from "accepted because it is a legitimate value".
//
// Every string entry is built on a legitimate base value of the field it goes
// into (`h.example.com` for a vhost, `/h` for a path...), so the hostile part
// is what a registry writer appends, prefixes or substitutes: a line break
// and a directive, a comment sign, a brace, a quote, a variable...

/**
 * A JSON value written as exact bytes: what JSON.stringify cannot produce
 * (1e309, invalid UTF-8, 10 000 nested arrays, an own "__proto__" key).
 */
export class RawJson {
  constructor(readonly bytes: Buffer) {}

  static of(text: string | Buffer): RawJson {
    return new RawJson(Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8'));
  }
}

/** A hostile value: what it is (for reports) and the value itself. */
export interface Hostile {
  readonly name: string;
  readonly value: unknown;
  /** A JSON string on the base value whose bytes are not UTF-8 (hostileBytes). */
  readonly bytes?: boolean;
}

/** The hostile value with `prefix` in front: of the string, or inside the JSON string of a bytes entry; other values as they are. */
export function prefixed(h: Hostile, prefix: string): unknown {
  if (typeof h.value === 'string') return prefix + h.value;
  if (h.bytes && h.value instanceof RawJson)
    return RawJson.of(Buffer.concat([Buffer.from(`"${prefix}`), h.value.bytes.subarray(1)]));
  return h.value;
}

/** Serializes like JSON.stringify, except that a RawJson anywhere inside is written as its bytes. */
export function jsonBytes(value: unknown): Buffer {
  const parts: Buffer[] = [];
  const write = (v: unknown): void => {
    if (v instanceof RawJson) parts.push(v.bytes);
    else if (Array.isArray(v)) {
      parts.push(Buffer.from('['));
      v.forEach((x, i) => {
        if (i > 0) parts.push(Buffer.from(','));
        write(x === undefined ? null : x);
      });
      parts.push(Buffer.from(']'));
    } else if (v !== null && typeof v === 'object') {
      parts.push(Buffer.from('{'));
      let first = true;
      for (const [k, x] of Object.entries(v)) {
        if (x === undefined) continue;
        if (!first) parts.push(Buffer.from(','));
        first = false;
        parts.push(Buffer.from(JSON.stringify(k)), Buffer.from(':'));
        write(x);
      }
      parts.push(Buffer.from('}'));
    } else {
      parts.push(Buffer.from(JSON.stringify(v) ?? 'null'));
    }
  };
  write(value);
  return Buffer.concat(parts);
}

/** 10 000 nested arrays: deeper than JSON.stringify (and String()) can recurse. */
export const DEEP_ARRAYS = RawJson.of('['.repeat(10_000) + ']'.repeat(10_000));

/** Hostile strings built on `base`, a legitimate value of the field they go into. */
export function hostileText(base: string): Hostile[] {
  const list: Array<[string, string]> = [
    ['newline', `${base}\n`],
    ['newline + directive', `${base}\n  bind :1`],
    ['CR + directive', `${base}\r  bind :1`],
    ['CRLF + directive', `${base}\r\nbind :1`],
    ['U+2028 line separator', `${base}\u2028bind :1`],
    ['U+2029 paragraph separator', `${base}\u2029bind :1`],
    ['U+0085 NEL', `${base}\u0085bind :1`],
    ['NUL', `${base}\u0000`],
    ['VT and FF', `${base}\u000b\u000c`],
    ['tab + word', `${base}\tbind`],
    ['comment sign', `${base}#`],
    ['space + comment', `${base} # evil`],
    ['semicolon', `${base};`],
    ['semicolon + directive', `${base}; return 200 pwned`],
    ['open brace', `${base}{`],
    ['space + open brace', `${base} {`],
    ['close brace', `${base}}`],
    ['lone close brace', '}'],
    ['nginx block escape', `${base}; } server { listen 1;`],
    ['double quote', `${base}"`],
    ['quoted', `"${base}"`],
    ['single quote', `${base}'`],
    ['backslash', `${base}\\`],
    ['backslash-n', `${base}\\n`],
    ['use_backend smuggling', 'x if TRUE\nuse_backend evil'],
    ['use_backend smuggling after value', `${base} if TRUE\nuse_backend evil if TRUE`],
    ['HAProxy section header', `${base}\nbackend evil`],
    ['nginx variable', '$host'],
    ['nginx variable after value', `${base}$host`],
    ['nginx braced variable', `${base}\${host}`],
    ['HAProxy environment expansion', '"${HOME}"'],
    ['10 kB', base + 'a'.repeat(10 * 1024)],
    ['space inside the token', `${base} evil`],
    ['leading and trailing space', ` ${base} `],
    ['%0a-encoded newline', `${base}%0a`],
    ['%0d%0a-encoded directive', `${base}%0d%0abind%20:1`],
    ['path traversal', `${base}/../x`],
    ['bidi override', `${base}\u202e`],
    ['zero-width space', `${base}\u200b`],
    ['empty', ''],
    ['only blanks', '   '],
  ];
  return list.map(([name, value]) => ({ name, value }));
}

/** Values of the wrong JSON type or shape: deep nesting, prototype keys, objects where strings go. */
export function hostileStructures(base: string): Hostile[] {
  return [
    { name: '10 000 nested arrays', value: DEEP_ARRAYS },
    { name: '__proto__ object', value: RawJson.of('{"__proto__":{"polluted":"yes"}}') },
    { name: 'constructor.prototype object', value: RawJson.of('{"constructor":{"prototype":{"polluted":"yes"}}}') },
    { name: 'toString/valueOf as data', value: RawJson.of('{"toString":1,"valueOf":1}') },
    { name: 'array of the value', value: [base] },
    { name: 'object holding the value', value: { value: base } },
    { name: 'true', value: true },
    { name: 'null', value: null },
  ];
}

/** JSON strings carrying bytes that are not UTF-8 (raw channels only: a znode, the file, an HTTP body, Marathon's answer). */
export function hostileBytes(base: string): Hostile[] {
  const str = (bytes: number[]) =>
    RawJson.of(Buffer.concat([Buffer.from(`"${base}`), Buffer.from(bytes), Buffer.from('"')]));
  return [
    { name: 'invalid UTF-8 (ff fe)', value: str([0xff, 0xfe]), bytes: true },
    { name: 'overlong newline (c0 8a)', value: str([0xc0, 0x8a]), bytes: true },
    { name: 'truncated sequence (e2 80)', value: str([0xe2, 0x80]), bytes: true },
    { name: 'encoded surrogate (ed a0 80)', value: str([0xed, 0xa0, 0x80]), bytes: true },
  ];
}

/**
 * Numbers and number-looking strings for a port field; `port` is the one
 * legitimate port they circle around (free, so an accepted variant can bind).
 * None of them is a different valid port: an accepted one must bind nothing
 * but `port`.
 */
export function hostileNumbers(port: number): Hostile[] {
  return [
    { name: '70000', value: 70000 },
    { name: '65536', value: 65536 },
    { name: '-1', value: -1 },
    { name: '0', value: 0 },
    { name: 'float', value: port + 0.5 },
    { name: '1e309 (Infinity)', value: RawJson.of('1e309') },
    { name: '-1e309', value: RawJson.of('-1e309') },
    { name: 'huge integer', value: RawJson.of('123456789012345678901234567890') },
    { name: 'port as JSON 1234.0', value: RawJson.of(`${port}.0`) },
    { name: 'port as JSON 1234e0', value: RawJson.of(`${port}e0`) },
    { name: 'string "NaN"', value: 'NaN' },
    { name: 'string "Infinity"', value: 'Infinity' },
    { name: 'string "80abc"', value: `${port}abc` },
    { name: 'hex string', value: `0x${port.toString(16)}` },
    { name: 'string with blanks', value: ` ${port} ` },
    { name: 'signed string', value: `+${port}` },
    { name: 'zero-padded string', value: `0${port}` },
    { name: 'float string', value: `${port}.0` },
    { name: 'exponent string', value: `${port}e0` },
    { name: 'negative string', value: '-1' },
    { name: 'Arabic-Indic digits', value: '\u0661\u0662\u0663' },
    { name: 'port + newline', value: `${port}\n` },
    { name: 'port + space + word', value: `${port} ssl` },
  ];
}

/** Weights: HAProxy's range is 0-256. */
export function hostileWeights(): Hostile[] {
  return [
    { name: '257', value: 257 },
    { name: '-1', value: -1 },
    { name: 'float', value: 1.5 },
    { name: '1e309 (Infinity)', value: RawJson.of('1e309') },
    { name: 'string "5"', value: '5' },
    { name: 'string "5 backup"', value: '5 backup' },
    { name: 'string "1\\n"', value: '1\n' },
  ];
}

/** Host fields: IPv6 bracket tricks and addresses that are not. No valid host name here: nginx -t resolves names, so one would only test DNS. */
export function hostTricks(): Hostile[] {
  return [
    '[::1]',
    '[::1]:80',
    '::1]:80 [x',
    '::1',
    '::ffff:127.0.0.1',
    'fe80::1%eth0',
    'a:b',
    '1::2::3',
    ':::',
    '::1 ::2',
    '127.0.0.1:80',
    '127.0.0.1 127.0.0.2',
    '999.0.0.1',
    '127.0.0.1.',
    '-h.example',
    '*.example.com',
    'h\u00e9.example',
  ].map((value) => ({ name: `host trick ${JSON.stringify(value)}`, value }));
}

/** Vhost fields: wildcard and IDN tricks. */
export function vhostTricks(): Hostile[] {
  return [
    '*.example.com',
    '*',
    '*.',
    '*.*.example.com',
    '**.example.com',
    '.example.com',
    'example.com.',
    'xn--bcher-kva.example',
    'b\u00fccher.example',
    '\u0435xample.com',
    'EXAMPLE.COM',
    '~^(?<x>.+)$',
    '_',
    'h.example.com,evil.example.com',
    'h.example.com, ,x.example.com',
    `${'a'.repeat(64)}.example`,
    [63, 63, 63, 61].map((n) => 'v'.repeat(n)).join('.'),
    '127.0.0.1',
    '::1',
    '[::1]',
    '*.com',
    'h.example.com:80',
  ].map((value) => ({
    name: `vhost trick ${JSON.stringify(value.length > 40 ? value.slice(0, 37) + '...' : value)}`,
    value,
  }));
}

/** Path fields: traversal, encodings, shapes that are not a prefix. */
export function pathTricks(): Hostile[] {
  return [
    '/../',
    '/./x',
    '/x/..',
    '/%2e%2e/',
    '//',
    '/x?y=1',
    '/x y',
    'x',
    '~/x',
    '@x',
    '/\u00e9',
    '/x$',
    '/x*',
    '/',
    `/${'p'.repeat(255)}`,
    '/x;y',
    '/x{1}',
    '/x|y',
    '/x\\y',
    '/x`y`',
  ].map((value) => ({
    name: `path trick ${JSON.stringify(value.length > 40 ? value.slice(0, 37) + '...' : value)}`,
    value,
  }));
}

// ---- the reference schema --------------------------------------------------

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const LABEL = /^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** What each kind of field may hold, restated from the contract for the specs. */
export const legit = {
  /** A service id: `[A-Za-z0-9._/-]`, 1-200 characters, no `..` segment. */
  id: (v: unknown): boolean =>
    typeof v === 'string' && /^[A-Za-z0-9._/-]{1,200}$/.test(v) && !v.split('/').includes('..'),
  /** A host name (RFC 1123 labels, `_` tolerated, not all-numeric at the end) or an IPv4/IPv6 address. */
  host: (v: unknown): boolean => {
    if (typeof v !== 'string' || v.length === 0 || v.length > 253) return false;
    if (IPV4.test(v)) return true;
    if (v.includes(':')) return /^[0-9A-Fa-f:.]+$/.test(v) && isIPv6(v);
    const labels = v.split('.');
    return labels.every((l) => LABEL.test(l)) && !/^\d+$/.test(labels[labels.length - 1]!);
  },
  /** A DNS name, not an IP address, with at most one leading `*.`. */
  vhost: (v: unknown): boolean => {
    if (typeof v !== 'string') return false;
    const bare = v.startsWith('*.') ? v.slice(2) : v;
    return bare.length > 0 && !bare.includes(':') && !IPV4.test(bare) && legit.host(bare);
  },
  /** A path prefix: `/` then `[A-Za-z0-9._~%/:@!&*+,=-]`, at most 255 characters, no `.` or `..` segment. */
  path: (v: unknown): boolean =>
    typeof v === 'string' &&
    /^\/[A-Za-z0-9._~%/:@!&*+,=-]{0,254}$/.test(v) &&
    !v.split('/').some((s) => s === '.' || s === '..'),
  /** A port as a JSON number. */
  port: (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535,
  /** A port as a number or a decimal string (blanks around tolerated). */
  portText: (v: unknown): boolean =>
    legit.port(v) || (typeof v === 'string' && /^\s*\d{1,5}\s*$/.test(v) && legit.port(Number(v.trim()))),
  /** A task or instance id: `[A-Za-z0-9._:@-]`, 1-200 characters. */
  backendId: (v: unknown): boolean => typeof v === 'string' && /^[A-Za-z0-9._:@-]{1,200}$/.test(v),
  /** A Marathon health-check path: `/` then printable ASCII without quotes, `#`, `;`, braces or backslash. */
  checkPath: (v: unknown): boolean =>
    typeof v === 'string' && /^\/[\x21-\x7e]{0,254}$/.test(v) && !/["'#;{}\\]/.test(v),
  weight: (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 256,
  mode: (v: unknown): boolean => v === 'http' || v === 'tcp',
  balance: (v: unknown): boolean =>
    typeof v === 'string' && ['roundrobin', 'static-rr', 'leastconn', 'first', 'source', 'uri', 'random'].includes(v),
  /** Free text (a label or env value): one line, at most 4096 characters. */
  text: (v: unknown): boolean => typeof v === 'string' && v.length <= 4096 && !CONTROL.test(v),
  /** A label or env name: one line, at most 256 characters, not `__proto__`. */
  key: (v: unknown): boolean => typeof v === 'string' && v.length <= 256 && !CONTROL.test(v) && v !== '__proto__',
  /** An HAProxy ACL criterion as the rules API takes it. */
  acl: (v: unknown): boolean => {
    if (typeof v !== 'string' || v.length === 0 || v.length > 1024 || !/^[\x20-\x7e]+$/.test(v) || v.includes('#'))
      return false;
    const words = splitHaproxyWords(v);
    if (!words) return false;
    const criterion = v.trimStart().split(/[ \t]/)[0]!;
    const call = String.raw`[a-z_][a-z0-9_.]*(?:\([^()"'\\\s]*\))?`;
    return (
      new RegExp(`^${call}(?:,${call})*$`).test(criterion) &&
      !/(?:^|,)(?:env|map[a-z0-9_]*)(?:\(|,|$)/.test(criterion) &&
      !words.includes('-f')
    );
  },
  /** A comma-separated list of vhosts: every non-blank part, trimmed, a vhost. */
  vhostList: (v: unknown): boolean => {
    if (typeof v !== 'string' || !legit.text(v)) return false;
    const parts = v
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
    return parts.every((p) => legit.vhost(p));
  },
  /** Anything: the field is not read. */
  ignored: (_v: unknown): boolean => true,
} as const;

/** Splits a line into HAProxy words (blanks, `\` escapes, quotes); null when a quote is open, `\` ends it or a `$` is inside double quotes. */
export function splitHaproxyWords(line: string): string[] | null {
  const words: string[] = [];
  let word: string | null = null;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
    } else if (c === '\\') {
      if (i + 1 >= line.length) return null;
      word = (word ?? '') + line[++i];
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '$') return null;
      else word += c;
    } else if (c === ' ' || c === '\t') {
      if (word !== null) words.push(word);
      word = null;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote !== null) return null;
  if (word !== null) words.push(word);
  return words;
}

/** Every hostile value a string field of this kind gets: the text corpus on `base`, plus the tricks of its kind. */
export function stringCorpus(base: string, tricks: readonly Hostile[] = []): Hostile[] {
  return [...hostileText(base), ...tricks];
}

/** A short, printable description of a value for reports. */
export function shown(v: unknown): string {
  let s: string;
  if (v instanceof RawJson)
    s = `raw ${JSON.stringify(v.bytes.subarray(0, 40).toString('latin1'))}${v.bytes.length > 40 ? '...' : ''}`;
  else {
    try {
      s = JSON.stringify(v) ?? String(v);
    } catch {
      s = String(typeof v);
    }
  }
  return s.length > 70 ? s.slice(0, 67) + '...' : s;
}

/** Every value of the corpus, decoded as a template would see it (RawJson parsed; bytes read as UTF-8, lossy). */
export function helperCorpus(): unknown[] {
  const bases = [
    'value',
    'h.example.com',
    '127.0.0.1',
    '/h',
    '8080',
    'hdr(host) -i h.example.com',
    '10.0.0.0/8',
    '::1',
  ];
  const all = [
    ...bases.flatMap((b) => [...hostileText(b), ...hostileStructures(b), ...hostileBytes(b)]),
    ...hostileNumbers(8080),
    ...hostileWeights(),
    ...hostTricks(),
    ...vhostTricks(),
    ...pathTricks(),
    { name: 'undefined', value: undefined },
    { name: 'NaN', value: Number.NaN },
    { name: 'Infinity', value: Number.POSITIVE_INFINITY },
    { name: 'negative zero', value: -0 },
    { name: 'function', value: () => 'x' },
    { name: 'CIDR with newline', value: '10.0.0.0/8\n  bind :1' },
    { name: 'CIDR over-long prefix', value: '10.0.0.0/33' },
    { name: 'IPv6 CIDR', value: '::/0' },
  ];
  return all.map((h) => {
    if (!(h.value instanceof RawJson)) return h.value;
    try {
      return JSON.parse(h.value.bytes.toString('utf8'));
    } catch {
      return h.value.bytes.toString('utf8');
    }
  });
}
