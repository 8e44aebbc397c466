import type { MarathonConfig } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import type { Service } from '../../state/model.js';
import { Backoff, SingleFlight, systemClock, type Clock } from '../../retry.js';
import { rejectionReason, type Reject } from '../../state/rejection.js';
import { OnceLog, SourceHealth, type Sink, type Source, type SourceStatus } from '../source.js';
import type { OversizeApp } from './app-splitter.js';
import { appServices, toAppRecord, toTaskRecord, type AppRecord, type TaskRecord } from './apps.js';
import { describe, MarathonClient, type EndpointList } from './client.js';
import { LimitLedger } from './limit-ledger.js';
import { appOverLimits, breachText, LimitError, offenderId, portsOverLimit, type LimitBreach } from './limits.js';
import { carryPending, checksNewTasks, withoutPending, withPending } from './readiness.js';
import { EventStream, type StreamHandlers } from './stream.js';
import type { HealthStatusChangedEvent, StatusUpdateEvent } from './types.js';

const TERMINAL = new Set([
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_LOST',
  'TASK_ERROR',
  'TASK_DROPPED',
  'TASK_GONE',
  'TASK_GONE_BY_OPERATOR',
  'TASK_UNREACHABLE',
  'TASK_UNKNOWN',
]);
/** The events applied to the last known app without fetching it (the others fetch it). */
const APPLIED_EVENTS = new Set(['status_update_event', 'health_status_changed_event', 'app_terminated_event']);
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;

/** The Marathon calls the source makes: the whole app list, and one app. */
export type MarathonApi = Pick<MarathonClient, 'apps' | 'app'>;

/** One event stream connection: opened once, closed once; it reports through the handlers it was made with. */
export interface EventStreamLike {
  open(): Promise<void>;
  close(reason: string): void;
}

/** What a spec may put in place of the network and of time; the defaults are Marathon's HTTP API and the system clock. */
export interface MarathonDeps {
  readonly client?: MarathonApi;
  readonly openStream?: (handlers: StreamHandlers) => EventStreamLike;
  readonly clock?: Clock;
}

/**
 * Marathon's apps and tasks as services. A full fetch on start, after every
 * stream gap and every `pollIntervalMs`; in between, each event updates only
 * the app it names. A failure never empties anything: the last view stays.
 */
export class MarathonSource implements Source {
  readonly name = 'marathon';
  private readonly health = new SourceHealth(this.name);
  private readonly client: MarathonApi;
  private readonly openStream: (handlers: StreamHandlers) => EventStreamLike;
  private readonly clock: Clock;
  private readonly once: OnceLog;
  private readonly reject: Reject;
  private readonly overLimit = new LimitLedger();
  private apps = new Map<string, AppRecord>();
  private readonly emitted = new Map<string, string[]>();
  private sink: Sink | null = null;
  private stream: EventStreamLike | null = null;
  private cancelPoll: (() => void) | null = null;
  /** Full fetches, one at a time: a reason arriving during one (a stream attaching) makes one more. */
  private readonly syncs = new SingleFlight<string>((reason) => this.fullSync(reason));
  /** Single-app fetches, one at a time per app. */
  private readonly refreshes = new SingleFlight<string>(
    (id) => this.fetchApp(id),
    (id) => id,
  );
  private readonly reconnect: Backoff;
  private readonly resync: Backoff;
  /** Events seen while a full fetch is in flight; replayed on top of its (older) answer. */
  private replay: Array<[string, unknown]> | null = null;
  /** The same per app, for the events applied without a fetch, while that app's own fetch is in flight. */
  private readonly appReplays = new Map<string, Array<[string, unknown]>>();
  private stopped = false;
  private attached = false;
  private delivered = false;

