// The listener lines of a rendered config: HAProxy's `bind <address>:<port>`
// and nginx's `listen <address>:<port>` or `listen <port>`. Read to tell the
// proxy's own ports from those of other processes.

/** A listener line up to its port: `bind`/`listen`, an address ending in `:` or none, the port's digits. */
const LINE = String.raw`^\s*(?:bind|listen)\s+(?:\S*:)?(\d+)`;
/** A line's start that ends at the port. */
const LISTENER = new RegExp(`${LINE}$`);
/** Every listener line of a text. */
const LISTENERS = new RegExp(`${LINE}\\b`, 'gm');
const NEWLINE = 0x0a;
const COLON = 0x3a;

/** Every port a listener line of `text` binds. */
export function listenerPorts(text: string): Set<number> {
  const out = new Set<number>();
  for (const m of text.matchAll(LISTENERS)) out.add(Number(m[1]));
  return out;
}

/**
 * Whether a listener line of `config` binds `port`. Scans the bytes for the
 * number (memchr) and reads only the lines it is on, so a multi-megabyte
 * config is never decoded.
 */
export function listensOn(config: Buffer, port: number): boolean {
  const digits = Buffer.from(String(port));
  for (let at = config.indexOf(digits); at >= 0; at = config.indexOf(digits, at + 1)) {
    const next = config[at + digits.length];
    if (next !== undefined && next >= 0x30 && next <= 0x39) continue;
    const before = config[at - 1];
    if (before !== COLON && before !== 0x20 && before !== 0x09) continue;
    const lineStart = config.lastIndexOf(NEWLINE, at) + 1;
    if (LISTENER.test(config.toString('latin1', lineStart, at + digits.length))) return true;
  }
  return false;
}
