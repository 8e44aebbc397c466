import { isIP } from 'node:net';
import type { Backend, Service, Snapshot } from '../../state/model.js';
import type { HostResolver, HostUser } from './resolver.js';

// A target that hands its proxy addresses renders a snapshot in which every
// backend host name is replaced by the address the resolver holds for it.
// The render caches are keyed by service objects, so a service keeps its
// object for as long as neither it nor the addresses of its hosts change:
// a moved address re-renders the services on that host alone.

/** A host name that costs backends their place (unresolved, pending) or serves them from an old answer (stale). */
export interface HostProblem {
  readonly host: string;
  /** unresolved: never resolved, its backends are left out; pending: not answered yet, left out meanwhile; stale: the last lookup failed, the last good address is used. */
  readonly state: 'unresolved' | 'pending' | 'stale';
  /** The address used (stale), else null. */
  readonly address: string | null;
  readonly reason: string;
  /** Epoch ms since the name has been in this state; null for a name the cache had no room for. */
  readonly since: number | null;
  /** Ids of services with a backend on this host (the first few). */
  readonly services: readonly string[];
}

/** Problems listed per host, at most: a /health answer stays small whatever the registry holds. */
const SERVICES_PER_HOST = 10;

interface Resolved {
  /** The host names among the service's backends, each once; empty: it has none to resolve. */
  readonly names: readonly string[];
  generation: number;
  /** The resolver's `forgetting` when the names were last prepared; -1: never. */
  prepared: number;
  /** The addresses `service` was built with, one per name ('' for none). */
  addresses: readonly string[];
  service: Service;
  /** The names of `names` with no address, or an old one. */
  troubled: readonly string[];
}

/**
 * One target's view of the resolver's answers: the snapshot its proxy is
 * given, and which host names cost backends. Owned by the target, whose
 * render caches it keeps warm.
 */
export class HostAddresses implements HostUser {
  private readonly byService = new WeakMap<Service, Resolved>();
  /** The snapshot of the last apply: its names are the ones this target wants kept. */
  private last: Snapshot | null = null;

  constructor(private readonly resolver: HostResolver) {
    resolver.use(this);
  }

  /**
   * The host names (not IP addresses) of a snapshot's backends that the
   * resolver may not have: what to `prepare` before rendering it. A service
   * seen before brings none, unless the resolver forgot names since.
   */
  names(snapshot: Snapshot): string[] {
    const out: string[] = [];
    const epoch = this.resolver.forgetting;
    for (const s of snapshot.services) {
      const r = this.entry(s);
      if (r.names.length === 0 || r.prepared === epoch) continue;
      r.prepared = epoch;
      out.push(...r.names);
    }
    return out;
  }

  /** Records the snapshot an apply rendered: the names the resolver keeps for this target. */
  remember(snapshot: Snapshot): void {
    this.last = snapshot;
  }

  wanted(): Iterable<string> | null {
    return this.last && this.last.services.flatMap((s) => this.entry(s).names);
  }

  /** The address each host name of `snapshot` is rendered with. */
  used(snapshot: Snapshot): Map<string, string> {
    const out = new Map<string, string>();
    for (const s of snapshot.services) {
      const r = this.entry(s);
      r.names.forEach((n, i) => r.addresses[i] && out.set(n, r.addresses[i]));
    }
    return out;
  }

  /**
   * `snapshot` with each host name replaced by its address and the backends
   * of names without one left out (the same object when it has no host
   * names), and the names of it that cost backends or serve an old address.
   */
  apply(snapshot: Snapshot): { snapshot: Snapshot; problems: readonly HostProblem[] } {
    let replaced = false;
    const troubled = new Map<string, string[]>();
    const services = snapshot.services.map((s) => {
      const r = this.entry(s);
      if (r.names.length === 0) return s;
      if (r.generation !== this.resolver.generation) this.refresh(s, r);
      for (const host of r.troubled) {
        const ids = troubled.get(host) ?? troubled.set(host, []).get(host)!;
        if (ids.length < SERVICES_PER_HOST) ids.push(s.id);
      }
      if (r.service !== s) replaced = true;
      return r.service;
    });
    const problems = [...troubled.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([h, ids]) => this.problem(h, ids));
    return { snapshot: replaced ? { ...snapshot, services } : snapshot, problems };
  }

  private entry(s: Service): Resolved {
    let r = this.byService.get(s);
    if (!r) {
      const names = [...new Set(s.backends.filter((b) => isIP(b.host) === 0).map((b) => b.host))];
      r = { names, generation: -1, prepared: -1, addresses: [], service: s, troubled: [] };
      this.byService.set(s, r);
    }
    return r;
  }

  /** Rebuilds the service with the resolver's current answers, keeping the old object when they are the same. */
  private refresh(s: Service, r: Resolved): void {
    r.generation = this.resolver.generation;
    const addresses = r.names.map((n) => this.resolver.address(n) ?? '');
    r.troubled = r.names.filter((n, i) => addresses[i] === '' || this.resolver.state(n)?.kind === 'stale');
    if (r.addresses.length === addresses.length && r.addresses.every((a, i) => a === addresses[i])) return;
    r.addresses = addresses;
    const of = new Map(r.names.map((n, i) => [n, addresses[i]!] as const));
    const backends: Backend[] = [];
    for (const b of s.backends) {
      const address = isIP(b.host) === 0 ? of.get(b.host)! : b.host;
      if (address !== '') backends.push(address === b.host ? b : { ...b, host: address });
    }
    r.service = { ...s, backends };
  }

  private problem(host: string, services: readonly string[]): HostProblem {
    const st = this.resolver.state(host);
    if (st?.kind === 'stale')
      return { host, state: 'stale', address: st.address, reason: st.error, since: st.since, services };
    if (st?.kind === 'unresolved')
      return { host, state: 'unresolved', address: null, reason: st.error, since: st.since, services };
    const reason = st ? 'no answer from the resolver yet' : 'too many host names to keep (resolve.maxHosts)';
    return { host, state: st ? 'pending' : 'unresolved', address: null, reason, since: st?.since ?? null, services };
  }
}
