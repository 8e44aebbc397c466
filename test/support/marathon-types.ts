// Marathon's v2 REST and event-stream JSON as the tests see it (Marathon 1.4-era
// canonical output). Shapes follow mesosphere/marathon: docs/docs/rest-api/public/api/v2
// (types/app.raml, types/enrichedTask.raml, types/healthCheck.raml, examples/app_list.json,
// examples/events.txt), core/event/Events.scala and api/v2/json/Formats.scala, plus
// real payloads in mesosphere/marathon-lb tests/marathon15_apps.json.

/** A Mesos task state as Marathon reports it in `state` and `taskStatus`. */
export type TaskState =
  | 'TASK_STAGING'
  | 'TASK_STARTING'
  | 'TASK_RUNNING'
  | 'TASK_KILLING'
  | 'TASK_KILLED'
  | 'TASK_FINISHED'
  | 'TASK_FAILED'
  | 'TASK_LOST'
  | 'TASK_ERROR'
  | 'TASK_DROPPED'
  | 'TASK_UNREACHABLE'
  | 'TASK_GONE'
  | 'TASK_GONE_BY_OPERATOR'
  | 'TASK_UNKNOWN';

/** An instance's condition in `instance_changed_event` (Marathon ≥ 1.4). */
export type InstanceCondition =
  | 'Created'
  | 'Staging'
  | 'Starting'
  | 'Running'
  | 'Killing'
  | 'Killed'
  | 'Finished'
  | 'Failed'
  | 'Error'
  | 'Dropped'
  | 'Gone'
  | 'Unreachable'
  | 'UnreachableInactive'
  | 'Unknown';

/** One host-networking port of an app; `port` is the service port. */
export interface PortDefinition {
  port: number;
  protocol?: string;
  name?: string;
  labels?: Record<string, string>;
}

/** One bridge-networking port of a Docker app; `servicePort` is what load balancers bind. */
export interface PortMapping {
  containerPort: number;
  hostPort?: number;
  servicePort?: number;
  protocol?: string;
  name?: string;
  labels?: Record<string, string>;
}

/** The `container.docker` block; pre-1.5 Marathon carries bridge port mappings here. */
export interface DockerContainer {
  image: string;
  network?: 'HOST' | 'BRIDGE' | 'USER' | 'NONE';
  portMappings?: PortMapping[] | null;
  privileged?: boolean;
  forcePullImage?: boolean;
  parameters?: Array<{ key: string; value: string }>;
}

/** An app's `container`; Marathon ≥ 1.5 moves port mappings up to `container.portMappings`. */
export interface Container {
  type: 'DOCKER' | 'MESOS';
  docker?: DockerContainer;
  portMappings?: PortMapping[];
  volumes?: unknown[];
}

/** An app-level (Marathon or Mesos) health check definition. */
export interface AppHealthCheck {
  protocol?: 'HTTP' | 'HTTPS' | 'TCP' | 'COMMAND' | 'MESOS_TCP' | 'MESOS_HTTP' | 'MESOS_HTTPS';
  path?: string;
  portIndex?: number;
  port?: number;
  command?: { value: string };
  gracePeriodSeconds?: number;
  intervalSeconds?: number;
  timeoutSeconds?: number;
  maxConsecutiveFailures?: number;
  ignoreHttp1xx?: boolean;
  delaySeconds?: number;
}

/** An app's readiness check (ReadinessCheck.scala); Marathon fills in every field it is not given. */
export interface ReadinessCheck {
  name?: string;
  protocol?: 'HTTP' | 'HTTPS';
  path?: string;
  /** The name of one of the app's ports (`portDefinitions[].name` or a port mapping's `name`). */
  portName?: string;
  intervalSeconds?: number;
  timeoutSeconds?: number;
  httpStatusCodesForReady?: number[];
  preserveLastResponse?: boolean;
}

/** The last answer of a readiness check, kept only with `preserveLastResponse`. */
export interface ReadinessCheckResponse {
  status: number;
  contentType: string;
  body: string;
}

/** One task's latest readiness check result in a running deployment (Formats: `lastResponse` omitted when none). */
export interface ReadinessCheckResult {
  name: string;
  taskId: string;
  ready: boolean;
  lastResponse?: ReadinessCheckResponse;
}

/** A task's IP address as Mesos reported it. */
export interface IpAddress {
  ipAddress: string;
  protocol: 'IPv4' | 'IPv6';
}

/** One health check's verdict on one task; Marathon ≥ 1.4 names `instanceId`, older ones `taskId`. */
export interface HealthCheckResult {
  alive: boolean;
  consecutiveFailures: number;
  firstSuccess: string | null;
  lastSuccess: string | null;
  lastFailure: string | null;
  lastFailureCause?: string | null;
  taskId?: string;
  instanceId?: string;
}

