import type { AddTaskOptions, BulkApp } from '../../test/support/marathon-double.js';

// The synthetic Marathon cluster: N apps × 5 tasks, each app with a vhost
// label, an HTTP health check and a service port of its own, every task
// running and healthy. Tasks sit on 100 loopback "agents" (127.1.x.y), so
// nothing leaves the machine; their host ports are allocated per agent by
// the double, as Mesos offers would be.

export const TASKS_PER_APP = 5;
const AGENTS = 100;
/** Service ports count up from here: below the ephemeral range, above the double's own default (10000). */
export const SERVICE_PORT_BASE = 21000;

export function agentHost(k: number): string {
  const i = k % AGENTS;
  return `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

export function appId(i: number): string {
  return `/team-${String(i % 50).padStart(2, '0')}/svc-${String(i).padStart(5, '0')}`;
}

export function vhostOf(i: number): string {
  return `svc-${i}.team-${i % 50}.bench.example.com`;
}

/** The cluster's apps, ready for MarathonDouble.bulkLoad; `healthChecks: false` leaves out their Marathon health checks. */
export function syntheticCluster(apps: number, opts: { healthChecks?: boolean } = {}): BulkApp[] {
  const out: BulkApp[] = [];
  for (let i = 0; i < apps; i++) {
    const tasks: AddTaskOptions[] = [];
    for (let t = 0; t < TASKS_PER_APP; t++) tasks.push({ host: agentHost(i * TASKS_PER_APP + t), healthy: true });
    out.push({
      id: appId(i),
      instances: TASKS_PER_APP,
      cpus: 0.25,
      mem: 256,
      cmd: 'exec ./server --port $PORT0',
      env: { SERVICE_NAME: `svc-${i}`, LOG_LEVEL: 'info' },
      labels: { HAPROXY_GROUP: 'external', HAPROXY_0_VHOST: vhostOf(i), team: `team-${i % 50}` },
      portDefinitions: [{ port: SERVICE_PORT_BASE + i, protocol: 'tcp', labels: {} }],
      healthChecks:
        opts.healthChecks === false
          ? []
          : [
              {
                protocol: 'HTTP',
                path: '/health',
                portIndex: 0,
                gracePeriodSeconds: 30,
                intervalSeconds: 10,
                maxConsecutiveFailures: 3,
              },
            ],
      tasks,
    });
  }
  return out;
}

/** Apps to scale during the event phase, spread over the cluster and deterministic. */
export function eventApp(k: number, apps: number): string {
  return appId((k * 7919 + 13) % apps);
}