  constructor(
    private readonly config: MarathonConfig,
    private readonly log: Logger,
    endpoints?: EndpointList,
    deps: MarathonDeps = {},
  ) {
    const list = endpoints ?? (async () => config.endpoints);
    const http = deps.client
      ? null
      : new MarathonClient(list, {
          user: config.user,
          password: config.password,
          timeoutMs: config.requestTimeoutMs,
          limits: config,
        });
    this.client = deps.client ?? http!;
    this.openStream =
      deps.openStream ?? ((handlers) => new EventStream(http!, this.config.streamIdleTimeoutMs, this.config, handlers));
    this.clock = deps.clock ?? systemClock;
    const maxMs = Math.min(BACKOFF_MAX_MS, config.pollIntervalMs);
    this.reconnect = new Backoff(this.clock, BACKOFF_MIN_MS, maxMs);
    this.resync = new Backoff(this.clock, BACKOFF_MIN_MS, maxMs);
    this.once = new OnceLog((m, meta) => log.warn(m, meta));
    this.reject = (r) => {
      this.health.rejected(r);
      this.once.warnOnce('marathon value rejected', {
        source: this.name,
        app: r.where,
        field: r.field,
        reason: rejectionReason(r),
      });
    };
    this.health.set('eventStream', config.eventStream ? 'connecting' : 'off');
    this.health.set('overLimit', this.overLimit.view());
  }

  async start(sink: Sink): Promise<void> {
    this.sink = sink;
    this.stopped = false;
    if (this.config.eventStream) this.connect();
    else void this.sync('start');
    this.schedulePoll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.reconnect.cancel();
    this.resync.cancel();
    this.cancelPoll?.();
    this.stream?.close('stopping');
    this.sink = null;
    await this.syncs.idle();
  }

  status(): SourceStatus {
    return this.health.status();
  }

  private connect(): void {
    if (this.stopped) return;
    this.health.set('eventStream', 'connecting');
    const stream = this.openStream({
      onOpen: (endpoint) => {
        this.attached = true;
        this.health.setConnected(true);
        this.health.set('eventStream', 'connected');
        this.health.set('endpoint', endpoint);
        this.log.info('event stream attached', { source: this.name, endpoint });
        // Whatever happened while there was no stream is only in a full fetch.
        void this.sync('stream attached');
      },
      onEvent: (type, data) => this.onEvent(type, data),
      onOverLimit: (breach) => this.refusedInput(breach),
      onClose: (reason) => {
        if (this.stream !== stream) return;
        this.stream = null;
        this.attached = false;
        this.health.setConnected(false);
        if (this.stopped) return;
        // Pending marks end with the events that would clear them; the readiness results decide meanwhile.
        for (const app of [...this.apps.values()]) this.dropPending(app.id);
        this.health.set('eventStream', 'disconnected');
        this.health.fail(reason);
        const retryInMs = this.reconnect.retry(() => this.connect());
        this.log.warn('event stream lost; keeping the last known state', { source: this.name, reason, retryInMs });
        // The REST API may answer even when the stream cannot attach: stay as current as it allows meanwhile.
        void this.sync('event stream down');
      },
    });
    this.stream = stream;
    void stream.open();
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.cancelPoll = this.clock.after(this.config.pollIntervalMs, () => {
      void this.sync('periodic resync').finally(() => this.schedulePoll());
    });
  }

  /** A full fetch; one asked for while one is in flight runs after it (see SingleFlight). */
  private sync(reason: string): Promise<void> {
    return this.stopped ? Promise.resolve() : this.syncs.run(reason);
  }

  private async fullSync(reason: string): Promise<void> {
    if (this.stopped) return;
    const started = this.clock.now();
    this.replay = [];
    const next = new Map<string, AppRecord>();
    const refused = new Map<string, LimitBreach>();
    try {
      await this.client.apps(
        (app) => {
          const breach = appOverLimits(app, this.config);
          if (breach) return this.refuseApp(app.id, breach, refused, next);
          const rec = toAppRecord(app, this.reject);
          if (rec) next.set(rec.id, this.carryOver(rec));
        },
        () => {
          next.clear();
          refused.clear();
        },
        (app) => this.refuseApp(app.id, oversize(app, this.config.maxAppBytes), refused, next),
      );
    } catch (e) {
      this.replay = null;
      if (e instanceof LimitError) this.refusedInput(e.breach);
      const message = describe(e);
      this.health.fail(message);
      this.log.warn('marathon unreachable; keeping the last known state', { source: this.name, reason: message });
      // With the stream down, reconnecting brings its own full fetch.
      if (!this.config.eventStream || this.attached) this.resync.retry(() => void this.sync('retry after failure'));
      return;
    }
    if (this.stopped) return;
    this.apps = next;
    for (const b of this.overLimit.replaceApps(refused)) this.logRefusedApp(b);
    this.health.set('overLimit', this.overLimit.view());
    const services: Service[] = [];
    this.emitted.clear();
    for (const app of next.values()) {
      const list = appServices(app, this.config, this.reject, this.config.allowRawLabels);
      this.emitted.set(
        app.id,
        list.map((s) => s.id),
      );
      // A loop, not push(...list): an argument list has a size limit.
      for (const s of list) services.push(s);
    }
    const events = this.replay;
    this.replay = null;
    this.health.synced();
    if (!this.config.eventStream || this.attached) {
      this.health.clearError();
      this.reconnect.reset();
      this.resync.reset();
    }
    this.delivered = true;
    this.sink?.({ kind: 'sync', source: this.name, services });
    for (const [type, data] of events) this.onEvent(type, data, true);
    this.log.info('marathon synced', {
      source: this.name,
      reason,
      apps: next.size,
      services: services.length,
      ms: this.clock.now() - started,
    });
  }

