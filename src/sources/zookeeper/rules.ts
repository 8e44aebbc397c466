import type { Logger } from '../../log.js';
import type { Rule } from '../../state/model.js';
import { RuleStoreError, type Expected, type RuleStore, type VersionedRule } from '../../state/rule-store.js';
import { ruleIdFromZnode, ruleZnodeName, serializeRule, validateRule } from '../../state/rules.js';
import { OnceLog, SourceHealth, type Sink, type Source, type SourceStatus } from '../source.js';
import { trackSession, ZkError, type ZkSession } from './client.js';
import { ZkDirectory, type ZkChild } from './directory.js';
import { messageOf } from '../../errors.js';

/**
 * The routing rules under `zookeeper.rulesPath`, one znode per service id
 * (URL-encoded). As a source it emits `{kind:'rules'}` with every valid rule
 * whenever one changes, so every sidecar re-renders; as a store it reads and
 * writes single rules, always conditionally on the znode version (the
 * rule's version), so two writers cannot silently overwrite each other.
 * ZooKeeper's errors reach callers as RuleStoreError, their cause kept.
 */
export class RulesSource implements Source, RuleStore {
  readonly name = 'rules';
  private readonly health = new SourceHealth(this.name);
  private readonly once: OnceLog;
  private dir: ZkDirectory | null = null;
  private sink: Sink | null = null;
  private untrack: (() => void) | null = null;
  private syncedIn = -1;
  private lastEmitted: string | null = null;

  constructor(
    private readonly session: ZkSession,
    readonly rulesPath: string,
    private readonly log: Logger,
  ) {
    this.once = new OnceLog((m, meta) => log.warn(m, meta));
    this.health.set('path', rulesPath);
  }

  async start(sink: Sink): Promise<void> {
    this.sink = sink;
    this.untrack = trackSession(this.session, this.health, () => this.settled());
    this.session.acquire();
    this.dir = new ZkDirectory(this.session, this.rulesPath, {
      withData: true,
      missing: 'create',
      onChange: () => this.changed(),
      onError: (reason) => {
        if (this.session.isConnected()) this.health.fail(`zookeeper read under ${this.rulesPath} failed: ${reason}`);
        this.log.warn('zookeeper read failed; retrying, keeping the last known rules', {
          source: this.name,
          znode: this.rulesPath,
          reason,
        });
      },
    });
    this.dir.start();
  }

  async stop(): Promise<void> {
    this.sink = null;
    this.untrack?.();
    this.dir?.stop();
    this.dir = null;
    await this.session.release();
  }

  status(): SourceStatus {
    return this.health.status();
  }

  /** Every valid rule as ZooKeeper has it now, sorted by id. */
  list(): Promise<VersionedRule[]> {
    return this.storeCall(() => this.listRules());
  }

  /** One rule and its version; null when there is none. A znode that holds no valid rule is `corrupt`. */
  get(id: string): Promise<VersionedRule | null> {
    return this.storeCall(() => this.getRule(id));
  }

  /**
   * Stores a (validated) rule conditionally: at `expected` version, or only if
   * absent, or ('current') at whatever version a read just saw. Any race
   * (BAD_VERSION, NODE_EXISTS, a delete in between) is a `conflict`.
   */
  put(rule: Rule, expected: Expected = 'current'): Promise<VersionedRule & { created: boolean }> {
    return this.storeCall(() => this.putRule(rule, expected));
  }

  /** Deletes a rule at `expected` version (or the version a read just saw); false when there was none. */
  remove(id: string, expected?: number): Promise<boolean> {
    return this.storeCall(() => this.removeRule(id, expected));
  }

