import { randomUUID } from 'node:crypto';
import type { Logger } from '../../log.js';
import { Backoff, SingleFlight, systemClock } from '../../retry.js';
import type { Change, Service } from '../../state/model.js';
import type { Sink } from '../source.js';
import { isTransient, ZkError, type ZkOp, type ZkSession } from '../zookeeper/client.js';
import { appJson, digest, encodeApp, readHead } from './app-node.js';
import { appKey, parsePartName, partName, type FleetLayout } from './layout.js';
import type { FleetSettings } from './settings.js';
import { decodeView, encodeView, type ViewRecord } from './view-node.js';
import { messageOf } from '../../errors.js';

/** How a publisher writes; sizes in bytes. */
export interface PublisherOptions {
  /** This sidecar's member znode name and its own description. */
  readonly member: string;
  readonly leaderId: string;
  readonly settings: FleetSettings;
  readonly heartbeatMs: number;
  /** Largest znode written (ZooKeeper refuses packets past jute.maxbuffer, 1 MB by default). */
  readonly partBytes: number;
  /** Largest transaction (all its znodes' data together). */
  readonly batchBytes: number;
  /** Marathon's view is current (the heartbeat stops while it is not, so followers see the view age). */
  readonly current: () => boolean;
  /** Members in line now, published for followers' /health. */
  readonly members: () => number;
}

/** What a publisher has done, for /health and /metrics. */
export interface PublisherStats {
  readonly claimed: boolean;
  readonly version: number;
  readonly commits: number;
  readonly bytesWritten: number;
  readonly znodesWritten: number;
  readonly lastError: string | null;
  readonly deposed: boolean;
}

/** What a head znode of the apps path holds, as the publisher last wrote or read it. */
interface Published {
  readonly sha: string;
  readonly parts: number;
}

/** Thrown when the view znode names another leader: this sidecar must stop publishing. */
class Deposed extends Error {}

/** The view moved under this leader (its own commit whose answer was lost): what is published must be read again. */
class Stale extends Error {}

const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5000;
const READ_CONCURRENCY = 64;
/** Bytes a znode operation costs in a transaction beyond its data (header, path, ACL). */
const OP_OVERHEAD = 200;

/**
 * The leader's side: takes the Marathon source's changes, keeps its apps,
 * and writes each app that changed (only those) into ZooKeeper, then commits
 * a new view version. Every transaction is conditional on the view znode's
 * version, which this publisher moved when it claimed the fleet: a leader
 * that lost its place (a new one claimed after it) cannot write a byte, on
 * whatever session. It publishes nothing before Marathon's first full view,
 * so a new leader never shows followers an empty fleet.
 */
export class Publisher {
  readonly sink: Sink = (change) => this.take(change);
  private readonly apps = new Map<string, Map<string, Service>>();
  private readonly appOf = new Map<string, string>();
  private readonly dirty = new Set<string>();
  private published = new Map<string, Published>();
  /** Part znodes no head accounts for (left by a leader that died mid-update): removed with the next commit. */
  private orphans = new Set<string>();
  private view: ViewRecord | null = null;
  private viewStat = -1;
  private synced = false;
  private fullPending = false;
  private running = false;
  /** Claims, commits and heartbeats run one at a time (they all move the view's version); a request meanwhile runs once after. */
  private readonly flight = new SingleFlight<void>(() => this.step());
  private readonly retry = new Backoff(systemClock, RETRY_MIN_MS, RETRY_MAX_MS);
  private queued = false;
  private heartbeatDue = false;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private stats: {
    -readonly [K in keyof PublisherStats]: PublisherStats[K];
  } = { claimed: false, version: 0, commits: 0, bytesWritten: 0, znodesWritten: 0, lastError: null, deposed: false };

  constructor(
    private readonly session: ZkSession,
    private readonly layout: FleetLayout,
    private readonly opts: PublisherOptions,
    private readonly log: Logger,
    private readonly onDeposed: () => void,
  ) {}