  /** A fresh answer for an app, with what only the previous record knew: health verdicts and readiness marks. */
  private carryOver(rec: AppRecord): AppRecord {
    const before = this.apps.get(rec.id);
    if (!before) return rec;
    const kept = this.keepHealth(rec, before);
    const readiness = carryPending(before.readiness, kept.readiness);
    return readiness === kept.readiness ? kept : { ...kept, readiness };
  }

  /**
   * During a leader election Marathon answers with tasks whose health results
   * are missing; the last verdict stands until a new one arrives.
   */
  private keepHealth(rec: AppRecord, before: AppRecord): AppRecord {
    if (rec.healthChecks.length === 0) return rec;
    let changed = false;
    const tasks = new Map(rec.tasks);
    for (const [id, t] of rec.tasks) {
      const old = before.tasks.get(id);
      if (t.health.length === 0 && old && old.health.length > 0) {
        tasks.set(id, { ...t, health: old.health });
        changed = true;
      }
    }
    return changed ? { ...rec, tasks } : rec;
  }

  private onEvent(type: string, data: unknown, replayed = false): void {
    if (!replayed) this.health.event(type);
    if (this.replay) this.replay.push([type, data]);
    if (data === null || typeof data !== 'object') return;
    const appId = (data as { appId?: unknown }).appId;
    if (!replayed && APPLIED_EVENTS.has(type) && typeof appId === 'string')
      this.appReplays.get(appId)?.push([type, data]);
    switch (type) {
      case 'status_update_event':
        return this.onStatus(data as StatusUpdateEvent, replayed);
      case 'health_status_changed_event':
        return this.onHealth(data as HealthStatusChangedEvent);
      case 'api_post_event': {
        const id = (data as { appDefinition?: { id?: unknown } }).appDefinition?.id;
        if (typeof id === 'string') void this.refresh(id);
        return;
      }
      case 'app_terminated_event': {
        const id = (data as { appId?: unknown }).appId;
        if (typeof id === 'string' && this.apps.delete(id)) this.emitApp(id);
        return;
      }
      case 'deployment_info':
        // A deployment starts (or moves on): its apps now have readiness results to follow.
        for (const id of deploymentApps(data, 'current')) void this.refresh(id);
        return;
      case 'deployment_step_success':
        for (const id of deploymentApps(data, 'current')) this.stepEnded(id);
        return;
      case 'deployment_success':
      case 'deployment_failed':
        for (const id of deploymentApps(data, 'all')) this.stepEnded(id);
        return;
    }
  }