/** A task embedded in an app (`embed=apps.tasks`) or listed by `/v2/apps/{id}/tasks`. */
export interface MarathonTask {
  id: string;
  appId: string;
  host: string;
  ports: number[];
  /** The app's service ports; omitted when the app has none. */
  servicePorts?: number[];
  ipAddresses?: IpAddress[];
  slaveId?: string;
  state: TaskState;
  stagedAt?: string | null;
  startedAt?: string | null;
  version?: string;
  /** Omitted until a health check has produced a result. */
  healthCheckResults?: HealthCheckResult[];
}

/** When an app last changed configuration versus only its scale. */
export interface VersionInfo {
  lastScalingAt: string;
  lastConfigChangeAt: string;
}

/** A deployment reference embedded in an app. */
export interface DeploymentRef {
  id: string;
}

/** An app as `/v2/apps` returns it; the embedded fields depend on `embed`. */
export interface MarathonApp {
  id: string;
  cmd?: string | null;
  args?: string[] | null;
  user?: string | null;
  env: Record<string, string>;
  instances: number;
  cpus: number;
  mem: number;
  disk: number;
  gpus?: number;
  executor?: string;
  constraints?: string[][];
  uris?: string[];
  storeUrls?: string[];
  fetch?: Array<{ uri: string; extract?: boolean; executable?: boolean; cache?: boolean }>;
  backoffSeconds?: number;
  backoffFactor?: number;
  maxLaunchDelaySeconds?: number;
  /** Deprecated mirror of `portDefinitions[].port` (gone from Marathon ≥ 1.5 output). */
  ports?: number[];
  portDefinitions?: PortDefinition[];
  requirePorts?: boolean;
  container?: Container | null;
  healthChecks: AppHealthCheck[];
  readinessChecks?: ReadinessCheck[];
  dependencies?: string[];
  upgradeStrategy?: { minimumHealthCapacity: number; maximumOverCapacity: number };
  labels: Record<string, string>;
  acceptedResourceRoles?: string[] | null;
  ipAddress?: unknown;
  residency?: unknown;
  secrets?: Record<string, unknown>;
  taskKillGracePeriodSeconds?: number | null;
  unreachableStrategy?: { inactiveAfterSeconds: number; expungeAfterSeconds: number } | 'disabled';
  killSelection?: 'YOUNGEST_FIRST' | 'OLDEST_FIRST';
  version: string;
  versionInfo?: VersionInfo;
  /** Embedded counts: always present in `/v2/apps` and `/v2/apps/{id}` answers. */
  tasksStaged?: number;
  tasksRunning?: number;
  tasksHealthy?: number;
  tasksUnhealthy?: number;
  deployments?: DeploymentRef[];
  /** With `embed=apps.readiness`: the running deployments' latest result per task checked so far. */
  readinessCheckResults?: ReadinessCheckResult[];
  /** Present with `embed=apps.tasks` in lists, always for a single app. */
  tasks?: MarathonTask[];
}

/** Body of `GET /v2/apps`. */
export interface AppListResponse {
  apps: MarathonApp[];
}

/** Body of `GET /v2/apps/{id}`. */
export interface AppResponse {
  app: MarathonApp;
}

/** Body of `GET /v2/apps/{id}/tasks`. */
export interface TaskListResponse {
  tasks: MarathonTask[];
}

/** One action of the current step in `GET /v2/deployments`, with its app's readiness results. */
export interface DeploymentActionInfo extends DeploymentAction {
  readinessCheckResults: ReadinessCheckResult[];
}

/** An element of `GET /v2/deployments` (DeploymentStepInfo); `currentStep` counts from 1. */
export interface DeploymentInfo {
  id: string;
  version: string;
  affectedApps: string[];
  affectedPods: string[];
  steps: DeploymentStep[];
  currentActions: DeploymentActionInfo[];
  currentStep: number;
  totalSteps: number;
}

/** Body of `GET /v2/leader`: the leader's `host:port`. */
export interface LeaderResponse {
  leader: string;
}

/** Marathon's JSON error body (404 unknown app, 404 no leader, ...). */
export interface ErrorResponse {
  message: string;
}

/** Body of `GET /v2/info` (abridged to the fields clients read). */
export interface MarathonInfo {
  name: string;
  version: string;
  elected: boolean;
  leader: string | null;
  frameworkId: string;
  marathon_config: Record<string, unknown>;
  zookeeper_config: Record<string, unknown>;
  event_subscriber: { type: string; http_endpoints: string[] } | null;
  http_config: { http_port: number; https_port: number; assets_path?: string | null };
}

