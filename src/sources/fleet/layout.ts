// Where a fleet keeps things under `fleet.path`:
//   members/m-<session>-<seq>   ephemeral sequential, one per sidecar standing for election
//   view                        the committed view's version, the leader, its settings and heartbeat
//   apps/<app key>[#<part>]     one znode per Marathon app (more parts past ZooKeeper's 1 MB)

/** The znode paths of one fleet. */
export interface FleetLayout {
  readonly root: string;
  readonly members: string;
  readonly view: string;
  readonly apps: string;
}

export function fleetLayout(root: string): FleetLayout {
  return { root, members: `${root}/members`, view: `${root}/view`, apps: `${root}/apps` };
}

/** A Marathon app id as one znode name: `/shop/web` → `%2Fshop%2Fweb` (reversible; `#` stays free for parts). */
export function appKey(appId: string): string {
  return encodeURIComponent(appId);
}

/** The name of part `i` (1-based beyond the head) of an app's znodes. */
export function partName(key: string, i: number): string {
  return `${key}#${i}`;
}

/** A part's app key and number, or null for a head znode. */
export function parsePartName(name: string): { key: string; part: number } | null {
  const m = /^(.+)#([1-9]\d{0,5})$/.exec(name);
  return m ? { key: m[1]!, part: Number(m[2]) } : null;
}
