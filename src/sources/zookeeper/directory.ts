import { Backoff, systemClock, type Clock } from '../../retry.js';
import { isTransient, ZkError, type ZkSession, type ZkWatcher } from './client.js';
import { messageOf } from '../../errors.js';

/** One child znode as last read. `version` is -1 when its data is not read (a directory without data). */
export interface ZkChild {
  readonly name: string;
  readonly data: Buffer;
  readonly version: number;
}

/** How a directory reads and whom it tells. */
export interface ZkDirectoryOptions {
  /** Read (and watch) each child's data as well as the child list. */
  readonly withData: boolean;
  /**
   * When the path is missing: `create` it and its parents (persistent);
   * `watch` for its creation meanwhile (someone else's tree); or take it as
   * `gone` for good (its owner follows the parent's list instead).
   */
  readonly missing: 'create' | 'watch' | 'gone';
  /** After every read that may have changed something: the child names whose presence or data changed (maybe none). */
  readonly onChange: (changed: readonly string[]) => void;
  /** A read failed for a reason that is not about the data; it is retried once the session allows. */
  readonly onError: (reason: string) => void;
  /** Time for the retries; the system's unless a spec steps its own. */
  readonly clock?: Clock;
}

const EMPTY = Buffer.alloc(0);
const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5000;

/**
 * A znode's children (and optionally their data) kept current by one-shot
 * watches. Each watch is re-armed by the read that follows its firing, with
 * the watch set in that same request, so no change can slip between a fire
 * and the re-arm. An event re-reads only what it names: a child-list change
 * re-lists and fetches data for new children only; a data change re-reads
 * that child. A new session (first connect, or after an expiry) reads
 * everything again; failed reads are retried after a reconnect.
 */
export class ZkDirectory {
  private entries = new Map<string, ZkChild | null>();
  /** Listed children whose data is not read yet. */
  private unread = 0;
  private listedIn = -1;
  private inflight = new Set<symbol>();
  private failed = new Map<string, () => Promise<readonly string[]>>();
  /** Failed reads are retried together, later each time while they go on failing. */
  private readonly retry: Backoff;
  private running = false;
  private isGone = false;

  readonly path: string;

  constructor(
    private readonly session: ZkSession,
    path: string,
    private readonly opts: ZkDirectoryOptions,
  ) {
    this.path = path.length > 1 ? path.replace(/\/+$/, '') : path;
    this.retry = new Backoff(opts.clock ?? systemClock, RETRY_MIN_MS, RETRY_MAX_MS);
  }

  /** The znode path of a child. */
  childPath(name: string): string {
    return this.path === '/' ? `/${name}` : `${this.path}/${name}`;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.session.on('connected', this.onConnected);
    if (this.session.isConnected()) this.reload();
  }

  stop(): void {
    this.running = false;
    this.session.off('connected', this.onConnected);
    this.retry.cancel();
  }

