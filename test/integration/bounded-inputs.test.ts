// Hostile inputs that are not registry values but their containers: request
// bodies to the write API and the registry file itself. Each is tried against
// `switchyard serve` in a process of its own, which must live through it, keep
// serving the healthy service and its last good state, keep /health answering,
// stay within a stated bound of its idle memory, name the offender, and show no
// secret text on any endpoint a reader without the token can reach.

import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import {
  startDaemonProcess,
  waitForStatus,
  watchHealth,
  type DaemonProcess,
  type HealthBody,
} from '../support/daemon-process.js';
import { httpGet } from '../support/http.js';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';
import { startZookeeper, type ZookeeperHandle } from '../support/zookeeper.js';
import zookeeper from 'node-zookeeper-client';

const TOKEN = 'bounded-inputs-token';
const SECRET = 'root:$6$Sup3rS3cretHash:19000:0:99999:7:::';
/** Memory a hostile input may add to the idle daemon, at most (the file limit is 16 MiB; one copy as bytes, one as text). */
const RSS_BOUND = 96 * 1024 * 1024;
const OPEN_ENDPOINTS = ['/health', '/live', '/status', '/metrics', '/api/state', '/'];

const TEMPLATE = '{{#each services}}{{id}}{{#each backends}} {{host}}:{{port}}{{/each}}\n{{/each}}';

interface Registry {
  services: { id: string; backends: { host: string; port: number }[] }[];
}

function registry(webPorts: number[], extra: Registry['services'] = []): Registry {
  return {
    services: [{ id: 'web', backends: webPorts.map((port) => ({ host: '127.0.0.1', port })) }, ...extra],
  };
}

/** A daemon on a file registry with one target writing a plain list of services and backends. */
class Fixture {
  readonly dir = tempDir('bounded-');
  readonly file = join(this.dir, 'registry.json');
  readonly output = join(this.dir, 'services.txt');
  d!: DaemonProcess;
  idleRss = 0;

  async start(extra: Record<string, unknown> = {}): Promise<void> {
    this.write(registry([9001, 9002, 9003, 9004]));
    writeFileSync(join(this.dir, 'services.txt.hbs'), TEMPLATE);
    this.d = await startDaemonProcess(
      {
        file: { path: 'registry.json' },
        targets: [{ name: 'list', template: 'services.txt.hbs', output: 'services.txt' }],
        reload: { quietMs: 0, maxDelayMs: 0 },
        guard: { maxDrop: 0.5, holdMs: 600_000 },
        http: { token: TOKEN },
        ...extra,
      },
      this.dir,
    );
    await waitForStatus(this.d, 'ok');
    this.idleRss = this.d.rss();
  }

  /** Replaces the registry as an editor or a ConfigMap update would: a new file renamed over the old path. */
  write(doc: unknown): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, typeof doc === 'string' ? doc : JSON.stringify(doc));
    renameSync(tmp, this.file);
  }

  /** Removes the registry file and waits for the daemon to see it gone, so that what comes next is a new file to it. */
  async remove(): Promise<void> {
    rmSync(this.file);
    await this.failing(/file removed; keeping the last good registry/);
  }

  installed(): string {
    return readFileSync(this.output, 'utf8');
  }

  /** Waits until the installed config lists `line`. */
  async installs(line: string): Promise<void> {
    await eventually(() => expect(this.installed()).to.include(line), {
      timeoutMs: 15_000,
      signal: this.d.exited,
      message: `config with "${line}" installed`,
    });
  }

  async failing(match: RegExp): Promise<HealthBody> {
    return eventually(
      async () => {
        const h = (await this.d.health()).body;
        const file = (h.sources as Record<string, { lastError: string | null }>).file!;
        expect(file.lastError ?? '').to.match(match);
        return h;
      },
      {
        timeoutMs: 15_000,
        signal: this.d.exited,
        message: `file source failing with ${match}; daemon said: ${this.d.output.text().slice(-3000)}`,
      },
    );
  }

  /** The daemon lives, within RSS_BOUND of idle, and still takes a good edit. */
  async stillServes(nextPort: number): Promise<void> {
    expect(this.d.alive(), 'daemon alive').to.equal(true);
    expect(this.d.rss() - this.idleRss, 'RSS growth over idle').to.be.below(RSS_BOUND);
    this.write(registry([9001, 9002, 9003, nextPort]));
    await this.installs(`web 127.0.0.1:9001 127.0.0.1:9002 127.0.0.1:9003 127.0.0.1:${nextPort}`);
    await waitForStatus(this.d, 'ok');
  }

  /** No endpoint open without the token carries `text`. */
  async nothingShows(text: string): Promise<void> {
    for (const path of OPEN_ENDPOINTS) {
      const r = await httpGet(`${this.d.url}${path}`);
      expect(r.body, `${path} without the token`).to.not.include(text);
    }
  }

  async stop(): Promise<void> {
    await this.d?.stop();
  }
}

