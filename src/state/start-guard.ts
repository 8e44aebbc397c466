import type { Snapshot } from './model.js';
import type { GuardOptions, HeldChange } from './store.js';

/**
 * The drop guard across a restart. A new process has seen nothing, so the
 * store's guard has nothing to compare its first full view with; this one
 * compares it with the backends of the config that is installed (`baseline`,
 * backend count by service id). While that view takes more than `maxDrop` of
 * any installed service's backends, the first install waits — the proxy
 * keeps serving the installed config — until the registry fills again, the
 * hold time passes, or an operator releases it. Once a first view passes, it
 * has nothing more to say.
 */
export class StartGuard {
  private since: number | null = null;
  private held: HeldChange[] = [];
  private done = false;

  constructor(
    private readonly baseline: Map<string, number>,
    private readonly guard: GuardOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Judges a view the runner is about to install first: the drops it holds (empty: install it). */
  judge(snapshot: Snapshot): readonly HeldChange[] {
    if (this.done) return [];
    const counts = new Map(snapshot.services.map((s) => [s.id, s.backends.length]));
    const now = this.now();
    const since = this.since ?? now;
    const held: HeldChange[] = [];
    for (const [id, from] of this.baseline) {
      const to = counts.get(id) ?? 0;
      if (from > 0 && (from - to) / from > this.guard.maxDrop)
        held.push({ id, since, until: since + this.guard.holdMs, from, to });
    }
    if (held.length === 0 || since + this.guard.holdMs <= now) {
      this.finish();
      return [];
    }
    this.since = since;
    this.held = held;
    return held;
  }

  /** The drops held now, for /health. */
  holds(): readonly HeldChange[] {
    return this.held;
  }

  /** When the hold ends on its own (epoch ms), or null while nothing is held. */
  until(): number | null {
    return this.held.length > 0 ? this.held[0]!.until : null;
  }

  /** An operator's word: these services' drops (all, without ids) are real; returns the ids released. */
  release(ids?: readonly string[]): string[] {
    const released = this.held.filter((h) => !ids || ids.includes(h.id)).map((h) => h.id);
    if (!ids) this.finish();
    else for (const id of ids) this.baseline.delete(id);
    this.held = this.held.filter((h) => !released.includes(h.id));
    return released;
  }

  private finish(): void {
    this.done = true;
    this.held = [];
    this.baseline.clear();
  }
}
