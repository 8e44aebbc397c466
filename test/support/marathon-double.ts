// A stand-in for Marathon's REST API and SSE event bus, served over real HTTP so
// clients exercise their actual networking code. Behaviour follows Marathon 1.4-era
// sources (mesosphere/marathon): Jetty's EventSourceServlet framing and heartbeat,
// LeaderProxyFilter for non-leaders, AppsResource/InfoEmbedResolver for embeds,
// Formats.scala for JSON. Deliberate simplifications are listed where they happen.

import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import type {
  AppHealthCheck,
  DeploymentAction,
  DeploymentInfo,
  DeploymentPlan,
  DeploymentStep,
  InstanceCondition,
  IpAddress,
  MarathonApp,
  MarathonEvent,
  MarathonEventMap,
  MarathonEventType,
  MarathonGroup,
  MarathonInfo,
  MarathonTask,
  PortDefinition,
  PortMapping,
  ReadinessCheck,
  ReadinessCheckResponse,
  ReadinessCheckResult,
  TaskState,
  VersionInfo,
} from './marathon-types.js';

/** How a MarathonDouble starts; every field has a test-friendly default. */
export interface MarathonDoubleOptions {
  /** Port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** Heartbeat period per event stream (real Marathon: 10 000 ms); 0 turns heartbeats off. */
  keepAliveMs?: number;
  /** Whether this instance starts as the elected leader (default true). */
  leader?: boolean;
  /** With `password`, require HTTP Basic auth on every request, as `--http_credentials` does. */
  user?: string;
  password?: string;
}

/** Fields Marathon computes per request rather than storing with the app. */
type EmbeddedKey =
  | 'tasks'
  | 'tasksStaged'
  | 'tasksRunning'
  | 'tasksHealthy'
  | 'tasksUnhealthy'
  | 'deployments'
  | 'readinessCheckResults';

/** An app definition to load; anything left out gets Marathon's default. */
export type AppInput = Partial<Omit<MarathonApp, EmbeddedKey>> & { id: string };

/** A task to place on an agent. */
export interface AddTaskOptions {
  host: string;
  /** Host ports; by default one per service port, allocated from 31000 per host like Mesos offers. */
  ports?: number[];
  state?: TaskState;
  /** First health verdict; undefined means no check has run yet (results omitted). Ignored without health checks. */
  healthy?: boolean;
  /** Defaults to the host itself when it is an IPv4 literal. */
  ipAddresses?: IpAddress[];
  slaveId?: string;
  /**
   * The UUID in the task and instance ids (random by default). Two doubles
   * standing for one cluster (a leader and the standby that takes over) must
   * agree on task ids, as Marathon's shared state in ZooKeeper makes them.
   */
  uuid?: string;
}

/** How killTask reaches TASK_KILLED. */
export interface KillTaskOptions {
  /** Report TASK_KILLING first (Marathon's `task_killing` feature). */
  killing?: boolean;
  /** Precede the kill with `unhealthy_instance_kill_event`, as when health checks fail too often. */
  unhealthy?: boolean;
}

/** An app plus its tasks for bulkLoad. */
export type BulkApp = AppInput & { tasks?: AddTaskOptions[] };

/** How failRequests breaks incoming requests: an HTTP status, a TCP reset, or nothing. */
export type RequestFailure = number | 'reset' | null;

/** Listener signature of the 'event' hook. */
export type MarathonDoubleEvents = {
  event: [type: MarathonEventType, data: MarathonEvent, emittedAt: bigint];
};

interface TaskRecord {
  id: string;
  instanceId: string;
  appId: string;
  host: string;
  ports: number[];
  ipAddresses: IpAddress[];
  slaveId: string;
  state: TaskState;
  stagedAt: string;
  startedAt: string | null;
  version: string;
  alive: boolean | undefined;
  consecutiveFailures: number;
  firstSuccess: string | null;
  lastSuccess: string | null;
  lastFailure: string | null;
}

interface AppRecord {
  def: MarathonApp;
  tasks: Map<string, TaskRecord>;
  // Serialized views by embed (see appJson), dropped whenever the app, a task or its deployment changes.
  json: Map<string, Buffer>;
}

// A deployment that runs until the test finishes it (deployApp), with the
// latest readiness result per task, as DeploymentManagerActor keeps them.
interface HeldDeployment {
  plan: DeploymentPlan;
  step: DeploymentStep;
  results: Map<string, ReadinessCheckResult>;
}

interface Stream {
  res: http.ServerResponse;
  types: ReadonlySet<string>;
  stalled: boolean;
  timer: NodeJS.Timeout | undefined;
}

// LeaderProxyFilter's wording; real Marathon sends it in a Jetty HTML error page.
const NO_LEADER = 'Could not determine the current leader';
// AppLockedException's wording, for a change to an app whose deployment runs (the double has no force).
const LOCKED = 'App is locked by one or more deployments.';
const FRAMEWORK_ID = '7f5d2e6a-3c1b-4e8f-9a0d-6b2c4e1f8a90-0000';
// Mesos marks a task terminal in these states; Marathon then expunges it.
const TERMINAL = new Set<TaskState>([
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_LOST',
  'TASK_ERROR',
  'TASK_DROPPED',
  'TASK_GONE',
  'TASK_GONE_BY_OPERATOR',
]);
const CONDITION: Record<TaskState, InstanceCondition> = {
  TASK_STAGING: 'Staging',
  TASK_STARTING: 'Starting',
  TASK_RUNNING: 'Running',
  TASK_KILLING: 'Killing',
  TASK_KILLED: 'Killed',
  TASK_FINISHED: 'Finished',
  TASK_FAILED: 'Failed',
  TASK_LOST: 'Gone',
  TASK_ERROR: 'Error',
  TASK_DROPPED: 'Dropped',
  TASK_UNREACHABLE: 'Unreachable',
  TASK_GONE: 'Gone',
  TASK_GONE_BY_OPERATOR: 'Gone',
  TASK_UNKNOWN: 'Unknown',
};
const HEALTH_FAILURE_CAUSE = 'ConnectException: Connection refused';
const COMMA = Buffer.from(',');

