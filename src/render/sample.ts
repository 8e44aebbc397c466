import type { Service, Snapshot } from '../state/model.js';

// A small state that exercises every branch of the default templates, for
// `switchyard check`: it validates a template without needing a registry.

const base = {
  portIndex: 0,
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
} as const;

const backend = (id: string, port: number) => ({
  id,
  host: '127.0.0.1',
  port,
  weight: 1,
  healthy: true,
  draining: false,
  checkPort: null,
});

const services: Service[] = [
  {
    ...base,
    id: '/sample/web',
    name: '/sample/web',
    source: 'marathon',
    servicePort: 10001,
    mode: 'http',
    vhosts: ['web.example.com'],
    paths: [],
    backendWeight: 1,
    backends: [backend('web-1', 31001), backend('web-2', 31002)],
  },
  {
    ...base,
    id: '/sample/api',
    name: '/sample/api',
    source: 'marathon',
    servicePort: null,
    mode: 'http',
    vhosts: ['api.example.com'],
    paths: ['/v1'],
    balance: 'leastconn',
    sticky: true,
    healthCheck: {
      protocol: 'HTTP',
      path: '/health',
      intervalSeconds: 5,
      timeoutSeconds: 2,
      maxConsecutiveFailures: 3,
    },
    redirectToHttps: true,
    backends: [{ ...backend('api-1', 31003), checkPort: 31005 }],
  },
  {
    ...base,
    id: 'sample-db',
    name: 'sample-db',
    source: 'zookeeper',
    servicePort: 10002,
    bindAddress: '127.0.0.1',
    mode: 'tcp',
    vhosts: [],
    paths: [],
    backends: [backend('db-1', 31004)],
  },
  {
    ...base,
    id: 'sample-empty',
    name: 'sample-empty',
    source: 'file',
    servicePort: 10003,
    mode: 'http',
    vhosts: [],
    paths: [],
    backends: [],
  },
];

/** The sample state. */
export function sampleSnapshot(): Snapshot {
  return { version: 0, services, rules: [] };
}
