import { EventEmitter } from 'node:events';
import type * as zookeeper from 'node-zookeeper-client';
import type { Logger } from '../../log.js';
import type { SourceHealth } from '../source.js';
import { messageOf } from '../../errors.js';

// node-zookeeper-client 1.1.3 behind a small promise interface. What it does
// not do for us (REAL-SERVERS §3.5): an expired session is final for a client,
// its watchers are dropped silently, a request sent while disconnected may
// never call back, and a frozen server looks connected forever. So every call
// has a deadline, an expired client is replaced by a new one, and a probe
// notices a server that stopped answering.

/** What a watch saw; `path` is the watched znode. */
export interface ZkWatchEvent {
  readonly type: 'created' | 'deleted' | 'dataChanged' | 'childrenChanged';
  readonly path: string;
}

/** A one-shot watch; pass the same function again to re-arm it (the client keeps one registration per function and path). */
export type ZkWatcher = (event: ZkWatchEvent) => void;

/** A failed ZooKeeper call: `code` is the server's error name (NO_NODE, NODE_EXISTS, BAD_VERSION, ...) or TIMEOUT / NOT_CONNECTED / CLOSED. */
export class ZkError extends Error {
  override name = 'ZkError';
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Errors that say nothing about the data, only that ZooKeeper could not be asked: worth retrying on a (re)connected session. */
export function isTransient(e: unknown): boolean {
  return (
    !(e instanceof ZkError) ||
    !['NO_NODE', 'NODE_EXISTS', 'BAD_VERSION', 'NOT_EMPTY', 'NO_AUTH', 'BAD_ARGUMENTS', 'INVALID_ACL'].includes(e.code)
  );
}

/** Where the session stands, for /health. */
export interface ZkSessionState {
  readonly state: 'idle' | 'connecting' | 'connected' | 'disconnected' | 'expired' | 'closed';
  /** Epoch ms of the last state change. */
  readonly since: number;
  /** Counts sessions: it moves whenever everything must be read and watched again. */
  readonly generation: number;
  /** Hex id of the current session, null before the first connection. */
  readonly sessionId: string | null;
}

/**
 * `connected(fresh)`: usable; `fresh` means a new session (the first, or one after an
 * expiry), whose reader must read everything again and set every watch anew.
 * `disconnected`: the connection is gone or the server stopped answering; the session
 * and its watches may still come back. `expired`: the session is gone; a new one is on its way.
 */
export interface ZkSessionEvents {
  connected: [fresh: boolean];
  disconnected: [];
  expired: [];
}

/** Options beyond the connect string; times in ms. */
export interface ZkSessionOptions {
  readonly sessionTimeoutMs: number;
  /** Deadline of one call; default: the session timeout, 1–10 s. */
  readonly callTimeoutMs?: number;
}

type Library = typeof zookeeper;

/**
 * node-zookeeper-client, loaded when the first session opens, so a daemon
 * without ZooKeeper never loads it (~10 ms of every start). A client exists
 * only once it is loaded.
 */
let library: Library | null = null;
let eventTypes: Record<number, ZkWatchEvent['type']> = {};

async function loadLibrary(): Promise<Library> {
  if (!library) {
    const lib = ((await import('node-zookeeper-client')) as unknown as { default: Library }).default;
    eventTypes = {
      [lib.Event.NODE_CREATED]: 'created',
      [lib.Event.NODE_DELETED]: 'deleted',
      [lib.Event.NODE_DATA_CHANGED]: 'dataChanged',
      [lib.Event.NODE_CHILDREN_CHANGED]: 'childrenChanged',
    };
    library = lib;
  }
  return library;
}

/** ZooKeeper's CreateMode.PERSISTENT, as the protocol numbers it. */
const PERSISTENT = 0;
/** ZooKeeper's CreateMode.EPHEMERAL_SEQUENTIAL: gone with the session, named with a counter the server appends. */
export const EPHEMERAL_SEQUENTIAL = 3;

/**
 * One operation of a multi (all of a transaction apply, or none). `version`
 * must not be 0: node-zookeeper-client's Transaction turns 0 into -1 (any).
 */
export type ZkOp =
  | { readonly op: 'create'; readonly path: string; readonly data: Buffer }
  | { readonly op: 'set'; readonly path: string; readonly data: Buffer; readonly version: number }
  | { readonly op: 'remove'; readonly path: string; readonly version: number }
  | { readonly op: 'check'; readonly path: string; readonly version: number };

type Callback<T> = (error: Error | zookeeper.Exception | null, value: T) => void;

/**
 * One ZooKeeper session shared by every reader of a connect string (registries,
 * rules, leader discovery). Users `acquire()` it while they run and `release()` it
 * when they stop; the client exists while someone holds it. A session expiry
 * replaces the client and emits `connected(true)` once the new session is up.
 */
export class ZkSession extends EventEmitter<ZkSessionEvents> {
  readonly callTimeoutMs: number;
  private client: zookeeper.Client | null = null;
  private users = 0;
  private current: ZkSessionState = { state: 'idle', since: Date.now(), generation: 0, sessionId: null };
  private probeTimer: NodeJS.Timeout | null = null;
  private probing = false;
  private readonly adapters = new WeakMap<ZkWatcher, (event: zookeeper.Event) => void>();

