import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Service } from '../state/model.js';

// Cheap checks of a new or changed service, before it reaches a candidate:
// what would make the proxy refuse the whole config at load time (a
// certificate it cannot read, a bind address this host does not have, a port
// another process holds or the template's own listener uses) is found here,
// named, and costs that service alone.

/** What the checks of one target know about this host and its proxy. */
export interface PrecheckContext {
  /** Ports the template's own listeners use, with what uses them (`vars.httpPort`…). */
  readonly reservedPorts: ReadonlyMap<number, string>;
  /** Whether the proxy binds what the config says (a target with a reload command runs one). */
  readonly binds: boolean;
  /** Whether the running proxy holds service `id`'s `port` by the installed config: busy because of the proxy, not another process. */
  readonly proxyHolds: (id: string, port: number) => boolean;
  /** Whether the installed config has a listener on a port no service the proxy holds has: one the template writes itself. */
  readonly templateListens: (port: number) => boolean;
  /** The address a service's listener binds when it names none (`vars.bind`). */
  readonly defaultBind: string;
  /** Whether the template loads certificates (it names `sslCert` or `certificates`): one that never does is not refused for one. */
  readonly certificates: boolean;
  /** Binds this host's ports to probe them; shared by every target of one daemon. */
  readonly ports: PortProbes;
}

/** How a batch of port checks is answered: one bind per port, or one read of the kernel's socket table. */
export interface PortProbeOptions {
  /** Batches with at least this many ports to check read the socket table instead of binding each (default 32). */
  readonly listingFrom?: number;
  /** The socket tables to read (Linux's, by default); where none can be read, every port is bound. */
  readonly tables?: readonly string[];
}

const LINUX_TABLES = ['/proc/net/tcp', '/proc/net/tcp6'];

/**
 * Probes of this host's ports, shared by every target of one daemon. A probe
 * binds the port, one at a time per port: two probes of one port at once
 * (two services claiming it, or two targets checking the same service) would
 * each see the other's bind as a holder. A big batch (a start with thousands
 * of services) reads the kernel's table of listening sockets once instead —
 * the same answer for a fraction of the cost — while no bind probe runs, so
 * it never sees one.
 */
export class PortProbes {
  /** The last probe queued per port; a probe starts once the one before it on its port is done. */
  private readonly tails = new Map<number, Promise<unknown>>();
  /** A read of the socket table in progress: binds wait for it. */
  private reading: Promise<unknown> = Promise.resolve();
  private readonly listingFrom: number;
  private readonly tables: readonly string[];

  constructor(options: PortProbeOptions = {}) {
    this.listingFrom = options.listingFrom ?? 32;
    this.tables = options.tables ?? LINUX_TABLES;
  }

  /** Binds and lets go at once: the error code when that fails, else null. Port 0 asks only whether the address is this host's. */
  bindFails(port: number, host: string | undefined): Promise<string | null> {
    if (port === 0) return bindFails(0, host);
    const mine = Promise.all([this.tails.get(port), this.reading]).then(() => bindFails(port, host));
    this.tails.set(port, mine);
    void mine.then(() => {
      if (this.tails.get(port) === mine) this.tails.delete(port);
    });
    return mine;
  }

  /** For a batch of `count` port checks: the listening sockets to answer them from, or null to bind each. */
  async listingFor(count: number): Promise<Listening | null> {
    if (count < this.listingFrom) return null;
    // The binds already under way, not those queued after this read: they wait for it.
    const binds = Promise.all(this.tails.values());
    const read = Promise.all([this.reading, binds]).then(() => readListening(this.tables));
    this.reading = read.catch(() => undefined);
    return read;
  }
}

/** The listening TCP sockets of this host, from the kernel's table. */
export class Listening {
  constructor(
    /** Per port, the addresses listening on it (`*` for any address). */
    private readonly byPort: ReadonlyMap<number, ReadonlySet<string>>,
  ) {}

  /** Whether a bind of `port` on `host` (undefined: every address) would find it held. */
  holds(port: number, host: string | undefined): boolean {
    const addresses = this.byPort.get(port);
    if (!addresses) return false;
    return host === undefined || ANY_ADDRESS.has(host) || addresses.has('*') || addresses.has(canonical(host));
  }
}

/** An IP literal as the table reader writes it: IPv6 compressed and lower case (`new URL` canonicalizes it). */
function canonical(host: string): string {
  if (!host.includes(':')) return host;
  try {
    return new URL(`http://[${host}]/`).hostname.slice(1, -1);
  } catch {
    return host;
  }
}

const LISTEN = '0A';

/** Reads the socket tables; null when none can be read (not Linux, no /proc). */
async function readListening(tables: readonly string[]): Promise<Listening | null> {
  const byPort = new Map<number, Set<string>>();
  let read = 0;
  for (const table of tables) {
    let text: string;
    try {
      text = await readFile(table, 'latin1');
    } catch {
      continue;
    }
    read++;
    for (const line of text.split('\n')) {
      // `  0: 0100007F:1F90 00000000:0000 0A …`: local address, remote address, state.
      const fields = line.trim().split(/\s+/);
      if (fields[3] !== LISTEN) continue;
      const [hex, portHex] = fields[1]!.split(':');
      const port = parseInt(portHex!, 16);
      const address = socketAddress(hex!);
      const set = byPort.get(port) ?? byPort.set(port, new Set()).get(port)!;
      set.add(address);
    }
  }
  return read > 0 ? new Listening(byPort) : null;
}

