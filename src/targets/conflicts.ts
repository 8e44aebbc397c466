import type { Service } from '../state/model.js';

// Two services claiming one listener port, or one virtual host and path: the
// one that held it first (in the last installed config) keeps it, ties by
// id, and the other is told why it is left out — instead of one of them
// winning silently.

/**
 * What a service claims that only one service may have: its own listener
 * port, and each of its host + path routes at its route weight. Two routes of
 * different weight (marathon-lb's HAPROXY_{n}_BACKEND_WEIGHT) are an ordering
 * the operator asked for, not a conflict.
 */
function claims(s: Service): string[] {
  const out: string[] = [];
  if (s.servicePort !== null) out.push(`port ${s.servicePort}`);
  if (s.mode === 'http' && !s.acl && s.vhosts.length > 0) {
    const paths = s.paths.length > 0 ? s.paths : ['/'];
    const weight = s.backendWeight === 0 ? '' : ` at weight ${s.backendWeight}`;
    for (const host of s.vhosts) for (const path of paths) out.push(`host ${host} path ${path}${weight}`);
  }
  return out;
}

/** Whether two versions of a service claim the same things. */
function claimsAlike(a: Service, b: Service): boolean {
  return (
    a.servicePort === b.servicePort &&
    a.mode === b.mode &&
    a.acl === b.acl &&
    a.backendWeight === b.backendWeight &&
    sameItems(a.vhosts, b.vhosts) &&
    sameItems(a.paths, b.paths)
  );
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * For each of `changed` that loses a claim: the reason, naming the claim and
 * the winner. `services` is everything that would be rendered; `installed`
 * the services of the last installed config, whose claims were held first.
 */
export function conflicts(
  changed: readonly Service[],
  services: readonly Service[],
  installed: ReadonlyMap<string, Service>,
): Map<string, string> {
  const lost = new Map<string, string>();
  // A service that claims what its installed version held (a scale event) held it without conflict: only
  // new claims can collide.
  const claiming = changed.filter((s) => {
    const before = installed.get(s.id);
    return before === undefined || !claimsAlike(before, s);
  });
  if (claiming.length === 0) return lost;
  const wanted = new Set(claiming.flatMap(claims));
  // Only a service sharing a port or a host with a changed one can share a claim: the rest are passed
  // over without building their claims, so an event costs a scan of numbers and sets, not of strings.
  const ports = new Set(claiming.flatMap((s) => (s.servicePort === null ? [] : [s.servicePort])));
  const hosts = new Set(claiming.flatMap((s) => s.vhosts));
  const holders = new Map<string, Service[]>();
  for (const s of services) {
    if (!(s.servicePort !== null && ports.has(s.servicePort)) && !s.vhosts.some((h) => hosts.has(h))) continue;
    for (const c of claims(s))
      if (wanted.has(c)) {
        const list = holders.get(c);
        if (list) list.push(s);
        else holders.set(c, [s]);
      }
  }
  const heldBefore = (s: Service, claim: string) => {
    const before = installed.get(s.id);
    return before !== undefined && claims(before).includes(claim);
  };
  for (const [claim, list] of holders) {
    if (list.length < 2) continue;
    const winner = [...list].sort(
      (a, b) => Number(heldBefore(b, claim)) - Number(heldBefore(a, claim)) || (a.id < b.id ? -1 : 1),
    )[0]!;
    for (const s of list)
      if (s !== winner && !lost.has(s.id)) lost.set(s.id, `${claim} is already claimed by ${winner.id}`);
  }
  return lost;
}
