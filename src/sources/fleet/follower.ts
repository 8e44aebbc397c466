import type { Logger } from '../../log.js';
import { Backoff, systemClock } from '../../retry.js';
import { sameService } from '../../state/merge.js';
import type { Service } from '../../state/model.js';
import { rejectionReason } from '../../state/rejection.js';
import { OnceLog, type Sink } from '../source.js';
import { ZkError, type ZkSession, type ZkWatcher } from '../zookeeper/client.js';
import { ZkDirectory } from '../zookeeper/directory.js';
import { assemble } from './app-node.js';
import { parsePartName, partName, type FleetLayout } from './layout.js';
import { checkAppServices, type CheckedApp } from './service-check.js';
import { decodeView, type ViewRecord } from './view-node.js';
import { messageOf } from '../../errors.js';

/** What a follower knows of the published view, for the fleet source's health. */
export interface FollowerState {
  /** The view record as last read; null: there is none; undefined: not read yet on this session. */
  readonly view: ViewRecord | null | undefined;
  /** The view version whose apps are applied (-1: none yet). */
  readonly applied: number;
  /** Epoch ms at which this sidecar last saw the view's version or heartbeat move, or null. */
  readonly advancedAt: number | null;
  /** Leaders seen taking over since start. */
  readonly leaderChanges: number;
  /** Apps held back: written by an update that is not committed, or whose parts are being rewritten. */
  readonly pending: number;
  readonly lastError: string | null;
}

/**
 * Reads the published view back as a source of Marathon services: a
 * ZkDirectory (the same watches the ZooKeeper registries use) over the apps
 * path, and a data watch on the view znode. Only committed content passes: an
 * app whose head names a later version than the view, or whose parts do not
 * match its head's digest, keeps its last applied services until the view
 * catches up. The first complete read is one `sync`; after it, each app that
 * changed becomes upserts and removes, except a commit made from a full
 * Marathon fetch, which is passed on as a `sync` (so the drop guard judges it
 * as it judges a standalone sidecar's resync). `accept` is asked before any
 * view is applied: a sidecar whose settings differ does not follow.
 */
export class Follower {
  private readonly dir: ZkDirectory;
  private readonly once: OnceLog;
  private sink: Sink | null = null;
  private view: ViewRecord | null | undefined = undefined;
  private viewIn = -1;
  private applied = -1;
  private advancedAt: number | null = null;
  private leaderChanges = 0;
  private lastError: string | null = null;
  /** Services per app key as applied (what the state has from us). */
  private readonly current = new Map<string, readonly Service[]>();
  /** Keys to look at on the next settle. */
  private readonly touched = new Set<string>();
  /** Keys held back at the last settle. */
  private readonly held = new Set<string>();
  /**
   * Apps whose head znode went, with the view version known when that was
   * seen. A leader removes an app in the transaction that commits the next
   * version, so the removal counts once a later version is read; a head gone
   * without one (a wiped or hand-edited tree) removes nothing.
   */
  private readonly vanished = new Map<string, number>();
  private appliedEpoch: string | null = null;
  private settleQueued = false;
  private readonly retry = new Backoff(systemClock, 200, 5000);
  private running = false;

  constructor(
    private readonly session: ZkSession,
    private readonly layout: FleetLayout,
    private readonly allowRaw: boolean,
    private readonly accept: (view: ViewRecord) => boolean,
    private readonly log: Logger,
    private readonly onView: () => void,
  ) {
    this.once = new OnceLog((m, meta) => log.warn(m, meta));
    this.dir = new ZkDirectory(session, layout.apps, {
      withData: true,
      missing: 'create',
      onChange: (changed) => {
        for (const name of changed) {
          const key = parsePartName(name)?.key ?? name;
          this.touched.add(key);
          if (key === name) this.noteVanished(key);
        }
        this.queueSettle();
      },
      onError: (reason) => {
        this.lastError = `zookeeper read under ${layout.apps} failed: ${reason}`;
      },
    });
  }

  start(sink: Sink): void {
    this.sink = sink;
    this.running = true;
    this.session.on('connected', this.onConnected);
    this.dir.start();
    if (this.session.isConnected()) this.readView();
  }

  stop(): void {
    this.running = false;
    this.retry.cancel();
    this.sink = null;
    this.session.off('connected', this.onConnected);
    this.dir.stop();
  }

  state(): FollowerState {
    return {
      view: this.view,
      applied: this.applied,
      advancedAt: this.advancedAt,
      leaderChanges: this.leaderChanges,
      pending: this.held.size,
      lastError: this.lastError,
    };
  }

  /** Settings acceptance may have changed (the fleet source's call): look again. */
  recheck(): void {
    this.queueSettle();
  }

  private readonly onConnected = (fresh: boolean): void => {
    if (fresh) this.view = undefined;
    this.readView();
  };

  private readonly viewWatcher: ZkWatcher = () => this.readView();