  /** Claims the view znode, reads what is published, then publishes as Marathon's view arrives. */
  start(): void {
    this.running = true;
    this.session.on('connected', this.onConnected);
    this.soon();
    this.heartbeatTimer = setInterval(() => {
      this.heartbeatDue = true;
      this.soon();
    }, this.opts.heartbeatMs);
  }

  /** No write starts after this; one in flight is fenced by the view's version anyway. */
  async stop(): Promise<void> {
    this.running = false;
    this.session.off('connected', this.onConnected);
    this.retry.cancel();
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    // Waits for a step in flight (the run this asks for returns at once: not running).
    await this.flight.run();
  }

  status(): PublisherStats {
    return { ...this.stats };
  }

  private readonly onConnected = (): void => this.soon();

  private take(change: Change): void {
    switch (change.kind) {
      case 'sync': {
        const before = new Set(this.apps.keys());
        this.apps.clear();
        this.appOf.clear();
        for (const s of change.services) this.put(s);
        for (const id of new Set([...before, ...this.apps.keys()])) this.dirty.add(id);
        this.synced = true;
        this.fullPending = true;
        break;
      }
      case 'upsert':
        this.put(change.service);
        this.dirty.add(change.service.name);
        break;
      case 'remove': {
        const app = this.appOf.get(change.id);
        if (app === undefined) return;
        this.appOf.delete(change.id);
        const services = this.apps.get(app);
        services?.delete(change.id);
        if (services?.size === 0) this.apps.delete(app);
        this.dirty.add(app);
        break;
      }
      case 'rules':
        return;
    }
    this.soon();
  }

  private put(s: Service): void {
    const services = this.apps.get(s.name) ?? new Map<string, Service>();
    services.set(s.id, s);
    this.apps.set(s.name, services);
    this.appOf.set(s.id, s.name);
  }

  /** A step after the changes of this turn have arrived (an event burst becomes one commit). */
  private soon(): void {
    if (!this.running || this.queued) return;
    this.queued = true;
    setImmediate(() => {
      this.queued = false;
      if (this.running && this.session.isConnected()) void this.flight.run();
    });
  }

  private failed(e: unknown): void {
    if (e instanceof Deposed) {
      this.stats.deposed = true;
      this.running = false;
      this.log.warn('fleet view claimed by another leader; publishing stopped', { source: 'fleet', reason: e.message });
      this.onDeposed();
      return;
    }
    const message = messageOf(e);
    this.stats.lastError = message;
    // Not about the connection: what this publisher believes is in ZooKeeper is wrong. Read it all again.
    if (!isTransient(e) || e instanceof Stale) this.stats.claimed = false;
    this.log.warn('fleet publish failed; retrying', { source: 'fleet', reason: message });
    this.retry.retry(() => this.soon());
  }

  private async step(): Promise<void> {
    if (!this.running || !this.session.isConnected()) return;
    try {
      if (!this.stats.claimed) await this.claim();
      if (this.synced && (this.dirty.size > 0 || this.orphans.size > 0)) await this.commit();
      else if (this.heartbeatDue) await this.heartbeat();
      this.retry.reset();
      this.stats.lastError = null;
    } catch (e) {
      this.failed(e);
      return;
    }
    // Changes that came while this step wrote: another step after it.
    if (this.running && this.synced && (this.dirty.size > 0 || this.orphans.size > 0)) this.soon();
  }

  /**
   * Moves the view znode to this leader (conditional on the version read, so
   * of two claimants one wins), then reads every head znode to learn what is
   * published: only apps that differ from it are written later.
   */
  private async claim(): Promise<void> {
    await this.session.mkdirp(this.layout.apps);
    let read: { data: Buffer; version: number };
    try {
      read = await this.session.getData(this.layout.view);
    } catch (e) {
      if (!(e instanceof ZkError && e.code === 'NO_NODE')) throw e;
      const first = encodeView(this.record(null, 0, 0));
      // Created and set in one transaction, so its version is never 0 (which Transaction cannot check).
      await this.session.transaction([
        { op: 'create', path: this.layout.view, data: first },
        { op: 'set', path: this.layout.view, data: first, version: -1 },
      ]);
      read = await this.session.getData(this.layout.view);
    }
    const old = decodeView(read.data);
    const before = typeof old === 'string' ? null : old;
    const claimed = this.record(before, before?.version ?? 0, before?.syncVersion ?? 0);
    this.viewStat = await this.session.setData(this.layout.view, encodeView(claimed), read.version);
    this.view = claimed;
    this.stats.version = claimed.version;
    await this.readPublished(claimed.version);
    this.stats.claimed = true;
    // Everything Marathon says is compared with what is there now.
    for (const id of this.apps.keys()) this.dirty.add(id);
    this.log.info('fleet view claimed', {
      source: 'fleet',
      member: this.opts.member,
      version: claimed.version,
      previousLeader: before?.leaderId ?? null,
      apps: this.published.size,
    });
  }