  private onStatus(ev: StatusUpdateEvent, replayed: boolean): void {
    if (typeof ev.appId !== 'string' || typeof ev.taskId !== 'string' || typeof ev.taskStatus !== 'string') return;
    const app = this.apps.get(ev.appId);
    if (!app) {
      // A task of an app this sidecar has not seen yet: its definition (labels, ports) is needed first.
      if (!TERMINAL.has(ev.taskStatus)) void this.refresh(ev.appId);
      return;
    }
    const tasks = new Map(app.tasks);
    if (TERMINAL.has(ev.taskStatus)) {
      if (!tasks.delete(ev.taskId)) return;
    } else if (
      portsOverLimit(ev.ports, this.config) ||
      (!tasks.has(ev.taskId) && tasks.size >= this.config.maxTasksPerApp)
    ) {
      const many = portsOverLimit(ev.ports, this.config);
      return this.refusedInput({
        limit: many ? 'maxPortsPerApp' : 'maxTasksPerApp',
        max: many ? this.config.maxPortsPerApp : this.config.maxTasksPerApp,
        offender: app.id,
        found: many
          ? `a status update of task ${offenderId(ev.taskId)} with ${(ev.ports as unknown[]).length} ports`
          : `a new task ${offenderId(ev.taskId)} beyond ${tasks.size}`,
      });
    } else {
      const old = tasks.get(ev.taskId);
      const rec = toTaskRecord(
        { id: ev.taskId, host: ev.host, ports: ev.ports, state: ev.taskStatus, healthCheckResults: [] },
        app.id,
        this.reject,
      );
      if (!rec) return;
      tasks.set(rec.id, { ...rec, health: old?.health ?? [] });
    }
    const checked = startsChecked(app, ev.taskId, ev.taskStatus, ev.version);
    const readiness = checked ? withPending(app.readiness, ev.taskId) : app.readiness;
    this.apps.set(app.id, { ...app, tasks, readiness });
    this.emitApp(app.id);
    // Marathon sends no event when a check passes; it kills an old task once a new one is ready, so
    // any task's news during a checked deployment is when to fetch the app's results.
    // A replayed event asked for its fetch when it first came.
    if (!replayed && (checked || checksNewTasks(app.readiness))) void this.refresh(app.id);
  }

  /** An app's deployment step ended: the tasks it started are checked, so the results alone decide; then fetch them. */
  private stepEnded(id: string): void {
    this.dropPending(id);
    void this.refresh(id);
  }

  /** Drops an app's pending marks, telling the state when that changes its backends. */
  private dropPending(id: string): void {
    const app = this.apps.get(id);
    const readiness = app && withoutPending(app.readiness);
    if (!app || !readiness) return;
    this.apps.set(id, { ...app, readiness });
    this.emitApp(id);
  }

  private onHealth(ev: HealthStatusChangedEvent): void {
    if (typeof ev.appId !== 'string' || typeof ev.alive !== 'boolean') return;
    const app = this.apps.get(ev.appId);
    if (!app) return;
    const names = new Set<string>();
    if (typeof ev.taskId === 'string') names.add(ev.taskId);
    if (typeof ev.instanceId === 'string') {
      names.add(ev.instanceId);
      // Marathon 1.4–1.7 names an app's instance `<app>.marathon-<uuid>` and its task `<app>.<uuid>`.
      names.add(ev.instanceId.replace(/\.marathon-([^.]+)$/, '.$1'));
    }
    const tasks = new Map(app.tasks);
    let hit = false;
    for (const [id, t] of app.tasks) {
      // Since 1.8 an instance's task ids extend its id (`<instance>._app.1`).
      if (names.has(id) || [...names].some((n) => id.startsWith(`${n}.`))) {
        tasks.set(id, {
          ...t,
          health: t.health.length > 0 ? t.health.map(() => ev.alive!) : [ev.alive!],
        } satisfies TaskRecord);
        hit = true;
      }
    }
    if (!hit) return;
    this.apps.set(app.id, { ...app, tasks });
    this.emitApp(app.id);
  }

  /** Fetches one app (not the cluster); a second request for the same app while one is in flight runs once after it. */
  private refresh(id: string): Promise<void> {
    return this.refreshes.run(id);
  }

  private async fetchApp(id: string): Promise<void> {
    if (this.stopped) return;
    let raw;
    const seen: Array<[string, unknown]> = [];
    this.appReplays.set(id, seen);
    try {
      raw = await this.client.app(id);
    } catch (e) {
      if (e instanceof LimitError) return this.refuseOneApp(id, e.breach);
      this.log.warn('app refresh failed; the next full resync will catch up', {
        source: this.name,
        app: id,
        reason: describe(e),
      });
      this.resync.retry(() => void this.sync('app refresh failed'));
      return;
    } finally {
      this.appReplays.delete(id);
    }
    if (this.stopped) return;
    if (raw === null) {
      this.overLimit.appOk(id);
      if (this.apps.delete(id)) this.emitApp(id);
      return;
    }
    const breach = appOverLimits(raw, this.config);
    if (breach) return this.refuseOneApp(id, breach);
    this.overLimit.appOk(id);
    this.health.set('overLimit', this.overLimit.view());
    const rec = toAppRecord(raw, this.reject);
    if (!rec) return;
    this.apps.set(rec.id, this.carryOver(rec));
    this.emitApp(rec.id);
    // The answer may predate what these events told: a task started or gone meanwhile.
    for (const [type, data] of seen) this.onEvent(type, data, true);
  }