  constructor(
    readonly connect: string,
    private readonly opts: ZkSessionOptions,
    private readonly log: Logger,
  ) {
    super();
    this.setMaxListeners(0);
    this.callTimeoutMs = opts.callTimeoutMs ?? Math.max(1000, Math.min(opts.sessionTimeoutMs, 10_000));
  }

  /** Starts the client if this is the first user; returns at once (the `connected` event says when it is usable). */
  acquire(): void {
    this.users++;
    if (this.users === 1) this.open();
  }

  /** Closes the session when the last user lets go. */
  async release(): Promise<void> {
    this.users = Math.max(0, this.users - 1);
    if (this.users > 0) return;
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = null;
    const client = this.client;
    this.client = null;
    this.set('closed');
    client?.removeAllListeners();
    client?.close();
  }

  state(): ZkSessionState {
    return this.current;
  }

  isConnected(): boolean {
    return this.current.state === 'connected';
  }

  get generation(): number {
    return this.current.generation;
  }

  /** The child names of `path`, setting a child watch in the same request when `watcher` is given. */
  getChildren(path: string, watcher?: ZkWatcher): Promise<string[]> {
    return this.call<string[]>('getChildren', path, (c, cb) =>
      watcher ? c.getChildren(path, this.adapt(watcher), cb) : c.getChildren(path, cb),
    );
  }

  /** A znode's data and version, setting a data watch in the same request when `watcher` is given. */
  async getData(path: string, watcher?: ZkWatcher): Promise<{ data: Buffer; version: number }> {
    let stat: zookeeper.Stat | undefined;
    const data = await this.call<Buffer | null>('getData', path, (c, cb) => {
      const done: Callback<Buffer | null> = (e, d, s?: zookeeper.Stat) => {
        stat = s;
        cb(e, d);
      };
      if (watcher) c.getData(path, this.adapt(watcher), done as never);
      else c.getData(path, done as never);
    });
    return { data: data ?? Buffer.alloc(0), version: stat?.version ?? 0 };
  }

  /** The znode's version, or null when it does not exist; with `watcher`, watches for its creation, change or deletion. */
  async exists(path: string, watcher?: ZkWatcher): Promise<number | null> {
    const stat = await this.call<zookeeper.Stat | null>('exists', path, (c, cb) =>
      watcher ? c.exists(path, this.adapt(watcher), cb) : c.exists(path, cb),
    );
    return stat ? stat.version : null;
  }

  /** Creates a persistent znode (or the given mode); the parent must exist. */
  create(path: string, data: Buffer, mode: number = PERSISTENT): Promise<string> {
    return this.call<string>('create', path, (c, cb) => c.create(path, data, mode, cb));
  }

  /** Writes `data` if the znode is at `version` (-1: any); resolves to the new version. */
  async setData(path: string, data: Buffer, version: number): Promise<number> {
    const stat = await this.call<zookeeper.Stat>('setData', path, (c, cb) => c.setData(path, data, version, cb));
    return stat.version;
  }

  /** Deletes the znode if it is at `version` (-1: any). */
  async remove(path: string, version: number): Promise<void> {
    await this.call<void>('remove', path, (c, cb) => c.remove(path, version, (e) => cb(e, undefined)));
  }