/**
 * A Marathon leader (or standby) on 127.0.0.1 holding an in-memory cluster that
 * tests mutate directly; each mutation publishes the events real Marathon would.
 */
export class MarathonDouble extends EventEmitter<MarathonDoubleEvents> {
  private readonly port: number;
  private readonly keepAliveMs: number;
  private readonly credentials: string | null;
  private readonly apps = new Map<string, AppRecord>();
  private readonly taskOwners = new Map<string, AppRecord>();
  private readonly streams = new Set<Stream>();
  private readonly held = new Map<string, HeldDeployment>();
  private readonly sockets = new Set<Socket>();
  private readonly counts = new Map<string, number>();
  // Bytes written on connections closed so far, and the total at the last reset.
  private closedBytes = 0;
  private bytesAtReset = 0;
  private failure: RequestFailure = null;
  private empty = false;
  // 'self' while elected; another instance's URL while standing by; null during an election.
  private leaderTarget: 'self' | URL | null;
  private lastClusterEventAt: bigint | null = null;
  private lastVersionMs = 0;
  private nextServicePort = 10000;
  private readonly usedServicePorts = new Set<number>();
  private readonly nextHostPort = new Map<string, number>();
  private readonly agentIds = new Map<string, string>();
  private server: http.Server | undefined;
  private hostPort: string | undefined;
  // Test-only: bytes served as extra elements of app lists (hostile-input specs).
  private readonly rawApps: Buffer[] = [];

  constructor(options: MarathonDoubleOptions = {}) {
    super();
    this.port = options.port ?? 0;
    this.keepAliveMs = options.keepAliveMs ?? 1000;
    this.leaderTarget = options.leader === false ? null : 'self';
    this.credentials =
      options.user !== undefined && options.password !== undefined ? `${options.user}:${options.password}` : null;
  }

