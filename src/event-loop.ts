import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Counter, Gauge } from 'prom-client';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

/** How often the watch looks at the clock: a hold shorter than this may go unlogged, never unmeasured. */
const TICK_MS = 100;

/**
 * Watches the event loop, because a loop held for seconds is an outage of
 * its own (ZooKeeper sessions expire, /health times out, changes queue): its
 * delay as gauges on /metrics (p50, p99, max since the last scrape), and a
 * log line with a counter each time it was held past `warnMs`.
 */
export class EventLoopWatch {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  private readonly held: Counter;
  private timer: NodeJS.Timeout | null = null;
  private last = 0;

  constructor(
    metrics: Metrics,
    private readonly log: Logger,
    private readonly warnMs: () => number,
  ) {
    const histogram = this.histogram;
    new Gauge({
      name: 'switchyard_event_loop_delay_seconds',
      help: 'Event loop delay since the last scrape, by quantile (1 = the longest)',
      labelNames: ['quantile'],
      registers: [metrics.registry],
      collect() {
        for (const q of [0.5, 0.99]) this.set({ quantile: String(q) }, histogram.percentile(q * 100) / 1e9);
        this.set({ quantile: '1' }, histogram.max / 1e9);
        histogram.reset();
      },
    });
    this.held = new Counter({
      name: 'switchyard_event_loop_held_total',
      help: 'Times the event loop was held past log.eventLoopWarnMs',
      registers: [metrics.registry],
    });
  }

  start(): void {
    this.histogram.enable();
    this.last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const heldMs = now - this.last - TICK_MS;
      this.last = now;
      if (heldMs < this.warnMs()) return;
      this.held.inc();
      this.log.warn('event loop held: nothing else ran meanwhile (timers, ZooKeeper heartbeats, /health)', {
        ms: Math.round(heldMs),
        threshold: this.warnMs(),
      });
    }, TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.histogram.disable();
  }
}
