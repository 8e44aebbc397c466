import type { Logger } from '../../log.js';
import { isHost, parsePort } from '../../state/validate.js';
import type { EndpointList } from '../marathon/client.js';
import type { Source } from '../source.js';
import { ZkSession } from './client.js';
import { ZkDirectory, type ZkChild } from './directory.js';

// Marathon's leader, read from ZooKeeper. Marathon 1.2+ elects with a Curator
// LeaderLatch at `<path>/leader-curator` (mesosphere/marathon
// CuratorElectionService: `new LeaderLatch(client, zooKeeperLeaderPath +
// "-curator", hostPort)`): every candidate holds an ephemeral sequential znode
// `[_c_<uuid>-]latch-<seq>` whose data is its `host:port`, and the lowest
// sequence number leads. Older Marathon (Twitter commons group election)
// used `<path>/leader` with `member_<seq>` znodes, lowest name leading, and
// transitional versions keep a `member_-00000000` tombstone there for the
// leader; it is the fallback when no latch exists.

const LATCH = /latch-(\d+)$/;
const MEMBER = /^member_/;
const SESSION_TIMEOUT_MS = 10_000;

/** The ensemble and chroot-free znode path of a `zk://[user:pass@]host:port[,host:port]/path` URL. */
export function parseZkUrl(url: string): { connect: string; path: string } {
  const m = /^zk:\/\/(?:[^@/]*@)?([^/]+)(\/[A-Za-z0-9._/-]*)?$/.exec(url);
  if (!m || !/^[A-Za-z0-9.:,[\]-]+$/.test(m[1]!))
    throw new Error(`${url}: expected zk://HOST:PORT[,HOST:PORT...]/PATH`);
  const path = (m[2] ?? '/marathon').replace(/\/+$/, '') || '/marathon';
  return { connect: m[1]!, path };
}

/**
 * The leader's `host:port` from the latch members (preferred) or the legacy
 * group members; null when there is no leader or its data is not a host:port.
 */
export function leaderOf(latch: readonly ZkChild[], legacy: readonly ZkChild[]): string | null {
  const bySequence = latch
    .map((c) => ({ c, seq: LATCH.exec(c.name)?.[1] }))
    .filter((x): x is { c: ZkChild; seq: string } => x.seq !== undefined)
    .sort((a, b) => Number(a.seq) - Number(b.seq));
  const chosen =
    bySequence[0]?.c ?? legacy.filter((c) => MEMBER.test(c.name)).sort((a, b) => (a.name < b.name ? -1 : 1))[0];
  return chosen ? hostPort(chosen.data.toString('utf8').trim()) : null;
}

function hostPort(text: string): string | null {
  const m = /^\[?([^\]\s]+?)\]?:(\d{1,5})$/.exec(text);
  if (!m || !isHost(m[1]) || parsePort(m[2]) === null) return null;
  return m[1]!.includes(':') ? `[${m[1]}]:${m[2]}` : `${m[1]}:${m[2]}`;
}

/** An EndpointList that watches ZooKeeper; `close` stops watching and lets its session go. */
export interface ZkEndpointList extends EndpointList {
  close(): Promise<void>;
}

/**
 * Marathon's current leader as `["http://host:port"]`, followed through
 * ZooKeeper watches. The first call starts watching and waits (at most one
 * call timeout) for the first read; later calls answer from what the watches
 * keep current, the last known leader included while ZooKeeper is away.
 * Shares `shared` when it connects to the same ensemble.
 */
export function zkEndpointList(url: string, log: Logger, shared?: ZkSession): ZkEndpointList {
  const { connect, path } = parseZkUrl(url);
  const session =
    shared && shared.connect === connect
      ? shared
      : new ZkSession(connect, { sessionTimeoutMs: SESSION_TIMEOUT_MS }, log);
  let dirs: ZkDirectory[] | null = null;
  let leader: string | null = null;
  let read = false;
  let waiters: Array<() => void> = [];

  const changed = (): void => {
    if (!dirs) return;
    const [latch, legacy] = dirs as [ZkDirectory, ZkDirectory];
    // Half-read (a new session re-reading, a new member's data on its way) says nothing about who leads.
    if (!latch.complete() || !legacy.complete()) return;
    read = true;
    const next = leaderOf(latch.children(), legacy.children());
    if (next !== leader) {
      log.info('marathon leader discovered through zookeeper', {
        source: 'marathon',
        znode: `${path}/leader-curator`,
        leader: next,
      });
      leader = next;
    }
    for (const wake of waiters) wake();
    waiters = [];
  };

  const directory = (znode: string): ZkDirectory =>
    new ZkDirectory(session, znode, {
      withData: true,
      missing: 'watch',
      onChange: changed,
      onError: (reason) =>
        log.warn('marathon leader lookup failed; keeping the last known leader', { source: 'marathon', znode, reason }),
    });

  const list = async (): Promise<readonly string[]> => {
    if (!dirs) {
      session.acquire();
      dirs = [directory(`${path}/leader-curator`), directory(`${path}/leader`)];
      for (const d of dirs) d.start();
    }
    if (!read) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, session.callTimeoutMs);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return leader === null ? [] : [`http://${leader}`];
  };
  const close = async (): Promise<void> => {
    if (!dirs) return;
    for (const d of dirs) d.stop();
    dirs = null;
    for (const wake of waiters) wake();
    waiters = [];
    await session.release();
  };
  return Object.assign(list, { close });
}

/** The Marathon source with its leader discovery: stopping the one closes the other's ZooKeeper watch. */
export function withLeaderDiscovery(source: Source, leader: ZkEndpointList): Source {
  return {
    name: source.name,
    start: (sink) => source.start(sink),
    stop: async () => {
      await source.stop();
      await leader.close();
    },
    status: () => source.status(),
  };
}