  /** Listens on 127.0.0.1 and resolves to the base URL, e.g. `http://127.0.0.1:40123`. */
  async start(): Promise<string> {
    const server = http.createServer((req, res) => this.handle(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => {
        this.sockets.delete(socket);
        this.closedBytes += socket.bytesWritten;
      });
    });
    server.on('clientError', (_error, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.hostPort = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.url;
  }

  /** The base URL; only valid after start(). */
  get url(): string {
    if (this.hostPort === undefined) throw new Error('MarathonDouble is not started');
    return `http://${this.hostPort}`;
  }

  /** Closes the server and destroys every connection, open event streams included. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    for (const stream of this.streams) clearInterval(stream.timer);
    this.streams.clear();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- cluster state -------------------------------------------------------

  /** Creates an app with Marathon's defaults filled in; publishes api_post_event and a deployment. */
  addApp(input: AppInput): MarathonApp {
    const rec = this.insertApp(input);
    this.publish('api_post_event', { clientIp: '127.0.0.1', uri: '/v2/apps', appDefinition: rec.def });
    this.publishSuccess(this.startDeployment('StartApplication', null, rec.def));
    return structuredClone(rec.def);
  }

  /**
   * Changes an app's definition (new version) and publishes api_post_event plus a deployment.
   * Running tasks keep their old version: unlike Marathon, no rolling restart happens.
   */
  updateApp(id: string, patch: Partial<Omit<MarathonApp, EmbeddedKey | 'id'>>): MarathonApp {
    const { rec, before, action } = this.change(id, patch);
    this.publishSuccess(this.startDeployment(action, before, rec.def));
    return structuredClone(rec.def);
  }

  /**
   * Changes an app's definition as updateApp does, but leaves its deployment
   * running, as a deployment of an app with readiness checks runs until every
   * new task is ready: the app lists it under `deployments`, its readiness
   * results (setTaskReadiness) are served with `embed=apps.readiness` and by
   * `/v2/deployments`, until finishDeployment. Tasks added meanwhile run the
   * new version; as in updateApp, nothing is started or killed by itself.
   * Returns the deployment id.
   */
  deployApp(id: string, patch: Partial<Omit<MarathonApp, EmbeddedKey | 'id'>>): string {
    const { rec, before, action } = this.change(id, patch);
    const plan = this.startDeployment(action, before, rec.def);
    this.held.set(plan.id, { plan, step: plan.steps[0]!, results: new Map() });
    this.invalidate(rec);
    return plan.id;
  }

  /**
   * Records the outcome of a readiness check of a task that the running
   * deployment of its app started (Marathon checks no other), as
   * ReadinessCheckExecutor reports it: the latest result per task is listed.
   * No event is published: Marathon has none for it. `response` (what the
   * task answered; by default 200 when ready, 503 when not) is listed only
   * with the check's `preserveLastResponse`.
   */
  setTaskReadiness(taskId: string, ready: boolean, response?: ReadinessCheckResponse): void {
    const { rec, task } = this.requireTask(taskId);
    const check = rec.def.readinessChecks?.[0];
    if (check === undefined) throw new Error(`App '${rec.def.id}' has no readiness checks`);
    const deployment = this.deploymentOf(rec.def.id);
    if (deployment === undefined)
      throw new Error(`No deployment of '${rec.def.id}' is running: readiness is not checked`);
    if (task.version !== rec.def.version || task.state !== 'TASK_RUNNING')
      throw new Error(`Task '${taskId}' is not a running task of the version deployed: Marathon does not check it`);
    const result: ReadinessCheckResult = { name: check.name ?? 'readinessCheck', taskId, ready };
    if (check.preserveLastResponse === true)
      result.lastResponse = response ?? {
        status: ready ? 200 : 503,
        contentType: 'text/plain',
        body: ready ? 'ready' : 'warming up',
      };
    deployment.results.set(taskId, result);
    this.invalidate(rec);
  }

  /** Ends a deployment started by deployApp: deployment_step_success, then deployment_success; its results go. */
  finishDeployment(deploymentId: string): void {
    const deployment = this.held.get(deploymentId);
    if (deployment === undefined) throw new Error(`Deployment '${deploymentId}' is not running`);
    this.held.delete(deploymentId);
    for (const action of deployment.step.actions) {
      const rec = this.apps.get(action.app);
      if (rec !== undefined) this.invalidate(rec);
    }
    this.publish('deployment_step_success', { plan: deployment.plan, currentStep: deployment.step });
    this.publishSuccess(deployment.plan);
  }

  /** The changed definition of an app (a new version), published as api_post_event, and the deployment action it needs. */
  private change(
    id: string,
    patch: Partial<Omit<MarathonApp, EmbeddedKey | 'id'>>,
  ): { rec: AppRecord; before: MarathonApp; action: DeploymentAction['action'] } {
    const rec = this.requireApp(id);
    if (this.deploymentOf(rec.def.id) !== undefined) throw new Error(LOCKED);
    const before = rec.def;
    const version = this.nextVersion();
    const merged: AppInput = { ...before, ...structuredClone(patch), id: before.id };
    // A patch naming one port spelling must not lose to the stale copy of the other.
    if ('ports' in patch && !('portDefinitions' in patch)) delete merged.portDefinitions;
    if ('portDefinitions' in patch && !('ports' in patch)) delete merged.ports;
    const scaleOnly = Object.keys(patch).every((key) => key === 'instances');
    const versionInfo: VersionInfo = {
      lastScalingAt: version,
      lastConfigChangeAt: scaleOnly ? (before.versionInfo?.lastConfigChangeAt ?? version) : version,
    };
    rec.def = this.normalize(merged, version, versionInfo);
    this.invalidate(rec);
    this.publish('api_post_event', { clientIp: '127.0.0.1', uri: `/v2/apps${rec.def.id}`, appDefinition: rec.def });
    return { rec, before, action: scaleOnly ? 'ScaleApplication' : 'RestartApplication' };
  }

  /** The running (held) deployment whose current step acts on the app, if any. */
  private deploymentOf(appId: string): HeldDeployment | undefined {
    for (const deployment of this.held.values())
      if (deployment.step.actions.some((action) => action.app === appId)) return deployment;
    return undefined;
  }

  /** Deletes an app: kills each task (TASK_KILLED), then publishes app_terminated_event. */
  removeApp(id: string): void {
    const rec = this.requireApp(id);
    if (this.deploymentOf(rec.def.id) !== undefined) throw new Error(LOCKED);
    const plan = this.startDeployment('StopApplication', rec.def, null);
    for (const task of [...rec.tasks.values()]) this.transition(rec, task, 'TASK_KILLED');
    this.apps.delete(rec.def.id);
    this.publish('app_terminated_event', { appId: rec.def.id });
    this.publishSuccess(plan);
  }

  /**
   * Launches a task and returns its id (`<app id, / as _>.<uuid>`). Publishes one
   * status_update_event (staging collapsed into the given state) and, when the app has
   * health checks and `healthy` is given, health_status_changed_event.
   */
  addTask(appId: string, options: AddTaskOptions): string {
    const rec = this.requireApp(appId);
    const task = this.createTask(rec, options);
    this.invalidate(rec);
    this.publishStatus(rec, task);
    if (task.alive !== undefined) this.publishHealth(rec, task);
    return task.id;
  }

  /** Records a health check verdict; publishes health_status_changed_event only when it flips. */
  setTaskHealth(taskId: string, alive: boolean): void {
    const { rec, task } = this.requireTask(taskId);
    if (rec.def.healthChecks.length === 0) throw new Error(`App '${rec.def.id}' has no health checks`);
    if (task.alive === alive) return;
    recordHealth(task, alive, isoNow());
    this.invalidate(rec);
    this.publishHealth(rec, task);
  }

  /** Moves a task to a Mesos state; terminal states remove it, as Marathon expunges them. */
  setTaskState(taskId: string, state: TaskState): void {
    const { rec, task } = this.requireTask(taskId);
    this.transition(rec, task, state);
  }

  /** Kills a task, optionally through TASK_KILLING and/or as an unhealthy-instance kill. */
  killTask(taskId: string, options: KillTaskOptions = {}): void {
    const { rec, task } = this.requireTask(taskId);
    if (options.unhealthy === true) {
      this.publish('unhealthy_instance_kill_event', {
        appId: rec.def.id,
        taskId: task.id,
        instanceId: task.instanceId,
        version: task.version,
        reason: HEALTH_FAILURE_CAUSE,
        host: task.host,
        slaveId: task.slaveId,
      });
    }
    if (options.killing === true && task.state !== 'TASK_KILLING') this.transition(rec, task, 'TASK_KILLING');
    this.transition(rec, task, 'TASK_KILLED');
  }

  /** Loads apps and tasks silently (no events), for benchmarks that start from a big cluster. */
  bulkLoad(apps: readonly BulkApp[]): void {
    for (const { tasks, ...input } of apps) {
      const rec = this.insertApp(input);
      for (const options of tasks ?? []) this.createTask(rec, options);
      // Encode now so a benchmark's first full fetch times the client, not the double.
      this.appJson(rec, { tasks: true, readiness: false });
    }
  }

  /** An app as `GET /v2/apps/{id}` would show it (tasks and counts embedded), or undefined. */
  getApp(id: string): MarathonApp | undefined {
    const rec = this.apps.get(canonicalId(id));
    return rec === undefined
      ? undefined
      : (JSON.parse(this.appJson(rec, { tasks: true, readiness: false }).toString()) as MarathonApp);
  }

  // ---- raw injection (hostile-input specs) -------------------------------------

  /**
   * Test-only: serves `json` exactly as given (any bytes; it should be one JSON
   * value, or the whole list stops being JSON) as one more element of every
   * `GET /v2/apps` list, after the real apps. No event is published.
   */
  addRawApp(json: string | Buffer): void {
    this.rawApps.push(Buffer.isBuffer(json) ? json : Buffer.from(json));
  }

  /** Test-only: forgets every addRawApp element. */
  clearRawApps(): void {
    this.rawApps.length = 0;
  }

  /**
   * Test-only: writes one SSE frame of `type` whose data line is `data` exactly
   * as given (it must not contain a line break, which SSE would split) to
   * every attached stream, as a Marathon sending malformed events would.
   */
  publishRaw(type: string, data: string | Buffer): void {
    const frame = Buffer.concat([
      Buffer.from(`event: ${type}\r\ndata: `),
      Buffer.isBuffer(data) ? data : Buffer.from(data),
      Buffer.from('\r\n\r\n'),
    ]);
    for (const stream of this.streams)
      if (!stream.stalled && (stream.types.size === 0 || stream.types.has(type))) stream.res.write(frame);
  }

  // ---- observation hooks ----------------------------------------------------

  /**
   * When the last cluster event (anything but stream attach/detach) was handed to the
   * streams, as process.hrtime.bigint(); null before the first one.
   */
  lastEventAt(): bigint | null {
    return this.lastClusterEventAt;
  }

  /** Requests received for a path (`/v2/apps`) or, when it has a query, that exact URL. */
  requestCount(path: string): number {
    return this.counts.get(path) ?? 0;
  }

  /** Forgets all request counts, and starts bytesServed() from 0. */
  resetRequestCounts(): void {
    this.counts.clear();
    this.bytesAtReset = this.totalBytes();
  }

  /** Requests of every kind, and full app-list fetches (`GET /v2/apps`), since start or the last reset. */
  requestTotals(): { requests: number; fullFetches: number } {
    let requests = 0;
    // Each request is counted under its path, and once more under its full URL when it has a query.
    for (const [key, n] of this.counts) if (!key.includes('?')) requests += n;
    return { requests, fullFetches: (this.counts.get('/v2/apps') ?? 0) + (this.counts.get('/v2/apps/') ?? 0) };
  }

  /** Bytes sent to clients (headers, bodies, event streams) since start or the last resetRequestCounts(). */
  bytesServed(): number {
    return this.totalBytes() - this.bytesAtReset;
  }

  private totalBytes(): number {
    let live = 0;
    for (const socket of this.sockets) live += socket.bytesWritten;
    return this.closedBytes + live;
  }

  /** How many event streams are attached. */
  streamCount(): number {
    return this.streams.size;
  }

  // ---- faults ---------------------------------------------------------------

  /** Kills every attached event stream: 'reset' sends a TCP RST, 'close' a FIN (a clean-looking EOF). */
  dropStreams(how: 'reset' | 'close' = 'reset'): void {
    for (const stream of this.detachAll()) {
      const socket = stream.res.socket;
      if (how === 'reset') socket?.resetAndDestroy();
      else socket?.destroy();
    }
  }

  /**
   * Silences the streams attached now (no events, no heartbeats, no FIN), as a dead
   * peer behind a NAT would; events published meanwhile are lost to them. Streams
   * attached later work normally. `false` resumes the silenced ones.
   */
  stallStreams(stalled: boolean): void {
    for (const stream of this.streams) stream.stalled = stalled;
  }

  /** Makes every new request answer `status` (JSON message) or get a TCP reset, until null. */
  failRequests(failure: RequestFailure): void {
    this.failure = failure;
  }

  /**
   * Makes `GET /v2/apps` answer an empty list while on, as a Marathon does
   * that has lost its state or whose new leader has not loaded it yet; no
   * events are sent.
   */
  answerEmpty(on: boolean): void {
    this.empty = on;
  }

  /**
   * Sets who leads: this instance's own URL, another URL (this one then proxies REST
   * calls there and redirects /v2/events, like a standby), or null (election under way:
   * 503 everywhere but /ping and /v2/leader). Losing leadership closes attached streams.
   */
  setLeader(leaderUrl: string | null): void {
    const target = leaderUrl === null ? null : new URL(leaderUrl);
    const self = target !== null && target.host === this.hostPort;
    this.leaderTarget = self ? 'self' : target;
    if (!self) for (const stream of this.detachAll()) stream.res.end();
  }

  // ---- HTTP ------------------------------------------------------------------

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const rawUrl = req.url ?? '/';
    const url = new URL(rawUrl, 'http://double.invalid');
    this.count(url.pathname);
    if (rawUrl !== url.pathname) this.count(rawUrl);

    if (this.failure === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    if (this.failure !== null) {
      sendJson(res, this.failure, { message: http.STATUS_CODES[this.failure] ?? 'Error' });
      return;
    }
    if (!this.authorized(req)) {
      res.setHeader('WWW-Authenticate', 'Basic realm="Mesosphere"');
      sendJson(res, 401, { message: 'Unauthorized' });
      return;
    }
    // Real Marathon routes these through the leader filter too; answering them locally
    // keeps "who leads?" observable during an election, which is what clients poll.
    if (url.pathname === '/ping') {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'must-revalidate,no-cache,no-store' });
      res.end('pong\n');
      return;
    }
    if (url.pathname === '/v2/leader') {
      this.answerLeader(res);
      return;
    }
    if (this.leaderTarget === null) {
      // Marathon first waits ~2.5 s for leadership to settle; the double answers at once.
      sendJson(res, 503, { message: NO_LEADER });
      return;
    }
    if (this.leaderTarget !== 'self') {
      // Since the proxy_events feature was dropped, standbys redirect stream clients.
      if (url.pathname === '/v2/events') {
        res.writeHead(302, { Location: new URL(rawUrl, this.leaderTarget).toString() });
        res.end();
      } else {
        this.proxy(req, res, this.leaderTarget);
      }
      return;
    }

