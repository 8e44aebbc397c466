import { toAppRecord, type AppRecord } from '../../src/sources/marathon/apps.js';
import { describeRejection, type Reject } from '../../src/state/rejection.js';
import type { MarathonApp } from '../../src/sources/marathon/types.js';
import type { Backend, Service } from '../../src/state/model.js';

/** A backend on loopback, healthy unless said otherwise. */
export function backend(id: string, port: number, extra: Partial<Backend> = {}): Backend {
  return { id, host: '127.0.0.1', port, weight: 1, healthy: true, draining: false, checkPort: null, ...extra };
}

/** A plain HTTP service from the file source with the given backends. */
export function service(id: string, backends: Backend[] = [], extra: Partial<Service> = {}): Service {
  return {
    id,
    name: id,
    source: 'file',
    portIndex: 0,
    servicePort: null,
    mode: 'http',
    vhosts: [],
    paths: [],
    acl: null,
    balance: 'roundrobin',
    sticky: false,
    healthCheck: null,
    bindAddress: null,
    sslCert: null,
    redirectToHttps: false,
    backendWeight: 0,
    raw: {},
    labels: {},
    env: {},
    backends,
    ...extra,
  };
}

/** A running Marathon task on 10.0.0.1 with the given ports. */
export function task(id: string, ports: number[], extra: object = {}) {
  return { id, host: '10.0.0.1', ports, state: 'TASK_RUNNING', ...extra };
}

/**
 * Checks Marathon apps as the source does: `rejected` collects what was
 * reported (empty it between tests), `record` is an app's checked record
 * and throws when the app is rejected outright.
 */
export function appChecker(): { rejected: string[]; reject: Reject; record: (app: MarathonApp) => AppRecord } {
  const rejected: string[] = [];
  const reject: Reject = (r) => rejected.push(describeRejection(r));
  const record = (app: MarathonApp): AppRecord => {
    const r = toAppRecord(app, reject);
    if (!r) throw new Error('app rejected');
    return r;
  };
  return { rejected, reject, record };
}
