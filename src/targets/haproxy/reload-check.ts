// What `bin/haproxy-reload` reads to judge a reload: the config's `bind`
// lines (where each is, whose it is, what it binds) and the master CLI's
// answers about the new worker. A new worker is not enough: HAProxy 2.6
// starts one even when a bind of the new config could not be taken over —
// two binds on one port leave the first frontend PAUSED, and the new worker
// serves without it. Pure functions; the command does the talking.

/** One address a `bind` line listens on; `host` '' for any address. */
export interface BindAddress {
  readonly host: string;
  readonly port: number;
}

/** A `bind` line of a frontend or listen section, with its 1-based line number. */
export interface BindLine {
  readonly line: number;
  readonly section: string;
  readonly addresses: readonly BindAddress[];
}

/** The binds of a config, and the frontends it disables on purpose (`disabled`): those are not expected to listen. */
export interface ConfigBinds {
  readonly binds: readonly BindLine[];
  readonly disabled: ReadonlySet<string>;
}

/** The master CLI's `show proc`: the reload counters and the current workers (not the old ones still draining). */
export interface ProcList {
  readonly masterPid: number;
  readonly reloads: number;
  readonly failed: number;
  readonly workers: readonly number[];
}

/** One listening socket of a worker (`show fd`): its frontend, state (RDY, PAU, …) and port. */
export interface Listener {
  readonly frontend: string;
  readonly state: string;
  readonly port: number;
}

const SECTION =
  /^\s*(global|defaults|frontend|backend|listen|peers|resolvers|userlist|program|http-errors|ring|cache|mailers)\b\s*(\S*)/;
/** Ports a range may expand to: a range wider than this is checked at its ends only. */
const MAX_RANGE = 64;

/** The `bind` lines of frontend and listen sections; unix sockets and inherited fds are not ports and are skipped. */
export function configBinds(text: string): ConfigBinds {
  const binds: BindLine[] = [];
  const disabled = new Set<string>();
  let section: string | null = null;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '');
    const header = SECTION.exec(line);
    if (header) {
      section = header[1] === 'frontend' || header[1] === 'listen' ? header[2]! : null;
      return;
    }
    if (section === null) return;
    if (/^\s*disabled\s*$/.test(line)) disabled.add(section);
    const bind = /^\s*bind\s+(\S+)/.exec(line);
    if (!bind) return;
    const addresses = bind[1]!.split(',').flatMap(parseAddress);
    if (addresses.length > 0) binds.push({ line: i + 1, section, addresses });
  });
  return { binds, disabled };
}

function parseAddress(spec: string): BindAddress[] {
  const m = /^(?:(?:ipv4|ipv6|tcp|tcp4|tcp6)@)?(\[[^\]]*\]|[^@/[]*):(\d+)(?:-(\d+))?$/.exec(spec);
  if (!m) return [];
  const host = m[1]!.replace(/^\[|\]$/g, '').replace(/^\*$/, '');
  const first = Number(m[2]);
  const last = m[3] === undefined ? first : Number(m[3]);
  const ports = last - first < MAX_RANGE ? range(first, last) : [first, last];
  return ports.map((port) => ({ host, port }));
}

function range(first: number, last: number): number[] {
  return Array.from({ length: Math.max(0, last - first + 1) }, (_, i) => first + i);
}

/** Reads `show proc`; null when the answer is not one. */
export function parseShowProc(answer: string): ProcList | null {
  let master: { pid: number; reloads: number; failed: number } | null = null;
  const workers: number[] = [];
  let old = false;
  for (const line of answer.split('\n')) {
    const m = /^(\d+)\s+master\s+(\d+)\s+\[failed:\s*(\d+)\]/.exec(line);
    if (m) master = { pid: Number(m[1]), reloads: Number(m[2]), failed: Number(m[3]) };
    if (/^#\s*old workers/.test(line)) old = true;
    const w = /^(\d+)\s+worker\b/.exec(line);
    if (w && !old) workers.push(Number(w[1]));
  }
  return master && { masterPid: master.pid, reloads: master.reloads, failed: master.failed, workers };
}

/** Reads `show stat -1 1 -1` (frontends only): each frontend's status (OPEN, FULL, PAUSED, STOP). */
export function frontendStatuses(csv: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = csv.split('\n');
  const header = (lines[0] ?? '').replace(/^#\s*/, '').split(',');
  const [name, sv, status] = ['pxname', 'svname', 'status'].map((c) => header.indexOf(c));
  if (name! < 0 || sv! < 0 || status! < 0) return out;
  for (const line of lines.slice(1)) {
    const f = line.split(',');
    if (f[sv!] === 'FRONTEND') out.set(f[name!]!, f[status!]!);
  }
  return out;
}

/** Reads the listeners of `show fd`: `l.st=PAU fe=web fam=ipv4 lport=8080`. */
export function listenersOf(showFd: string): Listener[] {
  return [...showFd.matchAll(/l\.st=(\S+) fe=(\S+) fam=\S+ lport=(\d+)/g)].map((m) => ({
    state: m[1]!,
    frontend: m[2]!,
    port: Number(m[3]),
  }));
}

/**
 * Why the new worker does not serve what the config says, or null when it
 * does: each frontend not OPEN (or FULL) that the config does not disable,
 * with the line of the bind that took its port when another section binds
 * it too — that line, `[file:N]`, is the one to blame — else its own binds.
 */
export function unservedListeners(
  file: string,
  config: ConfigBinds | null,
  statuses: ReadonlyMap<string, string>,
  listeners: readonly Listener[],
): string | null {
  const problems: string[] = [];
  for (const [frontend, status] of statuses) {
    if (status === 'OPEN' || status === 'FULL' || config?.disabled.has(frontend)) continue;
    const idle = listeners.filter((l) => l.frontend === frontend && l.state !== 'RDY').map((l) => l.port);
    const own = config?.binds.filter((b) => b.section === frontend) ?? [];
    const ports = idle.length > 0 ? idle : own.flatMap((b) => b.addresses.map((a) => a.port));
    const takers = (config?.binds ?? []).filter(
      (b) => b.section !== frontend && b.addresses.some((a) => ports.includes(a.port)),
    );
    const where = takers.length
      ? `its port ${[...new Set(ports)].join(', ')} is bound by ${takers.map((b) => `frontend ${b.section} [${file}:${b.line}]`).join(', ')} too`
      : own.length
        ? `its binds: ${own.map((b) => `[${file}:${b.line}]`).join(', ')}`
        : 'no bind of it found in the config';
    problems.push(`frontend ${frontend} is ${status} in the new worker: ${where}`);
  }
  return problems.length > 0 ? problems.join('; ') : null;
}
