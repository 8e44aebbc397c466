import { sortBackends } from '../state/merge.js';
import type { Backend, Balance, Mode, RawConfig, Service } from '../state/model.js';
import type { Reject } from '../state/rejection.js';
import {
  isBalance,
  isBindAddress,
  isCertPath,
  isMode,
  isPathPrefix,
  isVhost,
  parseInteger,
  parsePort,
  splitList,
} from '../state/validate.js';
import { otherPortLabels } from './raw-labels.js';

// The routing vocabulary of marathon-lb labels (and Bamboo's BAMBOO_TCP_PORT),
// read for one service port. The Marathon, file and ZooKeeper sources all speak it.

/** The HAPROXY_{n}_* suffixes read here; any other is a marathon-lb template override or unsupported. */
const ROUTING = new Set([
  'VHOST',
  'PATH',
  'GROUP',
  'MODE',
  'PORT',
  'BALANCE',
  'STICKY',
  'ENABLED',
  'BIND_ADDR',
  'REDIRECT_TO_HTTPS',
  'SSL_CERT',
  'BACKEND_WEIGHT',
  'BACKEND_HEALTHCHECK_PORT_INDEX',
]);
const MAX_BACKEND_WEIGHT = 1_000_000;

/** What labels say about one port of a service; values are already checked. */
export interface PortRouting {
  readonly enabled: boolean;
  /** Groups this port belongs to (HAPROXY_{n}_GROUP, else HAPROXY_GROUP); empty when unlabelled. */
  readonly groups: readonly string[];
  readonly vhosts: readonly string[];
  readonly paths: readonly string[];
  /** Bind port instead of the service port (HAPROXY_{n}_PORT, BAMBOO_TCP_PORT). */
  readonly port: number | null;
  /** null: the labels do not say. A vhost makes it http whatever they say. */
  readonly mode: Mode | null;
  readonly balance: Balance;
  readonly sticky: boolean;
  readonly bindAddress: string | null;
  readonly redirectToHttps: boolean;
  readonly sslCert: string | null;
  readonly backendWeight: number;
  /** Index of the port whose health check (and task port) checks this one; null: its own. */
  readonly healthCheckPortIndex: number | null;
  readonly raw: RawConfig;
  /** Raw-config label keys refused (not allowed, or not one line). */
  readonly refusedRaw: readonly string[];
  /** marathon-lb label keys Switchyard does not support. */
  readonly unsupported: readonly string[];
}

/**
 * Reads port `n`'s routing from the labels and env of `where`, rejecting the
 * values that fail their check (each is left out); `allowRaw` lets
 * marathon-lb template-override labels through as raw config.
 */
