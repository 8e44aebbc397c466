import type { Backend, HealthCheck, Service } from '../../state/model.js';
import { sortBackends } from '../../state/merge.js';
import { isBackendId, isHost, isPort, isServiceId, safeStringMap } from '../../state/validate.js';
import { inGroup, routingFromLabels } from '../labels.js';
import type { MarathonApp, MarathonHealthCheck, MarathonTask } from './types.js';

// Pure translation of Marathon's JSON into checked records and services.

/** What Switchyard keeps of a task: enough to rebuild its backends after any event. */
export interface TaskRecord {
  readonly id: string;
  readonly host: string;
  readonly ports: readonly number[];
  readonly state: string;
  /** Health-check verdicts last seen; empty when none has been reported. */
  readonly health: readonly boolean[];
}

/** What Switchyard keeps of an app; raw responses are dropped after this. */
export interface AppRecord {
  readonly id: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string>>;
  readonly servicePorts: readonly (number | null)[];
  readonly healthChecks: readonly MarathonHealthCheck[];
  readonly tasks: ReadonlyMap<string, TaskRecord>;
}

/** A value from Marathon that did not pass: which app, which field, what was wrong. */
export type Problem = (appId: string, field: string, why: string) => void;

const SERVING = new Set(['TASK_RUNNING', 'TASK_KILLING']);

/** Checks one app of /v2/apps; null when its id is unusable. */
export function toAppRecord(app: MarathonApp, problem: Problem): AppRecord | null {
  if (!isServiceId(app.id)) {
    problem(String(app.id).slice(0, 80), 'id', 'expected [A-Za-z0-9._/-]');
    return null;
  }
  const id = app.id;
  const labels = safeStringMap(app.labels, (k) => problem(id, `labels.${k.slice(0, 60)}`, 'not a single-line string'));
  const env = safeStringMap(app.env, (k) => problem(id, `env.${k.slice(0, 60)}`, 'not a single-line string'));
  const tasks = new Map<string, TaskRecord>();
  for (const t of app.tasks ?? []) {
    const rec = toTaskRecord(t, id, problem);
    if (rec) tasks.set(rec.id, rec);
  }
  return { id, labels, env, servicePorts: servicePorts(app), healthChecks: Array.isArray(app.healthChecks) ? app.healthChecks : [], tasks };
}

/** Checks one task; null when it cannot be a backend of anything. */
export function toTaskRecord(t: MarathonTask, appId: string, problem: Problem): TaskRecord | null {
  if (!isBackendId(t.id)) {
    problem(appId, 'tasks[].id', `bad task id ${JSON.stringify(t.id)?.slice(0, 80)}`);
    return null;
  }
  if (!isHost(t.host)) {
    problem(appId, `task ${t.id} host`, `expected a hostname or IP, got ${JSON.stringify(t.host)?.slice(0, 80)}`);
    return null;
  }
  const ports = Array.isArray(t.ports) ? t.ports.map((p) => (isPort(p) ? p : 0)) : [];
  if (ports.includes(0)) problem(appId, `task ${t.id} ports`, 'a port outside 1-65535 is ignored');
  // Marathon before 1.4 has no task state; a started task there is running.
  const state = typeof t.state === 'string' ? t.state : t.startedAt ? 'TASK_RUNNING' : 'TASK_STAGING';
  const health = Array.isArray(t.healthCheckResults) ? t.healthCheckResults.map((r) => r?.alive === true) : [];
  return { id: t.id, host: t.host, ports, state, health };
}

function servicePorts(app: MarathonApp): (number | null)[] {
  const fromDefs = app.portDefinitions?.map((p) => p?.port);
  const mappings = app.container?.docker?.portMappings ?? app.container?.portMappings;
  const fromMappings = mappings?.map((m) => m?.servicePort);
  const list = (fromMappings && fromMappings.length > 0 ? fromMappings : undefined) ?? (fromDefs && fromDefs.length > 0 ? fromDefs : undefined) ?? app.ports ?? [];
  return list.map((p) => (isPort(p) ? p : null));
}

/** A task serves when running (or draining) and, where the app has health checks, every reported check passed. */
export function isHealthy(app: AppRecord, task: TaskRecord): boolean {
  if (app.healthChecks.length === 0) return true;
  return task.health.length > 0 && task.health.every(Boolean);
}

/** The services of an app, one per port that is enabled and in the group; ids are `<appId>` and `<appId>_<n>`. */
export function appServices(app: AppRecord, group: string, problem: Problem): Service[] {
  const count = Math.max(app.servicePorts.length, ...[...app.tasks.values()].map((t) => t.ports.length));
  const services: Service[] = [];
  for (let n = 0; n < count; n++) {
    const routing = routingFromLabels(app.labels, app.env, n, (key, value, expected) =>
      problem(app.id, key, `${JSON.stringify(value).slice(0, 80)} ignored: expected ${expected}`),
    );
    if (!routing.enabled || !inGroup(routing, group)) continue;
    const healthCheck = healthCheckFor(app.healthChecks, n);
    const backends: Backend[] = [];
    for (const t of app.tasks.values()) {
      const port = t.ports[n];
      if (!SERVING.has(t.state) || !port) continue;
      backends.push({ id: t.id, host: t.host, port, weight: 1, healthy: isHealthy(app, t), draining: t.state === 'TASK_KILLING' });
    }
    services.push({
      id: n === 0 ? app.id : `${app.id}_${n}`,
      name: app.id,
      source: 'marathon',
      portIndex: n,
      servicePort: routing.port ?? app.servicePorts[n] ?? null,
      mode: routing.mode ?? 'http',
      vhosts: routing.vhosts,
      paths: routing.paths,
      acl: null,
      balance: routing.balance,
      sticky: routing.sticky,
      healthCheck,
      labels: app.labels,
      env: app.env,
      backends: sortBackends(backends),
    });
  }
  return services;
}

function healthCheckFor(checks: readonly MarathonHealthCheck[], n: number): HealthCheck | null {
  const hc = checks.find((c) => (c.portIndex ?? 0) === n && c.port === undefined);
  if (!hc) return null;
  const protocol = String(hc.protocol ?? 'HTTP').replace(/^MESOS_/, '');
  if (protocol !== 'HTTP' && protocol !== 'HTTPS' && protocol !== 'TCP') return null;
  const path = protocol !== 'TCP' && typeof hc.path === 'string' && /^\/[\x21-\x7e]{0,254}$/.test(hc.path) && !/["'#;{}\\]/.test(hc.path) ? hc.path : undefined;
  return path ? { protocol, path } : { protocol };
}
