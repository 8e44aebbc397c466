import type { Change } from '../state/model.js';

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
}

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
  private connected: boolean | null = null;

  constructor(private readonly name: string) {}

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
