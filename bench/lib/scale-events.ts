import { randomUUID } from 'node:crypto';
import type { MarathonDouble } from '../../test/support/marathon-double.js';
import { firstEmit } from './marathon.js';

// Marathon's whole event sequence for scaling an app by one task
// (`PUT /v2/apps/<id>` with `instances` ± 1), in the order Marathon ≥ 1.8
// publishes it, split into the phases that real clusters keep seconds
// apart (a task takes a while to start and to pass its first health check;
// a kill waits for the task to exit):
//
// scale-up:   api_post_event, deployment_info, status_update_event TASK_STAGING,
//             TASK_STARTING, TASK_RUNNING (each with instance_changed_event)
//             — later — health_status_changed_event (alive), instance_health_changed_event,
//             deployment_step_success, deployment_success
// scale-down: api_post_event, deployment_info, status_update_event TASK_KILLING
//             — later — TASK_KILLED (each with instance_changed_event),
//             deployment_step_success, deployment_success
//
// Deployment events carry the light plan (id, steps, version) that Marathon
// sends since 1.8 (before, `original` and `target` held the whole root group).
// The double's own updateApp would publish deployment_success at once, before
// the task exists, so the API and deployment events are written here with
// publishRaw; the double does the task events. The double's app keeps its
// `instances`: Switchyard renders tasks, not the instance count.

/** A deployment in flight between the phases of one scale event. */
interface Deployment {
  readonly app: string;
  readonly plan: { id: string; steps: Array<{ actions: Array<{ action: string; app: string }> }>; version: string };
}

/** Plays Marathon's scale-up and scale-down sequences on a double, one phase at a time. */
export class ScaleEvents {
  constructor(private readonly double: MarathonDouble) {}

  /** Scale-up, first phase: the API call, the deployment, and the new task up to TASK_RUNNING (no health verdict yet). */
  launch(app: string, host: string, port: number): { task: string; deployment: Deployment } {
    const deployment = this.deploy(app);
    const task = this.double.addTask(app, { host, ports: [port], state: 'TASK_STAGING' });
    this.double.setTaskState(task, 'TASK_STARTING');
    this.double.setTaskState(task, 'TASK_RUNNING');
    return { task, deployment };
  }

  /** Scale-up, second phase: the first health check passes and the deployment ends. Returns the health event's emit time. */
  healthy(task: string, deployment: Deployment): bigint {
    const at = firstEmit(this.double, () => this.double.setTaskHealth(task, true));
    const instanceId = task.replace(/\.([^.]+)$/, '.marathon-$1');
    this.raw('instance_health_changed_event', {
      instanceId,
      runSpecId: deployment.app,
      healthy: true,
      runSpecVersion: deployment.plan.version,
    });
    this.finish(deployment);
    return at;
  }

  /** Scale-down, first phase: the API call, the deployment, TASK_KILLING. Returns that status update's emit time. */
  kill(app: string, task: string): { at: bigint; deployment: Deployment } {
    const deployment = this.deploy(app);
    const at = firstEmit(this.double, () => this.double.setTaskState(task, 'TASK_KILLING'));
    return { at, deployment };
  }

  /** Scale-down, second phase: the task is gone and the deployment ends. */
  killed(task: string, deployment: Deployment): void {
    this.double.setTaskState(task, 'TASK_KILLED');
    this.finish(deployment);
  }

  private deploy(app: string): Deployment {
    const def = this.double.getApp(app);
    if (def === undefined) throw new Error(`no app ${app} in the double`);
    // The API event carries the definition as posted: none of the per-request fields.
    const definition: Record<string, unknown> = { ...def };
    for (const k of ['tasks', 'tasksStaged', 'tasksRunning', 'tasksHealthy', 'tasksUnhealthy', 'deployments'])
      delete definition[k];
    const version = new Date().toISOString();
    const plan = { id: randomUUID(), steps: [{ actions: [{ action: 'ScaleApplication', app }] }], version };
    this.raw('api_post_event', { clientIp: '127.0.0.1', uri: `/v2/apps${app}`, appDefinition: definition });
    this.raw('deployment_info', { plan, currentStep: plan.steps[0] });
    return { app, plan };
  }

  private finish(d: Deployment): void {
    this.raw('deployment_step_success', { plan: d.plan, currentStep: d.plan.steps[0] });
    this.raw('deployment_success', { id: d.plan.id, plan: d.plan });
  }

  private raw(type: string, fields: Record<string, unknown>): void {
    this.double.publishRaw(type, JSON.stringify({ ...fields, eventType: type, timestamp: new Date().toISOString() }));
  }
}
