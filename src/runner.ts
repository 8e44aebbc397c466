import { readFile } from 'node:fs/promises';
import { messageOf, stackOf } from './errors.js';
import type { Config } from './config/schema.js';
import { Backoff, SingleFlight, systemClock, type Clock } from './retry.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { Source, SourceStatus } from './sources/source.js';
import type { Change, Snapshot } from './state/model.js';
import type { HeldChange, StateStore } from './state/store.js';
import { StartGuard } from './state/start-guard.js';
import { startFromWhatRuns } from './targets/converge.js';
import type { QuarantineEntry } from './targets/quarantine.js';
import { installedBackends, installedState, writeRecord, type InstalledState } from './targets/record.js';
import type { ApplyResult, Target, TargetStatus } from './targets/target.js';

/** The daemon's overall condition, as /health reports it. */
export interface Health {
  readonly status: 'starting' | 'ok' | 'degraded';
  /** Names of the sources and targets that are not well ("guard" while changes are held). */
  readonly failing: readonly string[];
  readonly version: number;
  /** Changes the drop guard is holding back. */
  readonly held: readonly HeldChange[];
  readonly sources: Readonly<Record<string, SourceStatus & { ageMs: number | null }>>;
  readonly targets: Readonly<Record<string, TargetStatus>>;
  /** Services a target's proxy refused, left out of an otherwise installed config: they do not make it degraded. */
  readonly quarantined: readonly QuarantineEntry[];
  /** The config file as last re-read (SIGHUP): `error` while a new one was refused and the running one kept. */
  readonly config: { readonly ok: boolean; readonly error: string | null; readonly since: number | null };
}

/** What a new config puts in place of the running parts (see Runner.reconfigure). */
export interface RunnerParts {
  readonly sources: readonly Source[];
  readonly targets: readonly Target[];
  readonly reload: Config['reload'];
  readonly guard: Config['guard'];
}

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;

/**
 * The only part that knows the order of things: it takes changes from the
 * sources into the state, waits for every source's first complete view,
 * coalesces bursts (quietMs after the last change, maxDelayMs after the
 * first), and drives every target from the same snapshot, one cycle at a
 * time. A target that may not reload yet (minIntervalMs) says when to come
 * back, and the runner does.
 */
export class Runner {
  private readonly synced = new Set<string>();
  private readonly pendingTemplates = new Set<Target>();
  private firstChangeAt: bigint | null = null;
  private dirty = false;
  // Each timer is the function that cancels it.
  private quietTimer: (() => void) | null = null;
  private maxTimer: (() => void) | null = null;
  private deferTimer: (() => void) | null = null;
  private holdTimer: (() => void) | null = null;
  /** A failed target is tried again on its own, later each time it fails again. */
  private readonly retry: Backoff;
  /** One cycle at a time: a cycle due while one runs runs right after it. */
  private readonly cycling = new SingleFlight<void>(() => this.cycle());
  /** Brings a cycle when a quarantined service is due to be tried again. */
  private quarantineTimer: (() => void) | null = null;
  /** Quarantine entries seen after the last cycle, by target and service: what is new is counted once. */
  private quarantineSeen = new Map<string, string>();
  private cycles = 0;
  /** Source event totals already turned into counter increments. */
  private readonly eventsSeen = new Map<string, number>();
  /** Source limit-breach totals already turned into counter increments, by source and limit. */
  private readonly limitsSeen = new Map<string, number>();
  /** Render cache counts already added to /metrics, by target, cache and result. */
  private readonly cacheSeen = new Map<string, number>();
  /** Services changed since the last cycle: the reason logged with what the cycle did. */
  private readonly changedIds = new Set<string>();
  private stopped = false;
  private targetsLoaded: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<(results: readonly ApplyResult[], changed: readonly string[]) => void>();
  private configProblem: { error: string; since: number } | null = null;
  /** Judges the first view against the installed configs' backends; null without a guard or once it passed. */
  private startGuard: StartGuard | null = null;
  private startHoldTimer: (() => void) | null = null;
  /** What each target's record said of its installed file at start, read beside the template loading. */
  private installed: Promise<readonly InstalledState[]> = Promise.resolve([]);

