import type { Reject } from '../../state/rejection.js';
import { isBackendId } from '../../state/validate.js';
import type { MarathonApp } from './types.js';

// Marathon's readiness checks, as Bamboo and Traefik read them: while a
// deployment of an app with readiness checks runs, Marathon lists in
// `readinessCheckResults` (embed=apps.readiness) the tasks it has checked so
// far, `ready: false` until the check passes. Such a task is no backend yet.
// Outside a deployment, and for apps without readiness checks, readiness
// changes nothing: the checks only ever run during deployments.

/**
 * A task's readiness: Marathon's verdict (`ready`, `not-ready`), or `pending`,
 * Switchyard's own mark for a task it saw start through an event during the
 * deployment, before Marathon listed any result for it.
 */
export type TaskReadiness = 'ready' | 'not-ready' | 'pending';

/** What Switchyard keeps of an app's readiness: whether it has checks, whether a deployment runs, and each task's verdict so far. */
export interface AppReadiness {
  readonly hasChecks: boolean;
  readonly inDeployment: boolean;
  readonly tasks: ReadonlyMap<string, TaskReadiness>;
}

const NO_VERDICTS: ReadonlyMap<string, TaskReadiness> = new Map();

/**
 * Checks an app's readiness fields. Nothing is trusted: a field of the wrong
 * shape is rejected, and where that leaves a doubt the task stays out (a
 * result naming a task without a boolean `ready` makes it not ready).
 */
export function toAppReadiness(app: MarathonApp, id: string, reject: Reject): AppReadiness {
  const checks = listField(app.readinessChecks, id, 'readinessChecks', reject);
  const badCheck = new BadElements(checks, 'readinessChecks', 'an object');
  checks.forEach((c, i) => {
    if (!isObject(c)) badCheck.note(i);
  });
  badCheck.report(id, reject);

  const deployments = app.deployments;
  // A deployment list Marathon did not send as a list: the results decide, and they exist only during a deployment.
  const inDeployment =
    deployments !== undefined && deployments !== null && (!Array.isArray(deployments) || deployments.length > 0);
  const listed = listField(deployments, id, 'deployments', reject);
  const badDeployment = new BadElements(listed, 'deployments', 'an object with a string "id"');
  listed.forEach((d, i) => {
    if (!isObject(d) || typeof d.id !== 'string') badDeployment.note(i);
  });
  badDeployment.report(id, reject);

  const hasChecks = checks.length > badCheck.count;
  const results = listField(app.readinessCheckResults, id, 'readinessCheckResults', reject);
  if (results.length === 0) return { hasChecks, inDeployment, tasks: NO_VERDICTS };
  const tasks = new Map<string, TaskReadiness>();
  const badResult = new BadElements(
    results,
    'readinessCheckResults',
    'an object with a task id of [A-Za-z0-9._:@-] and a boolean "ready"',
  );
  results.forEach((r, i) => {
    if (!isObject(r) || !isBackendId(r.taskId)) {
      badResult.note(i);
      return;
    }
    if (typeof r.ready !== 'boolean') badResult.note(i);
    // One task may have a result per check: it is ready once none says otherwise, and only Marathon's true says so.
    if (tasks.get(r.taskId) !== 'not-ready') tasks.set(r.taskId, r.ready === true ? 'ready' : 'not-ready');
  });
  badResult.report(id, reject);
  return { hasChecks, inDeployment, tasks };
}

/** Whether a task may take traffic as far as readiness goes: only a verdict other than `ready`, during a deployment of an app with checks, keeps it out. */
export function isReady(readiness: AppReadiness, taskId: string): boolean {
  if (!readiness.hasChecks || !readiness.inDeployment) return true;
  const verdict = readiness.tasks.get(taskId);
  return verdict === undefined || verdict === 'ready';
}

/** Whether a task that starts now would be checked before it is ready: the app has readiness checks and a deployment runs. */
export function checksNewTasks(readiness: AppReadiness): boolean {
  return readiness.hasChecks && readiness.inDeployment;
}

/** The readiness with a task marked `pending` (seen starting, no result yet). */
export function withPending(readiness: AppReadiness, taskId: string): AppReadiness {
  const tasks = new Map(readiness.tasks);
  tasks.set(taskId, 'pending');
  return { ...readiness, tasks };
}

/**
 * A newer answer's readiness, keeping the `pending` marks of `before` for
 * tasks it has no result for while the deployment still checks new tasks: an
 * answer fetched between a task's start and its first check does not list it.
 * A mark stays even for a task the answer lacks: a single-app answer may
 * predate the event that told of the task, and the next one brings it back.
 */
export function carryPending(before: AppReadiness, next: AppReadiness): AppReadiness {
  if (!checksNewTasks(next)) return next;
  let tasks: Map<string, TaskReadiness> | null = null;
  for (const [id, verdict] of before.tasks) {
    if (verdict !== 'pending' || next.tasks.has(id)) continue;
    tasks ??= new Map(next.tasks);
    tasks.set(id, 'pending');
  }
  return tasks ? { ...next, tasks } : next;
}

/** The readiness without Switchyard's `pending` marks (the deployment step ended, or the events that would end them may be lost); null when there were none. */
export function withoutPending(readiness: AppReadiness): AppReadiness | null {
  let tasks: Map<string, TaskReadiness> | null = null;
  for (const [id, verdict] of readiness.tasks) {
    if (verdict !== 'pending') continue;
    tasks ??= new Map(readiness.tasks);
    tasks.delete(id);
  }
  return tasks ? { ...readiness, tasks } : null;
}

/** The field as a list; anything but a list (or nothing) is rejected and read as empty. */
function listField(value: unknown, where: string, field: string, reject: Reject): readonly unknown[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  reject({ where, field, value, expected: 'an array' });
  return [];
}

/** The bad elements of a list, reported as the first one and how many more: a thousand bad elements make one rejection. */
class BadElements {
  private first = -1;
  count = 0;

  constructor(
    private readonly list: readonly unknown[],
    private readonly field: string,
    private readonly expected: string,
  ) {}

  note(index: number): void {
    if (this.count++ === 0) this.first = index;
  }

  report(where: string, reject: Reject): void {
    if (this.count === 0) return;
    const more = this.count - 1;
    reject({
      where,
      field: `${this.field}[${this.first}]`,
      value: this.list[this.first],
      expected: more > 0 ? `${this.expected} (${more} more elements like it)` : this.expected,
    });
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
