import type { Backend, HealthCheck, Mode, Service } from '../../state/model.js';
import { sortBackends } from '../../state/merge.js';
import type { Reject } from '../../state/rejection.js';
import { isBackendId, isHost, isIntegerIn, isPort, isServiceId, safeStringMap } from '../../state/validate.js';
import { inGroup, routingFromLabels } from '../labels.js';
import { rejectIgnoredLabels } from '../raw-labels.js';
import { isReady, toAppReadiness, type AppReadiness } from './readiness.js';
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
  /** The definition's version (during a deployment, the target's); null when Marathon gave none. */
  readonly version: string | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string>>;
  readonly servicePorts: readonly (number | null)[];
  readonly healthChecks: readonly MarathonHealthCheck[];
  readonly tasks: ReadonlyMap<string, TaskRecord>;
  /** Readiness checks, the running deployment and its verdicts (readiness.ts). */
  readonly readiness: AppReadiness;
}

const SERVING = new Set(['TASK_RUNNING', 'TASK_KILLING']);

/**
 * Checks one app of /v2/apps; null when its id is unusable. Nothing in it is
 * trusted to have the type Marathon documents: a field of the wrong type is
 * rejected and left out, never thrown over.
 */
export function toAppRecord(app: MarathonApp, reject: Reject): AppRecord | null {
  if (!isObject(app)) {
    reject({ where: '/v2/apps', field: 'app', value: app, expected: 'a JSON object' });
    return null;
  }
  if (!isServiceId(app.id)) {
    reject({ where: '/v2/apps', field: 'id', value: app.id, expected: '[A-Za-z0-9._/-]' });
    return null;
  }
  const id = app.id;
  const labels = safeStringMap(app.labels, id, 'labels', reject);
  const env = safeStringMap(app.env, id, 'env', reject);
  const tasks = new Map<string, TaskRecord>();
  if (app.tasks !== undefined && app.tasks !== null && !Array.isArray(app.tasks))
    reject({ where: id, field: 'tasks', value: app.tasks, expected: 'an array' });
  for (const t of Array.isArray(app.tasks) ? app.tasks : []) {
    const rec = toTaskRecord(t, id, reject);
    if (rec) tasks.set(rec.id, rec);
  }
  if (app.healthChecks !== undefined && app.healthChecks !== null && !Array.isArray(app.healthChecks))
    reject({ where: id, field: 'healthChecks', value: app.healthChecks, expected: 'an array' });
  const healthChecks = Array.isArray(app.healthChecks) ? app.healthChecks : [];
  healthChecks.forEach((hc, i) => {
    if (!isObject(hc)) reject({ where: id, field: `healthChecks[${i}]`, value: hc, expected: 'an object' });
    else if (hc.path !== undefined && hc.path !== null && !isCheckPath(hc.path))
      reject({
        where: id,
        field: `healthChecks[${i}].path`,
        value: hc.path,
        expected: 'a path of printable ASCII without quotes, "#", ";", braces or "\\"',
      });
  });
  return {
    id,
    version: typeof app.version === 'string' ? app.version : null,
    labels,
    env,
    servicePorts: servicePorts(app, id, reject),
    healthChecks,
    tasks,
    readiness: toAppReadiness(app, id, reject),
  };
}

/** Checks one task; null when it cannot be a backend of anything. */
export function toTaskRecord(t: MarathonTask, appId: string, reject: Reject): TaskRecord | null {
  if (!isObject(t)) {
    reject({ where: appId, field: 'tasks[]', value: t, expected: 'an object' });
    return null;
  }
  if (!isBackendId(t.id)) {
    reject({ where: appId, field: 'tasks[].id', value: t.id, expected: 'a task id of [A-Za-z0-9._:@-]' });
    return null;
  }
  const field = `tasks[${t.id}]`;
  if (!isHost(t.host)) {
    reject({ where: appId, field: `${field}.host`, value: t.host, expected: 'a hostname or IP' });
    return null;
  }
  if (t.ports !== undefined && t.ports !== null && !Array.isArray(t.ports))
    reject({ where: appId, field: `${field}.ports`, value: t.ports, expected: 'an array' });
  const ports = Array.isArray(t.ports) ? t.ports.map((p) => (isPort(p) ? p : 0)) : [];
  if (ports.includes(0))
    reject({
      where: appId,
      field: `${field}.ports`,
      value: t.ports,
      expected: 'ports 1-65535 (the others are ignored)',
    });
  // Marathon before 1.4 has no task state; a started task there is running.
  const state = typeof t.state === 'string' ? t.state : t.startedAt ? 'TASK_RUNNING' : 'TASK_STAGING';
  const health = Array.isArray(t.healthCheckResults) ? t.healthCheckResults.map((r) => r?.alive === true) : [];
  return { id: t.id, host: t.host, ports, state, health };
}

