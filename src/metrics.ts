import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { VERSION } from './version.js';

/**
 * The daemon's Prometheus metrics, in a registry of its own (several daemons
 * may share a process in tests), with Node's process metrics (CPU, memory,
 * event-loop lag, handles) beside them under their standard names.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly buildInfo = new Gauge({
    name: 'switchyard_build_info',
    help: 'Always 1; the labels say which Switchyard and Node.js run',
    labelNames: ['version', 'nodejs'],
    registers: [this.registry],
  });
  readonly targetLastSuccess = new Gauge({
    name: 'switchyard_target_last_success_timestamp_seconds',
    help: 'When the last attempt for the target succeeded (Unix time; absent before the first)',
    labelNames: ['target'],
    registers: [this.registry],
  });
  readonly sourceLastSync = new Gauge({
    name: 'switchyard_source_last_sync_timestamp_seconds',
    help: 'When the source last delivered a complete view (Unix time; absent before the first)',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly rejected = new Gauge({
    name: 'switchyard_source_rejected_entries',
    help: 'Registry entries the source refused lately (distinct places, up to 50; also on /health)',
    labelNames: ['source'],
    registers: [this.registry],
  });

  constructor() {
    this.buildInfo.set({ version: VERSION, nodejs: process.version }, 1);
    collectDefaultMetrics({ register: this.registry });
  }

  readonly changes = new Counter({
    name: 'switchyard_source_changes_total',
    help: 'Changes sources sent to the state, by source and kind (sync, upsert, remove, rules)',
    labelNames: ['source', 'kind'],
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: 'switchyard_source_events_total',
    help: 'Events received from registries, by source and type',
    labelNames: ['source', 'type'],
    registers: [this.registry],
  });
  readonly stateChanges = new Counter({
    name: 'switchyard_state_changes_total',
    help: 'Changes that altered the effective state',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly applies = new Counter({
    name: 'switchyard_renders_total',
    help: 'Render attempts per target, by outcome',
    labelNames: ['target', 'outcome'],
    registers: [this.registry],
  });
  readonly installs = new Counter({
    name: 'switchyard_installs_total',
    help: 'Config files installed',
    labelNames: ['target'],
    registers: [this.registry],
  });
  readonly reloads = new Counter({
    name: 'switchyard_reloads_total',
    help: 'Proxy reloads, by outcome',
    labelNames: ['target', 'outcome'],
    registers: [this.registry],
  });
  readonly liveUpdates = new Counter({
    name: 'switchyard_runtime_updates_total',
    help: 'Changes applied through the runtime API without a reload',
    labelNames: ['target'],
    registers: [this.registry],
  });
  readonly failures = new Counter({
    name: 'switchyard_failures_total',
    help: 'Failed attempts, by target and pipeline stage',
    labelNames: ['target', 'stage'],
    registers: [this.registry],
  });
  readonly validations = new Counter({
    name: 'switchyard_validations_total',
    help: 'Validate commands run, by outcome',
    labelNames: ['target', 'outcome'],
    registers: [this.registry],
  });
  readonly stageSeconds = new Histogram({
    name: 'switchyard_stage_duration_seconds',
    help: 'Time per pipeline stage (render, validate, install, reload)',
    labelNames: ['target', 'stage'],
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly streamConnected = new Gauge({
    name: 'switchyard_source_connected',
    help: '1 when the source’s event stream or session is up (sources that have one)',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly held = new Gauge({
    name: 'switchyard_held_changes',
    help: 'Service changes held back by the drop guard (at start too)',
    registers: [this.registry],
  });
  readonly applySeconds = new Histogram({
    name: 'switchyard_apply_duration_seconds',
    help: 'Render, validate, install and reload of one target',
    labelNames: ['target'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly eventToInstall = new Histogram({
    name: 'switchyard_event_to_install_seconds',
    help: 'From the first change of a batch arriving to its config being installed',
    labelNames: ['target'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly backends = new Gauge({
    name: 'switchyard_backends',
    help: 'Serving backends per service',
    labelNames: ['service'],
    registers: [this.registry],
  });
  readonly syncAge = new Gauge({
    name: 'switchyard_source_sync_age_seconds',
    help: 'Seconds since the source last delivered a complete view (-1: never)',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly sourceUp = new Gauge({
    name: 'switchyard_source_up',
    help: '1 when the source is current with its registry',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly targetUp = new Gauge({
    name: 'switchyard_target_up',
    help: '1 when the target is well as /health says: its last attempt succeeded and no template edit was refused',
    labelNames: ['target'],
    registers: [this.registry],
  });
  readonly quarantined = new Gauge({
    name: 'switchyard_quarantined_services',
    help: 'Services left out of (or held at their last good version in) a target’s installed config',
    labelNames: ['target'],
    registers: [this.registry],
  });
  readonly quarantineDecisions = new Counter({
    name: 'switchyard_quarantine_decisions_total',
    help: 'Services quarantined, by target and how the fault was found (precheck, conflict, line, file, bisection, reload)',
    labelNames: ['target', 'finding'],
    registers: [this.registry],
  });
  readonly renderCache = new Counter({
    name: 'switchyard_render_cache_lookups_total',
    help: 'Render cache lookups per target: template views (view), loop items (fragment) and views built from all services (derived: reused or patched is a hit), by result (hit, miss)',
    labelNames: ['target', 'cache', 'result'],
    registers: [this.registry],
  });
  readonly viewCache = new Counter({
    name: 'switchyard_http_view_cache_lookups_total',
    help: 'Lookups of the serialized API views built once per snapshot version, by view and result (hit, miss)',
    labelNames: ['view', 'result'],
    registers: [this.registry],
  });
  readonly limitExceeded = new Counter({
    name: 'switchyard_input_limit_exceeded_total',
    help: 'Inputs refused for going past a limit, by source (a source’s name, http, or render for templates) and limit (its config key)',
    labelNames: ['source', 'limit'],
    registers: [this.registry],
  });
  readonly httpRefused = new Counter({
    name: 'switchyard_http_refused_total',
    help: 'HTTP requests refused to protect the daemon, by reason (busy, pipelined, unauthorized)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
}
