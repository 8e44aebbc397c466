import type { Backend, HealthCheck, Rule, Service } from './model.js';

// Pure functions from what the sources said to what the proxies serve.

/**
 * One service from every source's version of the same id: the first source's
 * description, the union of all backends (one per host:port), sorted by id.
 */
export function mergeServices(versions: readonly Service[]): Service {
  const [first, ...rest] = versions;
  if (!first) throw new Error('mergeServices needs at least one service');
  if (rest.length === 0) return first;
  const byAddress = new Map<string, Backend>();
  for (const s of versions)
    for (const b of s.backends) if (!byAddress.has(`${b.host}:${b.port}`)) byAddress.set(`${b.host}:${b.port}`, b);
  return { ...first, backends: sortBackends([...byAddress.values()]) };
}

/** A rule's fields replace what the labels said; fields it leaves out stay. */
export function applyRule(service: Service, rule: Rule | undefined): Service {
  if (!rule) return service;
  return {
    ...service,
    vhosts: rule.vhosts ?? service.vhosts,
    paths: rule.paths ?? service.paths,
    servicePort: rule.port ?? service.servicePort,
    mode: rule.mode ?? service.mode,
    balance: rule.balance ?? service.balance,
    acl: rule.acl ?? service.acl,
  };
}

export function sortBackends(backends: Backend[]): Backend[] {
  return backends.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Deep equality of two services, cheap enough to run on every change so unchanged services keep their identity. */
export function sameService(a: Service, b: Service): boolean {
  if (a === b) return true;
  return (
    a.id === b.id &&
    a.name === b.name &&
    a.source === b.source &&
    a.portIndex === b.portIndex &&
    a.servicePort === b.servicePort &&
    a.mode === b.mode &&
    a.acl === b.acl &&
    a.balance === b.balance &&
    a.sticky === b.sticky &&
    sameList(a.vhosts, b.vhosts) &&
    sameList(a.paths, b.paths) &&
    sameHealthCheck(a.healthCheck, b.healthCheck) &&
    a.bindAddress === b.bindAddress &&
    a.sslCert === b.sslCert &&
    a.redirectToHttps === b.redirectToHttps &&
    a.backendWeight === b.backendWeight &&
    sameMap(a.raw, b.raw) &&
    sameMap(a.labels, b.labels) &&
    sameMap(a.env, b.env) &&
    a.backends.length === b.backends.length &&
    a.backends.every((x, i) => sameBackend(x, b.backends[i]!))
  );
}

export function sameBackend(a: Backend, b: Backend): boolean {
  return (
    a.id === b.id &&
    a.host === b.host &&
    a.port === b.port &&
    a.weight === b.weight &&
    a.healthy === b.healthy &&
    a.draining === b.draining &&
    a.checkPort === b.checkPort
  );
}

function sameHealthCheck(a: HealthCheck | null, b: HealthCheck | null): boolean {
  if (a === b) return true;
  return (
    a !== null &&
    b !== null &&
    a.protocol === b.protocol &&
    a.path === b.path &&
    a.intervalSeconds === b.intervalSeconds &&
    a.timeoutSeconds === b.timeoutSeconds &&
    a.maxConsecutiveFailures === b.maxConsecutiveFailures
  );
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameMap(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
