import { breachText, type LimitBreach } from './limits.js';

/** What /health shows of the refused inputs (under sources.marathon.detail.overLimit). */
export interface OverLimitView {
  /** Apps left out (or kept at their last good definition) because they are over a limit, the first 50. */
  readonly apps: readonly { readonly app: string; readonly reason: string }[];
  readonly appCount: number;
  /** Whole inputs refused (the app list, an event, the stream), the last time each limit was hit. */
  readonly inputs: readonly {
    readonly limit: string;
    readonly reason: string;
    readonly count: number;
    readonly lastAt: string;
  }[];
}

const SHOWN_APPS = 50;

/**
 * The Marathon inputs refused for a limit: each app for as long as it is
 * over (a full fetch replaces the list), each other input as last seen.
 */
export class LimitLedger {
  private apps = new Map<string, LimitBreach>();
  private readonly inputs = new Map<string, { breach: LimitBreach; count: number; lastAt: number }>();

  /** Starts over from a full fetch's breaches; returns those that are new or changed, to log once. */
  replaceApps(next: ReadonlyMap<string, LimitBreach>): LimitBreach[] {
    const news: LimitBreach[] = [];
    for (const [id, b] of next) if (this.apps.get(id)?.found !== b.found) news.push(b);
    this.apps = new Map(next);
    return news;
  }

  /** One app refused outside a full fetch; true when it is news. */
  app(id: string, b: LimitBreach): boolean {
    const news = this.apps.get(id)?.found !== b.found;
    this.apps.set(id, b);
    return news;
  }

  /** The app is within its limits again (or gone). */
  appOk(id: string): void {
    this.apps.delete(id);
  }

  /** A whole input refused. */
  input(b: LimitBreach): void {
    const seen = this.inputs.get(b.limit);
    this.inputs.set(b.limit, { breach: b, count: (seen?.count ?? 0) + 1, lastAt: Date.now() });
  }

  view(): OverLimitView {
    const apps: { app: string; reason: string }[] = [];
    for (const b of this.apps.values()) {
      if (apps.length >= SHOWN_APPS) break;
      apps.push({ app: b.offender, reason: breachText(b) });
    }
    return {
      apps,
      appCount: this.apps.size,
      inputs: [...this.inputs.values()].map((i) => ({
        limit: i.breach.limit,
        reason: breachText(i.breach),
        count: i.count,
        lastAt: new Date(i.lastAt).toISOString(),
      })),
    };
  }
}