  /**
   * Runs `ops` as one transaction; resolves to the new version of each `set`
   * (in order, -1 for the other kinds). A failure names the first op's error.
   */
  async transaction(ops: readonly ZkOp[]): Promise<number[]> {
    const label = ops.length > 0 ? `${ops.length} ops from ${ops[0]!.path}` : 'empty';
    const results = await this.call<Array<{ stat?: zookeeper.Stat }>>('multi', label, (c, cb) => {
      const tx = c.transaction();
      for (const o of ops) {
        if (o.op !== 'create' && o.version === 0) throw new Error(`${o.op} ${o.path}: version 0 cannot be checked`);
        if (o.op === 'create') tx.create(o.path, o.data, PERSISTENT);
        else if (o.op === 'set') tx.setData(o.path, o.data, o.version);
        else if (o.op === 'remove') tx.remove(o.path, o.version);
        else tx.check(o.path, o.version);
      }
      tx.commit(cb);
    });
    return ops.map((o, i) => (o.op === 'set' ? (results[i]?.stat?.version ?? -1) : -1));
  }

  /** Creates `path` and its missing parents as persistent znodes. */
  async mkdirp(path: string): Promise<void> {
    await this.call<string>('mkdirp', path, (c, cb) => c.mkdirp(path, cb));
  }

  private open(): void {
    if (!library) {
      if (this.current.state !== 'expired') this.set('connecting');
      loadLibrary().then(
        () => {
          if (this.users > 0 && this.client === null) this.open();
        },
        (e: Error) =>
          this.log.error('cannot load the zookeeper client library', { source: 'zookeeper', error: e.message }),
      );
      return;
    }
    const client = library.createClient(this.connect, {
      sessionTimeout: this.opts.sessionTimeoutMs,
      spinDelay: Math.min(1000, Math.max(100, Math.floor(this.opts.sessionTimeoutMs / 10))),
      retries: 0,
    });
    this.client = client;
    let fresh = true;
    client.on('connected', () => {
      if (this.client !== client) return;
      const sessionId = client.getSessionId().toString('hex');
      const generation = fresh ? this.current.generation + 1 : this.current.generation;
      this.log.info(fresh ? 'zookeeper session established' : 'zookeeper reconnected', {
        source: 'zookeeper',
        connect: this.connect,
        sessionId,
        timeoutMs: client.getSessionTimeout(),
      });
      this.set('connected', { generation, sessionId });
      const wasFresh = fresh;
      fresh = false;
      this.emit('connected', wasFresh);
    });
    client.on('disconnected', () => {
      if (this.client !== client) return;
      this.log.warn('zookeeper disconnected; keeping the last known state', {
        source: 'zookeeper',
        connect: this.connect,
      });
      this.set('disconnected');
      this.emit('disconnected');
    });
    client.on('expired', () => {
      if (this.client !== client) return;
      this.log.warn('zookeeper session expired; opening a new one', {
        source: 'zookeeper',
        connect: this.connect,
        sessionId: this.current.sessionId,
      });
      this.replace();
    });
    client.on('authenticationFailed', () => {
      if (this.client !== client) return;
      this.log.error('zookeeper authentication failed', { source: 'zookeeper', connect: this.connect });
    });
    if (this.current.state !== 'expired') this.set('connecting');
    client.connect();
    this.probeTimer ??= setInterval(() => void this.probe(), Math.max(500, Math.floor(this.opts.sessionTimeoutMs / 3)));
    this.probeTimer.unref();
  }

  /**
   * The client only notices a closed socket, not a server that stopped
   * answering (a frozen process, a silent partition): ask something cheap and
   * call the session disconnected when the answer is late.
   */
  private async probe(): Promise<void> {
    if (this.probing || !this.client) return;
    // node-zookeeper-client can stall for good when it reaches a server that is still starting (it never
    // reads the handshake answer). Switchyard only reads, so after two session timeouts without a session the
    // cheapest way back is a new one and a full re-read.
    // A client opened after an expiry stays 'expired' until it connects: it can stall the same way.
    const waiting =
      this.current.state === 'disconnected' || this.current.state === 'connecting' || this.current.state === 'expired';
    if (
      waiting &&
      this.client.getState() !== library!.State.SYNC_CONNECTED &&
      Date.now() - this.current.since > 2 * this.opts.sessionTimeoutMs
    ) {
      this.log.warn('zookeeper client has not reconnected; opening a new session', {
        source: 'zookeeper',
        connect: this.connect,
        sinceMs: Date.now() - this.current.since,
      });
      this.replace();
      return;
    }
    const answering = this.current.state === 'connected';
    const stalled = this.current.state === 'disconnected' && this.client.getState() === library!.State.SYNC_CONNECTED;
    if (!answering && !stalled) return;
    this.probing = true;
    try {
      await this.exists('/');
      if (stalled && this.current.state === 'disconnected') {
        this.log.info('zookeeper answers again', { source: 'zookeeper', connect: this.connect });
        this.set('connected');
        this.emit('connected', false);
      }
    } catch (e) {
      if (answering && this.current.state === 'connected' && (e as ZkError).code === 'TIMEOUT') {
        this.log.warn('zookeeper stopped answering; keeping the last known state', {
          source: 'zookeeper',
          connect: this.connect,
          reason: messageOf(e),
          error: e,
        });
        this.set('disconnected');
        this.emit('disconnected');
      }
    } finally {
      this.probing = false;
    }
  }

