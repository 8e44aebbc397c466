import type { MarathonConfig } from '../../config/schema.js';

// Marathon's answers are untrusted input: each has a size and shape limit
// (marathon.max*, README "Limits"), checked by counting before anything is
// built from it. An input over a limit is refused alone; the rest stays.

/** The configured limits on what Marathon sends. */
export type MarathonLimits = Pick<
  MarathonConfig,
  | 'maxAppListBytes'
  | 'maxAppBytes'
  | 'maxApps'
  | 'maxTasksPerApp'
  | 'maxPortsPerApp'
  | 'maxLabelsPerApp'
  | 'maxLabelBytes'
  | 'maxEventLineBytes'
  | 'maxEventBytes'
>;

/** An input over a limit: the limit's config key and value, what went over it, and what was found. */
export interface LimitBreach {
  readonly limit: keyof MarathonLimits;
  readonly max: number;
  /** The app id (JSON-quoted when it is not a plain id), or the request or stream. */
  readonly offender: string;
  readonly found: string;
}

/** A refused input; the message names the limit and the offender. */
export class LimitError extends Error {
  override name = 'LimitError';
  constructor(readonly breach: LimitBreach) {
    super(breachText(breach));
  }
}

/** One line: offender, what was found, the limit by its config key. */
export function breachText(b: LimitBreach): string {
  return `${b.offender}: ${b.found}, over marathon.${b.limit} (${b.max})`;
}

/** An app id fit for a message: as it is when plain, JSON-quoted (and cut) otherwise, so it cannot forge a log line. */
export function offenderId(id: unknown): string {
  if (typeof id === 'string' && /^[A-Za-z0-9._/-]{1,200}$/.test(id)) return id;
  return typeof id === 'string' ? JSON.stringify(id.slice(0, 200)) : '(an app without a usable id)';
}

/**
 * The first limit an app (as parsed from /v2/apps or /v2/apps/<id>) goes
 * over, or null. It counts in loops and allocates nothing per element, so an
 * app with 150 000 tasks or 200 000 ports costs one pass.
 */
export function appOverLimits(app: unknown, limits: MarathonLimits): LimitBreach | null {
  if (!isObject(app)) return null;
  const offender = offenderId(app.id);
  const over = (limit: keyof MarathonLimits, found: string): LimitBreach => ({
    limit,
    max: limits[limit],
    offender,
    found,
  });
  const tasks = app.tasks;
  if (Array.isArray(tasks) && tasks.length > limits.maxTasksPerApp)
    return over('maxTasksPerApp', `${tasks.length} tasks`);
  // Marathon lists at most one readiness result per task (the last of its checks), and a check per named port.
  const results = app.readinessCheckResults;
  if (Array.isArray(results) && results.length > limits.maxTasksPerApp)
    return over('maxTasksPerApp', `${results.length} readiness check results`);
  const checks = app.readinessChecks;
  if (Array.isArray(checks) && checks.length > limits.maxPortsPerApp)
    return over('maxPortsPerApp', `${checks.length} readiness checks`);
  const declared = declaredPortCount(app);
  if (declared > limits.maxPortsPerApp) return over('maxPortsPerApp', `${declared} declared ports`);
  if (Array.isArray(tasks)) {
    for (const t of tasks) {
      const ports = isObject(t) ? t.ports : undefined;
      if (Array.isArray(ports) && ports.length > limits.maxPortsPerApp)
        return over('maxPortsPerApp', `task ${offenderId(t!.id)} with ${ports.length} ports`);
    }
  }
  const labels = app.labels;
  if (isObject(labels)) {
    let count = 0;
    for (const key in labels) {
      if (!Object.hasOwn(labels, key)) continue;
      if (++count > limits.maxLabelsPerApp)
        return over('maxLabelsPerApp', `more than ${limits.maxLabelsPerApp} labels`);
      const value = typeof labels[key] === 'string' ? labels[key] : '';
      // UTF-8 takes at most 3 bytes per UTF-16 unit: most labels are within the limit without being measured.
      if ((key.length + value.length) * 3 <= limits.maxLabelBytes) continue;
      const bytes = Buffer.byteLength(key) + Buffer.byteLength(value);
      if (bytes > limits.maxLabelBytes)
        return over('maxLabelBytes', `label ${offenderId(key.slice(0, 60))} of ${bytes} bytes (key and value)`);
    }
  }
  return null;
}

/** Whether a task's ports, as an event reports them, are over the limit (the app's own limit, as in the app list). */
export function portsOverLimit(ports: unknown, limits: MarathonLimits): boolean {
  return Array.isArray(ports) && ports.length > limits.maxPortsPerApp;
}

/** The longest list of ports the app declares in any of the places Marathon may put them. */
function declaredPortCount(app: Record<string, unknown>): number {
  const length = (v: unknown) => (Array.isArray(v) ? v.length : 0);
  const container = isObject(app.container) ? app.container : undefined;
  const docker = isObject(container?.docker) ? container.docker : undefined;
  return Math.max(
    length(app.ports),
    length(app.portDefinitions),
    length(container?.portMappings),
    length(docker?.portMappings),
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