/** A request with a body sent as given: Content-Length, or chunked (`chunks`), or none. */
function send(
  url: string,
  method: string,
  body: { text?: string | Buffer; chunks?: (string | Buffer)[] },
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const h: Record<string, string> = { 'content-type': 'application/json', connection: 'close', ...headers };
    if (body.text !== undefined) h['content-length'] = String(Buffer.byteLength(body.text));
    const req = request(url, { method, agent: false, headers: h }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body.chunks) for (const c of body.chunks) req.write(c);
    req.end(body.text);
  });
}

const auth = { authorization: `Bearer ${TOKEN}` };

describe('bounded inputs: write API bodies', function () {
  const f = new Fixture();
  let release: string;

  before(async function () {
    await f.start();
    release = `${f.d.url}/api/guard/release`;
    // web loses three of its four backends at once: the guard holds the drop.
    f.write(registry([9001]));
    await eventually(async () => expect((await f.d.health()).body.held).to.have.length(1), {
      signal: f.d.exited,
      message: 'drop held',
    });
  });
  after(() => f.stop());

  async function stillHeld(): Promise<void> {
    expect((await f.d.health()).body.held, 'the drop is still held').to.have.length(1);
    expect(f.installed()).to.include('web 127.0.0.1:9001 127.0.0.1:9002 127.0.0.1:9003 127.0.0.1:9004');
  }

  const refused: [string, { text?: string; chunks?: string[] }][] = [
    ['a chunked []', { chunks: ['[', ']'] }],
    ['[]', { text: '[]' }],
    ['null', { text: 'null' }],
    ['a string', { text: '"web"' }],
    ['"ids" as a string', { text: '{"ids":"web"}' }],
    ['"ids" of numbers', { text: '{"ids":[1]}' }],
    ['a misspelt key', { text: '{"idz":["web"]}' }],
    ['a body cut short', { text: '{"ids":["web"' }],
    ['a second document after the first', { text: '{"ids":["other"]} {}' }],
    ['a chunked second document', { chunks: ['{"ids":["other"]}', '\n{}'] }],
  ];
  for (const [what, body] of refused) {
    it(`a release body of ${what} is a 400 and releases nothing`, async function () {
      const r = await send(release, 'POST', body, auth);
      expect(r.status, r.body).to.equal(400);
      expect(JSON.parse(r.body).error).to.be.a('string').and.not.equal('internal error');
      await stillHeld();
    });
  }

  it('a body nested deeper than http.maxBodyDepth is a 400 naming the limit, not a 500', async function () {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    const r = await send(release, 'POST', { text: `{"ids":${deep}}` }, auth);
    expect(r.status, r.body).to.equal(400);
    expect(JSON.parse(r.body).error).to.match(/at most 32 levels/);
    await stillHeld();
  });

  it('a body over http.maxBodyBytes is a 413 the client reads, by Content-Length or chunked', async function () {
    const big = `{"ids":["${'x'.repeat(1024 * 1024)}"]}`;
    const declared = await send(release, 'POST', { text: big }, auth);
    expect(declared.status, declared.body).to.equal(413);
    expect(JSON.parse(declared.body).error).to.match(/over 65536 bytes \(http\.maxBodyBytes\)/);
    const chunked = await send(release, 'POST', { chunks: [big.slice(0, 500_000), big.slice(500_000)] }, auth);
    expect(chunked.status, chunked.body).to.equal(413);
    await stillHeld();
    expect(f.d.rss() - f.idleRss).to.be.below(RSS_BOUND);
  });

  it('a syntax error is answered with where and what was expected, quoting nothing of the body', async function () {
    const r = await send(release, 'POST', { text: `{"ids":[${SECRET}]}` }, auth);
    expect(r.status).to.equal(400);
    expect(JSON.parse(r.body).error).to.equal(
      'request body is not one JSON document: at line 1, column 9 (offset 8): expected a JSON value',
    );
    expect(r.body).to.not.include('Sup3r');
  });

  it('a chunked body naming the held service releases it', async function () {
    const r = await send(release, 'POST', { chunks: ['{"ids":', '["web"]}'] }, auth);
    expect(r.status, r.body).to.equal(200);
    expect(JSON.parse(r.body).released).to.deep.equal(['web']);
    await f.installs('web 127.0.0.1:9001\n');
    expect(f.d.alive()).to.equal(true);
  });
});

