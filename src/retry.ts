// The one way Switchyard runs a job again: one at a time (a request while it
// runs makes one more run after it), and after a failure, later, with a delay
// that doubles. Sources and the runner say what to do; this says when. Time
// comes from a Clock so specs step it instead of sleeping.

/** Time as the retry loops see it: the system's, or one a spec moves by hand. */
export interface Clock {
  now(): number;
  /** Calls `fn` once, `ms` from now; the function returned cancels it. */
  after(ms: number, fn: () => void): () => void;
}

/** The system clock: Date.now and setTimeout. */
export const systemClock: Clock = {
  now: () => Date.now(),
  after: (ms, fn) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/**
 * A retry that waits longer after each failure: `minMs`, doubling up to
 * `maxMs`, back to `minMs` after a success. At most one retry waits at a time;
 * asking again while one waits keeps that one (a burst of failures is one
 * retry, not many).
 */
export class Backoff {
  private delayMs: number;
  private waiting: (() => void) | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly minMs: number,
    private readonly maxMs: number,
  ) {
    this.delayMs = minMs;
  }

  /** How long the next retry will wait. */
  get nextMs(): number {
    return this.delayMs;
  }

  /** Whether a retry is waiting to run. */
  get pending(): boolean {
    return this.waiting !== null;
  }

  /**
   * Runs `fn` after the next delay, or `atLeastMs` when that is longer (a
   * refusal that asking again soon will not cure), unless a retry already
   * waits; lengthens the delay; returns the wait.
   */
  retry(fn: () => void, atLeastMs = 0): number {
    const ms = Math.max(this.delayMs, atLeastMs);
    if (this.waiting) return ms;
    this.delayMs = Math.min(this.delayMs * 2, this.maxMs);
    this.waiting = this.clock.after(ms, () => {
      this.waiting = null;
      fn();
    });
    return ms;
  }

  /** A success: the next failure waits `minMs` again. A retry already waiting still runs. */
  reset(): void {
    this.delayMs = this.minMs;
  }

  /** Drops the retry waiting, if any (on stop). */
  cancel(): void {
    this.waiting?.();
    this.waiting = null;
  }
}

/** One key's job: running, and whether another run was asked for meanwhile (with the latest argument). */
interface Flight<A> {
  again: { readonly arg: A } | null;
  readonly done: Promise<void>;
}

/**
 * Runs a job one at a time per key (`keyOf`; one key by default). A request
 * while the key's job runs makes one more run after it, with the latest
 * request's argument: the run in flight may have read the world before that
 * request's reason happened (an event, a reconnect). The promise a request
 * gets settles when a run that started after it ends. A job reports its own
 * failures; one that throws ends its key's flight with that error.
 */
export class SingleFlight<A> {
  private readonly flights = new Map<string, Flight<A>>();

  constructor(
    private readonly job: (arg: A) => Promise<void>,
    private readonly keyOf: (arg: A) => string = () => '',
  ) {}

  run(arg: A): Promise<void> {
    const key = this.keyOf(arg);
    const running = this.flights.get(key);
    if (running) {
      running.again = { arg };
      return running.done;
    }
    let settle!: { resolve: () => void; reject: (e: unknown) => void };
    const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    const flight: Flight<A> = { again: { arg }, done };
    this.flights.set(key, flight);
    // The first run starts now, synchronously, as a direct call would: a job may mark what it has seen so far.
    this.drain(key, flight).then(settle.resolve, settle.reject);
    return done;
  }

  /** Whether the key's job is running now. */
  busy(key = ''): boolean {
    return this.flights.has(key);
  }

  /** Settles when no job runs (runs asked for meanwhile included). */
  async idle(): Promise<void> {
    while (this.flights.size > 0) await Promise.allSettled([...this.flights.values()].map((f) => f.done));
  }

  private async drain(key: string, flight: Flight<A>): Promise<void> {
    try {
      while (flight.again) {
        const { arg } = flight.again;
        flight.again = null;
        await this.job(arg);
      }
    } finally {
      this.flights.delete(key);
    }
  }
}
