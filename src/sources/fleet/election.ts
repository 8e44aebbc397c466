import { EventEmitter } from 'node:events';
import type { Logger } from '../../log.js';
import { Backoff, SingleFlight, systemClock } from '../../retry.js';
import { EPHEMERAL_SEQUENTIAL, isTransient, ZkError, type ZkSession, type ZkWatcher } from '../zookeeper/client.js';
import { messageOf } from '../../errors.js';

// ZooKeeper's leader election recipe: every candidate holds an ephemeral
// sequential znode under `members`; the lowest sequence leads; every other
// member watches only the member just before it, so a departure wakes one
// sidecar, not the fleet. The member's name carries the session id, so a
// create whose answer was lost is found again rather than made twice.

/** Where this sidecar stands. `candidate`: not (yet) a member on the current session, or standing aside. */
export type Role =
  | { readonly kind: 'candidate' }
  | { readonly kind: 'leader'; readonly member: string; readonly generation: number }
  | { readonly kind: 'follower'; readonly member: string; readonly leader: string; readonly generation: number };

export interface ElectionEvents {
  /** The role changed (read it with role()); also when the member count the leader sees changed. */
  change: [];
}

const SEQUENCE = /-(\d{10})$/;
const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5000;

/** A member's place in line: its sequence number (ties cannot happen: the server numbers them). */
function sequence(name: string): number {
  const m = SEQUENCE.exec(name);
  return m ? Number(m[1]) : Number.MAX_SAFE_INTEGER;
}

/**
 * One sidecar's candidacy. `join()` stands for election (and again on every
 * new session); `standAside()` leaves the line (deleting its member znode) and
 * watches whether it empties (`vacant()`), which lets a sidecar whose settings
 * differ from the fleet's lead only once nobody else is left. An expired
 * session makes it a candidate at once, before anything else hears of the new
 * session.
 */
export class Election extends EventEmitter<ElectionEvents> {
  private current: Role = { kind: 'candidate' };
  private wanted = false;
  private running = false;
  private member: string | null = null;
  private memberIn = -1;
  private memberCount = 0;
  private isVacant = false;
  /** Looks at the line one at a time; a change seen meanwhile makes one more look after it. */
  private readonly flight = new SingleFlight<void>(() => this.step());
  private readonly retry = new Backoff(systemClock, RETRY_MIN_MS, RETRY_MAX_MS);

  constructor(
    private readonly session: ZkSession,
    private readonly path: string,
    private readonly data: () => Buffer,
    private readonly log: Logger,
  ) {
    super();
  }

  start(): void {
    this.running = true;
    this.session.on('connected', this.onConnected);
    this.session.on('expired', this.onExpired);
    if (this.session.isConnected()) this.kick();
  }

  /** Leaves the line for good (a clean stop lets the next member take over at once, not after the session timeout). */
  async stop(): Promise<void> {
    this.running = false;
    this.wanted = false;
    this.session.off('connected', this.onConnected);
    this.session.off('expired', this.onExpired);
    this.retry.cancel();
    await this.leave();
    this.setRole({ kind: 'candidate' });
  }

  role(): Role {
    return this.current;
  }

  /** Members in line at the last look (kept current while leading). */
  members(): number {
    return this.memberCount;
  }

  /** Standing aside, and nobody is in line. */
  vacant(): boolean {
    return !this.wanted && this.isVacant;
  }

  join(): void {
    if (this.wanted) return;
    this.wanted = true;
    this.kick();
  }

  standAside(): void {
    if (!this.wanted && this.member === null) return;
    this.wanted = false;
    this.setRole({ kind: 'candidate' });
    void this.leave().finally(() => this.kick());
  }

  private readonly onConnected = (fresh: boolean): void => {
    if (fresh) this.member = null;
    this.kick();
  };

  /** The member znode went with the session; whatever this sidecar led, it leads no more. */
  private readonly onExpired = (): void => {
    this.member = null;
    this.setRole({ kind: 'candidate' });
  };