  constructor(
    private config: Pick<Config, 'reload' | 'guard'>,
    private readonly store: StateStore,
    private sources: readonly Source[],
    private currentTargets: readonly Target[],
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly clock: Clock = systemClock,
  ) {
    this.retry = new Backoff(clock, RETRY_MIN_MS, RETRY_MAX_MS);
  }

  get targets(): readonly Target[] {
    return this.currentTargets;
  }

  /**
   * Loading templates and the first fetches run side by side: a big
   * registry's first answer takes long enough to hide the template work.
   * No cycle runs before every target has loaded.
   */
  async start(): Promise<void> {
    this.installed = Promise.all(this.targets.map((t) => installedState(t.config.output)));
    this.targetsLoaded = Promise.all([
      ...this.targets.map(async (t, i) => {
        await t.init();
        const state = (await this.installed)[i]!;
        if (state.kind !== 'none' && state.record?.template) t.proven(state.record.template);
        await startFromWhatRuns(t, state, this.log);
      }),
      this.guardTheStart(),
    ]).then(() => undefined);
    await Promise.all([this.targetsLoaded, ...this.sources.map((s) => this.startSource(s))]);
  }

  /** Arms the start guard with the installed configs' backends (the most any target has, per service). */
  private async guardTheStart(): Promise<void> {
    const states = await this.installed;
    if (!this.config.guard.enabled) return;
    const baseline = new Map<string, number>();
    for (const state of states)
      for (const [id, n] of installedBackends(state)) baseline.set(id, Math.max(n, baseline.get(id) ?? 0));
    if (baseline.size > 0) this.startGuard = new StartGuard(baseline, this.config.guard);
  }

  /** A source's changes count only while it is one of the runner's: one replaced by a reconfigure may still be stopping. */
  private startSource(s: Source): Promise<void> {
    return s.start((c) => {
      if (this.sources.includes(s)) this.onChange(s.name, c);
    });
  }

  /**
   * Puts a new config's parts in place between two cycles. A source or target
   * passed in that is already running keeps running, with its state. A
   * source replaced under the same name keeps its services until its
   * successor's first full view replaces them (the drop guard judges that
   * view as any other), so nothing drops while it connects; a source no
   * longer named takes its services with it. New targets must be loaded.
   */
  async reconfigure(next: RunnerParts): Promise<void> {
    await this.cycling.idle();
    const gone = this.sources.filter((s) => !next.sources.includes(s));
    const added = next.sources.filter((s) => !this.sources.includes(s));
    const names = new Set(next.sources.map((s) => s.name));
    this.sources = next.sources;
    for (const t of this.currentTargets)
      if (!next.targets.includes(t)) {
        this.pendingTemplates.delete(t);
        if (!next.targets.some((n) => n.name === t.name)) {
          this.metrics.targetUp.remove({ target: t.name });
          this.metrics.targetLastSuccess.remove({ target: t.name });
        }
      }
    this.currentTargets = next.targets;
    this.config = { reload: next.reload, guard: next.guard };
    const forgotten: string[] = [];
    for (const s of gone)
      if (!names.has(s.name)) {
        this.synced.delete(s.name);
        forgotten.push(...this.store.forget(s.name));
      }
    await Promise.all(gone.map((s) => s.stop()));
    await Promise.all(added.map((s) => this.startSource(s)));
    // Changed and new targets have not seen the state yet: a cycle brings them in line.
    this.changed(forgotten, true);
  }

  /** The config file as last re-read: the reason a new one was refused, or null once one is taken. */
  setConfigProblem(error: string | null): void {
    this.configProblem = error === null ? null : { error, since: this.configProblem?.since ?? Date.now() };
  }

