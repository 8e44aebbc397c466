import { lookup as dnsLookup } from 'node:dns/promises';
import type { Logger } from '../../log.js';
import type { Clock } from '../../retry.js';

// Backend host names, resolved by Switchyard for proxies that would
// otherwise resolve them while loading a config (nginx refuses a whole config
// over one name it cannot resolve). The behaviour is HAProxy's
// `init-addr libc,last,none`: the system resolver's answer, the last good
// address while the resolver fails, and no address for a name that never
// resolved. Lookups run beside renders, never in them: a render reads
// answers already in the cache.

/** Finds one address for a host name the way the system does (getaddrinfo); rejects when there is none. */
export type Lookup = (host: string) => Promise<string>;

/** The system resolver: dns.lookup's first address, in the order the system gives. */
export const systemLookup: Lookup = async (host) => (await dnsLookup(host)).address;

/** What the cache knows of one name; `since` is when it entered this state (epoch ms of the clock). */
export type HostState =
  /** The first lookup has not answered yet. */
  | { readonly kind: 'pending'; readonly since: number }
  /** The last lookup found `address`. */
  | { readonly kind: 'resolved'; readonly address: string; readonly since: number }
  /** The last lookup failed; `address` is the last good one, kept. */
  | { readonly kind: 'stale'; readonly address: string; readonly error: string; readonly since: number }
  /** No lookup has ever found an address. */
  | { readonly kind: 'unresolved'; readonly error: string; readonly since: number };

/** Bounds and schedule of a resolver (config `resolve`). */
export interface ResolverSettings {
  /** Every name in the cache is looked up again this often. */
  readonly refreshMs: number;
  /** A lookup taking longer counts as failed; a render waits at most this long for names it has not seen. */
  readonly timeoutMs: number;
  /** Names kept; a new name past it takes the place of the one wanted least recently. */
  readonly maxHosts: number;
  /** Lookups running at once, one past its timeout included until it ends; the rest queue. */
  readonly maxConcurrent: number;
}

/** Lookups since start and answers given, for /metrics. */
export interface ResolverCounts {
  /** Lookups that found an address. */
  readonly resolved: number;
  /** Lookups that failed or timed out. */
  readonly failures: number;
  /** Addresses a render read from the cache. */
  readonly hits: number;
  /** Names a render asked for that had no address (not answered yet, or never resolved). */
  readonly misses: number;
  readonly cached: number;
}

interface Entry {
  state: HostState;
  /** Seeded with the address of the last run's install, not looked up by this process yet. */
  fromLastRun: boolean;
  inFlight: Promise<void> | null;
}

/** One that renders from the cache (a target's HostAddresses): the names its last render used; null before its first. */
export interface HostUser {
  wanted(): Iterable<string> | null;
}

/**
 * One cache of host name → address, owned by the daemon and shared by the
 * targets that hand their proxy addresses. `prepare` looks up the names it
 * has not seen (waiting at most `timeoutMs`); a timer looks every name up
 * again each `refreshMs`; listeners hear when an answer changes, so the
 * runner renders again with it.
 */
export class HostResolver {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<() => void>();
  private readonly queue: Array<() => void> = [];
  private running = 0;
  private counts = { resolved: 0, failures: 0, hits: 0, misses: 0 };
  /** Moves on each change of an answer: views built from an older one are looked at again. */
  private gen = 0;
  private refreshTimer: (() => void) | null = null;
  /** Moves each time names are forgotten: a user's names prepared before then are prepared again. */
  private forgotten = 0;
  /** Who renders from the cache, held weakly: a target a re-read config replaced wants nothing any more. */
  private readonly users = new Set<WeakRef<HostUser>>();
  private closed = false;

  constructor(
    private readonly settings: ResolverSettings,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly lookup: Lookup = systemLookup,
  ) {}

  /** Changes with every change of an answer. */
  get generation(): number {
    return this.gen;
  }