export function routingFromLabels(
  labels: Readonly<Record<string, string>>,
  env: Readonly<Record<string, string>>,
  n: number,
  where: string,
  reject: Reject,
  allowRaw = false,
): PortRouting {
  const key = (suffix: string) => portKey(n, suffix);
  const label = (suffix: string): string | undefined => labels[key(suffix)];
  const rejectLabel = (suffix: string, value: string, expected: string) =>
    reject({ where, field: `labels.${key(suffix)}`, value, expected });

  const vhosts: string[] = [];
  const vhostLabel = label('VHOST');
  if (vhostLabel !== undefined) {
    for (const v of splitList(vhostLabel)) {
      if (isVhost(v)) vhosts.push(v.toLowerCase());
      else rejectLabel('VHOST', v, 'a hostname');
    }
  }

  const paths: string[] = [];
  const pathLabel = label('PATH');
  if (pathLabel !== undefined) {
    if (isPathPrefix(pathLabel)) paths.push(pathLabel);
    else rejectLabel('PATH', pathLabel, 'a path starting with "/"');
  }

  let port: number | null = null;
  const portLabel = label('PORT');
  if (portLabel !== undefined) {
    port = parsePort(portLabel);
    if (port === null) rejectLabel('PORT', portLabel, 'a port 1-65535');
  }
  let mode: Mode | null = null;
  if (n === 0 && env.BAMBOO_TCP_PORT !== undefined) {
    const bamboo = parsePort(env.BAMBOO_TCP_PORT);
    if (bamboo === null)
      reject({ where, field: 'env.BAMBOO_TCP_PORT', value: env.BAMBOO_TCP_PORT, expected: 'a port 1-65535' });
    else {
      port ??= bamboo;
      mode = 'tcp';
    }
  }
  const modeLabel = label('MODE');
  if (modeLabel !== undefined) {
    if (isMode(modeLabel)) mode = modeLabel;
    else rejectLabel('MODE', modeLabel, '"http" or "tcp"');
  }
  // marathon-lb: a vhost is matched on the Host header, which only http mode reads.
  if (mode === 'tcp' && vhosts.length > 0) {
    rejectLabel('MODE', 'tcp', 'http: a service with a vhost is served in http mode');
    mode = 'http';
  }

  let balance: Balance = 'roundrobin';
  const balanceLabel = label('BALANCE');
  if (balanceLabel !== undefined) {
    if (isBalance(balanceLabel)) balance = balanceLabel;
    else rejectLabel('BALANCE', balanceLabel, 'a balance algorithm');
  }

  const groupLabel = label('GROUP') ?? labels.HAPROXY_GROUP;
  const groups = groupLabel === undefined ? [] : splitList(groupLabel);

  const checked = <T>(suffix: string, parse: (v: string) => T | null, expected: string): T | null => {
    const v = label(suffix);
    if (v === undefined) return null;
    const parsed = parse(v.trim());
    if (parsed === null) rejectLabel(suffix, v, expected);
    return parsed;
  };
  const bindAddress = checked('BIND_ADDR', (v) => (isBindAddress(v) ? v : null), 'an IPv4 or IPv6 address');
  const sslCert = checked('SSL_CERT', (v) => (isCertPath(v) ? v : null), 'an absolute path of [A-Za-z0-9._-] segments');
  const backendWeight =
    checked('BACKEND_WEIGHT', (v) => parseInteger(v, -MAX_BACKEND_WEIGHT, MAX_BACKEND_WEIGHT), 'an integer') ?? 0;
  const healthCheckPortIndex = checked(
    'BACKEND_HEALTHCHECK_PORT_INDEX',
    (v) => parseInteger(v, 0, 1000),
    'a port index 0-1000',
  );

  const other = otherPortLabels(labels, n, ROUTING, allowRaw);
  return {
    enabled: label('ENABLED')?.toLowerCase() !== 'false',
    groups,
    vhosts,
    paths,
    port,
    mode,
    balance,
    sticky: isTrue(label('STICKY')),
    bindAddress,
    redirectToHttps: isTrue(label('REDIRECT_TO_HTTPS')),
    sslCert,
    backendWeight,
    healthCheckPortIndex,
    raw: other.raw,
    refusedRaw: other.refused,
    unsupported: other.unsupported,
  };
}

/**
 * `HAPROXY_{n}_{suffix}`, built once per port and suffix: a key string made
 * afresh for every lookup must be hashed again every time, and with a dozen
 * lookups per port of every app that is most of reading the labels.
 */
function portKey(n: number, suffix: string): string {
  if (n >= 64) return `HAPROXY_${n}_${suffix}`;
  const keys = (portKeys[n] ??= new Map());
  let k = keys.get(suffix);
  if (k === undefined) keys.set(suffix, (k = `HAPROXY_${n}_${suffix}`));
  return k;
}
const portKeys: Map<string, string>[] = [];

/** marathon-lb's reading of a boolean label. */
function isTrue(v: string | undefined): boolean {
  return v !== undefined && ['true', 't', 'yes', 'y'].includes(v.trim().toLowerCase());
}

/** marathon-lb's group filter: "*" takes everything; otherwise the port must name one of the groups. */
export function inGroup(routing: PortRouting, groups: readonly string[]): boolean {
  return groups.includes('*') || routing.groups.some((g) => groups.includes(g));
}

/** What a single-port registry (file, ZooKeeper) knows of a service besides its labels. */
export interface PlainService {
  readonly id: string;
  readonly source: string;
  /** The registry's own port for the service's listener; a PORT label wins over it. */
  readonly servicePort: number | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly backends: readonly Backend[];
}

/** A single-port service routed as its labels say: no health checks, env or raw labels of its own. */
export function labelledService(s: PlainService, routing: PortRouting): Service {
  return {
    id: s.id,
    name: s.id,
    source: s.source,
    portIndex: 0,
    servicePort: routing.port ?? s.servicePort,
    mode: routing.mode ?? 'http',
    vhosts: routing.vhosts,
    paths: routing.paths,
    acl: null,
    balance: routing.balance,
    sticky: routing.sticky,
    healthCheck: null,
    bindAddress: routing.bindAddress,
    sslCert: routing.sslCert,
    redirectToHttps: routing.redirectToHttps,
    backendWeight: routing.backendWeight,
    raw: {},
    labels: s.labels,
    env: {},
    backends: sortBackends([...s.backends]),
  };
}
