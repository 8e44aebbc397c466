// A ZooKeeper directory's reads in-process, against a fake session whose
// answers the spec releases by hand and a clock it steps.

import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { ZkError, type ZkSession } from '../../src/sources/zookeeper/client.js';
import { ZkDirectory } from '../../src/sources/zookeeper/directory.js';
import { FakeClock, settle } from '../support/fake-clock.js';

/** A read the spec answers (or fails) when it likes. */
interface HeldRead<T> {
  readonly path: string;
  readonly answer: (value: T) => Promise<void>;
  readonly fail: (e: Error) => Promise<void>;
}

/** The session calls a directory makes; generations move when the spec says a new session started. */
class FakeSession extends EventEmitter {
  generation = 1;
  connected = true;
  readonly lists: HeldRead<string[]>[] = [];
  readonly data = new Map<string, string>();

  isConnected(): boolean {
    return this.connected;
  }

  getChildren(path: string): Promise<string[]> {
    return new Promise((resolve, reject) =>
      this.lists.push({
        path,
        answer: async (names) => (resolve(names), await settle()),
        fail: async (e) => (reject(e), await settle()),
      }),
    );
  }

  async getData(path: string): Promise<{ data: Buffer; version: number }> {
    const text = this.data.get(path);
    if (text === undefined) throw new ZkError('NO_NODE', path);
    return { data: Buffer.from(text), version: 0 };
  }

  /** The session expired and a new one connected: every watch and read of the old one is void. */
  newSession(): void {
    this.generation++;
    this.emit('connected', true);
  }

  /** The same session reconnected after a short loss. */
  reconnected(): void {
    this.emit('connected', false);
  }

  get nextList(): HeldRead<string[]> {
    const l = this.lists.shift();
    if (!l) throw new Error('no listing in flight');
    return l;
  }
}

function setup() {
  const session = new FakeSession();
  const clock = new FakeClock();
  const changes: string[][] = [];
  const errors: string[] = [];
  const dir = new ZkDirectory(session as unknown as ZkSession, '/nerve/services/web', {
    withData: true,
    missing: 'gone',
    onChange: (changed) => changes.push([...changed]),
    onError: (reason) => errors.push(reason),
    clock,
  });
  return { session, clock, changes, errors, dir };
}

describe('zookeeper directory', () => {
  it('drops what the old session answers after a new one started, and reads everything again', async () => {
    const { session, changes, dir } = setup();
    session.data.set('/nerve/services/web/i-2', '{"host":"10.0.0.2","port":80}');
    dir.start();
    const old = session.nextList;
    session.newSession();
    const fresh = session.nextList;
    await old.answer(['i-1']);
    expect(dir.names()).to.deep.equal([]);
    await fresh.answer(['i-2']);
    expect(dir.children().map((c) => c.name)).to.deep.equal(['i-2']);
    expect(dir.complete()).to.equal(true);
    expect(changes.flat()).to.deep.equal(['i-2']);
    dir.stop();
  });

  it('retries a failed read after 200 ms, then 400 ms, and at once when the session reconnects', async () => {
    const { session, clock, errors, dir } = setup();
    dir.start();
    await session.nextList.fail(new ZkError('CONNECTION_LOSS', 'connection lost'));
    expect(errors).to.deep.equal(['connection lost']);
    expect(dir.failing()).to.equal(true);
    expect(clock.pending()).to.deep.equal([200]);
    await clock.advance(200);
    await session.nextList.fail(new ZkError('CONNECTION_LOSS', 'connection lost'));
    expect(clock.pending()).to.deep.equal([400]);
    session.reconnected();
    expect(clock.pending()).to.deep.equal([]);
    await session.nextList.answer([]);
    expect(dir.failing()).to.equal(false);
    expect(dir.complete()).to.equal(true);
    dir.stop();
  });

  it('waits the longest delay after a refusal that asking again soon will not cure', async () => {
    const { session, clock, dir } = setup();
    dir.start();
    await session.nextList.fail(new ZkError('NO_AUTH', 'not authorized'));
    expect(clock.pending()).to.deep.equal([5000]);
    dir.stop();
    expect(clock.pending()).to.deep.equal([]);
  });
});
