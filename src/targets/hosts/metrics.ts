import { Counter, Gauge, type Registry } from 'prom-client';
import type { HostResolver, ResolverCounts } from './resolver.js';

/** Registers the host name cache's metrics, read from `resolver` at scrape time. */
export function registerHostMetrics(registry: Registry, resolver: HostResolver): void {
  // Totals only ever grow; a collect hook moves each counter by what happened since the last scrape.
  const counter = (name: string, help: string, labelNames: string[], reads: Record<string, keyof ResolverCounts>) => {
    const seen = new Map<string, number>();
    return new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        const counts = resolver.stats();
        for (const [label, key] of Object.entries(reads)) {
          const delta = counts[key] - (seen.get(label) ?? 0);
          if (delta > 0) this.inc({ [labelNames[0]!]: label }, delta);
          seen.set(label, counts[key]);
        }
      },
    });
  };
  counter('switchyard_host_lookups_total', 'Host name lookups by outcome (ok, failed: error or timeout)', ['result'], {
    ok: 'resolved',
    failed: 'failures',
  });
  counter(
    'switchyard_host_cache_reads_total',
    'Addresses renders read from the host name cache: hit (an address), miss (none: pending or never resolved)',
    ['result'],
    { hit: 'hits', miss: 'misses' },
  );
  new Gauge({
    name: 'switchyard_host_cache_entries',
    help: 'Host names in the cache (at most resolve.maxHosts)',
    registers: [registry],
    collect() {
      this.set(resolver.stats().cached);
    },
  });
}
