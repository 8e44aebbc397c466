import type { ApplyResult, InstallHow, Stage } from '../../targets/target.js';
import { piecesDiff, type DiffOutcome } from './config-diff.js';

/** A new config installed on one target: what changed it and how it was applied. */
export interface InstallEvent {
  readonly kind: 'install';
  readonly seq: number;
  /** Epoch ms. */
  readonly at: number;
  readonly target: string;
  readonly version: number;
  readonly how: InstallHow;
  /** The services whose change led to it, the first MAX_SERVICES of them. */
  readonly services: readonly string[];
  readonly servicesChanged: number;
  /** Runtime API commands of a live update, the first MAX_COMMANDS. */
  readonly commands: readonly string[];
  /** The installed config against the one before (not for live updates, whose commands say it). */
  readonly diff: DiffOutcome | { readonly kind: 'none'; readonly reason: string } | null;
  readonly ms: number;
}

/** A target that would not take a config (render, validate, install or reload failed); repeats of the same failure count up. */
export interface RefusalEvent {
  readonly kind: 'refusal';
  readonly seq: number;
  readonly at: number;
  /** The last time the same failure came back. */
  readonly lastAt: number;
  readonly count: number;
  readonly target: string;
  readonly version: number;
  readonly stage: Stage | null;
  readonly error: string;
}

export type RecentEvent = InstallEvent | RefusalEvent;

/** An event as the list shows it: the diff left out (`GET /api/events/<seq>` has it). */
export type EventSummary = (Omit<InstallEvent, 'diff'> & { readonly hasDiff: boolean }) | RefusalEvent;

/** The installed config as a target keeps it: the fragments of the render it came from, or null. */
export interface InstalledParts {
  readonly name: string;
  installedParts(): readonly string[] | null;
}

const MAX_SERVICES = 50;
const MAX_COMMANDS = 50;
const DIFF_LIMITS = { maxEdits: 5000, maxLines: 2000 };
/** Installs whose configs are kept for a diff until someone asks for it. */
const DIFFABLE = 10;

/**
 * The last `capacity` installs and refusals, oldest first, numbered in
 * order. The daemon owns one and feeds it every cycle's results; the
 * dashboard reads it. An install's diff is made when it is first asked for,
 * from the fragments of the config before and after (so only what changed is
 * looked at; an install costs no diff nobody reads), and kept cut to
 * DIFF_LIMITS. The fragments — pointers to strings the target keeps anyway —
 * are held for the newest DIFFABLE installs only.
 */
export class RecentEvents {
  private readonly ring: RecentEvent[] = [];
  private seq = 0;
  /** Per target, the fragments of the config installed last: the "before" of the next diff. */
  private readonly lastParts = new Map<string, readonly string[] | null>();
  /** The configs before and after of the newest installs whose diff nobody asked for yet, by seq. */
  private readonly diffable = new Map<number, { before: readonly string[]; after: readonly string[] }>();

  constructor(
    private readonly capacity = 100,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records what one cycle did; `changed` is the services whose change caused it. */
  record(results: readonly ApplyResult[], changed: readonly string[], targets: readonly InstalledParts[]): void {
    for (const r of results) {
      const target = targets.find((t) => t.name === r.target);
      if (r.kind === 'installed') this.install(r, changed, target ?? null);
      else if (r.kind === 'failed') this.refusal(r);
      else if (target && !this.lastParts.has(r.target)) this.lastParts.set(r.target, target.installedParts());
    }
  }

  /** Events after `seq` (all with 0), oldest first, without their diffs. */
  since(seq: number): EventSummary[] {
    return this.ring.filter((e) => e.seq > seq).map((e) => this.summary(e));
  }

  /** One event in full, or null when it has left the ring (or never was). */
  get(seq: number): RecentEvent | null {
    const i = this.ring.findIndex((e) => e.seq === seq);
    if (i < 0) return null;
    const e = this.ring[i]!;
    const parts = this.diffable.get(seq);
    if (e.kind !== 'install' || !parts) return e;
    this.diffable.delete(seq);
    const diff = piecesDiff(
      parts.before,
      parts.after,
      { before: `${e.target} (before)`, after: `${e.target} (installed)` },
      DIFF_LIMITS,
    );
    return (this.ring[i] = { ...e, diff });
  }

  /** The number of the newest event (0: none yet). A repeated refusal moves to the end with a new number. */
  head(): number {
    return this.seq;
  }

  private install(
    r: Extract<ApplyResult, { kind: 'installed' }>,
    changed: readonly string[],
    target: InstalledParts | null,
  ): void {
    const after = target?.installedParts() ?? null;
    const before = this.lastParts.get(r.target) ?? null;
    this.lastParts.set(r.target, after);
    const seq = ++this.seq;
    const diff: InstallEvent['diff'] =
      r.how === 'live'
        ? null
        : before === null || after === null
          ? { kind: 'none', reason: 'the config before was not rendered by this process' }
          : { kind: 'none', reason: `not kept: only the newest ${DIFFABLE} installs keep their configs for a diff` };
    if (diff?.kind === 'none' && before !== null && after !== null) {
      this.diffable.set(seq, { before, after });
      for (const old of this.diffable.keys()) if (this.diffable.size > DIFFABLE) this.diffable.delete(old);
    }
    this.push({
      kind: 'install',
      seq,
      at: this.now(),
      target: r.target,
      version: r.version,
      how: r.how,
      services: changed.slice(0, MAX_SERVICES),
      servicesChanged: changed.length,
      commands: r.commands.slice(0, MAX_COMMANDS),
      diff,
      ms: Math.round(r.ms * 10) / 10,
    });
  }

  /** A failure the target repeats (the runner retries with back-off) counts up its last entry instead of filling the ring. */
  private refusal(r: Extract<ApplyResult, { kind: 'failed' }>): void {
    const error = r.error.message;
    const last = [...this.ring].reverse().find((e) => e.target === r.target);
    const at = this.now();
    if (last?.kind === 'refusal' && last.stage === r.error.stage && last.error === error) {
      const i = this.ring.indexOf(last);
      this.ring.splice(i, 1);
      this.push({ ...last, seq: ++this.seq, lastAt: at, count: last.count + 1, version: r.version });
      return;
    }
    this.push({
      kind: 'refusal',
      seq: ++this.seq,
      at,
      lastAt: at,
      count: 1,
      target: r.target,
      version: r.version,
      stage: r.error.stage,
      error,
    });
  }

  private push(e: RecentEvent): void {
    this.ring.push(e);
    if (this.ring.length > this.capacity) this.ring.splice(0, this.ring.length - this.capacity);
  }

  private summary(e: RecentEvent): EventSummary {
    if (e.kind === 'refusal') return e;
    const { diff, ...rest } = e;
    return { ...rest, hasDiff: this.diffable.has(e.seq) || (diff !== null && diff.kind === 'diff') };
  }
}
