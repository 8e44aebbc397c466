// The rules API in-process, against an in-memory RuleStore: the HTTP layer
// knows only the store's interface and its three failures, never ZooKeeper.

import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rulesRoutes } from '../../src/http/rules.js';
import { silentLogger } from '../../src/log.js';
import type { Rule } from '../../src/state/model.js';
import {
  RuleStoreError,
  type Expected,
  type RuleStore,
  type RuleStoreFailure,
  type VersionedRule,
} from '../../src/state/rule-store.js';

/** Rules in a map, versioned as ZooKeeper versions znodes; `failNext` makes the next call fail as a store may. */
class MemoryRuleStore implements RuleStore {
  readonly rules = new Map<string, VersionedRule>();
  failNext: RuleStoreFailure | null = null;

  async list(): Promise<VersionedRule[]> {
    this.maybeFail();
    return [...this.rules.values()].sort((a, b) => (a.rule.id < b.rule.id ? -1 : 1));
  }

  async get(id: string): Promise<VersionedRule | null> {
    this.maybeFail();
    return this.rules.get(id) ?? null;
  }

  async put(rule: Rule, expected: Expected = 'current'): Promise<VersionedRule & { created: boolean }> {
    this.maybeFail();
    const now = this.rules.get(rule.id);
    const at = expected === 'current' ? (now?.version ?? 'absent') : expected;
    if (at === 'absent' ? now !== undefined : now?.version !== at)
      throw new RuleStoreError('conflict', `rule ${rule.id} is not at ${at}`);
    const stored = { rule, version: now ? now.version + 1 : 0 };
    this.rules.set(rule.id, stored);
    return { ...stored, created: now === undefined };
  }

  async remove(id: string, expected?: number): Promise<boolean> {
    this.maybeFail();
    const now = this.rules.get(id);
    if (!now) return false;
    if (expected !== undefined && now.version !== expected)
      throw new RuleStoreError('conflict', `rule ${id} is not at ${expected}`);
    return this.rules.delete(id);
  }

  private maybeFail(): void {
    const failure = this.failNext;
    if (failure === null) return;
    this.failNext = null;
    throw new RuleStoreError(failure, `the store is ${failure}`, { cause: new Error('from the store itself') });
  }
}

describe('the rules API over a RuleStore', () => {
  let store: MemoryRuleStore;
  let server: Server;
  let base: string;

  beforeEach(async () => {
    store = new MemoryRuleStore();
    const [route] = rulesRoutes(store, 'secret', silentLogger());
    server = createServer((req, res) => {
      void (async () => {
        if (!(await route!(req, res, new URL(req.url ?? '/', 'http://switchyard')))) res.writeHead(404).end();
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: 'Bearer secret', 'content-type': 'application/json', ...headers },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, etag: res.headers.get('etag'), json: (await res.json()) as Record<string, unknown> };
  };

  it('creates a rule (201 with its version as ETag), then reads it back', async () => {
    const put = await call('PUT', '/api/rules/web', { id: 'web', balance: 'leastconn' });
    expect(put).to.include({ status: 201, etag: '"0"' });
    const got = await call('GET', '/api/rules/web');
    expect(got).to.deep.equal({ status: 200, etag: '"0"', json: { id: 'web', balance: 'leastconn' } });
  });

  it('answers a write at a version the rule is not at with 409, the store left as it was', async () => {
    await call('PUT', '/api/rules/web', { id: 'web' });
    const stale = await call('PUT', '/api/rules/web', { id: 'web', balance: 'first' }, { 'if-match': '"7"' });
    expect(stale.status).to.equal(409);
    expect(store.rules.get('web')).to.deep.equal({ rule: { id: 'web' }, version: 0 });
  });

  it('answers If-None-Match on an existing rule with 409', async () => {
    await call('PUT', '/api/rules/web', { id: 'web' });
    expect((await call('PUT', '/api/rules/web', { id: 'web' }, { 'if-none-match': '*' })).status).to.equal(409);
  });

  it('answers a corrupt stored rule with 500 and the store unavailable with 503, each with its message', async () => {
    store.failNext = 'corrupt';
    expect(await call('GET', '/api/rules/web')).to.deep.include({
      status: 500,
      json: { error: 'the store is corrupt' },
    });
    store.failNext = 'unavailable';
    expect(await call('GET', '/api/rules')).to.deep.include({
      status: 503,
      json: { error: 'the store is unavailable' },
    });
    store.failNext = 'unavailable';
    expect((await call('DELETE', '/api/rules/web')).status).to.equal(503);
  });

  it('refuses a write without the token before the store is asked', async () => {
    store.failNext = 'unavailable';
    const res = await call('PUT', '/api/rules/web', { id: 'web' }, { authorization: 'Bearer wrong' });
    expect(res.status).to.equal(401);
    expect(store.failNext).to.equal('unavailable');
  });

  it('speaks Bamboo over the same store: a map of id to {Id, Acl}', async () => {
    await call('PUT', '/api/rules/web', { id: 'web', balance: 'first' });
    expect(await call('GET', '/api/services')).to.deep.include({ status: 200, json: { web: { Id: 'web', Acl: '' } } });
  });
});
