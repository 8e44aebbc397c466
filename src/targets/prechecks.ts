import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
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
  /** Ports the running proxy holds by the installed config: busy because of the proxy, not another process. */
  readonly proxyPorts: ReadonlySet<number>;
  /** The address a service's listener binds when it names none (`vars.bind`). */
  readonly defaultBind: string;
  /** Binds this host's ports to probe them; shared by every target of one daemon. */
  readonly ports: PortProbes;
}

/**
 * Probes of this host's ports by binding them, one at a time per port: two
 * probes of one port at once (two services claiming it, or two targets
 * checking the same service) would each see the other's bind as a holder.
 */
export class PortProbes {
  /** The last probe queued per port; a probe starts once the one before it on its port is done. */
  private readonly tails = new Map<number, Promise<unknown>>();

  /** Binds and lets go at once: the error code when that fails, else null. Port 0 asks only whether the address is this host's. */
  bindFails(port: number, host: string | undefined): Promise<string | null> {
    if (port === 0) return bindFails(0, host);
    const mine = (this.tails.get(port) ?? Promise.resolve()).then(() => bindFails(port, host));
    this.tails.set(port, mine);
    void mine.then(() => {
      if (this.tails.get(port) === mine) this.tails.delete(port);
    });
    return mine;
  }
}

const ANY_ADDRESS = new Set(['0.0.0.0', '::', '*', '']);

/** Why the proxy would refuse `s` at load time; null when nothing is found. */
export async function precheck(s: Service, ctx: PrecheckContext): Promise<string | null> {
  if (s.servicePort !== null) {
    const owner = ctx.reservedPorts.get(s.servicePort);
    if (owner) return `service port ${s.servicePort} is the port of ${owner}`;
  }
  if (s.sslCert !== null) {
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
    (await ctx.ports.bindFails(0, s.bindAddress)) === 'EADDRNOTAVAIL'
  )
    return `bind address ${s.bindAddress} is not an address of this host`;
  if (s.servicePort !== null && !ctx.proxyPorts.has(s.servicePort)) {
    const address = s.bindAddress ?? ctx.defaultBind;
    const refused = await ctx.ports.bindFails(s.servicePort, ANY_ADDRESS.has(address) ? undefined : address);
    // A refusal for another reason than a holder is not this check's to judge.
    if (refused === 'EADDRINUSE') return `port ${s.servicePort} is held by another process`;
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