function servicePorts(app: MarathonApp, id: string, reject: Reject): (number | null)[] {
  const array = (v: unknown): unknown[] | undefined => (Array.isArray(v) ? v : undefined);
  const fromDefs = array(app.portDefinitions)?.map((p) => (p as { port?: unknown } | null)?.port);
  const container = isObject(app.container) ? app.container : undefined;
  const mappings =
    array(isObject(container?.docker) ? container.docker.portMappings : undefined) ?? array(container?.portMappings);
  const fromMappings = mappings?.map((m) => (m as { servicePort?: unknown } | null)?.servicePort);
  const list =
    (fromMappings && fromMappings.length > 0 ? fromMappings : undefined) ??
    (fromDefs && fromDefs.length > 0 ? fromDefs : undefined) ??
    array(app.ports) ??
    [];
  const expect = (field: string, value: unknown, object: boolean) => {
    if (value !== undefined && value !== null && (object ? !isObject(value) : !Array.isArray(value)))
      reject({ where: id, field, value, expected: object ? 'an object' : 'an array' });
  };
  expect('portDefinitions', app.portDefinitions, false);
  expect('ports', app.ports, false);
  expect('container', app.container, true);
  expect('container.portMappings', container?.portMappings, false);
  expect('container.docker', container?.docker, true);
  expect(
    'container.docker.portMappings',
    isObject(container?.docker) ? container.docker.portMappings : undefined,
    false,
  );
  // 0 is Marathon's "none assigned"; anything else outside 1-65535 is bad data.
  const bad = list.filter((p) => !isPort(p) && p !== 0 && p !== null && p !== undefined);
  if (bad.length > 0) reject({ where: id, field: 'service ports', value: bad, expected: 'ports 1-65535' });
  return list.map((p) => (isPort(p) ? p : null));
}

