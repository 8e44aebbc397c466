// The HTTP face under hostile and heavy clients, against `switchyard serve`
// in a process of its own following a Marathon double: readers that never
// read, readers that never stop, pipelined floods, oversized headers, and
// readers without the token. Throughout, the daemon lives, /health answers,
// RSS stays within a stated bound of idle, a Marathon change is still
// installed, and no secret (env values) reaches a reader without the token.

import { expect } from 'chai';
import { writeFileSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { startDaemonProcess, waitForStatus, watchHealth, type DaemonProcess } from '../support/daemon-process.js';
import { httpGet } from '../support/http.js';
import { MarathonDouble, type BulkApp } from '../support/marathon-double.js';
import { tempDir } from '../support/tmp.js';
import { eventually, sleep } from '../support/wait.js';

const TOKEN = 'bounded-http-token';
/** RSS a load may add to the idle daemon (after its first /api/state read), at most. */
const RSS_BOUND = 128 * 2 ** 20;
const TEMPLATE = '{{#each services}}{{id}}{{#each backends}} {{host}}:{{port}}{{/each}}\n{{/each}}';
const ENV_TEMPLATE = '{{#each apps}}{{id}} {{env.DB_PASSWORD}}\n{{/each}}';

/** `n` apps of 5 tasks each, every app with a secret in its env. */
function apps(n: number): BulkApp[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `/load/app-${String(i).padStart(4, '0')}`,
    instances: 5,
    portDefinitions: [{ port: 10_000 + i, protocol: 'tcp', name: 'http' }],
    env: { DB_PASSWORD: `pw-secret-${i}`, REGION: 'eu' },
    labels: { HAPROXY_GROUP: 'external' },
    tasks: Array.from({ length: 5 }, (_, t) => ({ host: `10.0.${t}.${(i % 250) + 1}` })),
  }));
}

async function start(
  marathon: string,
  dir: string,
  template: string,
  http: Record<string, unknown> = {},
): Promise<DaemonProcess> {
  writeFileSync(join(dir, 't.hbs'), template);
  const d = await startDaemonProcess(
    {
      marathon: { endpoints: [marathon] },
      targets: [{ name: 'list', template: 't.hbs', output: 'out.txt' }],
      reload: { quietMs: 0, maxDelayMs: 0 },
      http: { token: TOKEN, ...http },
    },
    dir,
  );
  await waitForStatus(d, 'ok', 60_000);
  return d;
}

/** A client that sends one request and then never reads: the socket paused from the start. */
function stalledClient(url: string, path: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect({ host: hostname, port: Number(port) }, () => {
      s.pause();
      s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      resolve(s);
    });
    s.on('error', reject);
  });
}

/** GETs `path` and reads the whole answer, keeping only its length: the reader's own cost stays small. */
function drain(url: string, headers: Record<string, string> = {}): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, headers: { connection: 'close', ...headers }, timeout: 60_000 }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no activity for 60 s')));
    req.on('error', reject);
  });
}

/** Reads `path` back to back until stopped; counts answers by status. */
function reader(url: string, path: string) {
  const counts = new Map<number, number>();
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const r = await drain(`${url}${path}`);
        counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
        if (r.status === 503) await sleep(200);
      } catch {
        counts.set(0, (counts.get(0) ?? 0) + 1);
        await sleep(200);
      }
    }
  })();
  return {
    counts,
    async stop() {
      running = false;
      await loop;
    },
  };
}

