// The ZooKeeper rules source as a RuleStore: ZooKeeper's own errors come out
// in the store's vocabulary (conflict / corrupt / unavailable), cause kept.

import { expect } from 'chai';
import { silentLogger } from '../../src/log.js';
import { ZkError, type ZkSession } from '../../src/sources/zookeeper/client.js';
import { RulesSource } from '../../src/sources/zookeeper/rules.js';
import { RuleStoreError, type RuleStore } from '../../src/state/rule-store.js';

/** The few session calls a store call makes, each answering as the test says. */
function session(overrides: Partial<Record<keyof ZkSession, unknown>>): ZkSession {
  return {
    connect: '127.0.0.1:2181',
    isConnected: () => true,
    state: () => ({ state: 'disconnected', since: 0 }),
    ...overrides,
  } as unknown as ZkSession;
}

async function failure(call: Promise<unknown>): Promise<RuleStoreError> {
  try {
    await call;
  } catch (e) {
    if (e instanceof RuleStoreError) return e;
    throw new Error(`expected a RuleStoreError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected the call to fail');
}

describe('the ZooKeeper rules source as a RuleStore', () => {
  const store = (s: ZkSession): RuleStore => new RulesSource(s, '/switchyard/rules', silentLogger());

  it('is unavailable while its session is not connected, naming the ZooKeeper it waits for', async () => {
    const e = await failure(store(session({ isConnected: () => false })).get('web'));
    expect(e.failure).to.equal('unavailable');
    expect(e.message).to.match(/^zookeeper unavailable: zookeeper 127\.0\.0\.1:2181 is disconnected/);
    expect(e.cause).to.be.instanceOf(ZkError);
  });

  it('is unavailable when ZooKeeper fails a read, with ZooKeeper error as the cause', async () => {
    const zk = new ZkError('CONNECTION_LOSS', 'connection lost');
    const e = await failure(store(session({ getData: () => Promise.reject(zk) })).get('web'));
    expect(e.failure).to.equal('unavailable');
    expect(e.cause).to.equal(zk);
  });

  it('calls a znode that holds no valid rule corrupt, naming the znode', async () => {
    const getData = () => Promise.resolve({ data: Buffer.from('{"id":"web","mode":"udp"}'), version: 2 });
    const e = await failure(store(session({ getData })).get('web'));
    expect(e.failure).to.equal('corrupt');
    expect(e.message).to.contain('/switchyard/rules/web').and.contain('"mode"');
  });

  it('calls a write that lost the race (BAD_VERSION) a conflict', async () => {
    const setData = () => Promise.reject(new ZkError('BAD_VERSION', 'bad version'));
    const e = await failure(store(session({ setData })).put({ id: 'web' }, 3));
    expect(e.failure).to.equal('conflict');
    expect(e.message).to.equal('rule "web" is no longer at version 3');
  });
});