/** A health-check path Switchyard passes on: printable ASCII without quotes, `#`, `;`, braces or backslash. */
/** A health check path Marathon may give: one printable ASCII word that cannot break a config line. */
export function isCheckPath(p: unknown): p is string {
  return typeof p === 'string' && /^\/[\x21-\x7e]{0,254}$/.test(p) && !/["'#;{}\\]/.test(p);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A task serves when running (or draining) and, where the app has health checks, every reported check passed. */
export function isHealthy(app: AppRecord, task: TaskRecord): boolean {
  if (app.healthChecks.length === 0) return true;
  return task.health.length > 0 && task.health.every(Boolean);
}

/**
 * Which apps' ports become services, and how an unlabelled one is served
 * (`marathon.group`, `.strictMode`, `.defaultMode`).
 */
export interface AppSelection {
  readonly group: readonly string[];
  readonly strictMode: boolean;
  readonly defaultMode: Mode;
}

const HTTP_BY_DEFAULT = { strictMode: false, defaultMode: 'http' } as const;

/**
 * The services of an app, one per port that is enabled and in the groups; ids
 * are `<appId>` and `<appId>_<n>`. Labels left out (raw config not allowed by
 * `allowRaw`, marathon-lb labels not supported) are reported once, for the app.
 */
export function appServices(
  app: AppRecord,
  selection: string | AppSelection,
  reject: Reject,
  allowRaw = false,
): Service[] {
  const { group, strictMode, defaultMode } =
    typeof selection === 'string' ? { ...HTTP_BY_DEFAULT, group: [selection] } : selection;
  const count = serviceCount(app);
  const services: Service[] = [];
  const refused: string[] = [];
  const unsupported: string[] = [];
  for (let n = 0; n < count; n++) {
    const routing = routingFromLabels(app.labels, app.env, n, app.id, reject, allowRaw);
    refused.push(...routing.refusedRaw);
    unsupported.push(...routing.unsupported);
    const enabled = strictMode ? app.labels[`HAPROXY_${n}_ENABLED`]?.trim().toLowerCase() === 'true' : routing.enabled;
    if (!enabled || !inGroup(routing, group)) continue;
    // marathon-lb: a port without a check of its own takes the one of the port it is checked on.
    const checkIndex = routing.healthCheckPortIndex ?? n;
    const healthCheck =
      healthCheckFor(app.healthChecks, n) ?? (checkIndex !== n ? healthCheckFor(app.healthChecks, checkIndex) : null);
    const httpCheck = healthCheck !== null && healthCheck.protocol !== 'TCP';
    if (httpCheck && routing.mode === 'tcp')
      reject({
        where: app.id,
        field: `labels.HAPROXY_${n}_MODE`,
        value: 'tcp',
        expected: 'http: a service with an HTTP health check is served in http mode',
      });
    const backends: Backend[] = [];
    for (const t of app.tasks.values()) {
      const port = t.ports[n];
      if (!SERVING.has(t.state) || !port) continue;
      const checkPort = checkIndex !== n ? t.ports[checkIndex] || null : null;
      backends.push({
        id: t.id,
        host: t.host,
        port,
        weight: 1,
        // A task a running deployment has not found ready yet is kept out as an unhealthy one is.
        healthy: isHealthy(app, t) && isReady(app.readiness, t.id),
        draining: t.state === 'TASK_KILLING',
        checkPort,
      });
    }
    services.push({
      id: n === 0 ? app.id : `${app.id}_${n}`,
      name: app.id,
      source: 'marathon',
      portIndex: n,
      servicePort: routing.port ?? app.servicePorts[n] ?? null,
      mode: httpCheck
        ? 'http'
        : (routing.mode ?? (defaultMode === 'tcp' && routing.vhosts.length === 0 ? 'tcp' : 'http')),
      vhosts: routing.vhosts,
      paths: routing.paths,
      acl: null,
      balance: routing.balance,
      sticky: routing.sticky,
      healthCheck,
      bindAddress: routing.bindAddress,
      sslCert: routing.sslCert,
      redirectToHttps: routing.redirectToHttps,
      backendWeight: routing.backendWeight,
      raw: routing.raw,
      labels: app.labels,
      env: app.env,
      backends: sortBackends(backends),
    });
  }
  rejectIgnoredLabels(refused, unsupported, app.id, reject);
  return services;
}

/**
 * One service per port the app declares: a task reporting more ports makes no
 * more services. An app that declares none (no port fields, or an IP-per-task
 * app) has one per port of its tasks, which maxPortsPerApp bounds. A loop,
 * not Math.max(...): an argument list has a size limit.
 */
function serviceCount(app: AppRecord): number {
  if (app.servicePorts.length > 0) return app.servicePorts.length;
  let count = 0;
  for (const t of app.tasks.values()) if (t.ports.length > count) count = t.ports.length;
  return count;
}

function healthCheckFor(checks: readonly MarathonHealthCheck[], n: number): HealthCheck | null {
  const hc = checks.find((c) => isObject(c) && (c.portIndex ?? 0) === n && c.port === undefined);
  if (!hc) return null;
  const protocol = (hc.protocol === undefined ? 'HTTP' : typeof hc.protocol === 'string' ? hc.protocol : '').replace(
    /^MESOS_/,
    '',
  );
  if (protocol !== 'HTTP' && protocol !== 'HTTPS' && protocol !== 'TCP') return null;
  const path = protocol !== 'TCP' && isCheckPath(hc.path) ? hc.path : undefined;
  return {
    protocol,
    ...(path !== undefined && { path }),
    ...(isIntegerIn(hc.intervalSeconds, 1, 86_400) && { intervalSeconds: hc.intervalSeconds }),
    ...(isIntegerIn(hc.timeoutSeconds, 1, 86_400) && { timeoutSeconds: hc.timeoutSeconds }),
    ...(isIntegerIn(hc.maxConsecutiveFailures, 0, 1000) && { maxConsecutiveFailures: hc.maxConsecutiveFailures }),
  };
}