  /**
   * An app of a full fetch over a limit: left out, or kept as it last was
   * when it was known, as a failed fetch keeps it.
   */
  private refuseApp(
    id: unknown,
    breach: LimitBreach,
    refused: Map<string, LimitBreach>,
    next: Map<string, AppRecord>,
  ): void {
    const key = typeof id === 'string' ? id : breach.offender;
    this.health.overLimit(`marathon.${breach.limit}`);
    refused.set(key, breach);
    const last = this.apps.get(key);
    if (last) next.set(key, last);
  }

  /** A single app fetched after an event is over a limit: it stays as it last was. */
  private refuseOneApp(id: string, breach: LimitBreach): void {
    this.health.overLimit(`marathon.${breach.limit}`);
    if (this.overLimit.app(id, breach)) this.logRefusedApp(breach);
    this.health.set('overLimit', this.overLimit.view());
  }

  private logRefusedApp(breach: LimitBreach): void {
    this.log.error('marathon app over a limit; it keeps its last known state, or is left out', {
      source: this.name,
      app: breach.offender,
      limit: `marathon.${breach.limit}`,
      reason: breachText(breach),
    });
  }

  /** A whole input (the app list, an event, the stream) refused for a limit. */
  private refusedInput(breach: LimitBreach): void {
    this.health.overLimit(`marathon.${breach.limit}`);
    this.overLimit.input(breach);
    this.health.set('overLimit', this.overLimit.view());
    this.log.error('marathon input over a limit; refused', {
      source: this.name,
      limit: `marathon.${breach.limit}`,
      reason: breachText(breach),
    });
  }

  /** Tells the state about one app's services: upserts for what it has, removals for what it no longer has. */
  private emitApp(appId: string): void {
    if (!this.sink || !this.delivered) return;
    const app = this.apps.get(appId);
    const services = app ? appServices(app, this.config, this.reject, this.config.allowRawLabels) : [];
    const ids = services.map((s) => s.id);
    for (const old of this.emitted.get(appId) ?? [])
      if (!ids.includes(old)) this.sink({ kind: 'remove', source: this.name, id: old });
    for (const s of services) this.sink({ kind: 'upsert', source: this.name, service: s });
    if (ids.length > 0) this.emitted.set(appId, ids);
    else this.emitted.delete(appId);
  }
}

/**
 * Whether a status update is of a task of an app with readiness checks that a
 * deployment checks before it is ready: one starting, without a result yet,
 * either of the version a known deployment deploys (Marathon checks no
 * other), or of a version this record does not know — a deployment whose
 * start the app's fetch has not shown yet (the fetch then decides).
 */
function startsChecked(app: AppRecord, taskId: string, status: string, version: unknown): boolean {
  const { hasChecks, inDeployment, tasks } = app.readiness;
  if (!hasChecks || status === 'TASK_KILLING' || TERMINAL.has(status) || tasks.has(taskId)) return false;
  const unversioned = typeof version !== 'string' || app.version === null;
  if (inDeployment) return unversioned || version === app.version;
  return !unversioned && version !== app.version;
}

/** The breach of an app too long to take, named by its id where its text shows one. */
function oversize(app: OversizeApp, max: number): LimitBreach {
  return {
    limit: 'maxAppBytes',
    max,
    offender: app.id === null ? `the app at index ${app.index} of /v2/apps` : offenderId(app.id),
    found: `${app.bytes} bytes of JSON`,
  };
}

/**
 * The app ids a deployment event touches: those of its current step, or of
 * the whole plan (Marathon puts them in currentStep.actions[].app and
 * plan.steps[].actions[].app).
 */
function deploymentApps(data: unknown, which: 'current' | 'all'): string[] {
  const plan = (data as { plan?: { steps?: unknown } }).plan;
  const ids = new Set<string>();
  const steps = which === 'all' && Array.isArray(plan?.steps) ? plan.steps : [];
  const current = (data as { currentStep?: unknown }).currentStep;
  for (const step of current ? [current, ...steps] : steps) {
    const actions = (step as { actions?: unknown })?.actions;
    if (!Array.isArray(actions)) continue;
    for (const a of actions) if (typeof a?.app === 'string') ids.add(a.app);
  }
  return [...ids];
}
