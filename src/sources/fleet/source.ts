import { hostname } from 'node:os';
import type { FleetConfig, MarathonConfig } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import { SourceHealth, type Sink, type Source, type SourceStatus } from '../source.js';
import { trackSession, type ZkSession } from '../zookeeper/client.js';
import { Election } from './election.js';
import { Follower } from './follower.js';
import { fleetLayout, type FleetLayout } from './layout.js';
import { Publisher } from './publisher.js';
import { differingSettings, fleetSettings, type FleetSettings, type SettingName } from './settings.js';

/** A fleet as /health shows it (the contract's `fleet` fields, and why a sidecar refuses to follow). */
export interface FleetStatus {
  readonly role: 'leader' | 'follower';
  /** The leader's description (host, pid, HTTP address) as the view names it; null before any. */
  readonly leader: string | null;
  readonly members: number;
  /** The view version this sidecar renders from (-1: none yet). */
  readonly version: number;
  /** Since the leader last confirmed the view current (a commit or heartbeat seen here); null before any. */
  readonly ageMs: number | null;
  /** Settings that differ from the leader's: this sidecar does not follow while any do. */
  readonly refused: readonly SettingName[];
}

/** Counts for /metrics. */
export interface FleetCounters {
  readonly publishes: number;
  readonly bytesWritten: number;
  readonly znodesWritten: number;
  /** Times this sidecar took the lead. */
  readonly takeovers: number;
  /** Leader changes this sidecar saw in the view. */
  readonly leaderChanges: number;
}

/** How the fleet source runs beyond its config. */
export interface FleetSourceOptions {
  /** Stand for election (a daemon) or only read the view. */
  readonly elect: boolean;
  /** How this sidecar describes itself to the fleet (asked when it joins: the HTTP port is known by then). */
  readonly self: () => string;
  /** Byte sizes of znodes and transactions (ZooKeeper's default jute.maxbuffer is 1 MB). */
  readonly partBytes?: number;
  readonly batchBytes?: number;
}

const PART_BYTES = 500_000;
const DEPOSED_RETRY_MS = 10_000;
const BATCH_BYTES = 900_000;

/**
 * The Marathon source of a fleet member. Every member renders from the view
 * published in ZooKeeper (the follower side runs everywhere, the leader
 * included), so all render the same bytes; the elected leader alone also
 * runs the real Marathon source and publishes what it sees. Losing the lead
 * (session expired, deposed) stops the Marathon source and the publisher at
 * once; the rendered view stays until a newer one is committed.
 */
export class FleetSource implements Source {
  readonly name = 'marathon';
  private readonly health = new SourceHealth(this.name);
  private readonly layout: FleetLayout;
  private readonly settings: FleetSettings;
  private readonly election: Election;
  private readonly follower: Follower;
  private leading: { marathon: Source; publisher: Publisher } | null = null;
  private refused: readonly SettingName[] = [];
  private untrack: (() => void) | null = null;
  private takeovers = 0;
  private retired = { publishes: 0, bytesWritten: 0, znodesWritten: 0 };
  private stopped = false;
  private redeem: NodeJS.Timeout | null = null;

  constructor(
    private readonly fleet: FleetConfig,
    marathonConfig: MarathonConfig,
    private readonly session: ZkSession,
    private readonly makeMarathon: () => Source,
    private readonly log: Logger,
    private readonly opts: FleetSourceOptions,
  ) {
    this.layout = fleetLayout(fleet.path);
    this.settings = fleetSettings(marathonConfig);
    this.election = new Election(
      session,
      this.layout.members,
      () => Buffer.from(JSON.stringify({ id: opts.self(), settings: this.settings })),
      log,
    );
    this.follower = new Follower(
      session,
      this.layout,
      marathonConfig.allowRawLabels,
      (view) => this.accepts(view.settings, view.leader),
      log,
      () => this.policy(),
    );
    this.health.set('fleet', fleet.path);
  }

  async start(sink: Sink): Promise<void> {
    this.stopped = false;
    this.untrack = trackSession(this.session, this.health, () => this.follower.state().applied >= 0);
    this.session.acquire();
    this.follower.start((change) => {
      if (change.kind === 'sync') this.health.ok();
      sink(change);
    });
    if (this.opts.elect) {
      this.election.on('change', this.roleChanged);
      this.election.start();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.redeem) clearTimeout(this.redeem);
    this.election.off('change', this.roleChanged);
    await this.resign();
    await this.election.stop();
    this.follower.stop();
    this.untrack?.();
    await this.session.release();
  }

  status(): SourceStatus {
    const fleet = this.fleetStatus();
    const problem = this.problem(fleet);
    if (problem) this.health.fail(problem);
    else if (this.follower.state().applied >= 0 && this.session.isConnected()) this.health.clearError();
    this.health.set('role', fleet.role);
    this.health.set('leader', fleet.leader);
    this.health.set('version', fleet.version);
    // Apps waiting for the view to commit them (or for their parts to match): normally 0, briefly more mid-update.
    this.health.set('pending', this.follower.state().pending);
    const marathon = this.leading?.marathon.status() ?? null;
    this.health.set('marathon', marathon);
    const st = this.health.status();
    // While leading, what its Marathon source refused for a limit is this source's to count (a new lead counts from 0).
    const overLimit = marathon ? { ...st.overLimit, ...marathon.overLimit } : st.overLimit;
    return { ...st, connected: this.session.isConnected(), overLimit };
  }