describe('bounded inputs: the registry file', function () {
  const f = new Fixture();
  let port = 9100;
  let health: ReturnType<typeof watchHealth>;

  before(async function () {
    await f.start();
    health = watchHealth(f.d);
  });
  after(async function () {
    await f.stop();
  });

  afterEach(async function () {
    await f.stillServes(++port);
  });

  it('a link to a 0600 file that is not JSON: /health names the file and the offset, quoting none of it', async function () {
    const secret = join(tempDir('bounded-secret-'), 'shadow');
    writeFileSync(secret, `${SECRET}\n`);
    chmodSync(secret, 0o600);
    await f.remove();
    symlinkSync(secret, f.file);
    const h = await f.failing(/not valid JSON at line 1, column 1 \(offset 0\): expected a JSON value/);
    expect(JSON.stringify(h)).to.include(f.file);
    await f.nothingShows('Sup3rS3cret');
    await f.nothingShows('19000:0:99999');
    expect(f.installed()).to.include('web 127.0.0.1:9001');
  });

  it('a link to a secret that is JSON of another shape: refused by shape, no value shown', async function () {
    const secret = join(tempDir('bounded-secret-'), 'credentials.json');
    writeFileSync(secret, JSON.stringify({ password: SECRET, services: 'Sup3rS3cret' }));
    chmodSync(secret, 0o600);
    await f.remove();
    symlinkSync(secret, f.file);
    await f.failing(/expected \{"services": \[\.\.\.\]\}/);
    await f.nothingShows('Sup3rS3cret');
  });

  it('a FIFO is refused without blocking, and the next edit is read', async function () {
    await f.remove();
    execFileSync('mkfifo', [f.file]);
    await f.failing(/not a regular file: a FIFO/);
    await f.remove();
  });

  it('a link to /dev/zero is refused without reading it', async function () {
    await f.remove();
    symlinkSync('/dev/zero', f.file);
    await f.failing(/not a regular file: it resolves to \/dev\/zero, a character device/);
    await f.remove();
  });

  it('a 200 MB file of "[" is refused by its size before it is read', async function () {
    const tmp = `${f.file}.big`;
    writeFileSync(tmp, Buffer.alloc(200 * 1024 * 1024, '['));
    renameSync(tmp, f.file);
    await f.failing(/larger than 16777216 bytes \(file\.maxBytes\)/);
  });

  it('a 12 MB file of "[" within the size limit is refused at the nesting limit', async function () {
    f.write('['.repeat(12 * 1024 * 1024));
    await f.failing(
      /at line 1, column 16385 \(offset 16384\): expected at most 16384 levels of nested arrays and objects/,
    );
  });

  it('a file that keeps its last good registry names the file in /health and the log', async function () {
    f.write('{"services": [');
    const h = await f.failing(/not valid JSON at line 1, column 15 \(offset 14\): expected a JSON value, not the end/);
    expect(h.status).to.equal('degraded');
    expect(h.failing).to.include('file');
    expect(f.installed()).to.include('web 127.0.0.1:9001');
    await eventually(() => expect(f.d.output.text()).to.include('registry file unusable'), { signal: f.d.exited });
  });

  it('two edits within 50 ms: the second is the one installed', async function () {
    f.write(registry([9001, 9002, 9003, 9201]));
    f.write(registry([9001, 9002, 9003, 9202]));
    await f.installs('web 127.0.0.1:9001 127.0.0.1:9002 127.0.0.1:9003 127.0.0.1:9202');
  });

  // Declared last, so it runs last: the poller has run through every case above.
  it('/health answered every poll throughout, and the daemon never exited', async function () {
    const w = await health.stop();
    expect(w.failed, w.firstError).to.equal(0);
    expect(w.answered).to.be.above(0);
    expect(f.d.alive()).to.equal(true);
  });
});

