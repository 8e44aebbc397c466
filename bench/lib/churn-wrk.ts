import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { captureOutput, spawnTracked } from '../../test/support/processes.js';

// wrk as the churn benchmark's load: keep-alive (wrk's default), loopback
// only, bounded by -d. A Lua script sets the Host header (for the shared
// vhost listener), paces each connection with delay() so the load is steady
// and leaves CPU to what is measured, and tallies responses by status code,
// which wrk itself does not show (it counts status > 399 only, as
// "Non-2xx or 3xx responses").

const SCRIPT = `
local threads = {}
function setup(thread) table.insert(threads, thread) end

local pause = 0
local req
statuses = {}

function init(args)
  pause = tonumber(args[1]) or 0
  local headers = {}
  if args[2] ~= nil and args[2] ~= "" then headers["Host"] = args[2] end
  req = wrk.format("GET", wrk.path, headers)
end
function delay() return pause end
function request() return req end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do total[code] = (total[code] or 0) + n end
  end
  for code, n in pairs(total) do io.write(string.format("CHURN-STATUS %d %d\\n", code, n)) end
  local e = summary.errors
  io.write(string.format("CHURN-SUMMARY requests=%d connect=%d read=%d write=%d status=%d timeout=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d\\n",
    summary.requests, e.connect, e.read, e.write, e.status, e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`;

/** What one wrk run reported. */
export interface WrkResult {
  readonly label: string;
  readonly requests: number;
  /** wrk's "Non-2xx or 3xx responses" (status > 399). */
  readonly non2xx: number;
  /** Responses by status code, from the script. */
  readonly statuses: ReadonlyMap<number, number>;
  readonly socket: { connect: number; read: number; write: number; timeout: number };
  readonly seconds: number;
  readonly latencyUs: { p50: number; p99: number; max: number };
  /** wrk's own output, for the record. */
  readonly text: string;
}

export interface WrkOptions {
  readonly label: string;
  readonly url: string;
  readonly host?: string;
  readonly connections: number;
  readonly seconds: number;
  /** Pause before each request on a connection (ms); 0: as fast as possible. */
  readonly delayMs: number;
  /** Where to write the Lua script. */
  readonly dir: string;
}

/** Starts wrk; the promise resolves when it has finished (after `seconds`). */
export function runWrk(o: WrkOptions): Promise<WrkResult> {
  const script = join(o.dir, 'churn.lua');
  writeFileSync(script, SCRIPT);
  const args = [
    '-t1',
    `-c${o.connections}`,
    `-d${o.seconds}s`,
    '--timeout',
    '2s',
    '-s',
    script,
    o.url,
    '--',
    String(o.delayMs),
    o.host ?? '',
  ];
  const child = spawnTracked('wrk', args);
  const out = captureOutput(child);
  return new Promise((resolve, reject) => {
    child.once('close', (code) => {
      const text = out.text();
      if (code !== 0) return reject(new Error(`wrk ${args.join(' ')} exited ${code}:\n${text}`));
      try {
        resolve(parseWrk(o.label, text));
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** Parses wrk's standard summary lines, and checks them against the script's. */
export function parseWrk(label: string, text: string): WrkResult {
  const num = (re: RegExp, fallback?: number): number => {
    const m = re.exec(text);
    if (m) return Number(m[1]);
    if (fallback !== undefined) return fallback;
    throw new Error(`wrk output without ${re}:\n${text}`);
  };
  const requests = num(/(\d+) requests in /);
  const non2xx = num(/Non-2xx or 3xx responses: (\d+)/, 0);
  // wrk prints this line only when one of them is non-zero.
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socket = sock
    ? { connect: Number(sock[1]), read: Number(sock[2]), write: Number(sock[3]), timeout: Number(sock[4]) }
    : { connect: 0, read: 0, write: 0, timeout: 0 };
  const statuses = new Map<number, number>();
  for (const m of text.matchAll(/^CHURN-STATUS (\d+) (\d+)$/gm)) statuses.set(Number(m[1]), Number(m[2]));
  const summary = /^CHURN-SUMMARY (.*)$/m.exec(text);
  if (!summary) throw new Error(`wrk output without the script's summary:\n${text}`);
  const s = Object.fromEntries(
    summary[1]!
      .split(' ')
      .map((kv) => kv.split('='))
      .map(([k, v]) => [k!, Number(v)]),
  );
  const same =
    s.requests === requests &&
    s.status === non2xx &&
    s.connect === socket.connect &&
    s.read === socket.read &&
    s.write === socket.write &&
    s.timeout === socket.timeout;
  if (!same) throw new Error(`wrk's summary lines and its script disagree:\n${text}`);
  return {
    label,
    requests,
    non2xx,
    statuses,
    socket,
    seconds: s.duration_us! / 1e6,
    latencyUs: { p50: s.p50_us!, p99: s.p99_us!, max: s.max_us! },
    text,
  };
}