  /** Calls `fn` after a name changed state (outside any render): the next render shows it; returns the unsubscribe. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Changes each time names no user wants were forgotten: names prepared before then must be prepared again. */
  get forgetting(): number {
    return this.forgotten;
  }

  /** Registers one that renders from the cache: at each refresh, names none of them wants are forgotten. */
  use(user: HostUser): void {
    this.users.add(new WeakRef(user));
  }

  /**
   * Looks up those of `hosts` never seen; resolves once they have answered
   * or `timeoutMs` passed, whichever is first. A name still pending then
   * answers later, through `onChange`. A name past `maxHosts` (when every
   * name in the cache is wanted) gets no entry, and no address.
   */
  async prepare(hosts: Iterable<string>): Promise<void> {
    const now = this.clock.now();
    const fresh: Promise<void>[] = [];
    for (const host of hosts) {
      if (this.entries.has(host) || !this.makeRoom()) continue;
      const e: Entry = { state: { kind: 'pending', since: now }, inFlight: null, fromLastRun: false };
      this.entries.set(host, e);
      fresh.push(this.resolve(host, e));
    }
    this.armRefresh();
    if (fresh.length === 0) return;
    let cancel: () => void = () => {};
    const waited = new Promise<void>((resolve) => (cancel = this.clock.after(this.settings.timeoutMs, resolve)));
    await Promise.race([Promise.all(fresh), waited]);
    cancel();
  }

  /**
   * Takes the addresses the last run installed (HAProxy's `init-addr last`)
   * for names not in the cache: a render uses them at once, as last good
   * addresses, while a lookup of each starts. Names beyond `maxHosts` are left.
   */
  seed(pairs: ReadonlyMap<string, string>): void {
    const now = this.clock.now();
    for (const [host, address] of pairs) {
      if (this.entries.has(host) || this.entries.size >= this.settings.maxHosts) continue;
      const error = 'the address of the last run; not looked up yet';
      const e: Entry = { state: { kind: 'stale', address, error, since: now }, inFlight: null, fromLastRun: true };
      this.entries.set(host, e);
      void this.resolve(host, e);
    }
    this.armRefresh();
  }

  /** What the cache holds for `host`; null for a name never prepared. */
  state(host: string): HostState | null {
    return this.entries.get(host)?.state ?? null;
  }

  /** The address a render uses for `host` (the last good one while lookups fail); null: leave its backends out. Counts a hit or a miss. */
  address(host: string): string | null {
    const s = this.entries.get(host)?.state;
    const address = s && (s.kind === 'resolved' || s.kind === 'stale') ? s.address : null;
    if (address === null) this.counts.misses++;
    else this.counts.hits++;
    return address;
  }

  stats(): ResolverCounts {
    return { ...this.counts, cached: this.entries.size };
  }

  /** Stops the refresh timer; lookups in flight finish unheard. */
  close(): void {
    this.closed = true;
    this.refreshTimer?.();
    this.refreshTimer = null;
    this.listeners.clear();
  }

  /** The names some user wants; null while no user has rendered (a one-off render, a start): then all are. */
  private wanted(): Set<string> | null {
    let out: Set<string> | null = null;
    for (const ref of this.users) {
      const names = ref.deref()?.wanted();
      if (names === undefined) this.users.delete(ref);
      else if (names !== null) {
        out ??= new Set();
        for (const n of names) out.add(n);
      }
    }
    return out;
  }

  /** Whether a new name fits: when the cache is full, the longest-known name no user wants gives way. */
  private makeRoom(): boolean {
    if (this.entries.size < this.settings.maxHosts) return true;
    const wanted = this.wanted();
    for (const host of this.entries.keys()) {
      if (wanted?.has(host) ?? false) continue;
      this.entries.delete(host);
      this.forgotten++;
      return true;
    }
    return false;
  }

  private armRefresh(): void {
    if (this.refreshTimer || this.closed || this.entries.size === 0) return;
    this.refreshTimer = this.clock.after(this.settings.refreshMs, () => {
      this.refreshTimer = null;
      void this.refresh();
    });
  }

