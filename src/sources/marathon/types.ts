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
}

/** `status_update_event` */
export interface StatusUpdateEvent {
  eventType: 'status_update_event';
  appId?: string;
  taskId?: string;
  taskStatus?: string;
  host?: string;
  ports?: number[];
}

/** `health_status_changed_event` (taskId in Marathon < 1.4, instanceId after) */
export interface HealthStatusChangedEvent {
  eventType: 'health_status_changed_event';
  appId?: string;
  taskId?: string;
  instanceId?: string;
  alive?: boolean;
}
