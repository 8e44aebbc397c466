import type { Backend, Service } from '../../src/state/model.js';
import { agentHost, appId, SERVICE_PORT_BASE, TASKS_PER_APP, vhostOf } from './cluster.js';

// The synthetic cluster of cluster.ts as the state holds it: services of the
// model, for benches that start past the source (render, install).

function backendOf(app: number, task: number, port: number): Backend {
  return {
    id: `${appId(app).slice(1).replace(/\//g, '_')}.task-${task}`,
    host: agentHost(app * TASKS_PER_APP + task),
    port,
    weight: 1,
    healthy: true,
    draining: false,
    checkPort: null,
  };
}

/** How a synthetic service differs from the cluster's plain one. */
export interface SyntheticOptions {
  /** Moves the first backend's port (an event). */
  readonly portBump?: number;
  /** false: no vhost label, as a Bamboo-style app routed by its id. */
  readonly vhost?: boolean;
}

/** App `app` of the cluster as one service. */
export function syntheticService(app: number, { portBump = 0, vhost = true }: SyntheticOptions = {}): Service {
  const backends = Array.from({ length: TASKS_PER_APP }, (_, t) =>
    backendOf(app, t, 31000 + t + (t === 0 ? portBump : 0)),
  );
  return {
    id: appId(app),
    name: appId(app),
    source: 'marathon',
    portIndex: 0,
    servicePort: SERVICE_PORT_BASE + app,
    mode: 'http',
    vhosts: vhost ? [vhostOf(app)] : [],
    paths: [],
    acl: null,
    balance: 'roundrobin',
    sticky: false,
    healthCheck: { protocol: 'HTTP', path: '/health', intervalSeconds: 10, timeoutSeconds: 20 },
    bindAddress: null,
    sslCert: null,
    redirectToHttps: false,
    backendWeight: 0,
    raw: {},
    labels: vhost
      ? { HAPROXY_GROUP: 'external', HAPROXY_0_VHOST: vhostOf(app), team: `team-${app % 50}` }
      : { HAPROXY_GROUP: 'external', team: `team-${app % 50}` },
    env: { SERVICE_NAME: `svc-${app}`, LOG_LEVEL: 'info' },
    backends: backends.sort((a, b) => (a.id < b.id ? -1 : 1)),
  };
}

/** The cluster's services, sorted by id as the state keeps them. */
export function syntheticServices(apps: number, options: SyntheticOptions = {}): Service[] {
  return Array.from({ length: apps }, (_, i) => syntheticService(i, options)).sort((a, b) => (a.id < b.id ? -1 : 1));
}