/**
 * The address of a table entry: the kernel prints each 32-bit word of it in
 * host byte order (little-endian here), IPv4 as one word, IPv6 as four. Any
 * address (0.0.0.0, ::) is `*`; an IPv4-mapped IPv6 address is its IPv4.
 */
function socketAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => [6, 4, 2, 0].map((i) => parseInt(w.slice(i, i + 2), 16)));
  if (bytes.every((b) => b === 0)) return '*';
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff)
    return bytes.slice(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return compressIpv6(groups);
}

/** The canonical text of an IPv6 address (RFC 5952): the longest run of zero groups as `::`. */
function compressIpv6(groups: string[]): string {
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLength).join(':')}`;
}

const ANY_ADDRESS = new Set(['0.0.0.0', '::', '*', '']);

/**
 * Why the proxy would refuse each of `services` at load time (null: nothing
 * found), in order. Bind addresses are asked once each; a big batch of port
 * checks is answered from one read of the socket table (PortProbes).
 */
export async function precheckAll(services: readonly Service[], ctx: PrecheckContext): Promise<(string | null)[]> {
  const ports = ctx.binds ? services.filter((s) => s.servicePort !== null && !ctx.proxyHolds(s.id, s.servicePort)) : [];
  const listing = await ctx.ports.listingFor(ports.length);
  const addresses = new Map<string, Promise<string | null>>();
  const batch: BatchContext = {
    ...ctx,
    addressFails: (a) => addresses.get(a) ?? addresses.set(a, ctx.ports.bindFails(0, a)).get(a)!,
    held: listing
      ? (port, host) => Promise.resolve(listing.holds(port, host))
      : async (port, host) => (await ctx.ports.bindFails(port, host)) === 'EADDRINUSE',
  };
  return Promise.all(services.map((s) => precheckOne(s, batch)));
}

/** Why the proxy would refuse `s` at load time; null when nothing is found. */
export function precheck(s: Service, ctx: PrecheckContext): Promise<string | null> {
  return precheckAll([s], ctx).then((r) => r[0]!);
}

/** A batch's ways of asking the host: each bind address once, each port by bind or from the socket table. */
interface BatchContext extends PrecheckContext {
  addressFails(address: string): Promise<string | null>;
  /** Whether something holds the port (a refusal for another reason than a holder is not this check's to judge). */
  held(port: number, host: string | undefined): Promise<boolean>;
}

async function precheckOne(s: Service, ctx: BatchContext): Promise<string | null> {
  if (s.servicePort !== null) {
    const owner = ctx.reservedPorts.get(s.servicePort);
    if (owner) return `service port ${s.servicePort} is the port of ${owner}`;
    if (!ctx.proxyHolds(s.id, s.servicePort) && ctx.templateListens(s.servicePort))
      return `service port ${s.servicePort} is the port of a listener the template writes itself`;
  }
  if (s.sslCert !== null && ctx.certificates) {
    try {
      await access(s.sslCert, constants.R_OK);
    } catch (e) {
      return `certificate ${s.sslCert} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`;
    }
  }
  if (!ctx.binds) return null;
  if (
    s.bindAddress !== null &&
    !ANY_ADDRESS.has(s.bindAddress) &&
    (await ctx.addressFails(s.bindAddress)) === 'EADDRNOTAVAIL'
  )
    return `bind address ${s.bindAddress} is not an address of this host`;
  if (s.servicePort !== null && !ctx.proxyHolds(s.id, s.servicePort)) {
    const address = s.bindAddress ?? ctx.defaultBind;
    if (await ctx.held(s.servicePort, ANY_ADDRESS.has(address) ? undefined : address))
      return `port ${s.servicePort} is held by another process`;
  }
  return null;
}

/** The template's own listener ports from a target's vars. */
export function reservedPorts(vars: Readonly<Record<string, string | number | boolean>>): Map<number, string> {
  const out = new Map<number, string>();
  for (const key of ['httpPort', 'httpsPort'] as const) {
    const port = Number(vars[key]);
    if (Number.isInteger(port) && port > 0) out.set(port, `the shared listener (vars.${key})`);
  }
  return out;
}

/**
 * Binds and lets go at once: the error code when that fails, else null. Asking
 * the kernel is the one true test of an address (all of 127/8 binds on
 * Linux, though no interface lists it).
 */
function bindFails(port: number, host: string | undefined): Promise<string | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(null)));
  });
}

/** Whether a template (its file and partials, as compiled) names the certificate fields of the template data. */
export function readsCertificates(texts: Iterable<string>): boolean {
  for (const text of texts) if (/\b(sslCert|certificates)\b/.test(text)) return true;
  return false;
}