  /**
   * Looks every name up again; names no user's last render used are
   * dropped instead. Time alone forgets nothing: a cluster that does not
   * change renders nothing, and its names must stay.
   */
  private async refresh(): Promise<void> {
    const wanted = this.wanted();
    const rounds: Promise<void>[] = [];
    for (const [host, e] of this.entries) {
      if (wanted && !wanted.has(host)) {
        this.entries.delete(host);
        this.forgotten++;
      } else rounds.push(this.resolve(host, e));
    }
    await Promise.all(rounds);
    this.armRefresh();
  }

  /** One lookup of `host` (joined with one in flight), its outcome recorded in `e`. */
  private resolve(host: string, e: Entry): Promise<void> {
    e.inFlight ??= this.timedLookup(host).then(
      (address) => this.record(host, e, { ok: true, address }),
      (err: Error) => this.record(host, e, { ok: false, error: err.message }),
    );
    return e.inFlight;
  }

  /**
   * One lookup in a slot of maxConcurrent, failed after timeoutMs. A lookup
   * past its timeout keeps its slot until it ends: getaddrinfo cannot be
   * cancelled and holds one of libuv's threads all the while.
   */
  private timedLookup(host: string): Promise<string> {
    if (this.running < this.settings.maxConcurrent) {
      this.running++;
      return this.lookupInSlot(host);
    }
    // A freed slot passes straight to the first waiter (release), so no newcomer takes it in between.
    return new Promise<void>((go) => this.queue.push(go)).then(() => this.lookupInSlot(host));
  }

  private lookupInSlot(host: string): Promise<string> {
    const lookup = new Promise<string>((resolve) => resolve(this.lookup(host)));
    const release = () => this.release();
    lookup.then(release, release);
    return new Promise<string>((resolve, reject) => {
      const cancel = this.clock.after(this.settings.timeoutMs, () =>
        reject(new Error(`no answer within ${this.settings.timeoutMs} ms`)),
      );
      lookup.then(
        (address) => (cancel(), resolve(address)),
        (err: unknown) => (cancel(), reject(err instanceof Error ? err : new Error(String(err)))),
      );
    });
  }

  private release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.running--;
  }

  private record(host: string, e: Entry, outcome: { ok: true; address: string } | { ok: false; error: string }): void {
    e.inFlight = null;
    if (this.entries.get(host) !== e || this.closed) return;
    const now = this.clock.now();
    const before = e.state;
    const fromLastRun = e.fromLastRun;
    e.fromLastRun = false;
    if (outcome.ok) {
      this.counts.resolved++;
      if (before.kind === 'resolved' && before.address === outcome.address) return;
      e.state = { kind: 'resolved', address: outcome.address, since: now };
      if (before.kind === 'pending' || (fromLastRun && before.kind === 'stale' && before.address === outcome.address))
        this.log.debug('host name resolved', { host, address: outcome.address });
      else
        this.log.info(before.kind === 'resolved' ? 'host address changed' : 'host name resolves again', {
          host,
          address: outcome.address,
          ...(before.kind === 'resolved' || before.kind === 'stale' ? { was: before.address } : {}),
        });
    } else {
      this.counts.failures++;
      if (before.kind === 'resolved') {
        e.state = { kind: 'stale', address: before.address, error: outcome.error, since: now };
        this.log.warn('host lookup failed; its last address is kept', {
          host,
          address: before.address,
          error: outcome.error,
        });
      } else if (before.kind === 'pending') {
        e.state = { kind: 'unresolved', error: outcome.error, since: now };
        this.log.warn('host name does not resolve; its backends are left out', { host, error: outcome.error });
      } else {
        // Still failing: the state (and its since) stands, the latest reason is kept, and nobody is told again.
        e.state = { ...before, error: outcome.error };
        if (!fromLastRun) return;
        this.log.warn("host lookup failed; the last run's address is kept", {
          host,
          ...(before.kind === 'stale' ? { address: before.address } : {}),
          error: outcome.error,
        });
      }
    }
    this.gen++;
    for (const fn of this.listeners) fn();
  }
}
