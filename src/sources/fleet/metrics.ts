import { Counter, Gauge, type Registry } from 'prom-client';
import type { FleetSource } from './source.js';

/**
 * The fleet's Prometheus series, read from the source at scrape time: role,
 * the view version rendered and its age, and the leader's publish and
 * hand-over counts (kept across leaderships).
 */
export function registerFleetMetrics(registry: Registry, source: () => FleetSource | null): void {
  const gauge = (name: string, help: string, read: (fleet: FleetSource) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const fleet = source();
        if (fleet) this.set(read(fleet));
      },
    });
  // Totals only ever grow; a collect hook moves the counter by what happened since the last scrape.
  // A source rebuilt by a re-read config starts counting from 0 again: the counter only moves forward.
  const counter = (name: string, help: string, read: (fleet: FleetSource) => number) => {
    let seen = 0;
    let of: FleetSource | null = null;
    return new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const fleet = source();
        if (!fleet) return;
        if (fleet !== of) [of, seen] = [fleet, 0];
        const now = read(fleet);
        if (now > seen) this.inc(now - seen);
        seen = now;
      },
    });
  };
  gauge('switchyard_fleet_leader', '1 while this sidecar leads its fleet, 0 while it follows', (fleet) =>
    fleet.fleetStatus().role === 'leader' ? 1 : 0,
  );
  gauge(
    'switchyard_fleet_view_version',
    'The published view version this sidecar renders from (-1: none yet)',
    (fleet) => fleet.fleetStatus().version,
  );
  gauge(
    'switchyard_fleet_view_age_seconds',
    'Seconds since the leader last confirmed the view (-1: never)',
    (fleet) => {
      const age = fleet.fleetStatus().ageMs;
      return age === null ? -1 : age / 1000;
    },
  );
  gauge(
    'switchyard_fleet_members',
    'Sidecars standing in the fleet election, as last seen',
    (fleet) => fleet.fleetStatus().members,
  );
  counter(
    'switchyard_fleet_publishes_total',
    'View versions this sidecar committed as leader',
    (fleet) => fleet.counters().publishes,
  );
  counter(
    'switchyard_fleet_published_bytes_total',
    'Znode data bytes this sidecar wrote as leader',
    (fleet) => fleet.counters().bytesWritten,
  );
  counter(
    'switchyard_fleet_takeovers_total',
    'Times this sidecar took over the lead',
    (fleet) => fleet.counters().takeovers,
  );
  counter(
    'switchyard_fleet_leader_changes_total',
    'Leader hand-overs this sidecar saw in the view',
    (fleet) => fleet.counters().leaderChanges,
  );
}