    res.setHeader('X-Marathon-Leader', this.url);
    if (req.method !== 'GET') {
      sendJson(res, 405, { message: 'HTTP 405 Method Not Allowed' });
      return;
    }
    if (url.pathname === '/v2/events') this.attach(req, res, url);
    else if (url.pathname === '/v2/info') sendJson(res, 200, this.info());
    else if (url.pathname === '/v2/apps' || url.pathname === '/v2/apps/') this.answerAppList(res, url);
    else if (url.pathname.startsWith('/v2/apps/')) this.answerApp(res, decodeURIComponent(url.pathname.slice(9)), url);
    else if (url.pathname === '/v2/deployments' || url.pathname === '/v2/deployments/')
      sendJson(res, 200, this.deploymentList());
    else sendJson(res, 404, { message: `URI not found: ${url.pathname}` });
  }

  private authorized(req: http.IncomingMessage): boolean {
    if (this.credentials === null) return true;
    const match = /^basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    return match !== null && Buffer.from(match[1] ?? '', 'base64').toString() === this.credentials;
  }

  private answerLeader(res: http.ServerResponse): void {
    if (this.leaderTarget === null) sendJson(res, 404, { message: 'There is no leader' });
    else sendJson(res, 200, { leader: this.leaderTarget === 'self' ? this.hostPort : this.leaderTarget.host });
  }

  private proxy(req: http.IncomingMessage, res: http.ServerResponse, leader: URL): void {
    const via = `1.1 ${this.hostPort}`;
    const hops = req.headers['x-marathon-via'];
    if (hops?.includes(via) === true) {
      sendJson(res, 502, { message: 'Detected proxying loop.' });
      return;
    }
    const upstream = http.request(
      {
        hostname: leader.hostname,
        port: leader.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: leader.host, 'x-marathon-via': hops === undefined ? via : `${hops}, ${via}` },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      if (res.headersSent) res.destroy();
      else sendJson(res, 502, { message: `Could not proxy to leader: ${error.message}` });
    });
    req.pipe(upstream);
  }

  private answerAppList(res: http.ServerResponse, url: URL): void {
    const embed = embedsOf(url, false);
    sendParts(
      res,
      'apps',
      this.empty ? [] : [...[...this.apps.values()].map((rec) => this.appJson(rec, embed)), ...this.rawApps],
    );
  }

  // `/v2/apps/{id}` always embeds tasks, counts and deployments (AppsResource.show, "for
  // compatibility"); readiness only when asked.
  private answerApp(res: http.ServerResponse, rest: string, url: URL): void {
    const embed = embedsOf(url, true);
    if (rest.endsWith('*')) {
      const groupId = canonicalId(rest.slice(0, -1));
      const prefix = groupId === '/' ? '/' : `${groupId}/`;
      const members = [...this.apps.values()].filter((rec) => rec.def.id.startsWith(prefix));
      if (members.length === 0 && groupId !== '/') {
        sendJson(res, 404, { message: `Group '${groupId}' does not exist` });
        return;
      }
      sendParts(
        res,
        '*',
        members.map((rec) => this.appJson(rec, embed)),
      );
      return;
    }
    const tasksOf = /^(.*)\/tasks$/.exec(rest);
    const owner = tasksOf === null ? undefined : this.apps.get(canonicalId(tasksOf[1] ?? ''));
    if (owner !== undefined) {
      sendJson(res, 200, { tasks: [...owner.tasks.values()].map((task) => taskJson(owner.def, task)) });
      return;
    }
    const id = canonicalId(rest);
    const rec = this.apps.get(id);
    if (rec === undefined) sendJson(res, 404, { message: `App '${id}' does not exist` });
    else sendJson(res, 200, Buffer.concat([Buffer.from('{"app":'), this.appJson(rec, embed), Buffer.from('}')]));
  }

  // DeploymentStepInfo as /v2/deployments writes it; only held deployments are ever running.
  private deploymentList(): DeploymentInfo[] {
    return [...this.held.values()].map(({ plan, step, results }) => ({
      id: plan.id,
      version: plan.version,
      affectedApps: [...new Set(plan.steps.flatMap((s) => s.actions.map((a) => a.app)))],
      affectedPods: [],
      steps: plan.steps,
      currentActions: step.actions.map((action) => ({
        ...action,
        readinessCheckResults: [...results.values()].filter(
          (r) => this.taskOwners.get(r.taskId)?.def.id === action.app,
        ),
      })),
      currentStep: plan.steps.indexOf(step) + 1,
      totalSteps: plan.steps.length,
    }));
  }

  private info(): MarathonInfo {
    const target = this.leaderTarget;
    return {
      name: 'marathon',
      version: '1.4.12',
      elected: target === 'self',
      leader: target === null ? null : target === 'self' ? (this.hostPort ?? null) : target.host,
      frameworkId: FRAMEWORK_ID,
      marathon_config: {
        master: 'zk://127.0.0.1:2181/mesos',
        failover_timeout: 604800,
        framework_name: 'marathon',
        ha: true,
        checkpoint: true,
        local_port_min: 10000,
        local_port_max: 20000,
        executor: '//cmd',
        hostname: '127.0.0.1',
        webui_url: null,
        mesos_role: null,
        task_launch_timeout: 300000,
        reconciliation_initial_delay: 15000,
        reconciliation_interval: 600000,
        mesos_user: 'root',
        leader_proxy_connection_timeout_ms: 5000,
        leader_proxy_read_timeout_ms: 10000,
        features: ['task_killing'],
        mesos_leader_ui_url: null,
      },
      zookeeper_config: {
        zk: 'zk://127.0.0.1:2181/marathon',
        zk_timeout: 10000,
        zk_session_timeout: 10000,
        zk_max_versions: 50,
      },
      event_subscriber: null,
      http_config: { http_port: Number(this.hostPort?.split(':')[1] ?? 0), https_port: 8443 },
    };
  }

  // ---- event stream ----------------------------------------------------------

  // Mirrors Jetty's EventSourceServlet: the Accept header must be exactly
  // text/event-stream (else 405), the body is unchunked and ends with the
  // connection (Connection: close), lines end in CRLF.
  private attach(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    if (!(req.headersDistinct['accept'] ?? []).includes('text/event-stream')) {
      res.writeHead(405, { 'Content-Type': 'text/html;charset=iso-8859-1' });
      res.end('<html><body><h2>HTTP ERROR: 405</h2><p>HTTP method GET is not supported by this URL</p></body></html>');
      return;
    }
    // Dropping the header stops Node from chunking, so the body runs until the socket closes.
    res.removeHeader('Transfer-Encoding');
    res.writeHead(200, {
      'Content-Type': 'text/event-stream;charset=utf-8',
      'Cache-Control': 'no-cache, no-store, must-revalidate',
      Pragma: 'no-cache',
      Expires: '0',
      Connection: 'close',
    });
    res.flushHeaders();
    const stream: Stream = {
      res,
      types: new Set(url.searchParams.getAll('event_type')),
      stalled: false,
      timer: undefined,
    };
    if (this.keepAliveMs > 0) {
      // Jetty's heartbeat writes CR and LF in two flushes to detect dead peers: an
      // empty line, not an SSE comment, so parsers dispatch nothing for it.
      stream.timer = setInterval(() => {
        if (stream.stalled) return;
        res.write('\r');
        res.write('\n');
      }, this.keepAliveMs);
    }
    // A peer that vanished mid-write must not crash the test process.
    res.on('error', () => undefined);
    res.on('close', () => {
      clearInterval(stream.timer);
      if (this.streams.delete(stream)) this.publish('event_stream_detached', { remoteAddress: remoteAddress(req) });
    });
    this.streams.add(stream);
    // Published on the bus, so every attached stream (this one first in line) sees it.
    this.publish('event_stream_attached', { remoteAddress: remoteAddress(req) });
  }

  private detachAll(): Stream[] {
    const streams = [...this.streams];
    this.streams.clear();
    for (const stream of streams) clearInterval(stream.timer);
    return streams;
  }

  private publish<K extends MarathonEventType>(
    type: K,
    fields: Omit<MarathonEventMap[K], 'eventType' | 'timestamp'>,
  ): void {
    const event = { ...fields, eventType: type, timestamp: isoNow() } as unknown as MarathonEventMap[K];
    const frame = `event: ${type}\r\ndata: ${JSON.stringify(event)}\r\n\r\n`;
    const emittedAt = process.hrtime.bigint();
    for (const stream of this.streams) {
      if (!stream.stalled && (stream.types.size === 0 || stream.types.has(type))) stream.res.write(frame);
    }
    if (type !== 'event_stream_attached' && type !== 'event_stream_detached') this.lastClusterEventAt = emittedAt;
    this.emit('event', type, event, emittedAt);
  }

  private publishStatus(rec: AppRecord, task: TaskRecord): void {
    this.publish('status_update_event', {
      slaveId: task.slaveId,
      taskId: task.id,
      taskStatus: task.state,
      message: '',
      appId: rec.def.id,
      host: task.host,
      ipAddresses: task.ipAddresses,
      ports: task.ports,
      version: task.version,
    });
    this.publish('instance_changed_event', {
      instanceId: task.instanceId,
      condition: CONDITION[task.state],
      runSpecId: rec.def.id,
      agentId: task.slaveId,
      host: task.host,
      runSpecVersion: task.version,
    });
  }

  // Marathon ≥ 1.4 names only instanceId here; taskId is kept for pre-1.4 clients.
  private publishHealth(rec: AppRecord, task: TaskRecord): void {
    this.publish('health_status_changed_event', {
      appId: rec.def.id,
      taskId: task.id,
      instanceId: task.instanceId,
      version: task.version,
      alive: task.alive === true,
    });
  }

  // Deployments of addApp/updateApp/removeApp complete instantly (deployment_info, then
  // deployment_success); deployApp's run until finishDeployment. Plans carry only the
  // affected app in `original`/`target`, where Marathon would embed the whole root group.
  private startDeployment(
    action: DeploymentAction['action'],
    before: MarathonApp | null,
    after: MarathonApp | null,
  ): DeploymentPlan {
    const version = after?.version ?? isoNow();
    const step: DeploymentStep = { actions: [{ action, app: (after ?? before)?.id ?? '/' }] };
    const plan: DeploymentPlan = {
      id: randomUUID(),
      original: rootGroup(before, before?.version ?? version),
      target: rootGroup(after, version),
      steps: [step],
      version,
    };
    this.publish('deployment_info', { plan, currentStep: step });
    return plan;
  }

  private publishSuccess(plan: DeploymentPlan): void {
    this.publish('deployment_success', { id: plan.id, plan });
  }

  // ---- model -------------------------------------------------------------------

  private insertApp(input: AppInput): AppRecord {
    const id = canonicalId(input.id);
    if (this.apps.has(id)) throw new Error(`An app with id [${id}] already exists.`);
    const version = this.nextVersion();
    const def = this.normalize({ ...input, id }, version, { lastScalingAt: version, lastConfigChangeAt: version });
    const rec: AppRecord = { def, tasks: new Map(), json: new Map() };
    this.apps.set(id, rec);
    return rec;
  }

  private normalize(input: AppInput, version: string, versionInfo: VersionInfo): MarathonApp {
    const given = structuredClone(input);
    const container = given.container ?? null;
    const mappings: PortMapping[] | null = container?.docker?.portMappings ?? container?.portMappings ?? null;
    let portDefinitions: PortDefinition[] = [];
    if (mappings !== null && mappings.length > 0) {
      for (const mapping of mappings) mapping.servicePort = this.servicePort(mapping.servicePort ?? 0);
    } else {
      // Marathon gives a host-networking app one random service port unless told otherwise.
      const requested = given.portDefinitions ?? given.ports?.map((port) => ({ port })) ?? [{ port: 0 }];
      portDefinitions = requested.map((def) => ({
        protocol: 'tcp',
        labels: {},
        ...def,
        port: this.servicePort(def.port),
      }));
    }
    return {
      ...appDefaults(),
      ...given,
      id: canonicalId(given.id),
      container,
      healthChecks: (given.healthChecks ?? []).map(withHealthCheckDefaults),
      readinessChecks: (given.readinessChecks ?? []).map(withReadinessCheckDefaults),
      ports: portDefinitions.map((def) => def.port),
      portDefinitions,
      version,
      versionInfo,
    };
  }

  private createTask(rec: AppRecord, options: AddTaskOptions): TaskRecord {
    const uuid = options.uuid ?? randomUUID();
    const safeId = rec.def.id.slice(1).replaceAll('/', '_');
    const now = isoNow();
    const state = options.state ?? 'TASK_RUNNING';
    const task: TaskRecord = {
      id: `${safeId}.${uuid}`,
      instanceId: `${safeId}.marathon-${uuid}`,
      appId: rec.def.id,
      host: options.host,
      ports: options.ports ?? this.hostPorts(options.host, servicePortsOf(rec.def).length),
      ipAddresses:
        options.ipAddresses ??
        (/^\d+\.\d+\.\d+\.\d+$/.test(options.host) ? [{ ipAddress: options.host, protocol: 'IPv4' }] : []),
      slaveId: options.slaveId ?? this.agentId(options.host),
      state,
      stagedAt: now,
      startedAt: state === 'TASK_RUNNING' ? now : null,
      version: rec.def.version,
      alive: undefined,
      consecutiveFailures: 0,
      firstSuccess: null,
      lastSuccess: null,
      lastFailure: null,
    };
    if (options.healthy !== undefined && rec.def.healthChecks.length > 0) recordHealth(task, options.healthy, now);
    rec.tasks.set(task.id, task);
    this.taskOwners.set(task.id, rec);
    return task;
  }

  private transition(rec: AppRecord, task: TaskRecord, state: TaskState): void {
    task.state = state;
    if (state === 'TASK_RUNNING' && task.startedAt === null) task.startedAt = isoNow();
    if (TERMINAL.has(state)) {
      rec.tasks.delete(task.id);
      this.taskOwners.delete(task.id);
    }
    this.invalidate(rec);
    this.publishStatus(rec, task);
  }

  private requireApp(id: string): AppRecord {
    const rec = this.apps.get(canonicalId(id));
    if (rec === undefined) throw new Error(`App '${canonicalId(id)}' does not exist`);
    return rec;
  }

  private requireTask(taskId: string): { rec: AppRecord; task: TaskRecord } {
    const rec = this.taskOwners.get(taskId);
    const task = rec?.tasks.get(taskId);
    if (rec === undefined || task === undefined) throw new Error(`Task '${taskId}' does not exist`);
    return { rec, task };
  }

  private invalidate(rec: AppRecord): void {
    rec.json.clear();
  }

  // Serializing 10 000 apps costs far more than copying bytes, so each app keeps its
  // encoded JSON per embed until it, one of its tasks or its deployment changes; lists
  // are streamed from those.
  private appJson(rec: AppRecord, embed: Embed): Buffer {
    const key = `${embed.tasks}/${embed.readiness}`;
    const cached = rec.json.get(key);
    if (cached !== undefined) return cached;
    const tasks = [...rec.tasks.values()];
    const deployment = this.deploymentOf(rec.def.id);
    const view: MarathonApp = {
      ...rec.def,
      tasksStaged: tasks.filter((t) => t.state === 'TASK_STAGING' || t.state === 'TASK_STARTING').length,
      tasksRunning: tasks.filter((t) => t.state === 'TASK_RUNNING').length,
      tasksHealthy: tasks.filter((t) => t.alive === true).length,
      tasksUnhealthy: tasks.filter((t) => t.alive === false).length,
      // Deployments that finish at once are never seen running.
      deployments: deployment === undefined ? [] : [{ id: deployment.plan.id }],
    };
    if (embed.tasks) view.tasks = tasks.map((task) => taskJson(rec.def, task));
    if (embed.readiness) view.readinessCheckResults = deployment === undefined ? [] : [...deployment.results.values()];
    const json = Buffer.from(JSON.stringify(view));
    rec.json.set(key, json);
    return json;
  }

  // Marathon's version timestamps are unique per change; two changes within one
  // millisecond must still get distinct, increasing versions.
  private nextVersion(): string {
    this.lastVersionMs = Math.max(Date.now(), this.lastVersionMs + 1);
    return new Date(this.lastVersionMs).toISOString();
  }

  private servicePort(requested: number): number {
    if (requested !== 0) {
      this.usedServicePorts.add(requested);
      return requested;
    }
    while (this.usedServicePorts.has(this.nextServicePort)) this.nextServicePort += 1;
    this.usedServicePorts.add(this.nextServicePort);
    return this.nextServicePort;
  }

  private hostPorts(host: string, count: number): number[] {
    const first = this.nextHostPort.get(host) ?? 31000;
    this.nextHostPort.set(host, first + count);
    return Array.from({ length: count }, (_, i) => first + i);
  }

  private agentId(host: string): string {
    let id = this.agentIds.get(host);
    if (id === undefined) {
      id = `${FRAMEWORK_ID.slice(0, -5)}-S${this.agentIds.size}`;
      this.agentIds.set(host, id);
    }
    return id;
  }

  private count(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
}