  /** Children whose data has been read, sorted by name. */
  children(): ZkChild[] {
    return [...this.entries.values()]
      .filter((c): c is ZkChild => c !== null)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  child(name: string): ZkChild | null {
    return this.entries.get(name) ?? null;
  }

  /** Every listed child name, sorted (with data read or not). */
  names(): string[] {
    return [...this.entries.keys()].sort();
  }

  /** The znode did not exist at the last listing (never with `missing: 'create'`). */
  gone(): boolean {
    return this.isGone;
  }

  /** Everything has been read on the current session and nothing is pending or failing. */
  complete(): boolean {
    return (
      this.listedIn === this.session.generation &&
      this.inflight.size === 0 &&
      this.failed.size === 0 &&
      this.unread === 0
    );
  }

  /** Some read failed and waits for its retry. */
  failing(): boolean {
    return this.failed.size > 0;
  }

  private readonly onConnected = (fresh: boolean): void => {
    // Started while disconnected, it has not read anything on this session yet.
    const neverRead = this.listedIn !== this.session.generation && this.inflight.size === 0 && this.failed.size === 0;
    if (fresh || neverRead) this.reload();
    else this.retryNow();
  };

  /** A new session knows none of our watches: start over, keeping nothing from the old one. */
  private reload(): void {
    this.entries = new Map();
    this.unread = 0;
    this.inflight = new Set();
    this.failed = new Map();
    this.isGone = false;
    this.run('list', () => this.list());
  }

  private readonly childWatcher: ZkWatcher = () => {
    if (this.running) this.run('list', () => this.list());
  };

  private readonly dataWatcher: ZkWatcher = (event) => {
    const name = event.path.slice(event.path.lastIndexOf('/') + 1);
    if (this.running && this.entries.has(name)) this.run(`data:${name}`, () => this.read(name));
  };

  private run(key: string, job: () => Promise<readonly string[]>): void {
    if (!this.running) return;
    const generation = this.session.generation;
    const token = Symbol(key);
    const inflight = this.inflight;
    inflight.add(token);
    job().then(
      (changed) => {
        inflight.delete(token);
        if (!this.current(generation)) return;
        if (this.failed.delete(key) && this.failed.size === 0) this.retry.reset();
        this.opts.onChange(changed);
      },
      (e: unknown) => {
        inflight.delete(token);
        if (!this.current(generation)) return;
        this.failed.set(key, job);
        this.opts.onError(messageOf(e));
        // A refusal (NO_AUTH, say) is not cured by asking again at once: look again slowly.
        this.scheduleRetry(isTransient(e) ? 0 : RETRY_MAX_MS);
        this.opts.onChange([]);
      },
    );
  }

  private current(generation: number): boolean {
    return this.running && generation === this.session.generation;
  }

  private scheduleRetry(minMs = 0): void {
    if (!this.session.isConnected()) return;
    this.retry.retry(() => this.retryNow(), minMs);
  }

  private retryNow(): void {
    this.retry.cancel();
    const jobs = [...this.failed];
    for (const [key, job] of jobs) this.run(key, job);
  }

  private async list(): Promise<readonly string[]> {
    const generation = this.session.generation;
    let names: string[];
    try {
      names = await this.session.getChildren(this.path, this.childWatcher);
    } catch (e) {
      if (!(e instanceof ZkError && e.code === 'NO_NODE')) throw e;
      if (this.opts.missing === 'create') await this.session.mkdirp(this.path);
      else if (this.opts.missing === 'gone' || (await this.session.exists(this.path, this.childWatcher)) === null) {
        return this.current(generation) ? this.vanished(generation) : [];
      }
      names = await this.session.getChildren(this.path, this.childWatcher);
    }
    if (!this.current(generation)) return [];
    this.listedIn = generation;
    this.isGone = false;
    const next = new Set(names);
    const changed: string[] = [];
    for (const name of [...this.entries.keys()]) {
      if (next.has(name)) continue;
      this.forget(name);
      this.failed.delete(`data:${name}`);
      changed.push(name);
    }
    for (const name of names) {
      if (this.entries.has(name)) continue;
      if (this.opts.withData) {
        this.entries.set(name, null);
        this.unread++;
        this.run(`data:${name}`, () => this.read(name));
      } else {
        this.entries.set(name, { name, data: EMPTY, version: -1 });
        changed.push(name);
      }
    }
    return changed;
  }

  private vanished(generation: number): readonly string[] {
    this.listedIn = generation;
    this.isGone = true;
    const removed = [...this.entries.keys()];
    this.entries.clear();
    this.unread = 0;
    this.failed.clear();
    return removed;
  }

  private forget(name: string): boolean {
    if (!this.entries.has(name)) return false;
    if (this.entries.get(name) === null) this.unread--;
    this.entries.delete(name);
    return true;
  }

  private async read(name: string): Promise<readonly string[]> {
    const generation = this.session.generation;
    try {
      const { data, version } = await this.session.getData(this.childPath(name), this.dataWatcher);
      if (!this.current(generation) || !this.entries.has(name)) return [];
      const before = this.entries.get(name);
      if (before && before.version === version && before.data.equals(data)) return [];
      if (before === null) this.unread--;
      this.entries.set(name, { name, data, version });
      return [name];
    } catch (e) {
      if (!(e instanceof ZkError && e.code === 'NO_NODE')) throw e;
      // Gone between the listing and this read; the child watch brings the new list.
      return this.current(generation) && this.forget(name) ? [name] : [];
    }
  }
}
