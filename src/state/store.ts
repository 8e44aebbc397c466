import { applyRule, mergeServices, sameService } from './merge.js';
import type { Change, Rule, Service, Snapshot } from './model.js';

/** The drop guard: a service losing more than `maxDrop` of its backends at once is held back for `holdMs`. */
export interface GuardOptions {
  readonly maxDrop: number;
  readonly holdMs: number;
}

/** A change the guard is holding back: the service keeps its `from` backends until `until` or an operator confirms. */
export interface HeldChange {
  readonly id: string;
  readonly since: number;
  readonly until: number;
  readonly from: number;
  readonly to: number;
}

/**
 * The one mutable place: what each source last said, plus the rules. A change
 * costs in proportion to the services it names, not to the cluster; a change
 * that alters nothing effective leaves the version where it was. With a
 * guard, a full view (a resync, a new session, a file re-read) that would
 * take away more than its share of a service's backends (a registry answering
 * empty, a blip dropping half a cluster) is held: the service stays as it was
 * until the drop persists past the hold time or is confirmed. Explicit events
 * (a task killed, an app deleted) pass.
 */
export class StateStore {
  private readonly held = new Map<string, HeldChange>();
  private readonly release = new Set<string>();
  /** Ids a full view (sync) touched: the only changes the guard looks at. */
  private readonly viewed = new Set<string>();

  constructor(
    private guard: GuardOptions | null = null,
    private readonly now: () => number = Date.now,
  ) {}

  /** New guard settings (a re-read config); changes held now keep their hold times. */
  setGuard(guard: GuardOptions | null): void {
    this.guard = guard;
  }

  /** Drops everything a source said, because it is no longer configured: the operator's word, not a view the guard judges. */
  forget(source: string): string[] {
    const services = this.bySource.get(source);
    if (!services) return [];
    this.bySource.delete(source);
    for (const id of services.keys()) this.dirty.add(id);
    return this.settle();
  }

  private readonly bySource = new Map<string, Map<string, Service>>();
  private rules = new Map<string, Rule>();
  private readonly effective = new Map<string, Service>();
  private readonly dirty = new Set<string>();
  private sortedIds: string[] = [];
  private idsChanged = false;
  private rulesChanged = false;
  private version = 0;
  private last: Snapshot | null = null;

  /** Applies a change; returns the ids whose effective service changed (empty: nothing to do). */
  apply(change: Change): string[] {
    switch (change.kind) {
      case 'sync': {
        const previous = this.bySource.get(change.source) ?? new Map<string, Service>();
        const next = new Map(change.services.map((s) => [s.id, s] as const));
        this.bySource.set(change.source, next);
        for (const id of previous.keys()) if (!next.has(id)) this.mark(id, true);
        for (const [id, s] of next) if (previous.get(id) !== s) this.mark(id, true);
        break;
      }
      case 'upsert':
        this.sourceMap(change.source).set(change.service.id, change.service);
        this.dirty.add(change.service.id);
        break;
      case 'remove':
        if (this.sourceMap(change.source).delete(change.id)) this.dirty.add(change.id);
        break;
      case 'rules': {
        const next = new Map(change.rules.map((r) => [r.id, r] as const));
        for (const id of new Set([...this.rules.keys(), ...next.keys()])) {
          if (JSON.stringify(this.rules.get(id)) !== JSON.stringify(next.get(id))) {
            this.dirty.add(id);
            this.rulesChanged = true;
          }
        }
        this.rules = next;
        break;
      }
    }
    return this.settle();
  }

  /** The state now; the same object while nothing changes. */
  snapshot(): Snapshot {
    if (this.last && this.last.version === this.version) return this.last;
    if (this.idsChanged) {
      this.sortedIds = [...this.effective.keys()].sort();
      this.idsChanged = false;
    }
    this.last = {
      version: this.version,
      services: this.sortedIds.map((id) => this.effective.get(id)!),
      rules: [...this.rules.values()].sort((a, b) => (a.id < b.id ? -1 : 1)),
    };
    return this.last;
  }

  /** The changes being held, oldest first. */
  holds(): HeldChange[] {
    return [...this.held.values()].sort((a, b) => a.since - b.since);
  }

  /** Lets held changes through: those whose hold time is up, or the given ids (all, when none given) on an operator's word. */
  releaseHeld(ids?: readonly string[] | 'expired'): string[] {
    const now = this.now();
    for (const h of this.held.values()) {
      if (ids === 'expired' ? h.until <= now : !ids || ids.includes(h.id)) {
        this.release.add(h.id);
        this.dirty.add(h.id);
      }
    }
    return this.settle();
  }

  /** Services one source contributed (before merging and rules). */
  servicesOf(source: string): Service[] {
    return [...(this.bySource.get(source)?.values() ?? [])];
  }

  /** Decides whether the guard holds this service back; records or drops the hold accordingly. */
  private guardHolds(id: string, before: Service | undefined, after: Service | undefined): boolean {
    const from = before?.backends.length ?? 0;
    const to = after?.backends.length ?? 0;
    const drop = from === 0 ? 0 : (from - to) / from;
    // An explicit event (a task killed, an app deleted) is the registry speaking about one thing; only a
    // whole view that suddenly lacks much of what was there is suspect.
    const suspect = this.viewed.has(id) || this.held.has(id);
    if (!this.guard || this.release.has(id) || !suspect || drop <= this.guard.maxDrop) {
      this.held.delete(id);
      return false;
    }
    const now = this.now();
    const since = this.held.get(id)?.since ?? now;
    this.held.set(id, { id, since, until: since + this.guard.holdMs, from, to });
    return true;
  }

  private mark(id: string, view: boolean): void {
    this.dirty.add(id);
    if (view) this.viewed.add(id);
  }

  private sourceMap(source: string): Map<string, Service> {
    let m = this.bySource.get(source);
    if (!m) this.bySource.set(source, (m = new Map()));
    return m;
  }

  /** Recomputes the effective service of every dirty id; keeps the old object where nothing changed. */
  private settle(): string[] {
    const changed: string[] = [];
    for (const id of this.dirty) {
      const versions: Service[] = [];
      for (const m of this.bySource.values()) {
        const s = m.get(id);
        if (s) versions.push(s);
      }
      const before = this.effective.get(id);
      const candidate = versions.length === 0 ? undefined : applyRule(mergeServices(versions), this.rules.get(id));
      if (this.guardHolds(id, before, candidate)) continue;
      if (versions.length === 0) {
        if (before) {
          this.effective.delete(id);
          this.idsChanged = true;
          changed.push(id);
        }
        continue;
      }
      const after = candidate!;
      if (before && sameService(before, after)) continue;
      if (!before) this.idsChanged = true;
      this.effective.set(id, after);
      changed.push(id);
    }
    this.dirty.clear();
    this.release.clear();
    this.viewed.clear();
    // Rules are part of the snapshot even for ids no source has yet, so a rule change alone is a new version.
    if (changed.length > 0 || this.rulesChanged) this.version++;
    this.rulesChanged = false;
    return changed;
  }
}
