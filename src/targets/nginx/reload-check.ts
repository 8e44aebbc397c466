// What `bin/nginx-reload` reads to judge a reload. nginx takes SIGHUP and
// says nothing: a new config it cannot apply (a `listen` on a port another
// process holds, an address this host lacks) only reaches its error log as
// `[emerg]`, and the old workers keep serving the old config. Pure
// functions; the command does the signalling and the waiting.

/** A `listen` line of a config: its 1-based line number, address ('' for any) and port. */
export interface ListenLine {
  readonly line: number;
  readonly host: string;
  readonly port: number;
}

/** The `listen` directives of an nginx config (http and stream servers alike), by line; unix sockets are skipped. */
export function listenLines(text: string): ListenLine[] {
  const out: ListenLine[] = [];
  text.split('\n').forEach((raw, i) => {
    // A directive starts a line or follows a brace or a semicolon: `server { listen 8081; }`.
    for (const m of raw.replace(/#.*/, '').matchAll(/(?:^|[{;])\s*listen\s+([^\s;]+)/g)) {
      const addr = /^(?:(\[[^\]]*\]|[^:]+):)?(\d+)$/.exec(m[1]!);
      if (!addr) continue; // unix:… sockets, and anything that is not an address and port
      const host = (addr[1] ?? '').replace(/^\[|\]$/g, '').replace(/^\*$/, '');
      out.push({ line: i + 1, host, port: Number(addr[2]) });
    }
  });
  return out;
}

/** The `[emerg]` and `[alert]` lines of an error log's new part: nginx's own words for a config it did not apply. */
export function refusals(logTail: string): string[] {
  return logTail
    .split('\n')
    .filter((l) => /\[(emerg|alert)\]/.test(l))
    .map((l) => l.trim());
}

/**
 * nginx's words, each with the `listen` lines it is about when it names an
 * address but no line of its own (`bind() to 127.0.0.1:8081 failed`): the
 * line, `file:N` as nginx writes it, is what quarantine blames.
 */
export function withListenLines(words: readonly string[], file: string, listens: readonly ListenLine[]): string[] {
  return words.map((w) => {
    const m = /bind\(\) to (\[[^\]]*\]|[^\s:]+):(\d+) failed/.exec(w);
    if (!m || w.includes(`${file}:`)) return w;
    const host = m[1]!.replace(/^\[|\]$/g, '');
    const port = Number(m[2]);
    const lines = listens.filter((l) => l.port === port && (l.host === host || (l.host === '' && isAny(host))));
    return lines.length ? `${w} (listen in ${lines.map((l) => `${file}:${l.line}`).join(', ')})` : w;
  });
}

const isAny = (host: string) => host === '0.0.0.0' || host === '::';