/** A group in a deployment plan's `original`/`target`. */
export interface MarathonGroup {
  id: string;
  apps: MarathonApp[];
  groups: MarathonGroup[];
  dependencies: string[];
  version: string;
}

/** One action of a deployment step. */
export interface DeploymentAction {
  action: 'StartApplication' | 'StopApplication' | 'ScaleApplication' | 'RestartApplication' | 'ResolveArtifacts';
  app: string;
}

/** One step of a deployment plan: actions run together. */
export interface DeploymentStep {
  actions: DeploymentAction[];
}

/** The plan carried by deployment events. */
export interface DeploymentPlan {
  id: string;
  original: MarathonGroup;
  target: MarathonGroup;
  steps: DeploymentStep[];
  version: string;
}

/** Fields every event carries. */
interface EventBase<T extends string> {
  eventType: T;
  timestamp: string;
}

/** A client attached to `/v2/events`; published to every attached stream. */
export interface EventStreamAttachedEvent extends EventBase<'event_stream_attached'> {
  remoteAddress: string;
}

/** A client detached from `/v2/events`. */
export interface EventStreamDetachedEvent extends EventBase<'event_stream_detached'> {
  remoteAddress: string;
}

/** An API request created or updated an app. */
export interface ApiPostEvent extends EventBase<'api_post_event'> {
  clientIp: string;
  uri: string;
  appDefinition: MarathonApp;
}

/** A task changed Mesos state. */
export interface StatusUpdateEvent extends EventBase<'status_update_event'> {
  slaveId: string;
  taskId: string;
  taskStatus: TaskState;
  message: string;
  appId: string;
  host: string;
  ipAddresses: IpAddress[];
  ports: number[];
  version: string;
}

/** A task's Marathon health check verdict flipped (≥ 1.4 sends `instanceId`, older `taskId`). */
export interface HealthStatusChangedEvent extends EventBase<'health_status_changed_event'> {
  appId: string;
  taskId?: string;
  instanceId?: string;
  version: string;
  alive: boolean;
}

/** Marathon killed an instance for failing its health checks. */
export interface UnhealthyInstanceKillEvent extends EventBase<'unhealthy_instance_kill_event'> {
  appId: string;
  taskId: string;
  instanceId: string;
  version: string;
  reason: string;
  host: string;
  slaveId: string | null;
}

/** An app was deleted and all its tasks are gone. */
export interface AppTerminatedEvent extends EventBase<'app_terminated_event'> {
  appId: string;
}

/** A deployment started or advanced a step. */
export interface DeploymentInfoEvent extends EventBase<'deployment_info'> {
  plan: DeploymentPlan;
  currentStep: DeploymentStep;
}

/** A step of a deployment finished: every task it started is healthy and ready. */
export interface DeploymentStepSuccessEvent extends EventBase<'deployment_step_success'> {
  plan: DeploymentPlan;
  currentStep: DeploymentStep;
}

/** A deployment finished. */
export interface DeploymentSuccessEvent extends EventBase<'deployment_success'> {
  id: string;
  plan: DeploymentPlan;
}

/** A deployment failed. */
export interface DeploymentFailedEvent extends EventBase<'deployment_failed'> {
  id: string;
  plan: DeploymentPlan;
}

/** An instance (Marathon ≥ 1.4's unit of scheduling) changed condition. */
export interface InstanceChangedEvent extends EventBase<'instance_changed_event'> {
  instanceId: string;
  condition: InstanceCondition;
  runSpecId: string;
  agentId: string | null;
  host: string;
  runSpecVersion: string;
}

/** Every event the tests know, keyed by its SSE `event:` name. */
export interface MarathonEventMap {
  event_stream_attached: EventStreamAttachedEvent;
  event_stream_detached: EventStreamDetachedEvent;
  api_post_event: ApiPostEvent;
  status_update_event: StatusUpdateEvent;
  health_status_changed_event: HealthStatusChangedEvent;
  unhealthy_instance_kill_event: UnhealthyInstanceKillEvent;
  app_terminated_event: AppTerminatedEvent;
  deployment_info: DeploymentInfoEvent;
  deployment_step_success: DeploymentStepSuccessEvent;
  deployment_success: DeploymentSuccessEvent;
  deployment_failed: DeploymentFailedEvent;
  instance_changed_event: InstanceChangedEvent;
}

/** An SSE event name Marathon sends (equal to the payload's `eventType`). */
export type MarathonEventType = keyof MarathonEventMap;

/** Any event payload. */
export type MarathonEvent = MarathonEventMap[MarathonEventType];
