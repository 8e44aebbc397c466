import type { ZookeeperConfig } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import { sameService } from '../../state/merge.js';
import type { Service } from '../../state/model.js';
import { rejectionReason } from '../../state/rejection.js';
import { isServiceId } from '../../state/validate.js';
import { OnceLog, SourceHealth, type Sink, type Source, type SourceStatus } from '../source.js';
import { trackSession, type ZkSession } from './client.js';
import { ZkDirectory } from './directory.js';
import { decodeInstance, toService, type Decoded, type Member, type RegistryFormat } from './formats.js';

/** One service znode under one registry, its instance znodes decoded. */
interface ServiceNode {
  readonly registry: number;
  readonly name: string;
  readonly dir: ZkDirectory;
  readonly decoded: Map<string, Decoded>;
}

/**
 * Service registries kept in ZooKeeper (nerve, curator, serverset). Each
 * child of a registry path is a service, each of its children an instance.
 * One `sync` once the whole tree has been read on a session; after that one
 * `upsert` or `remove` per service that changed, computed from the znodes an
 * event named. A service present under several registries is one service with
 * the union of their backends. While ZooKeeper is unreachable nothing is
 * emitted (the last state stays); a new session re-reads everything and
 * emits a fresh `sync`.
 */
export class ZookeeperSource implements Source {
  readonly name = 'zookeeper';
  private readonly health = new SourceHealth(this.name);
  private readonly once: OnceLog;
  private readonly roots: ZkDirectory[] = [];
  private readonly nodes = new Map<string, ServiceNode>();
  private readonly emitted = new Map<string, Service>();
  private syncedIn = -1;
  private checkQueued = false;
  private sink: Sink | null = null;
  private untrack: (() => void) | null = null;

  constructor(
    private readonly config: Pick<ZookeeperConfig, 'registries' | 'maxNodeBytes'>,
    private readonly session: ZkSession,
    private readonly log: Logger,
  ) {
    this.once = new OnceLog((m, meta) => log.warn(m, meta));
    this.health.set(
      'registries',
      config.registries.map((r) => `${r.format}:${r.path}`),
    );
  }

  async start(sink: Sink): Promise<void> {
    this.sink = sink;
    this.untrack = trackSession(this.session, this.health, () => this.settled());
    this.session.acquire();
    this.config.registries.forEach((registry, i) => {
      const root = new ZkDirectory(this.session, registry.path, {
        withData: false,
        missing: 'create',
        onChange: () => this.rootChanged(i),
        onError: (reason) => this.readFailed(registry.path, reason),
      });
      this.roots.push(root);
      root.start();
    });
  }

  async stop(): Promise<void> {
    this.sink = null;
    this.untrack?.();
    for (const root of this.roots) root.stop();
    for (const node of this.nodes.values()) node.dir.stop();
    this.roots.length = 0;
    this.nodes.clear();
    await this.session.release();
  }

  status(): SourceStatus {
    return this.health.status();
  }

  /** A registry's list of services changed: follow services that appeared, drop those that went. */
  private rootChanged(registry: number): void {
    const root = this.roots[registry];
    if (!root || !this.sink) return;
    const listed = new Set<string>();
    for (const name of root.names()) {
      if (isServiceId(name) && name !== '.') listed.add(name);
      else {
        this.health.rejected({ where: root.childPath(name), field: 'name', value: name, expected: 'a service id' });
        this.once.warnOnce('zookeeper service skipped', {
          source: this.name,
          znode: root.childPath(name),
          reason: 'name is not a service id: expected [A-Za-z0-9._-]',
        });
      }
    }
    const touched = new Set<string>();
    for (const [key, node] of this.nodes) {
      if (node.registry !== registry || listed.has(node.name)) continue;
      node.dir.stop();
      this.nodes.delete(key);
      touched.add(node.name);
    }
    for (const name of listed) {
      const key = nodeKey(registry, name);
      if (this.nodes.has(key)) continue;
      const path = root.childPath(name);
      const node: ServiceNode = {
        registry,
        name,
        decoded: new Map(),
        dir: new ZkDirectory(this.session, path, {
          withData: true,
          missing: 'gone',
          onChange: (changed) => this.instancesChanged(node, changed),
          onError: (reason) => this.readFailed(path, reason),
        }),
      };
      this.nodes.set(key, node);
      node.dir.start();
      touched.add(name);
    }
    this.settle(touched);
  }

  /** One instance znode's data, refused unread past zookeeper.maxNodeBytes: parsing it would cost more than it can hold. */
  private decode(format: RegistryFormat, data: Buffer, znode: string): Decoded {
    const max = this.config.maxNodeBytes;
    if (data.length <= max) return decodeInstance(format, data, znode);
    this.health.overLimit('zookeeper.maxNodeBytes');
    return {
      kind: 'invalid',
      rejection: {
        where: znode,
        field: 'data',
        value: `${data.length} bytes`,
        expected: `at most ${max} bytes (zookeeper.maxNodeBytes)`,
      },
    };
  }