// Writes `{"<key>":[a,b,...]}` from pre-encoded elements without concatenating them.
function sendParts(res: http.ServerResponse, key: string, elements: readonly Buffer[]): void {
  const open = Buffer.from(`{"${key}":[`);
  const close = Buffer.from(']}');
  let length = open.length + close.length + Math.max(elements.length - 1, 0);
  for (const element of elements) length += element.length;
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': length });
  res.write(open);
  elements.forEach((element, i) => {
    if (i > 0) res.write(COMMA);
    res.write(element);
  });
  res.end(close);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': payload.length });
  res.end(payload);
}

/** What an app answer embeds beyond the fields every answer has. */
interface Embed {
  tasks: boolean;
  readiness: boolean;
}

// InfoEmbedResolver accepts each embed with any of its prefixes, or none; `failures`
// is the deprecated spelling that also embeds tasks. A single app always has its tasks.
function embedsOf(url: URL, single: boolean): Embed {
  const bare = url.searchParams.getAll('embed').map((embed) => embed.replace(/^(group\.apps\.|apps\.|app\.)/, ''));
  return {
    tasks: single || bare.includes('tasks') || bare.includes('failures'),
    readiness: bare.includes('readiness'),
  };
}

function canonicalId(id: string): string {
  return `/${id
    .split('/')
    .filter((part) => part !== '')
    .join('/')}`;
}