  /** Drops the current client and session for a new one; the sources re-read everything once it is up. */
  private replace(): void {
    const client = this.client!;
    client.removeAllListeners();
    client.close();
    this.set('expired');
    this.emit('expired');
    if (this.users > 0) this.open();
  }

  private set(state: ZkSessionState['state'], extra: Partial<ZkSessionState> = {}): void {
    this.current = { ...this.current, ...extra, state, since: Date.now() };
  }

  /** One stable adapter per watcher, so re-arming with the same function does not stack registrations. */
  private adapt(watcher: ZkWatcher): (event: zookeeper.Event) => void {
    let adapter = this.adapters.get(watcher);
    if (!adapter) {
      adapter = (event: zookeeper.Event) => {
        const type = eventTypes[event.getType()];
        if (type) watcher({ type, path: event.getPath() });
      };
      this.adapters.set(watcher, adapter);
    }
    return adapter;
  }

  private call<T>(op: string, path: string, send: (client: zookeeper.Client, cb: Callback<T>) => void): Promise<T> {
    const client = this.client;
    if (!client) return Promise.reject(new ZkError('CLOSED', `${op} ${path}: the zookeeper session is closed`));
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(new ZkError('TIMEOUT', `${op} ${path}: no answer from zookeeper within ${this.callTimeoutMs} ms`));
      }, this.callTimeoutMs);
      const cb: Callback<T> = (error, value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(toZkError(error, op, path));
        else resolve(value);
      };
      try {
        send(client, cb);
      } catch (e) {
        cb(new ZkError('BAD_ARGUMENTS', messageOf(e), { cause: e }), undefined as T);
      }
    });
  }
}

function toZkError(error: Error | zookeeper.Exception, op: string, path: string): ZkError {
  if (error instanceof ZkError) return error;
  const code =
    typeof (error as zookeeper.Exception).getName === 'function' ? (error as zookeeper.Exception).getName() : 'ERROR';
  const message = (error as Error).message ?? '';
  return new ZkError(code, `${op} ${path}: ${code}${message && !message.includes(code) ? ` (${message})` : ''}`);
}

/**
 * Keeps a source's health truthful about its session: unhealthy with the
 * reason while disconnected or expired (the source keeps its last state
 * meanwhile), healthy again once reconnected and `settled()` says the source
 * is current. Returns the unsubscribe.
 */
export function trackSession(session: ZkSession, health: SourceHealth, settled: () => boolean): () => void {
  const detail = (): void => {
    const s = session.state();
    health.set('zookeeper', {
      connect: session.connect,
      state: s.state,
      sessionId: s.sessionId,
      sessions: s.generation,
    });
  };
  const onConnected = (fresh: boolean): void => {
    detail();
    if (settled()) health.clearError();
    else if (fresh && session.generation > 1) health.fail('session expired; re-reading everything on a new session');
  };
  const onDisconnected = (): void => {
    detail();
    health.fail(`zookeeper disconnected since ${new Date(session.state().since).toISOString()}`);
  };
  const onExpired = (): void => {
    detail();
    health.fail('session expired; reconnecting');
  };
  session.on('connected', onConnected);
  session.on('disconnected', onDisconnected);
  session.on('expired', onExpired);
  detail();
  if (!session.isConnected()) health.fail(`connecting to zookeeper ${session.connect}`);
  return () => {
    session.off('connected', onConnected);
    session.off('disconnected', onDisconnected);
    session.off('expired', onExpired);
  };
}