  private async readPublished(committed: number): Promise<void> {
    const names = await this.session.getChildren(this.layout.apps);
    const heads = names.filter((n) => parsePartName(n) === null);
    const published = new Map<string, Published>();
    const uncommitted = new Set<string>();
    for (let i = 0; i < heads.length; i += READ_CONCURRENCY) {
      await Promise.all(
        heads.slice(i, i + READ_CONCURRENCY).map(async (name) => {
          try {
            const head = readHead((await this.session.getData(`${this.layout.apps}/${name}`)).data);
            // A head nobody can read, or one written after the last commit, is rewritten (or removed).
            published.set(name, {
              sha: head && head.header.v <= committed ? head.header.sha : '',
              parts: head?.header.parts ?? 1,
            });
            if (!head || head.header.v > committed) uncommitted.add(name);
          } catch (e) {
            if (!(e instanceof ZkError && e.code === 'NO_NODE')) throw e;
          }
        }),
      );
    }
    this.orphans = new Set(
      names.filter((n) => {
        const p = parsePartName(n);
        return p !== null && p.part >= (published.get(p.key)?.parts ?? 1);
      }),
    );
    this.published = published;
    // Heads no app of Marathon's claims must go too: dirty under their app id.
    for (const key of published.keys()) this.dirty.add(decodeURIComponent(key));
    if (uncommitted.size > 0)
      this.log.info('fleet apps left uncommitted by the previous leader; rewriting them', {
        source: 'fleet',
        apps: uncommitted.size,
      });
  }

  /** Writes every dirty app that differs from what is published, then moves the view to the next version. */
  private async commit(): Promise<void> {
    const view = this.view!;
    const next = view.version + 1;
    const batch = [...this.dirty];
    this.dirty.clear();
    const full = this.fullPending;
    this.fullPending = false;
    const writes: ZkOp[] = [];
    const removes: ZkOp[] = [];
    const after = new Map<string, Published | null>();
    const path = (name: string) => `${this.layout.apps}/${name}`;
    const orphans = new Set(this.orphans);
    try {
      for (const appId of batch) {
        const key = appKey(appId);
        const services = this.apps.get(appId);
        const old = this.published.get(key);
        if (services && services.size > 0) {
          const json = appJson([...services.values()]);
          if (old && old.sha === digest(json)) continue;
          const enc = encodeApp(key, json, next, this.opts.partBytes);
          const parts = enc.znodes.length;
          for (const z of enc.znodes) {
            const part = z.name === key ? 0 : Number(z.name.slice(key.length + 1));
            // An orphan part of the same name is overwritten rather than removed.
            const exists = (old !== undefined && part < old.parts) || orphans.delete(z.name);
            writes.push(
              exists
                ? { op: 'set', path: path(z.name), data: z.data, version: -1 }
                : { op: 'create', path: path(z.name), data: z.data },
            );
          }
          for (let i = parts; i < (old?.parts ?? 1); i++)
            removes.push({ op: 'remove', path: path(partName(key, i)), version: -1 });
          after.set(key, { sha: enc.sha, parts });
        } else if (old) {
          for (let i = 1; i < old.parts; i++) removes.push({ op: 'remove', path: path(partName(key, i)), version: -1 });
          removes.push({ op: 'remove', path: path(key), version: -1 });
          after.set(key, null);
        }
      }
      for (const name of orphans) removes.push({ op: 'remove', path: path(name), version: -1 });
      let apps = this.published.size;
      for (const [key, p] of after) apps += p === null ? -1 : this.published.has(key) ? 0 : 1;
      const record: ViewRecord = { ...this.record(view, next, full ? next : view.syncVersion), apps };
      if (writes.length === 0 && removes.length === 0 && !full) return;
      await this.write([...writes, ...removes], record);
      for (const [key, p] of after) {
        if (p) this.published.set(key, p);
        else this.published.delete(key);
      }
      this.orphans.clear();
      this.heartbeatDue = false;
      this.view = record;
      this.stats.version = next;
      this.stats.commits++;
      // The first commit of a leadership ends a hand-over: worth an info line (the rest are debug).
      const meta = { source: 'fleet', version: next, apps: after.size, full };
      if (this.stats.commits === 1) this.log.info('fleet view published', meta);
      else this.log.debug('fleet view published', meta);
    } catch (e) {
      for (const id of batch) this.dirty.add(id);
      if (full) this.fullPending = true;
      throw e;
    }
  }