function remoteAddress(req: http.IncomingMessage): string {
  return req.socket.remoteAddress ?? '';
}

function isoNow(): string {
  return new Date().toISOString();
}

function appDefaults(): Omit<MarathonApp, 'id' | 'version' | 'healthChecks'> {
  return {
    cmd: null,
    args: null,
    user: null,
    env: {},
    instances: 1,
    cpus: 1,
    mem: 128,
    disk: 0,
    gpus: 0,
    executor: '',
    constraints: [],
    uris: [],
    fetch: [],
    storeUrls: [],
    backoffSeconds: 1,
    backoffFactor: 1.15,
    maxLaunchDelaySeconds: 3600,
    container: null,
    readinessChecks: [],
    dependencies: [],
    upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1 },
    labels: {},
    acceptedResourceRoles: null,
    ipAddress: null,
    residency: null,
    secrets: {},
    taskKillGracePeriodSeconds: null,
    unreachableStrategy: { inactiveAfterSeconds: 300, expungeAfterSeconds: 600 },
    killSelection: 'YOUNGEST_FIRST',
    requirePorts: false,
  };
}

function withHealthCheckDefaults(check: AppHealthCheck): AppHealthCheck {
  const protocol = check.protocol ?? 'HTTP';
  const httpLike =
    protocol === 'HTTP' || protocol === 'HTTPS' || protocol === 'MESOS_HTTP' || protocol === 'MESOS_HTTPS';
  return {
    gracePeriodSeconds: 300,
    intervalSeconds: 60,
    timeoutSeconds: 20,
    maxConsecutiveFailures: 3,
    delaySeconds: 15,
    ...(protocol !== 'COMMAND' && check.port === undefined ? { portIndex: 0 } : {}),
    ...(httpLike ? { path: '/' } : {}),
    ...(protocol === 'HTTP' || protocol === 'HTTPS' ? { ignoreHttp1xx: false } : {}),
    ...check,
    protocol,
  };
}