  /** Fires when the watched predecessor (or, for the leader and a sidecar standing aside, the member list) changes. */
  private readonly watcher: ZkWatcher = () => this.kick();

  private kick(): void {
    if (this.running) void this.flight.run();
  }

  /** One look at the line; a failure looks again later (a refusal, such as NO_AUTH, slowly). */
  private async step(): Promise<void> {
    if (!this.running) return;
    try {
      await this.evaluate();
      this.retry.reset();
    } catch (e) {
      this.log.warn('fleet election step failed; retrying', { source: 'fleet', reason: messageOf(e) });
      if (this.running) this.retry.retry(() => this.kick(), isTransient(e) ? 0 : RETRY_MAX_MS);
    }
  }

  private async evaluate(): Promise<void> {
    if (!this.session.isConnected()) return;
    const generation = this.session.generation;
    await this.session.mkdirp(this.path);
    if (!this.wanted) {
      const names = await this.session.getChildren(this.path, this.watcher);
      this.memberCount = names.length;
      const vacant = names.length === 0;
      if (vacant !== this.isVacant) {
        this.isVacant = vacant;
        this.emit('change');
      }
      return;
    }
    const prefix = `m-${this.session.state().sessionId ?? 'none'}-`;
    if (this.member === null || this.memberIn !== generation) {
      const existing = (await this.session.getChildren(this.path)).find((n) => n.startsWith(prefix));
      const name =
        existing ??
        (await this.session.create(`${this.path}/${prefix}`, this.data(), EPHEMERAL_SEQUENTIAL)).slice(
          this.path.length + 1,
        );
      if (generation !== this.session.generation || !this.wanted) return;
      this.member = name;
      this.memberIn = generation;
      this.log.info('fleet member joined', { source: 'fleet', member: name });
    }
    const me = this.member;
    const names = (await this.session.getChildren(this.path)).sort((a, b) => sequence(a) - sequence(b));
    if (generation !== this.session.generation || !this.wanted) return;
    this.memberCount = names.length;
    const at = names.indexOf(me);
    if (at < 0) {
      // Our znode is gone while the session lives (someone deleted it): stand again.
      this.member = null;
      this.kick();
      return;
    }
    if (at === 0) {
      // Only the leader watches the list (for the member count it publishes): one watcher, no herd.
      const watched = await this.session.getChildren(this.path, this.watcher);
      if (generation !== this.session.generation || !this.wanted) return;
      this.memberCount = watched.length;
      const was = this.current;
      this.setRole({ kind: 'leader', member: me, generation });
      if (was.kind === 'leader') this.emit('change');
      return;
    }
    const predecessor = names[at - 1]!;
    if ((await this.session.exists(`${this.path}/${predecessor}`, this.watcher)) === null) {
      this.kick();
      return;
    }
    if (generation !== this.session.generation || !this.wanted) return;
    this.setRole({ kind: 'follower', member: me, leader: names[0]!, generation });
  }

  private async leave(): Promise<void> {
    const me = this.member;
    this.member = null;
    if (me === null || !this.session.isConnected()) return;
    try {
      await this.session.remove(`${this.path}/${me}`, -1);
      this.log.info('fleet member left', { source: 'fleet', member: me });
    } catch (e) {
      if (!(e instanceof ZkError && e.code === 'NO_NODE'))
        this.log.warn('fleet member znode not removed; it goes with the session', {
          source: 'fleet',
          member: me,
          reason: messageOf(e),
        });
    }
  }

  private setRole(next: Role): void {
    const before = this.current;
    this.current = next;
    const same =
      before.kind === next.kind &&
      (before.kind === 'candidate' ||
        (before.kind === 'leader' && next.kind === 'leader' && before.member === next.member) ||
        (before.kind === 'follower' &&
          next.kind === 'follower' &&
          before.member === next.member &&
          before.leader === next.leader));
    if (!same) {
      this.log.info('fleet role', {
        source: 'fleet',
        role: next.kind,
        ...(next.kind !== 'candidate' && { member: next.member }),
      });
      this.emit('change');
    }
  }
}