describe('bounded HTTP: 50 reading and 100 stalled /api/state clients at 5000 apps × 5 tasks', function () {
  this.timeout(240_000);
  const marathon = new MarathonDouble();
  const dir = tempDir('bounded-http-load-');
  let d: DaemonProcess;

  before(async function () {
    marathon.bulkLoad(apps(5000));
    d = await start(await marathon.start(), dir, TEMPLATE);
  });
  after(async function () {
    await d?.stop();
    await marathon.stop();
  });

  it('keeps /health answering and installs a Marathon change, within RSS_BOUND (128 MiB) of idle RSS', async function () {
    // One read first, so the idle figure includes the shared state body.
    expect((await httpGet(`${d.url}/api/state`, { timeoutMs: 60_000 })).status).to.equal(200);
    const idle = d.rss();
    const health = watchHealth(d);
    const stalled = await Promise.all(Array.from({ length: 100 }, () => stalledClient(d.url, '/api/state')));
    const readers = Array.from({ length: 50 }, () => reader(d.url, '/api/state'));
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, d.rss())), 100);
    try {
      await sleep(3000);
      marathon.addTask('/load/app-0042', { host: '10.9.9.9', ports: [31999] });
      await eventually(() => expect(readFileSync(join(dir, 'out.txt'), 'utf8')).to.include('10.9.9.9:31999'), {
        timeoutMs: 30_000,
        signal: d.exited,
        message: 'the Marathon change installed under load',
      });
      // Readers keep being served: by count, not by a time window, which a loaded machine would shrink.
      const fullReads = () => readers.reduce((n, r) => n + (r.counts.get(200) ?? 0), 0);
      await eventually(() => expect(fullReads(), 'readers were served').to.be.above(50), {
        timeoutMs: 120_000,
        signal: d.exited,
        message: 'more than 50 full reads',
      });
    } finally {
      clearInterval(sampler);
      for (const s of stalled) s.destroy();
      await Promise.all(readers.map((r) => r.stop()));
    }
    const w = await health.stop();
    const served = readers.reduce((n, r) => n + (r.counts.get(200) ?? 0), 0);
    process.stdout.write(
      `      idle RSS ${(idle / 2 ** 20).toFixed(0)} MiB, peak ${(peak / 2 ** 20).toFixed(0)} MiB; ` +
        `${served} full reads; /health answered ${w.answered}, worst ${w.worstMs.toFixed(0)} ms\n`,
    );
    expect(w.failed, w.firstError).to.equal(0);
    expect(peak - idle, 'RSS growth over idle').to.be.below(RSS_BOUND);
    expect(d.alive()).to.equal(true);
  });

  it('hangs up on a connection that pipelines past http.maxPipelined, without copying the state per request', async function () {
    const idle = d.rss();
    const { hostname, port } = new URL(d.url);
    const s = connect({ host: hostname, port: Number(port) });
    let bytes = 0;
    s.on('data', (c: Buffer) => (bytes += c.length));
    s.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => s.on('close', () => resolve()));
    s.write('GET /api/state HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(300));
    await closed;
    const one = (await drain(`${d.url}/api/state`)).bytes;
    expect(bytes, 'bytes received before the hang-up').to.be.below(17 * one);
    expect(d.rss() - idle).to.be.below(RSS_BOUND);
    await eventually(async () =>
      expect((await httpGet(`${d.url}/metrics`)).body).to.match(
        /switchyard_http_refused_total\{reason="pipelined"\} [1-9]/,
      ),
    );
    expect((await d.health()).status).to.equal(200);
  });

  it('answers 503 with Retry-After past http.maxStateReaders, and serves again once they are gone', async function () {
    const stalled = await Promise.all(Array.from({ length: 140 }, () => stalledClient(d.url, '/api/state')));
    try {
      await eventually(async () => {
        const r = await httpGet(`${d.url}/api/state`, { timeoutMs: 30_000 });
        expect(r.status).to.equal(503);
        expect(r.headers['retry-after']).to.equal('1');
        expect(JSON.parse(r.body).error).to.match(/http\.maxStateReaders/);
      });
    } finally {
      for (const s of stalled) s.destroy();
    }
    await eventually(async () =>
      expect((await httpGet(`${d.url}/api/state`, { timeoutMs: 30_000 })).status).to.equal(200),
    );
  });

  it('serves one shared body per snapshot version: the cache hits show on /metrics', async function () {
    for (let i = 0; i < 3; i++) await httpGet(`${d.url}/api/state`, { timeoutMs: 30_000 });
    await eventually(async () =>
      expect((await httpGet(`${d.url}/metrics`)).body).to.match(
        /switchyard_http_view_cache_lookups_total\{view="state",result="hit"\} [1-9]/,
      ),
    );
  });
});