  /** Instance znodes of one service appeared, changed or went: decode just those. */
  private instancesChanged(node: ServiceNode, changed: readonly string[]): void {
    if (this.nodes.get(nodeKey(node.registry, node.name)) !== node) return;
    const format: RegistryFormat = this.config.registries[node.registry]!.format;
    for (const name of changed) {
      const child = node.dir.child(name);
      if (!child) {
        node.decoded.delete(name);
        continue;
      }
      const znode = node.dir.childPath(name);
      const decoded = this.decode(format, child.data, znode);
      if (decoded.kind === 'invalid') {
        this.health.rejected({ ...decoded.rejection, where: znode });
        this.once.warnOnce('zookeeper instance skipped', {
          source: this.name,
          znode,
          format,
          field: decoded.rejection.field,
          reason: rejectionReason(decoded.rejection),
        });
      } else if (decoded.kind === 'inactive')
        this.log.debug('zookeeper instance not taking traffic', { source: this.name, znode, reason: decoded.reason });
      else
        for (const note of decoded.notes) {
          this.health.rejected({ ...note, where: znode });
          this.once.warnOnce('zookeeper instance value dropped', {
            source: this.name,
            znode,
            field: note.field,
            reason: rejectionReason(note),
          });
        }
      node.decoded.set(name, decoded);
    }
    this.settle(new Set([node.name]));
  }

  /**
   * Before this session's first sync, waits for the whole tree; after it,
   * emits each touched service whose effective form changed.
   */
  private settle(touched: ReadonlySet<string>): void {
    if (!this.sink) return;
    if (this.syncedIn !== this.session.generation) {
      // Reads finish by the thousand while a big tree loads: look at the whole once per turn, not once per read.
      if (!this.checkQueued) {
        this.checkQueued = true;
        setImmediate(() => {
          this.checkQueued = false;
          const generation = this.session.generation;
          if (this.sink && this.syncedIn !== generation && this.session.isConnected() && this.complete())
            this.sync(generation);
        });
      }
      return;
    }
    for (const id of touched) this.emit(id);
    if (this.settled()) this.health.clearError();
    this.health.set('services', this.emitted.size);
  }

  private complete(): boolean {
    return this.roots.every((r) => r.complete()) && [...this.nodes.values()].every((n) => n.dir.complete());
  }

  /** In step with ZooKeeper: connected, synced on this session, no read waiting for a retry. */
  private settled(): boolean {
    return (
      this.session.isConnected() &&
      this.syncedIn === this.session.generation &&
      !this.roots.some((r) => r.failing()) &&
      ![...this.nodes.values()].some((n) => n.dir.failing())
    );
  }

  private sync(generation: number): void {
    const names = new Set([...this.nodes.values()].map((n) => n.name));
    const services: Service[] = [];
    this.emitted.clear();
    for (const name of [...names].sort()) {
      const service = this.build(name);
      if (!service) continue;
      this.emitted.set(name, service);
      services.push(service);
    }
    this.syncedIn = generation;
    this.health.ok();
    this.health.set('services', services.length);
    this.log.info('zookeeper registries read', {
      source: this.name,
      services: services.length,
      sessionId: this.session.state().sessionId,
    });
    this.sink?.({ kind: 'sync', source: this.name, services });
  }

  private emit(id: string): void {
    const before = this.emitted.get(id);
    const after = this.build(id);
    if (!after) {
      if (!before) return;
      this.emitted.delete(id);
      this.sink?.({ kind: 'remove', source: this.name, id });
      return;
    }
    if (before && sameService(before, after)) return;
    this.emitted.set(id, after);
    this.sink?.({ kind: 'upsert', source: this.name, service: after });
  }

  /** The service named `name` from every registry that has it; null when none has or its labels disable it. */
  private build(name: string): Service | null {
    const members: Member[] = [];
    let present = false;
    this.config.registries.forEach((_, registry) => {
      const node = this.nodes.get(nodeKey(registry, name));
      if (!node || node.dir.gone()) return;
      present = true;
      for (const child of node.dir.names()) {
        const d = node.decoded.get(child);
        if (d?.kind === 'instance')
          members.push({ znode: child, instance: d.instance, path: node.dir.childPath(child) });
      }
    });
    if (!present) return null;
    return toService(name, members, (r) =>
      this.once.warnOnce('zookeeper service value ignored', {
        source: this.name,
        service: name,
        znode: r.where,
        field: r.field,
        reason: rejectionReason(r),
      }),
    );
  }

  private readFailed(path: string, reason: string): void {
    // While disconnected, the session's own account is the truer one.
    if (this.session.isConnected()) this.health.fail(`zookeeper read of ${path} failed: ${reason}`);
    this.log.warn('zookeeper read failed; retrying, keeping the last known state', {
      source: this.name,
      znode: path,
      reason,
    });
  }
}

function nodeKey(registry: number, name: string): string {
  return `${registry}\u0000${name}`;
}
