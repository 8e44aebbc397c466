import type { Change } from '../state/model.js';
import { describeValue, rejectionReason, type Rejection } from '../state/rejection.js';
import { isSingleLine } from '../state/validate.js';

/** Where a source sends what it learned; the runner owns it. */
export type Sink = (change: Change) => void;

/** A source's own account of itself, for /health and /metrics. */
export interface SourceStatus {
  readonly name: string;
  /** Has delivered a complete view at least once. */
  readonly synced: boolean;
  /** Currently in step with its registry (last attempt succeeded, stream up where there is one). */
  readonly healthy: boolean;
  /** Epoch ms of the last complete view, or null. */
  readonly lastSyncAt: number | null;
  readonly lastError: string | null;
  readonly detail: Readonly<Record<string, unknown>>;
  /** Events received from the registry since start, by type (Marathon event type, ZooKeeper watch type…). */
  readonly events: Readonly<Record<string, number>>;
  /** An event stream or session to the registry is up (null: the source has none). */
  readonly connected: boolean | null;
  /** Values refused at the boundary lately, newest first: the last MAX_REJECTIONS distinct places. */
  readonly rejections: readonly RecentRejection[];
  /** Inputs refused for going past a limit since start, by the limit's config key (`marathon.maxApps`). */
  readonly overLimit: Readonly<Record<string, number>>;
}

/** A registry value a source refused, as /health and the dashboard show it: each place once, counted. */
export interface RecentRejection {
  /** Where the value was (an app id, a znode path, `/v2/apps` for an app without a usable id), quoted when not one plain line. */
  readonly where: string;
  readonly field: string;
  /** What was wrong, the value quoted as JSON: `bad id "<b>": expected [A-Za-z0-9._/-]`. */
  readonly reason: string;
  /** Epoch ms it was last seen (a resync sees it again), and how many times. */
  readonly lastAt: number;
  readonly count: number;
}

export const MAX_REJECTIONS = 50;

/**
 * A registry turned into changes. `start` resolves once the source runs (not
 * once it has synced: an unreachable registry must not block the others);
 * it never emits a value that has not passed the boundary checks.
 */
export interface Source {
  readonly name: string;
  start(sink: Sink): Promise<void>;
  stop(): Promise<void>;
  status(): SourceStatus;
}

/** Book-keeping of a source's health, shared by every source. */
export class SourceHealth {
  private isSynced = false;
  private lastSyncAt: number | null = null;
  private lastError: string | null = null;
  private detail: Record<string, unknown> = {};
  private readonly events: Record<string, number> = {};
  private readonly limits: Record<string, number> = {};
  private connected: boolean | null = null;
  /** By where, field and reason; a Map keeps insertion order, so the first key is the one seen longest ago. */
  private readonly rejections = new Map<string, RecentRejection>();

  constructor(
    private readonly name: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Remembers a refused value (its place, field and reason), so an operator can see why something is missing. */
  rejected(r: Rejection): void {
    const where = isSingleLine(r.where, 200) ? r.where : describeValue(r.where, 200);
    const field = isSingleLine(r.field, 200) ? r.field : describeValue(r.field, 200);
    const reason = rejectionReason(r);
    const key = JSON.stringify([where, field, reason]);
    const count = (this.rejections.get(key)?.count ?? 0) + 1;
    this.rejections.delete(key);
    this.rejections.set(key, { where, field, reason, lastAt: this.now(), count });
    if (this.rejections.size > MAX_REJECTIONS) this.rejections.delete(this.rejections.keys().next().value!);
  }

  /** Counts one input refused for going past `limit` (its config key). */
  overLimit(limit: string): void {
    this.limits[limit] = (this.limits[limit] ?? 0) + 1;
  }

  /** Counts one event received from the registry. */
  event(type: string): void {
    this.events[type] = (this.events[type] ?? 0) + 1;
  }

  /** Records whether the source's stream or session is up. */
  setConnected(up: boolean): void {
    this.connected = up;
  }

  /** A complete, current view was delivered. */
  ok(): void {
    this.synced();
    this.lastError = null;
  }

  /** A complete view was delivered, though the source may still not be current (its stream is down). */
  synced(): void {
    this.isSynced = true;
    this.lastSyncAt = Date.now();
  }

  /** A problem that makes the source not current; it keeps its last state meanwhile. */
  fail(error: string): void {
    this.lastError = error;
  }

  clearError(): void {
    this.lastError = null;
  }

  set(key: string, value: unknown): void {
    this.detail[key] = value;
  }

  status(): SourceStatus {
    return {
      name: this.name,
      synced: this.isSynced,
      healthy: this.isSynced && this.lastError === null,
      lastSyncAt: this.lastSyncAt,
      lastError: this.lastError,
      detail: { ...this.detail },
      events: { ...this.events },
      connected: this.connected,
      rejections: [...this.rejections.values()].reverse(),
      overLimit: { ...this.limits },
    };
  }
}

/** Logs a rejected value once per distinct message, so a resync every 30 s does not repeat it forever. */
export class OnceLog {
  private readonly seen = new Set<string>();
  constructor(
    private readonly warn: (message: string, meta: Record<string, unknown>) => void,
    private readonly max = 10_000,
  ) {}

  warnOnce(message: string, meta: Record<string, unknown>): void {
    const key = message + JSON.stringify(meta);
    if (this.seen.has(key)) return;
    if (this.seen.size >= this.max) this.seen.clear();
    this.seen.add(key);
    this.warn(message, meta);
  }
}