  fleetStatus(): FleetStatus {
    const f = this.follower.state();
    const view = f.view ?? null;
    return {
      role: this.election.role().kind === 'leader' ? 'leader' : 'follower',
      leader: view?.leaderId ?? null,
      members: this.election.role().kind === 'leader' ? this.election.members() : (view?.members ?? 0),
      version: f.applied,
      ageMs: f.advancedAt === null ? null : Date.now() - f.advancedAt,
      refused: this.refused,
    };
  }

  counters(): FleetCounters {
    const p = this.leading?.publisher.status();
    return {
      publishes: this.retired.publishes + (p?.commits ?? 0),
      bytesWritten: this.retired.bytesWritten + (p?.bytesWritten ?? 0),
      znodesWritten: this.retired.znodesWritten + (p?.znodesWritten ?? 0),
      takeovers: this.takeovers,
      leaderChanges: this.follower.state().leaderChanges,
    };
  }

  /** What makes this source not well, or null. */
  private problem(fleet: FleetStatus): string | null {
    if (fleet.refused.length > 0)
      return `fleet settings differ from the leader's (${fleet.refused.join(', ')}): not following ${fleet.leader ?? 'it'}`;
    if (this.leading) {
      const m = this.leading.marathon.status();
      if (!m.healthy) return `leading, but marathon is not current: ${m.lastError ?? 'not synced yet'}`;
      const p = this.leading.publisher.status();
      if (p.lastError) return `publishing to zookeeper fails: ${p.lastError}`;
    }
    if (fleet.ageMs !== null && fleet.ageMs > this.fleet.maxAgeMs)
      return `fleet view not confirmed for ${Math.round(fleet.ageMs / 1000)} s (leader ${fleet.leader ?? 'unknown'}; maxAgeMs ${this.fleet.maxAgeMs})`;
    const f = this.follower.state();
    if (f.view === null) return `no fleet view published under ${this.fleet.path} yet`;
    return f.lastError;
  }

  private accepts(settings: unknown, leader: string): boolean {
    const me = this.election.role();
    const differ = me.kind !== 'candidate' && me.member === leader ? [] : differingSettings(this.settings, settings);
    if (differ.join() !== this.refused.join()) {
      this.refused = differ;
      if (differ.length > 0)
        this.log.error("fleet settings differ from the leader's; not following it", {
          source: 'fleet',
          settings: differ,
        });
      else this.log.info("fleet settings agree with the leader's; following", { source: 'fleet' });
    }
    return differ.length === 0;
  }

  /**
   * Who may stand for election: everyone while there is no view, or the view
   * was made with our settings; a sidecar whose settings differ stands aside
   * (so it never leads a fleet it disagrees with) until nobody else is left.
   */
  private policy(): void {
    if (!this.opts.elect || this.stopped) return;
    const view = this.follower.state().view;
    if (view === undefined) return;
    const mine = view === null || this.accepts(view.settings, view.leader);
    if (mine || this.election.vacant()) this.election.join();
    else this.election.standAside();
    this.follower.recheck();
  }

  private readonly roleChanged = (): void => {
    const role = this.election.role();
    if (role.kind === 'leader' && !this.leading && !this.stopped) this.lead(role.member);
    else if (role.kind !== 'leader' && this.leading) void this.resign();
    if (role.kind === 'candidate') this.policy();
  };

  private lead(member: string): void {
    const marathon = this.makeMarathon();
    const publisher = new Publisher(
      this.session,
      this.layout,
      {
        member,
        leaderId: this.opts.self(),
        settings: this.settings,
        heartbeatMs: this.fleet.heartbeatMs,
        partBytes: this.opts.partBytes ?? PART_BYTES,
        batchBytes: this.opts.batchBytes ?? BATCH_BYTES,
        current: () => marathon.status().healthy,
        members: () => this.election.members(),
      },
      this.log,
      () => void this.deposed(),
    );
    this.leading = { marathon, publisher };
    this.takeovers++;
    this.log.info('fleet leader: following marathon for the fleet', {
      source: 'fleet',
      member,
      fleet: this.fleet.path,
    });
    publisher.start();
    void marathon.start(publisher.sink);
  }

  /**
   * Someone wrote the view while this sidecar leads on a live session: not an
   * elected member (ZooKeeper elects one), so an operator or a stray writer.
   * Give way, and claim it again after a while if this sidecar still leads.
   */
  private async deposed(): Promise<void> {
    await this.resign();
    this.log.error('fleet view written by someone other than this leader; claiming it again later', {
      source: 'fleet',
      retryInMs: DEPOSED_RETRY_MS,
    });
    this.redeem = setTimeout(() => {
      this.redeem = null;
      this.roleChanged();
    }, DEPOSED_RETRY_MS);
  }

  /** Stops publishing first (synchronously: no write starts after this), then the Marathon source. */
  private async resign(): Promise<void> {
    const leading = this.leading;
    if (!leading) return;
    this.leading = null;
    const stopping = leading.publisher.stop();
    const p = leading.publisher.status();
    this.retired.publishes += p.commits;
    this.retired.bytesWritten += p.bytesWritten;
    this.retired.znodesWritten += p.znodesWritten;
    this.log.info('fleet lead given up; marathon source stopped', { source: 'fleet' });
    await Promise.all([stopping, leading.marathon.stop()]);
  }
}

/** How a sidecar names itself to its fleet: host, pid and HTTP address. */
export function selfDescription(http: string): string {
  return `${hostname()}/${process.pid}/${http}`;
}
