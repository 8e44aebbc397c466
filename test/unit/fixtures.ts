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