  private readView(): void {
    if (!this.running) return;
    const generation = this.session.generation;
    this.session.getData(this.layout.view, this.viewWatcher).then(
      ({ data }) => {
        if (!this.running || generation !== this.session.generation) return;
        const v = decodeView(data);
        if (typeof v === 'string') {
          this.lastError = v;
          this.once.warnOnce('fleet view unreadable; keeping the last one', { source: 'fleet', reason: v });
          return;
        }
        this.retry.reset();
        this.setView(v, generation);
      },
      (e: unknown) => {
        if (!this.running || generation !== this.session.generation) return;
        if (e instanceof ZkError && e.code === 'NO_NODE') {
          // No fleet has published yet: watch for the view's creation.
          this.session.exists(this.layout.view, this.viewWatcher).then(
            (version) => {
              if (version !== null) return this.readView();
              if (generation !== this.session.generation) return;
              this.view = null;
              this.viewIn = generation;
              this.onView();
            },
            () => this.retryView(),
          );
          return;
        }
        this.lastError = `zookeeper read of ${this.layout.view} failed: ${messageOf(e)}`;
        this.retryView();
      },
    );
  }

  private retryView(): void {
    if (this.running && this.session.isConnected()) this.retry.retry(() => this.readView());
  }

  private setView(v: ViewRecord, generation: number): void {
    const before = this.view;
    if (before && before.leader !== v.leader) {
      this.leaderChanges++;
      this.log.info('fleet leader changed', { source: 'fleet', leader: v.leaderId, member: v.leader });
    }
    if (!before || before.version !== v.version || before.heartbeat !== v.heartbeat || before.leader !== v.leader)
      this.advancedAt = Date.now();
    this.view = v;
    this.viewIn = generation;
    this.onView();
    this.queueSettle();
  }

  private queueSettle(): void {
    if (this.settleQueued) return;
    this.settleQueued = true;
    // Reads finish by the thousand while a big view loads: look once per turn, not once per read.
    setImmediate(() => {
      this.settleQueued = false;
      this.settle();
    });
  }

  private noteVanished(key: string): void {
    if (this.dir.child(key) || this.dir.names().includes(key)) this.vanished.delete(key);
    else if (!this.vanished.has(key)) this.vanished.set(key, this.view?.version ?? -1);
  }

  private settle(): void {
    const view = this.view;
    if (!this.running || !this.sink || !view || this.viewIn !== this.session.generation || !this.dir.complete()) return;
    if (!this.accept(view)) return;
    // Another epoch: the view was made afresh (a wiped ZooKeeper, say); versions start over, read it whole.
    const epochChanged = this.appliedEpoch !== null && this.appliedEpoch !== view.epoch;
    const first = this.applied < 0 || epochChanged;
    const full = first || view.syncVersion > this.applied;
    const keys = first ? new Set(this.dir.names().filter((n) => parsePartName(n) === null)) : new Set(this.touched);
    for (const k of this.held) keys.add(k);
    for (const k of this.current.keys()) if (first || !this.dir.child(k)) keys.add(k);
    this.touched.clear();
    this.held.clear();
    const changed: Array<[string, readonly Service[] | null]> = [];
    for (const key of keys) {
      const head = this.dir.child(key);
      if (!head) {
        if (!this.current.has(key)) continue;
        if (!this.vanished.has(key)) this.vanished.set(key, view.version);
        if (epochChanged || view.version > this.vanished.get(key)!) {
          this.vanished.delete(key);
          changed.push([key, null]);
        } else this.held.add(key);
        continue;
      }
      this.vanished.delete(key);
      const app = assemble(head.data, (i) => this.dir.child(partName(key, i))?.data ?? null, view.version);
      if (app.kind === 'pending') {
        this.held.add(key);
        continue;
      }
      const znode = this.dir.childPath(key);
      const checked: CheckedApp =
        app.kind === 'ok'
          ? checkAppServices(app.json.toString('utf8'), this.allowRaw, znode)
          : { kind: 'invalid', rejection: { where: znode, field: 'header', value: undefined, expected: app.reason } };
      if (checked.kind === 'invalid') {
        // Costs only this app: it keeps what it had.
        this.once.warnOnce('fleet app skipped', { source: 'fleet', znode, reason: rejectionReason(checked.rejection) });
        continue;
      }
      changed.push([key, checked.services]);
    }
    this.applied = view.version;
    this.appliedEpoch = view.epoch;
    this.lastError = null;
    if (full) {
      for (const [key, services] of changed) {
        if (services) this.current.set(key, this.keep(this.current.get(key), services));
        else this.current.delete(key);
      }
      const services = [...this.current.values()].flat();
      this.sink({ kind: 'sync', source: 'marathon', services });
      if (first)
        this.log.info('fleet view read', {
          source: 'fleet',
          version: view.version,
          apps: this.current.size,
          leader: view.leaderId,
        });
      return;
    }
    for (const [key, services] of changed) this.emitApp(key, services);
  }

  /** The new services, each replaced by the one already applied when it is the same (so the state keeps its identity). */
  private keep(before: readonly Service[] | undefined, after: readonly Service[]): readonly Service[] {
    if (!before) return after;
    return after.map((s) => before.find((b) => b.id === s.id && sameService(b, s)) ?? s);
  }

  private emitApp(key: string, services: readonly Service[] | null): void {
    const before = this.current.get(key) ?? [];
    const after = services ? this.keep(before, services) : [];
    const ids = new Set(after.map((s) => s.id));
    for (const old of before) if (!ids.has(old.id)) this.sink!({ kind: 'remove', source: 'marathon', id: old.id });
    for (const s of after) if (!before.includes(s)) this.sink!({ kind: 'upsert', source: 'marathon', service: s });
    if (after.length > 0) this.current.set(key, after);
    else this.current.delete(key);
  }
}
