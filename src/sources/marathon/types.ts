// The parts of Marathon's REST and event JSON that Switchyard reads. Every
// field is optional and unknown-typed at heart: the data is untrusted and is
// checked field by field in apps.ts.

export interface MarathonHealthCheck {
  protocol?: string;
  path?: string;
  portIndex?: number;
  port?: number;
  intervalSeconds?: number;
  timeoutSeconds?: number;
  maxConsecutiveFailures?: number;
}

export interface MarathonHealthResult {
  alive?: boolean;
  taskId?: string;
  instanceId?: string;
}

export interface MarathonTask {
  id?: string;
  appId?: string;
  host?: string;
  ports?: number[];
  state?: string;
  startedAt?: string | null;
  healthCheckResults?: MarathonHealthResult[];
}

export interface MarathonApp {
  id?: string;
  /** The definition's version; during a deployment, the one it deploys. */
  version?: string;
  labels?: Record<string, unknown>;
  env?: Record<string, unknown>;
  ports?: number[];
  portDefinitions?: { port?: number; name?: string }[];
  container?: {
    docker?: { portMappings?: { servicePort?: number }[] };
    portMappings?: { servicePort?: number }[];
  } | null;
  healthChecks?: MarathonHealthCheck[];
  tasks?: MarathonTask[];
  /** Marathon allows one per app; only whether there is one matters here (see readiness.ts). */
  readinessChecks?: MarathonReadinessCheck[];
  /** With `embed=apps.readiness`: results of the running deployment's checks, one per task checked so far. */
  readinessCheckResults?: MarathonReadinessResult[];
  /** The running deployments that touch the app (always in `/v2/apps` answers since Marathon 0.9). */
  deployments?: { id?: string }[];
}

/** One of an app's `readinessChecks` (Marathon fills in every field's default). */
export interface MarathonReadinessCheck {
  name?: string;
  protocol?: string;
  path?: string;
  portName?: string;
  intervalSeconds?: number;
  timeoutSeconds?: number;
  httpStatusCodesForReady?: number[];
  preserveLastResponse?: boolean;
}

/** One element of `readinessCheckResults`; `lastResponse` only with `preserveLastResponse`. */
export interface MarathonReadinessResult {
  name?: string;
  taskId?: string;
  ready?: boolean;
  lastResponse?: { status?: number; contentType?: string; body?: string };
}

/** `status_update_event` */
export interface StatusUpdateEvent {
  eventType: 'status_update_event';
  appId?: string;
  taskId?: string;
  taskStatus?: string;
  host?: string;
  ports?: number[];
  /** The version of the app the task runs (Marathon ≥ 1.1). */
  version?: string;
}

/** `health_status_changed_event` (taskId in Marathon < 1.4, instanceId after) */
export interface HealthStatusChangedEvent {
  eventType: 'health_status_changed_event';
  appId?: string;
  taskId?: string;
  instanceId?: string;
  alive?: boolean;
}