  /** ZooKeeper failing, or this session not connected, is the store being `unavailable`. */
  private async storeCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      if (e instanceof ZkError)
        throw new RuleStoreError('unavailable', `zookeeper unavailable: ${e.message}`, { cause: e });
      throw e;
    }
  }

  private async listRules(): Promise<VersionedRule[]> {
    this.requireSession();
    const names = await this.session.getChildren(this.rulesPath).catch((e: unknown) => {
      if (e instanceof ZkError && e.code === 'NO_NODE') return [] as string[];
      throw e;
    });
    const rules: VersionedRule[] = [];
    await Promise.all(
      names.map(async (name) => {
        const id = ruleIdFromZnode(name);
        if (id === null) return;
        const found = await this.getRule(id).catch((e: unknown) => {
          if (e instanceof RuleStoreError && e.failure === 'corrupt') return null;
          throw e;
        });
        if (found) rules.push(found);
      }),
    );
    return rules.sort((a, b) => (a.rule.id < b.rule.id ? -1 : 1));
  }

  private async getRule(id: string): Promise<VersionedRule | null> {
    this.requireSession();
    try {
      const { data, version } = await this.session.getData(this.znode(id));
      return { rule: this.decode(id, data), version };
    } catch (e) {
      if (e instanceof ZkError && e.code === 'NO_NODE') return null;
      throw e;
    }
  }

  private async putRule(rule: Rule, expected: Expected): Promise<VersionedRule & { created: boolean }> {
    this.requireSession();
    const path = this.znode(rule.id);
    const data = Buffer.from(serializeRule(rule));
    let version: number | 'absent' = expected === 'current' ? await this.currentVersion(path) : expected;
    if (version === 'absent') {
      try {
        await this.createRule(path, data);
        return { rule, version: 0, created: true };
      } catch (e) {
        if (e instanceof ZkError && e.code === 'NODE_EXISTS')
          throw conflict(`rule ${JSON.stringify(rule.id)} was created by someone else meanwhile`);
        throw e;
      }
    }
    try {
      version = await this.session.setData(path, data, version);
      return { rule, version, created: false };
    } catch (e) {
      if (e instanceof ZkError && e.code === 'BAD_VERSION')
        throw conflict(`rule ${JSON.stringify(rule.id)} is no longer at version ${version}`);
      if (e instanceof ZkError && e.code === 'NO_NODE')
        throw conflict(`rule ${JSON.stringify(rule.id)} was deleted meanwhile`);
      throw e;
    }
  }

  private async removeRule(id: string, expected: number | undefined): Promise<boolean> {
    this.requireSession();
    const path = this.znode(id);
    const version = expected ?? (await this.currentVersion(path));
    if (version === 'absent') return false;
    try {
      await this.session.remove(path, version);
      return true;
    } catch (e) {
      if (e instanceof ZkError && e.code === 'BAD_VERSION')
        throw conflict(`rule ${JSON.stringify(id)} is no longer at version ${version}`);
      if (e instanceof ZkError && e.code === 'NO_NODE') {
        if (expected === undefined) return false;
        throw conflict(`rule ${JSON.stringify(id)} does not exist (expected version ${version})`);
      }
      throw e;
    }
  }

  /** Writes go to a connected session only: a request queued while disconnected may land long after the caller gave up. */
  private requireSession(): void {
    if (!this.session.isConnected()) {
      const s = this.session.state();
      throw new ZkError(
        'NOT_CONNECTED',
        `zookeeper ${this.session.connect} is ${s.state} since ${new Date(s.since).toISOString()}`,
      );
    }
  }

  private async currentVersion(path: string): Promise<number | 'absent'> {
    try {
      return (await this.session.getData(path)).version;
    } catch (e) {
      if (e instanceof ZkError && e.code === 'NO_NODE') return 'absent';
      throw e;
    }
  }

  private async createRule(path: string, data: Buffer): Promise<void> {
    try {
      await this.session.create(path, data);
    } catch (e) {
      if (!(e instanceof ZkError && e.code === 'NO_NODE')) throw e;
      // The rules path itself was removed: put it back, then try once more.
      await this.session.mkdirp(this.rulesPath);
      await this.session.create(path, data);
    }
  }

  private znode(id: string): string {
    return `${this.rulesPath.replace(/\/+$/, '')}/${ruleZnodeName(id)}`;
  }

  private decode(id: string, data: Buffer): Rule {
    let body: unknown;
    try {
      body = JSON.parse(data.toString('utf8'));
    } catch (e) {
      throw new RuleStoreError('corrupt', `rule znode ${this.znode(id)}: not valid JSON: ${messageOf(e)}`, {
        cause: e,
      });
    }
    const check = validateRule(body, id);
    if (!check.ok) throw new RuleStoreError('corrupt', `rule znode ${this.znode(id)}: ${check.reason}`);
    return check.rule;
  }

  /** A rule znode appeared, changed or went: emit the whole rule set when it differs from what was emitted. */
  private changed(): void {
    const dir = this.dir;
    if (!dir || !this.sink) return;
    const generation = this.session.generation;
    if (this.syncedIn !== generation && !(this.session.isConnected() && dir.complete())) return;
    const rules = dir.children().flatMap((child) => this.ruleOf(dir, child));
    const text = JSON.stringify(rules);
    const first = this.syncedIn === -1;
    if (this.syncedIn !== generation) {
      this.syncedIn = generation;
      this.health.ok();
      this.log.info('routing rules read', { source: this.name, rules: rules.length, znode: this.rulesPath });
    }
    if (this.settled()) this.health.clearError();
    this.health.set('rules', rules.length);
    if (text === this.lastEmitted) return;
    this.lastEmitted = text;
    this.sink({ kind: 'rules', rules });
    // The runner counts a source as ready at its first sync; rules contribute no services of their own.
    if (first) this.sink({ kind: 'sync', source: this.name, services: [] });
  }

  private ruleOf(dir: ZkDirectory, child: ZkChild): Rule[] {
    const id = ruleIdFromZnode(child.name);
    const znode = dir.childPath(child.name);
    if (id === null) {
      this.once.warnOnce('routing rule skipped', {
        source: this.name,
        znode,
        reason: 'the znode name does not decode to a service id',
      });
      return [];
    }
    try {
      return [this.decode(id, child.data)];
    } catch (e) {
      this.once.warnOnce('routing rule skipped', { source: this.name, znode, reason: messageOf(e) });
      return [];
    }
  }

  private settled(): boolean {
    return this.session.isConnected() && this.syncedIn === this.session.generation && !this.dir?.failing();
  }
}

function conflict(message: string): RuleStoreError {
  return new RuleStoreError('conflict', message);
}