  /** Stops the sources, then lets a cycle in flight finish, so an install is never cut short. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const cancel of [
      this.quietTimer,
      this.maxTimer,
      this.deferTimer,
      this.holdTimer,
      this.startHoldTimer,
      this.quarantineTimer,
    ])
      cancel?.();
    this.retry.cancel();
    await Promise.all(this.sources.map((s) => s.stop()));
    await this.cycling.idle();
  }

  /** Every source has delivered a complete view at least once. */
  ready(): boolean {
    return this.sources.every((s) => this.synced.has(s.name));
  }

  snapshot(): Snapshot {
    return this.store.snapshot();
  }

  /** Called after each cycle with what every target did and the services whose change caused it; for tests, benchmarks, the CLI and the dashboard's recent events. */
  onCycle(fn: (results: readonly ApplyResult[], changed: readonly string[]) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Something targets render from that is not in the state changed (a host name's address): every target looks again. */
  inputChanged(): void {
    this.changed([], true);
  }

  /** A template (or partial) of this target changed on disk. */
  templateEdited(target: Target): void {
    this.pendingTemplates.add(target);
    this.log.info('template edit seen', { target: target.name });
    this.schedule();
  }

  health(): Health {
    const now = Date.now();
    const sources: Record<string, SourceStatus & { ageMs: number | null }> = {};
    const targets: Record<string, TargetStatus> = {};
    const failing: string[] = [];
    for (const s of this.sources) {
      const st = s.status();
      sources[s.name] = { ...st, ageMs: st.lastSyncAt === null ? null : now - st.lastSyncAt };
      if (!st.healthy) failing.push(s.name);
    }
    for (const t of this.targets) {
      const st = t.status();
      targets[t.name] = st;
      if (!st.ok) failing.push(t.name);
    }
    const held = [...(this.startGuard?.holds() ?? []), ...this.store.holds()];
    if (held.length > 0) failing.push('guard');
    if (this.configProblem) failing.push('config');
    // Held at start, the proxy serves the installed config: not "starting", but not well either.
    const starting = this.cycles === 0 && (this.startGuard?.holds().length ?? 0) === 0;
    const status = starting ? 'starting' : failing.length > 0 ? 'degraded' : 'ok';
    const config = {
      ok: this.configProblem === null,
      error: this.configProblem?.error ?? null,
      since: this.configProblem?.since ?? null,
    };
    const quarantined = this.targets.flatMap((t) => t.quarantined());
    return { status, failing, version: this.store.snapshot().version, held, sources, targets, quarantined, config };
  }

  /** An operator's word: let held changes through now (all of them when no ids are given). */
  releaseHeld(ids?: readonly string[]): string[] {
    const atStart = this.startGuard?.release(ids) ?? [];
    const changed = this.store.releaseHeld(ids);
    this.log.warn('held changes released by an operator', { services: [...atStart, ...changed] });
    this.changed(changed, atStart.length > 0);
    return [...atStart, ...changed];
  }

  private onChange(source: string, change: Change): void {
    if (this.stopped) return;
    this.metrics.changes.inc({ source, kind: change.kind });
    if (change.kind === 'sync' && !this.synced.has(source)) {
      this.synced.add(source);
      this.log.info('source synced for the first time', { source, services: change.services.length });
    }
    const holding = this.store.holds().length;
    const changed = this.store.apply(change);
    if (changed.length > 0 || change.kind === 'rules') {
      this.metrics.stateChanges.inc({ source });
      this.log.debug('state changed', {
        source,
        kind: change.kind,
        services: changed.slice(0, 20),
        count: changed.length,
      });
    }
    if (this.store.holds().length > holding) {
      this.log.warn('change held by the drop guard: too many backends gone at once', {
        source,
        held: this.store.holds().slice(holding),
      });
    }
    this.watchHolds();
    this.changed(changed, change.kind === 'rules');
  }

  /** Marks the state dirty for a cycle, remembering which services changed for the log. */
  private changed(ids: readonly string[], force = false): void {
    if (ids.length > 0 || force) {
      this.firstChangeAt ??= process.hrtime.bigint();
      this.dirty = true;
      for (const id of ids) if (this.changedIds.size < 1000) this.changedIds.add(id);
    }
    if (this.ready() && (this.dirty || this.cycles === 0)) this.schedule();
  }

  /** Keeps one timer for the earliest hold to end; a hold that outlives its time is a real change after all. */
  private watchHolds(): void {
    this.holdTimer?.();
    this.holdTimer = null;
    const holds = this.store.holds();
    if (holds.length === 0 || this.stopped) return;
    const next = Math.min(...holds.map((h) => h.until));
    this.holdTimer = this.clock.after(Math.max(0, next - Date.now()), () => {
      this.holdTimer = null;
      const released = this.store.releaseHeld('expired');
      if (released.length > 0)
        this.log.warn('held changes persisted past the hold time; applying them', { services: released });
      this.watchHolds();
      this.changed(released);
    });
  }

  /** Arms the coalescing timers: a cycle runs quietMs after the last change, or maxDelayMs after the first, whichever is sooner. */
  private schedule(): void {
    if (this.stopped) return;
    const { quietMs, maxDelayMs } = this.config.reload;
    this.quietTimer?.();
    this.quietTimer = this.clock.after(quietMs, () => this.fire());
    this.maxTimer ??= this.clock.after(Math.max(maxDelayMs, 0), () => this.fire());
  }

  /** A cycle is due. Every change that makes one due again arms the timers anew, so none is lost to one in flight. */
  private fire(): void {
    for (const cancel of [this.quietTimer, this.maxTimer]) cancel?.();
    this.quietTimer = this.maxTimer = null;
    this.cycling.run().catch((e: unknown) => this.cycleFailed(e));
  }

  /**
   * A cycle that threw past the targets' own containment (a bug): logged with
   * its stack and tried again after a back-off, so the runner never stalls
   * on it silently and nothing leaves the daemon as an unhandled rejection.
   */
  private cycleFailed(e: unknown): void {
    this.log.error('cycle failed unexpectedly; trying again', { error: messageOf(e), stack: stackOf(e) });
    if (this.stopped) return;
    this.retry.retry(() => {
      this.dirty = true;
      this.schedule();
    });
  }

  private async cycle(): Promise<void> {
    await this.targetsLoaded;
    if (this.stopped) return;
    if (!this.ready() && this.pendingTemplates.size === 0) return;
    const snapshot = this.ready() ? this.store.snapshot() : null;
    if (snapshot && this.holdsTheStart(snapshot)) {
      // Judged: the next change, or the hold's end, looks again.
      this.dirty = false;
      return;
    }
    const since = this.firstChangeAt;
    this.firstChangeAt = null;
    this.dirty = false;
    const templates = new Set(this.pendingTemplates);
    this.pendingTemplates.clear();
    const reason = [...this.changedIds];
    this.changedIds.clear();
    const results = await Promise.all(
      this.currentTargets.map((t) =>
        templates.has(t) ? t.reloadTemplate(snapshot) : snapshot ? t.apply(snapshot) : null,
      ),
    );
    const done = results.filter((r): r is ApplyResult => r !== null);
    if (snapshot) this.cycles++;
    this.record(done, since, reason);
    for (const fn of this.listeners) {
      try {
        fn(done, reason);
      } catch (e) {
        // A listener (the dashboard's recent events) is a reader: its fault must not stop the cycle's book-keeping.
        this.log.error('cycle listener failed', { error: messageOf(e), stack: stackOf(e) });
      }
    }
    this.retryIfFailed(done);
    this.comeBackIfDeferred(done, reason);
    this.recordQuarantine();
    if (snapshot) await this.recordInstalls(done, snapshot);
  }

  /** Counts new quarantine decisions, sets the gauge, and comes back when a quarantined service is due a retry. */
  private recordQuarantine(): void {
    const seen = new Map<string, string>();
    let next: number | null = null;
    for (const t of this.targets) {
      const entries = t.quarantined();
      this.metrics.quarantined.set({ target: t.name }, entries.length);
      for (const e of entries) {
        const key = `${t.name}\u0000${e.service}`;
        const what = `${e.finding}\u0000${e.reason}`;
        if (this.quarantineSeen.get(key) !== what)
          this.metrics.quarantineDecisions.inc({ target: t.name, finding: e.finding });
        seen.set(key, what);
      }
      const due = t.quarantineRetryInMs();
      if (due !== null) next = next === null ? due : Math.min(next, due);
    }
    this.quarantineSeen = seen;
    if (next === null || this.quarantineTimer || this.stopped) return;
    this.quarantineTimer = this.clock.after(next + 10, () => {
      this.quarantineTimer = null;
      this.dirty = true;
      this.schedule();
    });
  }

  /**
   * Whether the first view waits: it would take too many of the installed
   * configs' backends. Nothing is installed meanwhile (template edits wait
   * too); each change looks again, and the hold's end lets it through.
   */
  private holdsTheStart(snapshot: Snapshot): boolean {
    if (!this.startGuard || this.cycles > 0) return false;
    const before = this.startGuard.holds().length;
    const held = this.startGuard.judge(snapshot);
    if (held.length === 0) {
      if (before > 0) this.log.info('the first view no longer drops the installed backends; installing it');
      this.startGuard = null;
      this.startHoldTimer?.();
      this.startHoldTimer = null;
      return false;
    }
    if (before === 0)
      this.log.warn('first view held by the drop guard: it lacks most backends of the installed config', {
        held: held.slice(0, 20),
        services: held.length,
        until: new Date(held[0]!.until).toISOString(),
      });
    this.startHoldTimer ??= this.clock.after(Math.max(0, held[0]!.until - Date.now()), () => {
      this.log.warn('the first view persisted past the hold time; installing it');
      this.changed([], true);
    });
    return true;
  }

  /** Writes each target's install record after an install the proxy took, for the next process to trust. */
  private async recordInstalls(results: readonly ApplyResult[], snapshot: Snapshot): Promise<void> {
    await Promise.all(
      results
        .filter((r) => r.kind === 'installed')
        .map(async (r) => {
          const target = this.currentTargets.find((t) => t.name === r.target)!;
          try {
            const bytes = target.installedBytes() ?? (await readFile(target.config.output));
            await writeRecord(target.config.output, bytes, snapshot, target.provenTemplate());
          } catch (e) {
            this.log.warn('could not write the install record; the next start will reload to be sure', {
              target: r.target,
              error: e,
            });
          }
        }),
    );
  }

  private record(results: readonly ApplyResult[], since: bigint | null, reason: readonly string[]): void {
    const now = process.hrtime.bigint();
    for (const r of results) {
      const outcome = r.kind === 'installed' ? 'changed' : r.kind;
      this.metrics.applies.inc({ target: r.target, outcome });
      this.metrics.applySeconds.observe({ target: r.target }, r.ms / 1000);
      for (const [stage, ms] of Object.entries(r.stages))
        this.metrics.stageSeconds.observe({ target: r.target, stage }, ms / 1000);
      if (r.stages.validate !== undefined) {
        const refused = r.kind === 'failed' && r.error.stage === 'validate';
        this.metrics.validations.inc({ target: r.target, outcome: refused ? 'failed' : 'ok' });
      }
      if (r.kind === 'failed') {
        this.metrics.failures.inc({ target: r.target, stage: r.error.stage });
        if (r.error.limit) this.metrics.limitExceeded.inc({ source: 'render', limit: r.error.limit });
        if (r.error.stage === 'reload') this.metrics.reloads.inc({ target: r.target, outcome: 'failed' });
      }
      if (r.kind !== 'installed') continue;
      this.metrics.installs.inc({ target: r.target });
      if (since !== null) this.metrics.eventToInstall.observe({ target: r.target }, Number(now - since) / 1e9);
      if (r.how === 'reload') this.metrics.reloads.inc({ target: r.target, outcome: 'ok' });
      if (r.how === 'live') this.metrics.liveUpdates.inc({ target: r.target });
      const stages = Object.fromEntries(Object.entries(r.stages).map(([k, v]) => [k, Math.round(v * 10) / 10]));
      this.log.info('config installed', {
        target: r.target,
        version: r.version,
        how: r.how,
        services: reason.slice(0, 20),
        servicesChanged: reason.length,
        ...(r.commands.length > 0 ? { commands: r.commands.slice(0, 20) } : {}),
        ms: Math.round(r.ms),
        stages,
      });
    }
  }

  /** A failed target is tried again on its own after a back-off, so a transient fault heals without waiting for a change. */
  private retryIfFailed(results: readonly ApplyResult[]): void {
    if (results.every((r) => r.kind !== 'failed')) return this.retry.reset();
    if (this.stopped) return;
    this.retry.retry(() => {
      this.dirty = true;
      this.schedule();
    });
  }

  /** A target held a reload back for minIntervalMs: run another cycle when it may reload, keeping the reason. */
  private comeBackIfDeferred(results: readonly ApplyResult[], reason: readonly string[]): void {
    const wait = Math.max(0, ...results.map((r) => (r.kind === 'deferred' ? r.retryInMs : 0)));
    if (wait === 0 || this.deferTimer || this.stopped) return;
    for (const id of reason) if (this.changedIds.size < 1000) this.changedIds.add(id);
    this.deferTimer = this.clock.after(wait, () => {
      this.deferTimer = null;
      this.dirty = true;
      this.schedule();
    });
  }

  /** Updates the gauges that are read at scrape time (kept off the event path: they walk every service). */
  refreshGauges(): void {
    const now = Date.now();
    this.metrics.held.set(this.store.holds().length + (this.startGuard?.holds().length ?? 0));
    this.metrics.backends.reset();
    for (const s of this.store.snapshot().services)
      this.metrics.backends.set({ service: s.id }, s.backends.filter((b) => b.healthy && !b.draining).length);
    for (const s of this.sources) {
      const st = s.status();
      this.metrics.syncAge.set({ source: s.name }, st.lastSyncAt === null ? -1 : (now - st.lastSyncAt) / 1000);
      this.metrics.sourceUp.set({ source: s.name }, st.healthy ? 1 : 0);
      if (st.lastSyncAt !== null) this.metrics.sourceLastSync.set({ source: s.name }, st.lastSyncAt / 1000);
      this.metrics.rejected.set({ source: s.name }, st.rejections.length);
      if (st.connected !== null) this.metrics.streamConnected.set({ source: s.name }, st.connected ? 1 : 0);
      for (const [limit, total] of Object.entries(st.overLimit)) {
        const key = `${s.name}\u0000${limit}`;
        const delta = total - (this.limitsSeen.get(key) ?? 0);
        if (delta > 0) this.metrics.limitExceeded.inc({ source: s.name, limit }, delta);
        this.limitsSeen.set(key, total);
      }
      for (const [type, total] of Object.entries(st.events)) {
        const key = `${s.name}\u0000${type}`;
        const delta = total - (this.eventsSeen.get(key) ?? 0);
        if (delta > 0) this.metrics.events.inc({ source: s.name, type }, delta);
        this.eventsSeen.set(key, total);
      }
    }
    for (const t of this.targets) {
      // From the status /health shows, so the two never disagree (a refused template edit included).
      const st = t.status();
      this.metrics.targetUp.set({ target: t.name }, st.ok ? 1 : 0);
      if (st.lastSuccessAt !== null) this.metrics.targetLastSuccess.set({ target: t.name }, st.lastSuccessAt / 1000);
      const c = t.cacheStats();
      const totals = {
        'view\u0000hit': c.viewHits,
        'view\u0000miss': c.viewMisses,
        'fragment\u0000hit': c.fragmentHits,
        'fragment\u0000miss': c.fragmentMisses,
        'derived\u0000hit': c.derivedHits,
        'derived\u0000miss': c.derivedMisses,
      };
      for (const [kind, total] of Object.entries(totals)) {
        const key = `${t.name}\u0000${kind}`;
        const [cache, result] = kind.split('\u0000');
        const delta = total - (this.cacheSeen.get(key) ?? 0);
        if (delta > 0) this.metrics.renderCache.inc({ target: t.name, cache, result }, delta);
        this.cacheSeen.set(key, total);
      }
    }
  }
}