/** Creates znodes with raw data, parents first. */
function zkPut(connect: string, entries: [string, Buffer][]): Promise<void> {
  const client = zookeeper.createClient(connect, { sessionTimeout: 30_000, spinDelay: 100 });
  const call = (send: (cb: (e: unknown) => void) => void) =>
    new Promise<void>((resolve, reject) => send((e) => (e ? reject(e as Error) : resolve())));
  return new Promise<void>((resolve, reject) => {
    client.once('connected', () => {
      void (async () => {
        for (const [path, data] of entries) {
          await call((cb) => client.mkdirp(path.slice(0, path.lastIndexOf('/')), (e) => cb(e)));
          await call((cb) => client.create(path, data, (e) => cb(e)));
        }
      })().then(
        () => {
          client.close();
          resolve();
        },
        (e: Error) => {
          client.close();
          reject(e);
        },
      );
    });
    client.connect();
  });
}

describe('bounded inputs: ZooKeeper instance data', function () {
  let zk: ZookeeperHandle;
  let d: DaemonProcess;
  const dir = tempDir('bounded-zk-');

  before(async function () {
    zk = await startZookeeper();
  });
  after(async function () {
    await d?.stop();
    await zk?.stop();
  });

  it('skips an instance znode over zookeeper.maxNodeBytes, naming its path, and serves the other instances of its service', async function () {
    const big = Buffer.from(JSON.stringify({ host: '127.0.0.1', port: 9301, name: 'x'.repeat(100_000) }));
    await zkPut(zk.connect, [
      ['/bx/nerve/web/good', Buffer.from(JSON.stringify({ host: '127.0.0.1', port: 9300 }))],
      ['/bx/nerve/web/huge', big],
    ]);
    writeFileSync(join(dir, 'services.txt.hbs'), TEMPLATE);
    d = await startDaemonProcess(
      {
        zookeeper: { connect: zk.connect, registries: [{ path: '/bx/nerve', format: 'nerve' }] },
        targets: [{ name: 'list', template: 'services.txt.hbs', output: 'services.txt' }],
        reload: { quietMs: 0, maxDelayMs: 0 },
      },
      dir,
    );
    await waitForStatus(d, 'ok', 30_000);
    const out = readFileSync(join(dir, 'services.txt'), 'utf8');
    expect(out).to.include('web 127.0.0.1:9300\n');
    expect(out).to.not.include('9301');
    await eventually(
      () =>
        expect(d.output.text()).to.match(
          /"znode":"\/bx\/nerve\/web\/huge".*at most 65536 bytes \(zookeeper\.maxNodeBytes\)|at most 65536 bytes \(zookeeper\.maxNodeBytes\).*"znode":"\/bx\/nerve\/web\/huge"/,
        ),
      { signal: d.exited, message: 'the skipped znode logged' },
    );
  });
});