  /** Packs `ops` into transactions under batchBytes, each conditional on the view; the last one also sets it. */
  private async write(ops: readonly ZkOp[], record: ViewRecord): Promise<void> {
    const fence: ZkOp = { op: 'check', path: this.layout.view, version: this.viewStat };
    const viewData = encodeView(record);
    let txn: ZkOp[] = [];
    let bytes = 0;
    const send = async (last: boolean) => {
      const all = last
        ? [fence, ...txn, { op: 'set', path: this.layout.view, data: viewData, version: this.viewStat } as ZkOp]
        : [fence, ...txn];
      const versions = await this.guarded(() => this.session.transaction(all));
      this.stats.bytesWritten += bytes + (last ? viewData.length : 0);
      this.stats.znodesWritten += txn.length + (last ? 1 : 0);
      if (last) this.viewStat = versions[versions.length - 1]!;
      txn = [];
      bytes = 0;
    };
    for (const op of ops) {
      const size = (op.op === 'set' || op.op === 'create' ? op.data.length : 0) + OP_OVERHEAD;
      if (txn.length > 0 && bytes + size > this.opts.batchBytes) await send(false);
      txn.push(op);
      bytes += size;
    }
    await send(true);
  }

  /** Runs a write; a failed fence means someone else moved the view: deposed, unless it was our own lost answer. */
  private async guarded<T>(write: () => Promise<T>): Promise<T> {
    if (!this.running) throw new Deposed('publisher stopped');
    try {
      return await write();
    } catch (e) {
      if (!(e instanceof ZkError && e.code === 'BAD_VERSION')) throw e;
      const now = decodeView((await this.session.getData(this.layout.view)).data);
      if (typeof now === 'string' || now.leader !== this.opts.member)
        throw new Deposed(`the view now names ${typeof now === 'string' ? 'nobody readable' : now.leaderId}`);
      // Our own commit whose answer was lost: start over from what ZooKeeper holds.
      throw new Stale('the view moved under this leader (an answer was lost); reading it again');
    }
  }

  /** A heartbeat: the same view with the counter moved, only while Marathon's view is current. */
  private async heartbeat(): Promise<void> {
    this.heartbeatDue = false;
    if (!this.synced || !this.opts.current()) return;
    const record = this.record(this.view, this.view!.version, this.view!.syncVersion);
    this.viewStat = await this.guarded(() => this.session.setData(this.layout.view, encodeView(record), this.viewStat));
    this.view = record;
  }

  private record(before: ViewRecord | null, version: number, syncVersion: number): ViewRecord {
    return {
      version,
      epoch: before?.epoch ?? randomUUID(),
      syncVersion,
      leader: this.opts.member,
      leaderId: this.opts.leaderId,
      settings: this.opts.settings,
      heartbeat: (before?.heartbeat ?? 0) + 1,
      members: this.opts.members(),
      apps: before?.apps ?? this.published.size,
    };
  }
}