describe('bounded HTTP: deadlines and header limits', function () {
  const marathon = new MarathonDouble();
  const dir = tempDir('bounded-http-limits-');
  let d: DaemonProcess;

  before(async function () {
    marathon.bulkLoad(apps(3));
    d = await start(await marathon.start(), dir, TEMPLATE, { clientTimeoutMs: 1000 });
  });
  after(async function () {
    await d?.stop();
    await marathon.stop();
  });

  it('hangs up on a client silent past http.clientTimeoutMs', async function () {
    const { hostname, port } = new URL(d.url);
    const s = connect({ host: hostname, port: Number(port) });
    s.on('error', () => undefined);
    await new Promise<void>((resolve) => s.on('close', () => resolve()));
    expect(s.destroyed).to.equal(true);
  });

  it('answers 431 to headers over http.maxHeaderBytes', async function () {
    const r = await new Promise<number>((resolve, reject) => {
      const req = get(`${d.url}/health`, { agent: false, headers: { 'x-big': 'a'.repeat(20_000) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
    });
    expect(r).to.equal(431);
    expect((await d.health()).status).to.equal(200);
  });
});

describe('bounded HTTP: env values and http.protectReads', function () {
  const marathon = new MarathonDouble();
  let url: string;

  before(async function () {
    marathon.bulkLoad(apps(3));
    url = await marathon.start();
  });
  after(() => marathon.stop());

  it('hides env values from a reader without the token, shows them to its bearer, and templates still see them', async function () {
    const dir = tempDir('bounded-http-env-');
    const d = await start(url, dir, ENV_TEMPLATE);
    try {
      const open = await httpGet(`${d.url}/api/state`);
      expect(open.status).to.equal(200);
      expect(open.body).to.not.include('pw-secret');
      const state = JSON.parse(open.body) as { apps: { env: Record<string, string> }[] };
      expect(state.apps[0]!.env).to.deep.equal({ DB_PASSWORD: '<hidden>', REGION: '<hidden>' });
      for (const path of ['/health', '/live', '/status', '/metrics', '/api/catalog/services', '/'])
        expect((await httpGet(`${d.url}${path}`)).body, path).to.not.include('pw-secret');
      const authed = await httpGet(`${d.url}/api/state`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(authed.body).to.include('pw-secret-0');
      expect(readFileSync(join(dir, 'out.txt'), 'utf8')).to.include('/load/app-0000 pw-secret-0');
    } finally {
      await d.stop();
    }
  });

  it('shows env values to every reader with http.exposeEnv', async function () {
    const d = await start(url, tempDir('bounded-http-expose-'), TEMPLATE, { exposeEnv: true });
    try {
      expect((await httpGet(`${d.url}/api/state`)).body).to.include('pw-secret-0');
    } finally {
      await d.stop();
    }
  });

  it('with http.protectReads, full-state reads need the token while /health, /live, /metrics and /status stay open', async function () {
    const d = await start(url, tempDir('bounded-http-protect-'), TEMPLATE, { protectReads: true });
    try {
      for (const path of ['/api/state', '/api/rules', '/api/catalog/services']) {
        const r = await httpGet(`${d.url}${path}`);
        expect(r.status, path).to.equal(401);
        expect(r.body).to.match(/http\.protectReads/);
      }
      for (const path of ['/health', '/readyz', '/live', '/healthz', '/metrics', '/status'])
        expect((await httpGet(`${d.url}${path}`)).status, path).to.equal(200);
      const authed = await httpGet(`${d.url}/api/state`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(authed.status).to.equal(200);
    } finally {
      await d.stop();
    }
  });
});
