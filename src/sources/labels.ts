import type { Balance, Mode } from '../state/model.js';
import { isBalance, isMode, isPathPrefix, isVhost, parsePort, splitList } from '../state/validate.js';

// The routing vocabulary of marathon-lb labels (and Bamboo's BAMBOO_TCP_PORT),
// read for one service port. The Marathon and file sources both speak it.

/** What labels say about one port of a service; values are already checked. */
export interface PortRouting {
  readonly enabled: boolean;
  /** Groups this port belongs to (HAPROXY_{n}_GROUP, else HAPROXY_GROUP); empty when unlabelled. */
  readonly groups: readonly string[];
  readonly vhosts: readonly string[];
  readonly paths: readonly string[];
  /** Bind port instead of the service port (HAPROXY_{n}_PORT, BAMBOO_TCP_PORT). */
  readonly port: number | null;
  /** null: the labels do not say. */
  readonly mode: Mode | null;
  readonly balance: Balance;
  readonly sticky: boolean;
}

/** A label or env value that failed its check: which one and why. */
export type Rejection = (key: string, value: string, expected: string) => void;

export function routingFromLabels(
  labels: Readonly<Record<string, string>>,
  env: Readonly<Record<string, string>>,
  n: number,
  reject: Rejection,
): PortRouting {
  const label = (suffix: string): string | undefined => labels[`HAPROXY_${n}_${suffix}`];

  const vhosts: string[] = [];
  const vhostLabel = label('VHOST');
  if (vhostLabel !== undefined) {
    for (const v of splitList(vhostLabel)) {
      if (isVhost(v)) vhosts.push(v.toLowerCase());
      else reject(`HAPROXY_${n}_VHOST`, v, 'a hostname');
    }
  }

  const paths: string[] = [];
  const pathLabel = label('PATH');
  if (pathLabel !== undefined) {
    if (isPathPrefix(pathLabel)) paths.push(pathLabel);
    else reject(`HAPROXY_${n}_PATH`, pathLabel, 'a path starting with "/"');
  }

  let port: number | null = null;
  const portLabel = label('PORT');
  if (portLabel !== undefined) {
    port = parsePort(portLabel);
    if (port === null) reject(`HAPROXY_${n}_PORT`, portLabel, 'a port 1-65535');
  }
  let mode: Mode | null = null;
  if (n === 0 && env.BAMBOO_TCP_PORT !== undefined) {
    const bamboo = parsePort(env.BAMBOO_TCP_PORT);
    if (bamboo === null) reject('BAMBOO_TCP_PORT', env.BAMBOO_TCP_PORT, 'a port 1-65535');
    else {
      port ??= bamboo;
      mode = 'tcp';
    }
  }
  const modeLabel = label('MODE');
  if (modeLabel !== undefined) {
    if (isMode(modeLabel)) mode = modeLabel;
    else reject(`HAPROXY_${n}_MODE`, modeLabel, '"http" or "tcp"');
  }

  let balance: Balance = 'roundrobin';
  const balanceLabel = label('BALANCE');
  if (balanceLabel !== undefined) {
    if (isBalance(balanceLabel)) balance = balanceLabel;
    else reject(`HAPROXY_${n}_BALANCE`, balanceLabel, 'a balance algorithm');
  }

  const groupLabel = label('GROUP') ?? labels.HAPROXY_GROUP;
  const groups = groupLabel === undefined ? [] : splitList(groupLabel);

  return {
    enabled: label('ENABLED')?.toLowerCase() !== 'false',
    groups,
    vhosts,
    paths,
    port,
    mode,
    balance,
    sticky: label('STICKY')?.toLowerCase() === 'true',
  };
}

/** marathon-lb's group filter: "*" takes everything; otherwise the port must name the group. */
export function inGroup(routing: PortRouting, group: string): boolean {
  return group === '*' || routing.groups.includes(group);
}