// ReadinessCheck.scala's defaults.
function withReadinessCheckDefaults(check: ReadinessCheck): ReadinessCheck {
  return {
    name: 'readinessCheck',
    protocol: 'HTTP',
    path: '/',
    portName: 'http-api',
    intervalSeconds: 30,
    timeoutSeconds: 10,
    httpStatusCodesForReady: [200],
    preserveLastResponse: false,
    ...check,
  };
}

function servicePortsOf(app: MarathonApp): number[] {
  const mappings = app.container?.docker?.portMappings ?? app.container?.portMappings ?? [];
  if (mappings.length > 0) return mappings.map((mapping) => mapping.servicePort ?? 0);
  return (app.portDefinitions ?? []).map((def) => def.port);
}

function recordHealth(task: TaskRecord, alive: boolean, at: string): void {
  task.alive = alive;
  if (alive) {
    task.firstSuccess ??= at;
    task.lastSuccess = at;
    task.consecutiveFailures = 0;
  } else {
    task.lastFailure = at;
    task.consecutiveFailures += 1;
  }
}

// EnrichedTask JSON: servicePorts and healthCheckResults appear only when non-empty.
function taskJson(app: MarathonApp, task: TaskRecord): MarathonTask {
  const json: MarathonTask = {
    id: task.id,
    slaveId: task.slaveId,
    host: task.host,
    state: task.state,
    startedAt: task.startedAt,
    stagedAt: task.stagedAt,
    ports: task.ports,
    version: task.version,
    ipAddresses: task.ipAddresses,
    appId: task.appId,
  };
  const servicePorts = servicePortsOf(app);
  if (servicePorts.length > 0) json.servicePorts = servicePorts;
  if (task.alive !== undefined && app.healthChecks.length > 0) {
    json.healthCheckResults = app.healthChecks.map(() => ({
      alive: task.alive === true,
      consecutiveFailures: task.consecutiveFailures,
      firstSuccess: task.firstSuccess,
      lastFailure: task.lastFailure,
      lastSuccess: task.lastSuccess,
      lastFailureCause: task.lastFailure === null ? null : HEALTH_FAILURE_CAUSE,
      taskId: task.id,
      instanceId: task.instanceId,
    }));
  }
  return json;
}

function rootGroup(app: MarathonApp | null, version: string): MarathonGroup {
  const root: MarathonGroup = { id: '/', apps: [], groups: [], dependencies: [], version };
  if (app === null) return root;
  let group = root;
  let path = '';
  for (const segment of app.id
    .split('/')
    .filter((part) => part !== '')
    .slice(0, -1)) {
    path += `/${segment}`;
    const child: MarathonGroup = { id: path, apps: [], groups: [], dependencies: [], version };
    group.groups.push(child);
    group = child;
  }
  group.apps.push(app);
  return root;
}
