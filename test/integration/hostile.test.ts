// Hostile registry values through every source, into one daemon rendering
// both default templates, beside known-good services. The proof is read from
// the rendered configs themselves: parsed the way HAProxy and nginx tokenize,
// their directive skeleton may differ from a baseline render (the same good
// services, none of the hostile ones) only in ways a legitimate value could
// make; haproxy -c and nginx -t pass; the good services still route through a
// real HAProxy and a real nginx; every value in the template data passes the
// reference schema; and every rejected value is logged naming where it came
// from.

import { expect } from 'chai';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import zookeeper from 'node-zookeeper-client';
import { helpers, HelperRefusal } from '../../src/render/helpers.js';
import { escapedId, safeName } from '../../src/render/names.js';
import { startBackends, type Backend } from '../support/backends.js';
import {
  blockId,
  compareSkeletons,
  parseHaproxy,
  parseNginx,
  plainAscii,
  subtree,
  templateConstants,
  type Directive,
  type Violation,
} from '../support/config-structure.js';
import { startHaproxy } from '../support/haproxy.js';
import {
  DEEP_ARRAYS,
  helperCorpus,
  hostileBytes,
  hostileNumbers,
  hostileStructures,
  hostileText,
  hostileWeights,
  hostTricks,
  jsonBytes,
  legit,
  pathTricks,
  prefixed,
  RawJson,
  shown,
  vhostTricks,
  type Hostile,
} from '../support/hostile.js';
import { countHits, httpGet } from '../support/http.js';
import { MarathonDouble } from '../support/marathon-double.js';
import { haproxyCheck } from '../support/haproxy.js';
import { nginxPrefix, nginxTest, startNginx } from '../support/nginx.js';
import { freePort } from '../support/ports.js';
import { startSwitchyard, type LogEntry, type SwitchyardHandle } from '../support/switchyard.js';
import { tempDir } from '../support/tmp.js';
import { eventually, sleep } from '../support/wait.js';
import { startZookeeper, type ZookeeperHandle } from '../support/zookeeper.js';

const repo = process.cwd();
// The default templates, copied once: the baseline and the hostile render must come from the same text.
const TEMPLATES = join(tempDir('hostile-templates-'), 'templates');
cpSync(join(repo, 'templates'), TEMPLATES, { recursive: true });
const HAPROXY_TEMPLATE = join(TEMPLATES, 'haproxy.cfg.hbs');
const NGINX_TEMPLATE = join(TEMPLATES, 'nginx.conf.hbs');
const NGINX_PARTIALS = readdirSync(join(TEMPLATES, 'partials'))
  .filter((f) => f.startsWith('nginx'))
  .map((f) => join(TEMPLATES, 'partials', f));
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';
const TOKEN = 'hostile-spec-token';
const ZK_ROOT = '/hx';

type Source = 'marathon' | 'marathon event' | 'zookeeper' | 'zookeeper rule' | 'file' | 'rules API';

/** One hostile value placed in one field of one source. */
interface Attempt {
  readonly n: number;
  readonly marker: string;
  readonly source: Source;
  readonly field: string;
  readonly hostile: Hostile;
  /** The reference schema takes the value as the source decodes it: it may pass, and needs no log line. */
  readonly legit: boolean;
  /** Text a log entry names this attempt's origin with (app id, znode path, request path, file entry). */
  readonly origin: string;
  /** The registry itself would not store it (ZooKeeper refused the znode, the HTTP client the request). */
  refused?: string;
  /** Status of a rules API request. */
  status?: number;
}

const INVALID = Symbol('not decodable');

/** Labels: absent, or an object whose every entry is a label name and a one-line value. */
function labelMap(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (typeof v !== 'object' || Array.isArray(v)) return false;
  return Object.entries(v as Record<string, unknown>).every(([k, x]) => legit.key(k) && legit.text(x));
}

/** The value as a source decodes it: RawJson bytes read as UTF-8 (lossy, as axios and readFile do; fatal, as the API and ZooKeeper formats do). */
function decoded(v: unknown, fatal: boolean): unknown {
  if (!(v instanceof RawJson)) return v;
  try {
    return JSON.parse(fatal ? new TextDecoder('utf-8', { fatal: true }).decode(v.bytes) : v.bytes.toString('utf8'));
  } catch {
    return INVALID;
  }
}

/** Marathon's canonical app id, as the double (and Marathon) store it. */
function canonicalId(id: string): string {
  return `/${id
    .split('/')
    .filter((p) => p !== '')
    .join('/')}`;
}

function call(
  method: string,
  url: string,
  body?: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method,
        agent: false,
        headers: {
          connection: 'close',
          ...(body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The test's own ZooKeeper writer: raw bytes, parents created, every call with a deadline. */
class ZkWriter {
  private constructor(private readonly client: zookeeper.Client) {}

  static async connect(connect: string): Promise<ZkWriter> {
    const client = zookeeper.createClient(connect, { sessionTimeout: 30_000, spinDelay: 100 });
    await new Promise<void>((resolve) => {
      client.once('connected', () => resolve());
      client.connect();
    });
    return new ZkWriter(client);
  }

  /** Creates (or overwrites) the znode; resolves to null, or to why ZooKeeper (or its client) refused. */
  async put(path: string, data: Buffer): Promise<string | null> {
    try {
      await this.call((cb) => this.client.mkdirp(path.slice(0, path.lastIndexOf('/')) || '/', (e) => cb(e)));
      await this.call((cb) => this.client.create(path, data, (e) => cb(e))).catch(async (e: { name?: string }) => {
        if (e.name !== 'NODE_EXISTS') throw e;
        await this.call((cb) => this.client.setData(path, data, -1, (e2) => cb(e2)));
      });
      return null;
    } catch (e) {
      return (e as Error).message || String(e);
    }
  }

  close(): void {
    this.client.close();
  }

  private call(send: (cb: (e: Error | zookeeper.Exception | null | undefined) => void) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('zookeeper call got no answer within 10 s')), 10_000);
      try {
        send((e) => {
          clearTimeout(timer);
          if (e) reject(e);
          else resolve();
        });
      } catch (e) {
        // The client validates paths itself and throws at once.
        clearTimeout(timer);
        reject(e);
      }
    });
  }
}

describe('hostile registry values are inert: every source, both default templates', function () {
  this.timeout(300_000);

  const attempts: Attempt[] = [];
  let zk: ZookeeperHandle;
  let zkw: ZkWriter;
  let marathon: MarathonDouble;
  let backends: Backend[];
  let sy: SwitchyardHandle;
  let dir: string;
  let prefix: string;
  let haproxyOut: string;
  let nginxOut: string;
  const ports: Record<string, number> = {};
  let P: number;
  let baseline: { haproxy: string; nginx: string };
  let hostile: { haproxy: string; nginx: string };
  let state: any;
  /** Services a proxy refused (or would have), left out of its config: absent by design. */
  let quarantined: readonly { service: string; target: string }[] = [];
  const goodIds: string[] = [];
  const throughByAttempt = new Map<number, Violation[]>();
  const unattributed: Violation[] = [];

  const attempt = (
    source: Source,
    field: string,
    hostileValue: Hostile,
    legitimate: boolean,
    origin: (marker: string) => string,
  ): Attempt => {
    const n = attempts.length + 1;
    const marker = `h${String(n).padStart(5, '0')}`;
    const a: Attempt = { n, marker, source, field, hostile: hostileValue, legit: legitimate, origin: origin(marker) };
    attempts.push(a);
    return a;
  };

  before(async function () {
    dir = tempDir('hostile-');
    prefix = nginxPrefix();
    haproxyOut = join(dir, 'haproxy.cfg');
    nginxOut = join(prefix, 'conf', 'nginx.conf');
    for (const name of ['hpHttp', 'ngHttp', 'web', 'tcp', 'file', 'rule', 'empty', 'tcpEmpty', 'bamboo', 'hostile'])
      ports[name] = await freePort();
    P = ports.hostile!;
    backends = await startBackends(['good-1', 'good-2', 'good-3']);
    const [b1, b2, b3] = backends as [Backend, Backend, Backend];
    zk = await startZookeeper();
    zkw = await ZkWriter.connect(zk.connect);
    marathon = new MarathonDouble({ keepAliveMs: 500 });
    const marathonUrl = await marathon.start();

    // ---- the known-good services: every feature of both templates, from every source ----
    const good = (id: string) => (goodIds.push(id), id);
    marathon.addApp({
      id: good('/good/web'),
      portDefinitions: [{ port: ports.web! }],
      labels: { HAPROXY_0_VHOST: 'good.example.com' },
      healthChecks: [{ protocol: 'HTTP', path: '/health', portIndex: 0 }],
    } as never);
    marathon.addTask('/good/web', { host: '127.0.0.1', ports: [b1.port], healthy: true });
    marathon.addTask('/good/web', { host: '127.0.0.1', ports: [b2.port], healthy: true });
    marathon.addTask('/good/web', { host: '127.0.0.1', ports: [b3.port], healthy: false });
    marathon.addApp({
      id: good('/good/api'),
      portDefinitions: [],
      labels: { HAPROXY_0_PATH: '/api/', HAPROXY_0_BALANCE: 'leastconn', HAPROXY_0_STICKY: 'true' },
    } as never);
    marathon.addTask('/good/api', { host: '127.0.0.1', ports: [b1.port] });
    marathon.addApp({
      id: good('/good/tcp'),
      portDefinitions: [{ port: ports.tcp! }],
      labels: { HAPROXY_0_MODE: 'tcp', HAPROXY_0_BALANCE: 'source', HAPROXY_0_STICKY: 'true' },
    } as never);
    marathon.addTask('/good/tcp', { host: '127.0.0.1', ports: [b3.port] });
    marathon.addApp({
      id: good('/good/wild'),
      portDefinitions: [],
      labels: { HAPROXY_0_VHOST: '*.wild.example.com', HAPROXY_0_BALANCE: 'uri' },
    } as never);
    marathon.addTask('/good/wild', { host: '127.0.0.1', ports: [b2.port] });
    const draining = marathon.addTask('/good/wild', { host: '127.0.0.1', ports: [b3.port] });
    marathon.setTaskState(draining, 'TASK_KILLING');
    marathon.addApp({
      id: good('/good/hp'),
      portDefinitions: [],
      labels: { HAPROXY_0_VHOST: 'good.example.com', HAPROXY_0_PATH: '/hp', HAPROXY_0_BALANCE: 'random' },
    } as never);
    marathon.addTask('/good/hp', { host: '127.0.0.1', ports: [b2.port] });
    marathon.addApp({ id: good('/good/empty'), portDefinitions: [{ port: ports.empty! }] } as never);
    // A check the proxy cannot run (COMMAND): an unhealthy task is a disabled server without a proxy-side check.
    marathon.addApp({
      id: good('/good/cmd'),
      portDefinitions: [],
      healthChecks: [{ protocol: 'COMMAND', command: { value: 'true' } }],
    } as never);
    marathon.addTask('/good/cmd', { host: '127.0.0.1', ports: [b1.port], healthy: false });
    marathon.addTask('/good/cmd', { host: '127.0.0.1', ports: [b2.port], healthy: true });
    marathon.addApp({
      id: good('/good/bamboo'),
      portDefinitions: [],
      env: { BAMBOO_TCP_PORT: String(ports.bamboo) },
    } as never);
    marathon.addTask('/good/bamboo', { host: '127.0.0.1', ports: [b3.port] });
    // The app hostile events are about: never a good service, since an accepted event value may land in it.
    marathon.addApp({ id: '/hostile/events', portDefinitions: [] } as never);
    marathon.addTask('/hostile/events', { host: '127.0.0.1', ports: [b1.port] });

    await zkw.put(
      `${ZK_ROOT}/nerve/${good('good-nerve')}/i1`,
      jsonBytes({ host: '127.0.0.1', port: b1.port, weight: 2, labels: { HAPROXY_0_VHOST: 'nerve.example.com' } }),
    );
    await zkw.put(
      `${ZK_ROOT}/curator/${good('good-curator')}/c1`,
      jsonBytes({ name: 'good-curator', id: 'c1', address: '127.0.0.1', port: b2.port }),
    );
    await zkw.put(
      `${ZK_ROOT}/serverset/${good('good-serverset')}/member_0000000001`,
      jsonBytes({ serviceEndpoint: { host: '127.0.0.1', port: b1.port }, status: 'ALIVE' }),
    );
    await zkw.put(`${ZK_ROOT}/nerve/${good('good-v6')}/i1`, jsonBytes({ host: '::1', port: 9 }));

    const goodFile = [
      {
        id: good('good-file'),
        servicePort: ports.file,
        labels: { HAPROXY_0_PATH: '/file' },
        backends: [
          { host: '127.0.0.1', port: b1.port, weight: 3 },
          { host: '127.0.0.1', port: b2.port, weight: 0 },
        ],
      },
      { id: good('good-rule'), backends: [{ host: '127.0.0.1', port: b3.port }] },
      { id: good('good-ruled'), backends: [{ host: '127.0.0.1', port: b2.port }] },
      { id: good('good-nobackend'), backends: [] },
      { id: good('good-tcp-empty'), servicePort: ports.tcpEmpty, labels: { HAPROXY_0_MODE: 'tcp' }, backends: [] },
    ];
    const registryFile = join(dir, 'registry.json');
    writeFileSync(registryFile, JSON.stringify({ services: goodFile }));

    sy = await startSwitchyard(
      {
        marathon: {
          endpoints: [marathonUrl],
          pollIntervalMs: 600_000,
          streamIdleTimeoutMs: 5000,
          requestTimeoutMs: 10_000,
        },
        zookeeper: {
          connect: zk.connect,
          registries: [
            { path: `${ZK_ROOT}/nerve`, format: 'nerve' },
            { path: `${ZK_ROOT}/curator`, format: 'curator' },
            { path: `${ZK_ROOT}/serverset`, format: 'serverset' },
          ],
          rulesPath: `${ZK_ROOT}/rules`,
        },
        file: { path: registryFile },
        targets: [
          {
            name: 'haproxy',
            template: HAPROXY_TEMPLATE,
            output: haproxyOut,
            validate: 'haproxy -c -f {{file}}',
            vars: { bind: '127.0.0.1', httpPort: ports.hpHttp, hardStopAfter: '1s' },
          },
          {
            name: 'nginx',
            template: NGINX_TEMPLATE,
            output: nginxOut,
            validate: `nginx -t -p ${prefix} -c {{file}}`,
            vars: { bind: '127.0.0.1', httpPort: ports.ngHttp, streamModule: STREAM_MODULE, workerProcesses: 1 },
          },
        ],
        reload: { quietMs: 200, maxDelayMs: 2000 },
        guard: { enabled: false },
        http: { listen: '127.0.0.1:0', token: TOKEN },
        log: { level: 'debug' },
      },
      dir,
      { captureLogs: true },
    );
    const put = (id: string, rule: unknown) =>
      call('PUT', `${sy.url}/api/rules/${encodeURIComponent(id)}`, Buffer.from(JSON.stringify(rule)), {
        authorization: `Bearer ${TOKEN}`,
      });
    await eventually(
      async () =>
        expect((await put('good-rule', { id: 'good-rule', acl: 'hdr(host) -i acl.example.com' })).status).to.be.oneOf([
          200, 201,
        ]),
      { timeoutMs: 20_000, message: 'rules API up' },
    );
    expect(
      (
        await put('good-ruled', {
          id: 'good-ruled',
          vhosts: ['rule.example.com'],
          paths: ['/r'],
          port: ports.rule,
          mode: 'http',
          balance: 'static-rr',
        })
      ).status,
    ).to.be.oneOf([200, 201]);
    await settle(
      ['good-ruled', 'good-nerve', 'good-serverset', 'good-curator', 'good-v6', '/good/web', 'good-tcp-empty'],
      (s) => s.services.find((x: any) => x.id === 'good-ruled')?.vhosts?.[0] === 'rule.example.com',
    );
    expect((await sy.health()).body.status).to.equal('ok');
    baseline = { haproxy: readFileSync(haproxyOut, 'utf8'), nginx: readFileSync(nginxOut, 'utf8') };

    // ---- the hostile inputs ----
    await injectMarathon(b1);
    await injectZookeeper(b1);
    const fileEntries = injectFile(b1, goodFile);
    writeFileSync(
      registryFile,
      Buffer.concat([
        Buffer.from('{"services":['),
        ...fileEntries.flatMap((e, i) => (i > 0 ? [Buffer.from(','), e] : [e])),
        Buffer.from(']}'),
      ]),
    );
    await injectRules();
    // Everything Marathon holds, once more through a full fetch (raw apps are only in lists).
    marathon.dropStreams('close');
    await settle(
      ['/zz/sentinel', 'zz-sentinel', 'zz-file-sentinel'],
      (s) => s.services.find((x: any) => x.id === 'zz-file-sentinel')?.vhosts?.[0] === 'sentinel.example.com',
    );
    hostile = { haproxy: readFileSync(haproxyOut, 'utf8'), nginx: readFileSync(nginxOut, 'utf8') };
    state = JSON.parse((await httpGet(`${sy.url}/api/state`, { timeoutMs: 30_000 })).body);
    quarantined = sy.daemon.runner.health().quarantined;
  });

  after(async () => {
    await sy?.stop();
    zkw?.close();
    await marathon?.stop();
    await zk?.stop();
    await Promise.all((backends ?? []).map((b) => b.close()));
    if (attempts.length > 0) report();
  });

  /** Waits until the state has these ids (and `extra` holds), then until it and both outputs stop changing for 2 s. */
  async function settle(ids: string[], extra: (s: any) => boolean = () => true): Promise<void> {
    await eventually(
      async () => {
        const s = JSON.parse((await httpGet(`${sy.url}/api/state`, { timeoutMs: 30_000 })).body);
        const have = new Set((s.services ?? []).map((x: { id: string }) => x.id));
        const missing = ids.filter((id) => !have.has(id));
        if (missing.length > 0 || !extra(s)) throw new Error(`waiting for ${missing.join(', ') || 'the state'}`);
      },
      { timeoutMs: 120_000, intervalMs: 250, message: 'state settled' },
    );
    let last = '';
    let failure: string | null = null;
    await eventually(
      async () => {
        const health = sy.daemon.runner.health();
        const targets = Object.values(health.targets);
        const failed = targets.find((t) => !t.ok && t.lastError);
        if (failed) {
          // Not worth waiting for: a config that fails its check is the finding.
          failure = `target ${failed.name} failed: ${failed.lastError}`;
          return;
        }
        const now = `${health.version}|${targets.map((t) => `${t.version}:${t.ok}`).join(',')}`;
        const same = now === last && targets.every((t) => t.version === health.version);
        last = now;
        if (!same) {
          await sleep(2000);
          throw new Error(`still changing: ${now}`);
        }
      },
      { timeoutMs: 180_000, intervalMs: 100, message: 'render settled' },
    );
    if (failure) throw new Error(failure);
  }

  // ---- Marathon ------------------------------------------------------------------------------

  async function injectMarathon(b1: Backend): Promise<void> {
    const appOrigin = (m: string) => `/hostile/${m}`;
    const P_ = String(P);
    // Typed string values through the double's own API: each app arrives by event and is fetched alone.
    const labelFields: Array<[string, string, (v: unknown) => boolean, Hostile[]]> = [
      ['HAPROXY_0_VHOST', 'h.example.com', legit.vhostList, vhostTricks()],
      ['HAPROXY_0_PATH', '/h', legit.path, [...pathTricks(), ...collidingPaths()]],
      ['HAPROXY_0_MODE', 'http', legit.mode, []],
      ['HAPROXY_0_PORT', P_, legit.portText, hostileNumbers(P).filter((h) => typeof h.value === 'string')],
      ['HAPROXY_0_BALANCE', 'leastconn', legit.balance, []],
      ['HAPROXY_GROUP', 'external', legit.text, []],
      ['HAPROXY_0_STICKY', 'true', legit.text, []],
      ['X_NOTE', 'note', legit.text, []],
    ];
    const addTyped = (
      field: string,
      h: Hostile,
      ok: boolean,
      app: (id: string) => Record<string, unknown>,
      task: (id: string) => Record<string, unknown> | null,
    ) => {
      const a = attempt('marathon', field, h, ok, appOrigin);
      const id = `/hostile/${a.marker}`;
      try {
        marathon.addApp(app(id) as never);
        const t = task(id);
        if (t) marathon.addTask(id, t as never);
      } catch (e) {
        a.refused = `the double refused it: ${(e as Error).message}`;
      }
    };
    const task = () => ({ host: '127.0.0.1', ports: [b1.port] });
    for (const [field, base, check, tricks] of labelFields) {
      for (const h of [...hostileText(base), ...tricks]) {
        addTyped(
          `labels.${field}`,
          h,
          legit.text(h.value) && check(h.value),
          (id) => ({ id, portDefinitions: [], labels: { [field]: h.value } }),
          task,
        );
      }
    }
    for (const h of hostileText('X_KEY'))
      addTyped(
        'label name',
        h,
        legit.key(h.value),
        (id) => ({ id, portDefinitions: [], labels: { [h.value as string]: 'v' } }),
        task,
      );
    for (const h of [...hostileText(P_), ...hostileNumbers(P).filter((x) => typeof x.value === 'string')]) {
      addTyped(
        'env.BAMBOO_TCP_PORT',
        h,
        legit.text(h.value) && legit.portText(h.value),
        (id) => ({ id, portDefinitions: [], env: { BAMBOO_TCP_PORT: h.value } }),
        task,
      );
    }
    for (const h of hostileText('value'))
      addTyped(
        'env.X_ENV',
        h,
        legit.text(h.value),
        (id) => ({ id, portDefinitions: [], env: { X_ENV: h.value } }),
        task,
      );
    for (const h of hostileText('X_ENV'))
      addTyped(
        'env name',
        h,
        legit.key(h.value),
        (id) => ({ id, portDefinitions: [], env: { [h.value as string]: 'v' } }),
        task,
      );
    for (const h of [...hostileText('127.0.0.1'), ...hostTricks()]) {
      addTyped(
        'tasks[].host',
        h,
        legit.host(h.value),
        (id) => ({ id, portDefinitions: [] }),
        () => ({ host: h.value, ports: [b1.port] }),
      );
    }
    for (const h of [...hostileText('/health'), ...pathTricks()]) {
      addTyped(
        'healthChecks[].path',
        h,
        legit.checkPath(h.value),
        (id) => ({ id, portDefinitions: [], healthChecks: [{ protocol: 'HTTP', path: h.value, portIndex: 0 }] }),
        () => ({ ...task(), healthy: true }),
      );
    }
    // An id that differs from a good one only in case: nginx compares upstream names without case.
    for (const id of ['/GOOD/WEB', '/Good/Api']) {
      const a = attempt('marathon', 'id (case twin)', { name: `case twin ${id}`, value: id }, true, () => id);
      marathon.addApp({ id, portDefinitions: [] } as never);
      marathon.addTask(id, { host: '127.0.0.1', ports: [b1.port] });
      void a;
    }
    // App ids: the hostile part after the marker, so the log line still names it.
    for (const h of hostileText('')) {
      const a = attempt('marathon', 'id', h, false, (m) => `/hostile/${m}`);
      const id = canonicalId(`/hostile/${a.marker}${h.value as string}`);
      (a as { legit: boolean }).legit = legit.id(id);
      try {
        marathon.addApp({ id, portDefinitions: [] } as never);
      } catch (e) {
        a.refused = `the double refused it: ${(e as Error).message}`;
      }
    }

    // Everything else as raw JSON in the app list: wrong types, deep nesting, prototype keys, bytes that are not UTF-8, numbers JSON.stringify cannot write.
    const rawTask = (m: string, extra: Record<string, unknown> = {}) => ({
      id: `hostile_${m}.t1`,
      host: '127.0.0.1',
      ports: [b1.port],
      state: 'TASK_RUNNING',
      startedAt: '2026-01-01T00:00:00.000Z',
      ...extra,
    });
    const raw = (
      field: string,
      h: Hostile,
      check: (v: unknown) => boolean,
      app: (m: string) => Record<string, unknown>,
    ) => {
      const a = attempt('marathon', field, h, check(decoded(h.value, false)), appOrigin);
      marathon.addRawApp(jsonBytes(app(a.marker)));
      return a;
    };
    const nonText = (base: string) => [
      ...hostileStructures(base),
      ...hostileBytes(base),
      { name: 'number 70000', value: 70000 },
    ];
    for (const [field, base, check] of labelFields) {
      for (const h of nonText(base))
        raw(
          `labels.${field}`,
          h,
          (v) => legit.text(v) && check(v),
          (m) => ({ id: `/hostile/${m}`, labels: { [field]: h.value }, tasks: [rawTask(m)] }),
        );
    }
    for (const h of nonText(P_))
      raw(
        'env.BAMBOO_TCP_PORT',
        h,
        (v) => legit.text(v) && legit.portText(v),
        (m) => ({ id: `/hostile/${m}`, env: { BAMBOO_TCP_PORT: h.value }, tasks: [rawTask(m)] }),
      );
    for (const h of nonText('value'))
      raw('env.X_ENV', h, legit.text, (m) => ({ id: `/hostile/${m}`, env: { X_ENV: h.value }, tasks: [rawTask(m)] }));
    for (const h of nonText('127.0.0.1'))
      raw('tasks[].host', h, legit.host, (m) => ({ id: `/hostile/${m}`, tasks: [rawTask(m, { host: h.value })] }));
    for (const h of nonText('/health'))
      raw(
        'healthChecks[].path',
        h,
        (v) => v === null || legit.checkPath(v),
        (m) => ({
          id: `/hostile/${m}`,
          healthChecks: [{ protocol: 'HTTP', path: h.value, portIndex: 0 }],
          tasks: [rawTask(m, { healthCheckResults: [{ alive: true }] })],
        }),
      );
    for (const h of [...hostileText('t1'), ...hostileStructures('t1'), ...hostileBytes('t1')]) {
      // The task id carries the marker too: the log names the app, and the id when it is a string.
      raw('tasks[].id', h, legit.backendId, (m) => ({ id: `/hostile/${m}`, tasks: [rawTask(m, { id: h.value })] }));
    }
    for (const h of [...hostileNumbers(P), ...hostileStructures(String(b1.port))]) {
      raw('tasks[].ports', h, legit.port, (m) => ({ id: `/hostile/${m}`, tasks: [rawTask(m, { ports: [h.value] })] }));
    }
    for (const h of [...hostileNumbers(P), ...hostileStructures(P_)]) {
      // 0 is Marathon's "no service port": legitimate, and nothing to log.
      raw(
        'portDefinitions[].port',
        h,
        (v) => legit.port(v) || v === 0 || v === null,
        (m) => ({ id: `/hostile/${m}`, portDefinitions: [{ port: h.value }], tasks: [rawTask(m)] }),
      );
    }
    for (const h of [...hostileStructures(''), ...hostileBytes('')]) {
      const a = attempt('marathon', 'id (raw)', h, false, (m) => `/hostile/${m}`);
      // Bytes keep the marker in the id; structures have no string to carry it, so the log can only name the value itself.
      if (!h.bytes) (a as { origin: string }).origin = '"field":"id"';
      marathon.addRawApp(jsonBytes({ id: prefixed(h, `/hostile/${a.marker}`), tasks: [rawTask(a.marker)] }));
    }
    // Whole apps of the wrong shape.
    // [name, app, log text naming it ('' = the app id), nothing to log (only a verdict or a kind is missing, which is no value)]
    const shapes: Array<[string, (m: string) => unknown, string, boolean]> = [
      // The streaming client hands over objects only: a scalar in the list is passed over (an array fails the whole answer: see the spec below).
      ['app is null', () => null, '', true],
      ['app is a number', () => 5, '', true],
      ['app is a string', () => 'app', '', true],
      [
        'app with a __proto__ key',
        (m) => RawJson.of(`{"__proto__":{"polluted":"yes"},"id":"/hostile/${m}","labels":{"__proto__":"x"}}`),
        '',
        false,
      ],
      ['tasks is a number', (m) => ({ id: `/hostile/${m}`, tasks: 5 }), '', false],
      ['a task is null', (m) => ({ id: `/hostile/${m}`, tasks: [null] }), '', false],
      [
        'a health check is null',
        (m) => ({ id: `/hostile/${m}`, healthChecks: [null], tasks: [rawTask(m)] }),
        '',
        false,
      ],
      [
        'health check protocol is an object',
        (m) => ({
          id: `/hostile/${m}`,
          healthChecks: [{ protocol: RawJson.of('{"toString":1}'), path: '/h' }],
          tasks: [rawTask(m)],
        }),
        '',
        true,
      ],
      [
        'portMappings is a string',
        (m) => ({ id: `/hostile/${m}`, container: { docker: { portMappings: 'x' } }, tasks: [rawTask(m)] }),
        '',
        false,
      ],
      [
        'portDefinitions is an object',
        (m) => ({ id: `/hostile/${m}`, portDefinitions: { a: 1 }, tasks: [rawTask(m)] }),
        '',
        false,
      ],
      ['ports is a string', (m) => ({ id: `/hostile/${m}`, ports: 'abc', tasks: [rawTask(m)] }), '', false],
      [
        'labels is an array',
        (m) => ({ id: `/hostile/${m}`, labels: ['HAPROXY_0_VHOST'], tasks: [rawTask(m)] }),
        '',
        false,
      ],
      ['env is a string', (m) => ({ id: `/hostile/${m}`, env: 'BAMBOO_TCP_PORT=1', tasks: [rawTask(m)] }), '', false],
      ['labels nested too deep', (m) => ({ id: `/hostile/${m}`, labels: DEEP_ARRAYS, tasks: [rawTask(m)] }), '', false],
      [
        'healthCheckResults nested too deep',
        (m) => ({
          id: `/hostile/${m}`,
          healthChecks: [{ protocol: 'HTTP', path: '/h' }],
          tasks: [rawTask(m, { healthCheckResults: DEEP_ARRAYS })],
        }),
        '',
        true,
      ],
    ];
    for (const [name, app, origin, quiet] of shapes) {
      const a = attempt('marathon', 'app shape', { name, value: null }, quiet, appOrigin);
      if (origin) (a as { origin: string }).origin = origin;
      marathon.addRawApp(jsonBytes(app(a.marker)));
    }

    // Events: malformed values in the fields an event carries, about an app Switchyard knows.
    await eventually(() => expect(marathon.streamCount()).to.be.greaterThan(0), { message: 'stream attached' });
    for (const h of [...hostileText('127.0.0.1'), ...hostTricks()]) {
      const a = attempt(
        'marathon event',
        'status_update_event.host',
        h,
        legit.host(h.value),
        (m) => `hostile_events.${m}`,
      );
      marathon.publishRaw(
        'status_update_event',
        jsonBytes({
          eventType: 'status_update_event',
          appId: '/hostile/events',
          taskId: `hostile_events.${a.marker}`,
          taskStatus: 'TASK_RUNNING',
          host: h.value,
          ports: [b1.port],
        }),
      );
    }
    for (const h of hostileText('hostile_events.x')) {
      const a = attempt('marathon event', 'status_update_event.taskId', h, false, (m) => `hostile_events.${m}`);
      const id = `hostile_events.${a.marker}${h.value as string}`;
      (a as { legit: boolean }).legit = legit.backendId(id);
      marathon.publishRaw(
        'status_update_event',
        jsonBytes({
          eventType: 'status_update_event',
          appId: '/hostile/events',
          taskId: id,
          taskStatus: 'TASK_RUNNING',
          host: '127.0.0.1',
          ports: [b1.port],
        }),
      );
    }
    for (const h of [...hostileNumbers(P), ...hostileStructures(String(b1.port))]) {
      const a = attempt('marathon event', 'status_update_event.ports', h, false, (m) => `hostile_events.${m}`);
      (a as { legit: boolean }).legit = legit.port(decoded(h.value, false));
      marathon.publishRaw(
        'status_update_event',
        jsonBytes({
          eventType: 'status_update_event',
          appId: '/hostile/events',
          taskId: `hostile_events.${a.marker}`,
          taskStatus: 'TASK_RUNNING',
          host: '127.0.0.1',
          ports: [h.value],
        }),
      );
    }
    // Events whose every field is of the wrong type, or that name no app: nothing to reject, nothing may break.
    for (const h of [...hostileStructures('x'), ...hostileText('/hostile/none')]) {
      const a = attempt('marathon event', 'any event field', h, true, () => '');
      for (const type of [
        'status_update_event',
        'health_status_changed_event',
        'api_post_event',
        'app_terminated_event',
        'deployment_success',
      ]) {
        marathon.publishRaw(
          type,
          jsonBytes({
            eventType: type,
            appId: h.value,
            taskId: h.value,
            instanceId: h.value,
            alive: h.value,
            taskStatus: h.value,
            appDefinition: { id: h.value },
            plan: { steps: [{ actions: [{ app: h.value }] }] },
          }),
        );
      }
      void a;
    }
    marathon.publishRaw('status_update_event', Buffer.from('{"not json'));
    marathon.publishRaw('status_update_event', DEEP_ARRAYS.bytes);
    // The events' logs are checked at the end; the resync that follows will drop what they added.
    await eventually(
      () => {
        const last = attempts
          .filter((x) => x.source === 'marathon event' && !x.legit && x.field !== 'any event field')
          .at(-1)!;
        if (!sy.logs.some((e) => JSON.stringify(e).includes(last.marker))) throw new Error('events not handled yet');
      },
      { timeoutMs: 30_000, message: 'hostile events handled' },
    );
    marathon.addRawApp(jsonBytes({ id: '/zz/sentinel', tasks: [rawTask('sentinel')] }));
  }

  // ---- ZooKeeper ------------------------------------------------------------------------------

  async function injectZookeeper(b1: Backend): Promise<void> {
    const writes: Array<Promise<void>> = [];
    const znode = (a: Attempt, path: string, data: Buffer) => {
      writes.push(
        zkw.put(path, data).then((refused) => {
          if (refused) a.refused = `zookeeper: ${refused}`;
        }),
      );
    };
    const nerveBase = () => ({ host: '127.0.0.1', port: b1.port });
    const inst = (
      registry: string,
      fields: (h: unknown) => Record<string, unknown>,
      field: string,
      list: Hostile[],
      check: (v: unknown) => boolean,
    ) => {
      for (const h of list) {
        const a = attempt(
          'zookeeper',
          `${registry} ${field}`,
          h,
          check(decoded(h.value, true)),
          (m) => `${ZK_ROOT}/${registry}/${m}`,
        );
        const path = `${ZK_ROOT}/${registry}/${a.marker}/i1`;
        znode(a, path, jsonBytes(fields(h.value)));
      }
    };
    const all = (base: string, tricks: Hostile[] = []) => [
      ...hostileText(base),
      ...tricks,
      ...hostileStructures(base),
      ...hostileBytes(base),
    ];
    const nums = (base: number) => [
      ...hostileNumbers(base),
      ...hostileStructures(String(base)),
      ...hostileBytes(String(base)),
      ...hostileText(String(base)),
    ];
    // A ZooKeeper service's routing labels (nerve carries them).
    const labelFields: Array<[string, string, (v: unknown) => boolean, Hostile[]]> = [
      ['HAPROXY_0_VHOST', 'h.example.com', legit.vhostList, vhostTricks()],
      ['HAPROXY_0_PATH', '/h', legit.path, pathTricks()],
      ['HAPROXY_0_MODE', 'http', legit.mode, []],
      ['HAPROXY_0_PORT', String(P), legit.portText, hostileNumbers(P).filter((h) => typeof h.value === 'string')],
      ['HAPROXY_0_BALANCE', 'source', legit.balance, []],
      ['X_NOTE', 'note', legit.text, []],
    ];
    inst('nerve', (v) => ({ ...nerveBase(), host: v }), 'host', all('127.0.0.1', hostTricks()), legit.host);
    inst('nerve', (v) => ({ ...nerveBase(), port: v }), 'port', nums(P), legit.portText);
    inst(
      'nerve',
      (v) => ({ ...nerveBase(), weight: v }),
      'weight',
      [...hostileWeights(), ...hostileStructures('1'), ...hostileText('1')],
      (v) => legit.weight(v) || v === null,
    );
    inst('nerve', (v) => ({ ...nerveBase(), name: v }), 'name', all('web'), legit.ignored);
    for (const [field, base, check, tricks] of labelFields) {
      inst(
        'nerve',
        (v) => ({ ...nerveBase(), labels: { [field]: v } }),
        `labels.${field}`,
        all(base, tricks),
        (v) => legit.text(v) && check(v),
      );
    }
    inst(
      'nerve',
      (v) => ({ ...nerveBase(), labels: v }),
      'labels',
      [...hostileStructures('x'), { name: 'string', value: 'HAPROXY_0_VHOST=x' }],
      labelMap,
    );
    for (const h of hostileText('X_KEY')) {
      const a = attempt('zookeeper', 'nerve label name', h, legit.key(h.value), (m) => `${ZK_ROOT}/nerve/${m}`);
      znode(
        a,
        `${ZK_ROOT}/nerve/${a.marker}/i1`,
        Buffer.concat([
          Buffer.from(`{"host":"127.0.0.1","port":${b1.port},"labels":{`),
          Buffer.from(JSON.stringify(h.value)),
          Buffer.from(':"v"}}'),
        ]),
      );
    }
    inst(
      'curator',
      (v) => ({ name: 'svc', id: 'c1', address: v, port: b1.port }),
      'address',
      all('127.0.0.1', hostTricks()),
      legit.host,
    );
    inst('curator', (v) => ({ name: 'svc', id: 'c1', address: '127.0.0.1', port: v }), 'port', nums(P), legit.portText);
    for (const f of ['name', 'id', 'payload', 'sslPort', 'enabled']) {
      inst(
        'curator',
        (v) => ({ name: 'svc', id: 'c1', address: '127.0.0.1', port: b1.port, [f]: v }),
        f,
        all('x'),
        (v) => f !== 'enabled' || v !== false,
      );
    }
    inst(
      'serverset',
      (v) => ({ serviceEndpoint: { host: v, port: b1.port }, status: 'ALIVE' }),
      'serviceEndpoint.host',
      all('127.0.0.1', hostTricks()),
      legit.host,
    );
    inst(
      'serverset',
      (v) => ({ serviceEndpoint: { host: '127.0.0.1', port: v }, status: 'ALIVE' }),
      'serviceEndpoint.port',
      nums(P),
      legit.portText,
    );
    // A status other than ALIVE is an instance not taking traffic (logged at debug), not an error.
    inst(
      'serverset',
      (v) => ({ serviceEndpoint: { host: '127.0.0.1', port: b1.port }, status: v }),
      'status',
      all('ALIVE'),
      (v) => v === 'ALIVE',
    );
    inst(
      'serverset',
      (v) => ({ serviceEndpoint: { host: '127.0.0.1', port: b1.port }, status: 'ALIVE', additionalEndpoints: v }),
      'additionalEndpoints',
      all('x'),
      legit.ignored,
    );
    inst(
      'serverset',
      (v) => ({ serviceEndpoint: v, status: 'ALIVE' }),
      'serviceEndpoint',
      hostileStructures('127.0.0.1'),
      () => false,
    );
    // Whole znode data that is not an instance at all.
    const datas: Hostile[] = [
      { name: 'not JSON', value: RawJson.of('{"host": "127.0.0.1", "port": ') },
      { name: 'empty', value: RawJson.of('') },
      { name: 'JSON null', value: RawJson.of('null') },
      { name: 'JSON array', value: RawJson.of('[]') },
      { name: '10 000 nested arrays', value: DEEP_ARRAYS },
      { name: '__proto__ instance', value: RawJson.of(`{"__proto__":{"host":"127.0.0.1","port":${b1.port}}}`) },
      {
        name: 'bytes that are not UTF-8',
        value: RawJson.of(
          Buffer.concat([
            Buffer.from(`{"host":"127.0.0.1","port":${b1.port},"labels":{"X":"`),
            Buffer.from([0xc0, 0x8a]),
            Buffer.from('"}}'),
          ]),
        ),
      },
      {
        name: 'a 1 MB-ish blob',
        value: RawJson.of(`{"host":"127.0.0.1","port":${b1.port},"name":"${'x'.repeat(500_000)}"}`),
      },
    ];
    for (const registry of ['nerve', 'curator', 'serverset']) {
      for (const h of datas) {
        const a = attempt('zookeeper', `${registry} znode data`, h, false, (m) => `${ZK_ROOT}/${registry}/${m}`);
        // A nerve instance is fine with a long name it never reads.
        if (h.name.includes('blob') && registry === 'nerve') (a as { legit: boolean }).legit = true;
        znode(a, `${ZK_ROOT}/${registry}/${a.marker}/i1`, (h.value as RawJson).bytes);
      }
    }
    // Znode names: a service znode's name is the service id; an instance znode's name is never printed.
    for (const h of hostileText('')) {
      const a = attempt('zookeeper', 'service znode name', h, false, (m) => `${ZK_ROOT}/nerve/${m}`);
      const name = `${a.marker}${h.value as string}`;
      (a as { legit: boolean }).legit = legit.id(name) && !name.includes('/');
      znode(a, `${ZK_ROOT}/nerve/${name}/i1`, jsonBytes(nerveBase()));
    }
    for (const h of hostileText('i')) {
      const a = attempt('zookeeper', 'instance znode name', h, true, (m) => `${ZK_ROOT}/nerve/${m}`);
      znode(a, `${ZK_ROOT}/nerve/${a.marker}/${h.value as string}`, jsonBytes(nerveBase()));
    }
    // Rules written straight into ZooKeeper, past the API's checks.
    for (const h of hostileText('')) {
      const a = attempt('zookeeper rule', 'rule znode name', h, false, (m) => `${ZK_ROOT}/rules/${m}`);
      const name = `${a.marker}${h.value as string}`;
      let id: string | null;
      try {
        id = decodeURIComponent(name);
      } catch {
        id = null;
      }
      (a as { legit: boolean }).legit = id !== null && legit.id(id) && id !== '.';
      znode(a, `${ZK_ROOT}/rules/${name}`, jsonBytes({ id: id ?? name, vhosts: ['zkrule.example.com'] }));
    }
    const ruleFields: Array<[string, (v: unknown) => unknown, Hostile[], (v: unknown) => boolean]> = [
      ['vhosts', (v) => [v], [...hostileText('r.example.com'), ...vhostTricks()], legit.vhost],
      ['paths', (v) => [v], [...hostileText('/r'), ...pathTricks()], legit.path],
      ['acl', (v) => v, hostileText('hdr(host) -i r.example.com'), legit.acl],
      ['port', (v) => v, hostileNumbers(P), legit.port],
    ];
    for (const [field, wrap, list, check] of ruleFields) {
      for (const h of [...list, ...hostileStructures('x'), ...hostileBytes('x')]) {
        const v = decoded(h.value, false);
        const a = attempt(
          'zookeeper rule',
          `rule ${field}`,
          h,
          (v === null && field !== 'vhosts' && field !== 'paths') || check(v),
          (m) => `${ZK_ROOT}/rules/${m}`,
        );
        znode(a, `${ZK_ROOT}/rules/${a.marker}`, jsonBytes({ id: a.marker, [field]: wrap(h.value) }));
      }
    }
    await Promise.all(writes);
    await zkw.put(`${ZK_ROOT}/nerve/zz-sentinel/i1`, jsonBytes(nerveBase()));
  }

  // ---- the file registry ----------------------------------------------------------------------

  function injectFile(b1: Backend, goodEntries: unknown[]): Buffer[] {
    const entries: Buffer[] = goodEntries.map((e) => jsonBytes(e));
    const entry = (field: string, h: Hostile, check: (v: unknown) => boolean, build: (m: string) => unknown) => {
      const i = entries.length;
      const a = attempt('file', field, h, check(decoded(h.value, false)), () => `services[${i}]`);
      entries.push(jsonBytes(build(a.marker)));
      return a;
    };
    const backend = { host: '127.0.0.1', port: b1.port };
    const all = (base: string, tricks: Hostile[] = []) => [
      ...hostileText(base),
      ...tricks,
      ...hostileStructures(base),
      ...hostileBytes(base),
    ];
    for (const id of ['GOOD-FILE', 'Good-Nobackend']) {
      attempt('file', 'id (case twin)', { name: `case twin ${id}`, value: id }, true, () => id);
      entries.push(jsonBytes({ id, backends: [backend] }));
    }
    for (const h of all('')) {
      const i = entries.length;
      const a = attempt('file', 'id', h, false, () => `services[${i}]`);
      const id = prefixed(h, a.marker);
      (a as { legit: boolean }).legit = legit.id(decoded(id, false));
      entries.push(jsonBytes({ id, backends: [backend] }));
    }
    for (const h of [
      ...hostileNumbers(P),
      ...hostileStructures(String(P)),
      ...hostileBytes(String(P)),
      ...hostileText(String(P)),
    ]) {
      entry(
        'servicePort',
        h,
        (v) => legit.portText(v) || v === null,
        (m) => ({ id: m, servicePort: h.value, backends: [backend] }),
      );
    }
    const labelFields: Array<[string, string, (v: unknown) => boolean, Hostile[]]> = [
      ['HAPROXY_0_VHOST', 'h.example.com', legit.vhostList, vhostTricks()],
      ['HAPROXY_0_PATH', '/h', legit.path, pathTricks()],
      ['HAPROXY_0_MODE', 'http', legit.mode, []],
      ['HAPROXY_0_PORT', String(P), legit.portText, hostileNumbers(P).filter((h) => typeof h.value === 'string')],
      ['HAPROXY_0_BALANCE', 'uri', legit.balance, []],
      ['X_NOTE', 'note', legit.text, []],
    ];
    for (const [field, base, check, tricks] of labelFields) {
      for (const h of all(base, tricks))
        entry(
          `labels.${field}`,
          h,
          (v) => legit.text(v) && check(v),
          (m) => ({ id: m, labels: { [field]: h.value }, backends: [backend] }),
        );
    }
    for (const h of hostileText('X_KEY')) {
      const i = entries.length;
      const a = attempt('file', 'label name', h, legit.key(h.value), () => `services[${i}]`);
      entries.push(
        Buffer.concat([
          Buffer.from(`{"id":"${a.marker}","labels":{`),
          Buffer.from(JSON.stringify(h.value)),
          Buffer.from(`:"v"},"backends":[${JSON.stringify(backend)}]}`),
        ]),
      );
    }
    for (const h of [...hostileStructures('x'), { name: 'string', value: 'HAPROXY_0_VHOST=x' }])
      entry('labels', h, labelMap, (m) => ({ id: m, labels: h.value, backends: [backend] }));
    for (const h of all('127.0.0.1', hostTricks()))
      entry('backends[].host', h, legit.host, (m) => ({ id: m, backends: [{ ...backend, host: h.value }] }));
    for (const h of [...hostileNumbers(P), ...hostileStructures(String(P)), ...hostileText(String(P))])
      entry('backends[].port', h, legit.port, (m) => ({ id: m, backends: [{ ...backend, port: h.value }] }));
    for (const h of [...hostileWeights(), ...hostileStructures('1'), ...hostileText('1')])
      entry('backends[].weight', h, legit.weight, (m) => ({ id: m, backends: [{ ...backend, weight: h.value }] }));
    for (const h of all('b1'))
      entry('backends[].id', h, legit.backendId, (m) => ({ id: m, backends: [{ ...backend, id: h.value }] }));
    for (const h of [...hostileStructures('x'), { name: 'string', value: 'x' }])
      entry(
        'backends',
        h,
        (v) => v === null,
        (m) => ({ id: m, backends: h.value }),
      );
    for (const h of [...hostileStructures('x'), { name: 'number', value: 5 }, { name: 'string', value: 'x' }])
      entry(
        'entry',
        h,
        () => false,
        () => h.value,
      );
    // Targets of the rule attempts, so a rule that passes has a service to act on.
    for (const a of attempts.filter((x) => x.source === 'zookeeper rule' && x.field.startsWith('rule ')))
      entries.push(jsonBytes({ id: a.marker, backends: [backend] }));
    entries.push(jsonBytes({ id: 'zz-file-sentinel', backends: [backend] }));
    return entries;
  }

  // ---- the rules API --------------------------------------------------------------------------

  async function injectRules(): Promise<void> {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const targets: string[] = [];
    const send = async (a: Attempt, method: string, path: string, body: Buffer | undefined) => {
      try {
        a.status = (await call(method, `${sy.url}${path}`, body, auth)).status;
      } catch (e) {
        a.refused = `HTTP client: ${(e as Error).message}`;
      }
    };
    const fields: Array<[string, (v: unknown) => unknown, Hostile[], (v: unknown) => boolean]> = [
      ['vhosts', (v) => [v], [...hostileText('r.example.com'), ...vhostTricks()], legit.vhost],
      ['paths', (v) => [v], [...hostileText('/r'), ...pathTricks()], legit.path],
      ['port', (v) => v, [...hostileNumbers(P), ...hostileText(String(P))], legit.port],
      ['mode', (v) => v, hostileText('tcp'), legit.mode],
      ['balance', (v) => v, hostileText('first'), legit.balance],
      ['acl', (v) => v, [...hostileText('hdr(host) -i r.example.com'), ...aclTricks()], legit.acl],
    ];
    // A null field counts as left out (the contract), which is legitimate; a null inside a list is not.
    for (const f of fields) {
      const check = f[3];
      if (f[0] !== 'vhosts' && f[0] !== 'paths') f[3] = (v) => v === null || check(v);
    }
    for (const [field, wrap, list, check] of fields) {
      for (const h of [...list, ...hostileStructures('x'), ...hostileBytes('x')]) {
        const a = attempt('rules API', field, h, check(decoded(h.value, true)), (m) => `/api/rules/${m}`);
        targets.push(a.marker);
        await send(a, 'PUT', `/api/rules/${a.marker}`, jsonBytes({ id: a.marker, [field]: wrap(h.value) }));
      }
    }
    for (const h of [...hostileText(''), ...hostileStructures('')]) {
      const a = attempt('rules API', 'id in the URL', h, false, (m) => `/api/rules/${m}`);
      const id = typeof h.value === 'string' ? `${a.marker}${h.value}` : a.marker;
      (a as { legit: boolean }).legit = typeof h.value === 'string' && legit.id(id) && id !== '.';
      await send(
        a,
        'PUT',
        `/api/rules/${encodeURIComponent(id)}`,
        jsonBytes({ id: typeof h.value === 'string' ? id : h.value }),
      );
    }
    for (const h of [...hostileText('hdr(host) -i b.example.com'), ...hostileStructures('x'), ...hostileBytes('x')]) {
      // Bamboo's empty (or null) acl means none.
      const v = decoded(h.value, true);
      const a = attempt(
        'rules API',
        'Bamboo /api/services acl',
        h,
        legit.acl(v) || v === null || v === '',
        (m) => `/api/services/${m}`,
      );
      targets.push(a.marker);
      await send(a, 'PUT', `/api/services/${a.marker}`, jsonBytes({ id: a.marker, acl: h.value }));
    }
    const bodies: Hostile[] = [
      {
        name: 'bytes that are not UTF-8',
        value: RawJson.of(
          Buffer.concat([Buffer.from('{"id":"x","vhosts":["a'), Buffer.from([0xff]), Buffer.from('.example.com"]}')]),
        ),
      },
      { name: 'not JSON', value: RawJson.of('{"id": "x", "vhosts": [') },
      { name: '10 000 nested arrays', value: DEEP_ARRAYS },
      { name: '__proto__ key', value: RawJson.of('{"id":"x","__proto__":{"acl":"always_true"}}') },
      { name: 'constructor key', value: RawJson.of('{"id":"x","constructor":{"prototype":{"acl":"always_true"}}}') },
      { name: 'body over 64 kB', value: RawJson.of(`{"id":"x","acl":"${'a'.repeat(70_000)}"}`) },
      { name: 'array body', value: RawJson.of('[{"id":"x"}]') },
      { name: 'null body', value: RawJson.of('null') },
      { name: 'vhosts not an array', value: RawJson.of('{"id":"x","vhosts":"a.example.com"}') },
      { name: 'unknown field', value: RawJson.of('{"id":"x","backends":[{"host":"evil","port":1}]}') },
      { name: 'body id differs from the URL', value: RawJson.of('{"id":"y"}') },
    ];
    for (const h of bodies) {
      const a = attempt('rules API', 'whole body', h, false, (m) => `/api/rules/${m}`);
      const body = Buffer.from(
        (h.value as RawJson).bytes.toString('latin1').replace('"id":"x"', `"id":"${a.marker}"`),
        'latin1',
      );
      await send(a, 'PUT', `/api/rules/${a.marker}`, body);
    }
    // The rule targets join the file, then the sentinel rule (written last, so its arrival means all came).
    const registryFile = join(dir, 'registry.json');
    const text = readFileSync(registryFile);
    const extra = targets
      .map((m) => JSON.stringify({ id: m, backends: [{ host: '127.0.0.1', port: backends[0]!.port }] }))
      .join(',');
    writeFileSync(registryFile, Buffer.concat([text.subarray(0, text.length - 2), Buffer.from(`,${extra}]}`)]));
    const sentinel = await call(
      'PUT',
      `${sy.url}/api/rules/zz-file-sentinel`,
      Buffer.from(JSON.stringify({ id: 'zz-file-sentinel', vhosts: ['sentinel.example.com'] })),
      auth,
    );
    expect(sentinel.status).to.be.oneOf([200, 201]);
  }

  /** Paths that claim what a good service has: nginx must not get two identical locations. */
  function collidingPaths(): Hostile[] {
    return ['/api', '/good-nobackend/', '/file/', '/good/empty/'].map((value) => ({
      name: `path colliding with a good one ${value}`,
      value,
    }));
  }

  function aclTricks(): Hostile[] {
    return [
      'hdr(host) -i "unbalanced',
      "hdr(host) -i 'unbalanced",
      'hdr(host) -i r.example.com\\',
      'hdr(host) -m str "${HOME}"',
      'hdr(host) -f /etc/passwd',
      'env(HOME) -m found',
      'req.hdr(host),map(/etc/passwd) -m found',
      '{ always_true }',
      '; use_backend evil',
      'x if TRUE',
      '!always_true',
      'hdr(host) -i a.example.com || always_true',
      'path_beg /a } use_backend evil if { always_true',
      'hdr(host) -i "quoted value"',
    ].map((value) => ({ name: `acl trick ${JSON.stringify(value)}`, value }));
  }

  // ---- the proof --------------------------------------------------------------------------------

  /** Names a violation after the attempts whose markers it carries. */
  function attribute(violations: readonly Violation[]): void {
    for (const v of violations) {
      const markers = [...new Set(`${v.text} ${v.owner ?? ''}`.match(/h\d{5}/g) ?? [])];
      if (markers.length === 0) unattributed.push(v);
      for (const m of markers) {
        const n = Number(m.slice(1));
        throughByAttempt.set(n, [...(throughByAttempt.get(n) ?? []), v]);
      }
    }
  }

  const haproxyConstants = () => templateConstants([HAPROXY_TEMPLATE]);
  const nginxConstants = () => templateConstants([NGINX_TEMPLATE, ...NGINX_PARTIALS]);

  it('renders printable ASCII and line feeds only, in both configs', () => {
    expect(plainAscii(hostile.haproxy), 'haproxy.cfg').to.equal(true);
    expect(plainAscii(hostile.nginx), 'nginx.conf').to.equal(true);
  });

  it('changes no HAProxy directive beyond what a legitimate value could', () => {
    const consts = haproxyConstants();
    const base = parseHaproxy(baseline.haproxy, consts);
    const cand = parseHaproxy(hostile.haproxy, consts);
    expect(base.violations).to.deep.equal([]);
    const aclCriterion = /^[a-z_][a-z0-9_.]*(?:\([^()"'\\\s]*\))?(?:,[a-z_][a-z0-9_.]*(?:\([^()"'\\\s]*\))?)*$/;
    const violations = [
      ...cand.violations,
      ...compareSkeletons(base.directives, cand.directives, consts, {
        identical: [
          '(before any section)',
          'global',
          'defaults',
          { context: 'frontend http-in', except: ['acl', 'use_backend'] },
        ],
        // A rule's ACL criterion is free-form: a fetch, then words (the tokenizer has already split and unquoted them).
        freeForm: (d) => {
          if (d.context !== 'frontend http-in' || d.words[0] !== 'acl' || !d.words[1]?.startsWith('rule_'))
            return undefined;
          if (!/^rule_[a-z0-9_-]+$/.test(d.words[1]) || d.words.length < 3 || !aclCriterion.test(d.words[2]!))
            return 'not an acl line of a rule';
          // A quoted word may hold blanks; it is still one word.
          return d.words.slice(3).every((w) => /^[\x20-\x7e]*$/.test(w))
            ? null
            : 'an acl word with a control character';
        },
      }),
    ];
    // Cross-check against the state: a backend per service, a port_ frontend per listener, every reference defined.
    const backendsInConfig = new Set(
      cand.directives.filter((d) => d.context === '(sections)' && d.words[0] === 'backend').map((d) => d.words[1]),
    );
    const expected = new Set(state.services.map((s: { id: string }) => escapedId(s.id)));
    for (const name of backendsInConfig)
      if (!expected.has(name))
        violations.push({ line: 0, text: `backend ${name}`, why: 'a backend no service in the state has' });
    const left = new Set(quarantined.filter((q) => q.target === 'haproxy').map((q) => escapedId(q.service)));
    for (const name of expected)
      if (!backendsInConfig.has(name as string) && !left.has(name as string))
        violations.push({ line: 0, text: `backend ${name}`, why: 'a service of the state has no backend' });
    const acls = new Set(cand.directives.filter((d) => d.words[0] === 'acl').map((d) => d.words[1]));
    for (const d of cand.directives.filter((x) => x.words[0] === 'use_backend' || x.words[0] === 'default_backend')) {
      if (!backendsInConfig.has(d.words[1]))
        violations.push({ line: d.line, text: d.text, why: 'refers to no backend' });
      for (const w of d.words.slice(3))
        if (!acls.has(w)) violations.push({ line: d.line, text: d.text, why: `refers to no acl ${w}` });
    }
    // Every server line points at a backend its service has (or is a parked slot).
    const addresses = new Map<string, Set<string>>(
      state.services.map((s: any) => [escapedId(s.id), new Set(s.allBackends.map((x: any) => `${x.host}:${x.port}`))]),
    );
    for (const d of cand.directives.filter((x) => x.words[0] === 'server' && x.context === 'backend NAME')) {
      const owner = d.owner.replace(/^backend /, '').replace(/@\d+$/, '');
      if (d.words[2] !== '127.0.0.1:1' && !addresses.get(owner)?.has(d.words[2]!))
        violations.push({ line: d.line, text: d.text, why: `a server ${owner} has no backend at` });
    }
    const servicePorts = new Set(state.services.map((s: { servicePort: number | null }) => s.servicePort));
    for (const d of cand.directives.filter(
      (x) => x.context === '(sections)' && x.words[0] === 'frontend' && x.words[1] !== 'http-in',
    )) {
      if (!servicePorts.has(Number(d.words[1]?.replace(/^port_/, ''))))
        violations.push({ line: d.line, text: d.text, why: 'a listener no service asked for' });
    }
    attribute(violations);
    expect(
      violations,
      violations
        .slice(0, 20)
        .map((v) => `${v.line}: ${v.text.slice(0, 160)} — ${v.why}`)
        .join('\n'),
    ).to.deep.equal([]);

    // The good services' sections and routing lines are exactly what they were.
    const section = (directives: readonly Directive[], header: string) => {
      const d = directives.find((x) => x.context === '(sections)' && x.words.join(' ') === header);
      return d ? subtree(directives, blockId(d)) : null;
    };
    for (const id of goodIds) {
      expect(section(cand.directives, `backend ${escapedId(id)}`), id).to.deep.equal(
        section(base.directives, `backend ${escapedId(id)}`),
      );
      const lines = (directives: readonly Directive[]) =>
        directives
          .filter(
            (d) =>
              d.context === 'frontend http-in' &&
              d.words.some((w) => w === escapedId(id) || w.endsWith(`_${safeName(id)}`)),
          )
          .map((d) => d.words.join(' '))
          .sort();
      expect(lines(cand.directives), id).to.deep.equal(lines(base.directives));
    }
    for (const port of [ports.web, ports.tcp, ports.file, ports.rule, ports.empty, ports.tcpEmpty]) {
      expect(section(cand.directives, `frontend port_${port}`)).to.deep.equal(
        section(base.directives, `frontend port_${port}`),
      );
    }
  });

  it('changes no nginx directive beyond what a legitimate value could', () => {
    const consts = nginxConstants();
    const base = parseNginx(baseline.nginx);
    const cand = parseNginx(hostile.nginx);
    expect(base.violations).to.deep.equal([]);
    const violations = [
      ...cand.violations,
      ...compareSkeletons(base.directives, cand.directives, consts, {
        identical: [
          'main',
          'events',
          { context: 'http', except: ['upstream', 'server'] },
          { context: 'stream', except: ['upstream', 'server'] },
        ],
      }),
    ];
    const names = new Set(state.services.map((s: { id: string }) => safeName(s.id)));
    const vhosts = new Set(state.services.flatMap((s: { vhosts: string[] }) => s.vhosts));
    const listenPorts = new Set([
      ports.ngHttp,
      ...state.services.map((s: { servicePort: number | null }) => s.servicePort),
    ]);
    for (const d of cand.directives) {
      if (d.words[0] === 'upstream' && !names.has(d.words[1]))
        violations.push({ line: d.line, text: d.text, why: 'an upstream no service in the state has' });
      if (d.words[0] === 'server_name' && d.words[1] !== '_' && !vhosts.has(d.words[1]))
        violations.push({ line: d.line, text: d.text, why: 'a server_name no service has as a vhost' });
      if (d.words[0] === 'listen' && !listenPorts.has(Number(d.words[1]?.split(':').pop())))
        violations.push({ line: d.line, text: d.text, why: 'a listener no service asked for' });
      if (d.words[0] === 'proxy_pass' && !names.has(d.words[1]!.replace(/^http:\/\//, '')))
        violations.push({ line: d.line, text: d.text, why: 'proxies to no upstream of a service' });
    }
    // Every upstream server is a backend of the service the upstream is named after.
    const addresses = new Map<string, Set<string>>(
      state.services.map((s: any) => [
        safeName(s.id),
        new Set(s.backends.map((x: any) => (x.host.includes(':') ? `[${x.host}]:${x.port}` : `${x.host}:${x.port}`))),
      ]),
    );
    for (const d of cand.directives.filter((x) => x.words[0] === 'server' && x.context.endsWith('/upstream'))) {
      const owner = d.owner.split(' ')[1]!;
      if (!addresses.get(owner)?.has(d.words[1]!))
        violations.push({ line: d.line, text: d.text, why: `upstream ${owner} has no such backend` });
    }
    attribute(violations);
    expect(
      violations,
      violations
        .slice(0, 20)
        .map((v) => `${v.line}: ${v.text.slice(0, 160)} — ${v.why}`)
        .join('\n'),
    ).to.deep.equal([]);

    // The good services' upstreams, virtual hosts, listeners and locations are exactly what they were.
    const block = (directives: readonly Directive[], match: (d: Directive) => boolean) => {
      const opener = directives.find(match);
      return opener ? subtree(directives, blockId(opener)) : null;
    };
    const serverWith = (directives: readonly Directive[], child: string) => {
      const inner = directives.find((d) => d.context === 'http/server' && d.words.join(' ') === child);
      return inner ? subtree(directives, inner.ancestors[inner.ancestors.length - 1]!) : null;
    };
    for (const id of goodIds) {
      const up = (d: Directive) => d.words[0] === 'upstream' && d.words[1] === safeName(id);
      expect(block(cand.directives, up), id).to.deep.equal(block(base.directives, up));
    }
    for (const host of ['good.example.com', '*.wild.example.com', 'nerve.example.com', 'rule.example.com']) {
      expect(serverWith(cand.directives, `server_name ${host}`), host).to.not.equal(null);
      expect(serverWith(cand.directives, `server_name ${host}`), host).to.deep.equal(
        serverWith(base.directives, `server_name ${host}`),
      );
    }
    for (const port of [ports.web, ports.file, ports.rule, ports.empty]) {
      expect(serverWith(cand.directives, `listen 127.0.0.1:${port}`), String(port)).to.deep.equal(
        serverWith(base.directives, `listen 127.0.0.1:${port}`),
      );
    }
    for (const path of ['/api/', '/file', '/good/empty', '/good-nobackend', '/good/bamboo']) {
      const loc = (d: Directive) => d.words[0] === 'location' && d.words.includes(path) && d.context === 'http/server';
      const all = (directives: readonly Directive[]) =>
        directives.filter(loc).map((d) => subtree(directives, blockId(d)));
      expect(all(cand.directives), path).to.deep.equal(all(base.directives));
    }
  });

  it('passes haproxy -c and nginx -t, and /health is ok', async () => {
    const hc = await haproxyCheck(haproxyOut);
    expect(hc.ok, hc.output).to.equal(true);
    const nt = await nginxTest(prefix, nginxOut);
    expect(nt.ok, nt.output).to.equal(true);
    // Marathon's stream may be re-attaching after an earlier scenario's raw answers: wait for it, as a monitor would.
    await eventually(
      async () => {
        const h = await sy.health();
        expect(h.body.status, JSON.stringify(h.body.failing)).to.equal('ok');
      },
      { timeoutMs: 40_000 },
    );
  });

  it('hands templates only values that pass the reference schema', () => {
    const bad: string[] = [];
    const check = (ok: boolean, what: string, v: unknown) => {
      if (!ok) bad.push(`${what}: ${shown(v)}`);
    };
    for (const s of state.services) {
      check(legit.id(s.id), 'id', s.id);
      s.vhosts.forEach((v: string) => check(legit.vhost(v), `${s.id} vhost`, v));
      s.paths.forEach((v: string) => check(legit.path(v), `${s.id} path`, v));
      check(s.servicePort === null || legit.port(s.servicePort), `${s.id} servicePort`, s.servicePort);
      check(legit.mode(s.mode), `${s.id} mode`, s.mode);
      check(legit.balance(s.balance), `${s.id} balance`, s.balance);
      check(s.acl === null || legit.acl(s.acl), `${s.id} acl`, s.acl);
      check(
        s.healthCheck === null || s.healthCheck.path === undefined || legit.checkPath(s.healthCheck.path),
        `${s.id} health path`,
        s.healthCheck,
      );
      for (const [k, v] of [...Object.entries(s.labels), ...Object.entries(s.env)])
        check(legit.key(k) && legit.text(v), `${s.id} label/env`, [k, v]);
      for (const b of s.allBackends) {
        check(legit.host(b.host), `${s.id} backend host`, b.host);
        check(legit.port(b.port), `${s.id} backend port`, b.port);
        check(legit.weight(b.weight), `${s.id} backend weight`, b.weight);
        check(legit.backendId(b.id), `${s.id} backend id`, b.id);
      }
    }
    expect(bad.slice(0, 20)).to.deep.equal([]);
  });

  it('logs each rejection naming where the value came from', () => {
    const texts = sy.logs.map((e: LogEntry) => JSON.stringify(e));
    const silent: string[] = [];
    for (const a of attempts) {
      const refusedByApi = a.source === 'rules API' && (a.status === 400 || a.status === 413);
      if ((a.legit && !refusedByApi) || a.refused || !a.origin) continue;
      if (a.source === 'rules API' && a.status !== undefined && a.status >= 200 && a.status < 300) {
        silent.push(
          `#${a.n} ${a.source} ${a.field} ${a.hostile.name}: ${shown(a.hostile.value)} was accepted (HTTP ${a.status})`,
        );
        continue;
      }
      if (
        !texts.some(
          (t) =>
            t.includes(a.origin) &&
            (a.origin.startsWith('"') || t.includes('"level":"warn"') || t.includes('"level":"debug"')),
        )
      ) {
        silent.push(`#${a.n} ${a.source} ${a.field} ${a.hostile.name}: ${shown(a.hostile.value)} (origin ${a.origin})`);
      }
    }
    const byField = new Map<string, number>();
    for (const line of silent) {
      const key = line.split(' ').slice(1, 4).join(' ');
      byField.set(key, (byField.get(key) ?? 0) + 1);
    }
    expect(
      silent.slice(0, 25),
      `${silent.length} rejections without a log line naming their origin: ${JSON.stringify([...byField])}`,
    ).to.deep.equal([]);
  });

  it('rejects every API write the schema refuses, with 400 or 413, and stores the rest', () => {
    // An acl of the right form may still be one HAProxy cannot parse (an unknown fetch): the API asks HAProxy and refuses it.
    const haproxyMayRefuse = (a: Attempt) => a.field.includes('acl') && a.status === 400;
    const wrong = attempts
      .filter((a) => a.source === 'rules API' && !a.refused)
      .filter((a) =>
        a.legit ? !(a.status! >= 200 && a.status! < 300) && !haproxyMayRefuse(a) : ![400, 413].includes(a.status!),
      )
      .map((a) => `#${a.n} ${a.field} ${a.hostile.name}: ${shown(a.hostile.value)} -> HTTP ${a.status}`);
    expect(wrong.slice(0, 20)).to.deep.equal([]);
  });

  it('pollutes no prototype', () => {
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).to.equal(false);
    expect(Object.keys(Object.prototype)).to.deep.equal([]);
  });

  it('still routes the known-good services through a real HAProxy', async () => {
    const proxy = await startHaproxy({ configFile: haproxyOut, dir });
    try {
      const hp = `http://127.0.0.1:${ports.hpHttp}`;
      const names = async (url: string, headers: Record<string, string> = {}) =>
        [...(await countHits(url, 12, headers)).keys()].sort();
      expect(await names(`${hp}/`, { Host: 'good.example.com' })).to.deep.equal(['good-1', 'good-2']);
      expect(await names(`http://127.0.0.1:${ports.web}/`)).to.deep.equal(['good-1', 'good-2']);
      expect(await names(`${hp}/api/x`)).to.deep.equal(['good-1']);
      expect(await names(`http://127.0.0.1:${ports.tcp}/`)).to.deep.equal(['good-3']);
      expect(await names(`${hp}/`, { Host: 'nerve.example.com' })).to.deep.equal(['good-1']);
      expect(await names(`${hp}/good-curator`)).to.deep.equal(['good-2']);
      expect(await names(`${hp}/file/x`)).to.deep.equal(['good-1']);
      expect(await names(`${hp}/`, { Host: 'acl.example.com' })).to.deep.equal(['good-3']);
      expect(await names(`${hp}/r`, { Host: 'rule.example.com' })).to.deep.equal(['good-2']);
      expect((await httpGet(`${hp}/good-nobackend`)).status).to.equal(503);
    } finally {
      await proxy.stop();
    }
  });

  it('still routes the known-good services through a real nginx', async () => {
    const proxy = await startNginx({ prefix, configFile: nginxOut });
    try {
      const ng = `http://127.0.0.1:${ports.ngHttp}`;
      const names = async (url: string, headers: Record<string, string> = {}) =>
        [...(await countHits(url, 12, headers)).keys()].sort();
      expect(await names(`${ng}/`, { Host: 'good.example.com' })).to.deep.equal(['good-1', 'good-2']);
      expect(await names(`http://127.0.0.1:${ports.web}/`)).to.deep.equal(['good-1', 'good-2']);
      expect(await names(`${ng}/api/x`)).to.deep.equal(['good-1']);
      expect(await names(`http://127.0.0.1:${ports.tcp}/`)).to.deep.equal(['good-3']);
      expect(await names(`${ng}/`, { Host: 'nerve.example.com' })).to.deep.equal(['good-1']);
      expect(await names(`${ng}/good-curator`)).to.deep.equal(['good-2']);
      expect(await names(`${ng}/file/x`)).to.deep.equal(['good-1']);
      expect(await names(`${ng}/r`, { Host: 'rule.example.com' })).to.deep.equal(['good-2']);
      expect((await httpGet(`${ng}/good-nobackend`)).status).to.equal(503);
    } finally {
      await proxy.stop();
    }
  });

  it('keeps the last state, naming marathon on /health, when the app list holds a non-object', async () => {
    // Marathon writes this list itself: an element that is not an object means the answer is broken, not one app.
    const before = readFileSync(haproxyOut, 'utf8');
    const version = sy.daemon.runner.health().version;
    marathon.addRawApp('[]');
    marathon.addRawApp(DEEP_ARRAYS.bytes);
    marathon.dropStreams('close');
    await eventually(
      () =>
        expect(
          sy.logs.some(
            (e) =>
              e.message === 'marathon unreachable; keeping the last known state' &&
              String(e.reason).includes('not an object'),
          ),
        ).to.equal(true),
      { timeoutMs: 20_000, message: 'the broken answer logged' },
    );
    expect((await sy.health()).body.failing).to.include('marathon');
    expect(sy.daemon.runner.health().version).to.equal(version);
    expect(readFileSync(haproxyOut, 'utf8')).to.equal(before);
  });

  it('lets no input through', () => {
    expect(unattributed.map((v) => `${v.text.slice(0, 120)} — ${v.why}`)).to.deep.equal([]);
    expect([...throughByAttempt.keys()]).to.deep.equal([]);
  });

  function report(): void {
    const by = new Map<
      string,
      { tried: number; refused: number; rejected: number; accepted: number; through: number }
    >();
    for (const a of attempts) {
      const row =
        by.get(a.source) ??
        by.set(a.source, { tried: 0, refused: 0, rejected: 0, accepted: 0, through: 0 }).get(a.source)!;
      row.tried++;
      if (throughByAttempt.has(a.n)) row.through++;
      else if (a.refused) row.refused++;
      else if (a.legit && !(a.source === 'rules API' && a.status !== undefined && a.status >= 400)) row.accepted++;
      else row.rejected++;
    }
    const total = [...by.values()].reduce(
      (t, r) => ({
        tried: t.tried + r.tried,
        refused: t.refused + r.refused,
        rejected: t.rejected + r.rejected,
        accepted: t.accepted + r.accepted,
        through: t.through + r.through,
      }),
      { tried: 0, refused: 0, rejected: 0, accepted: 0, through: 0 },
    );
    const line = (name: string, r: typeof total) =>
      `    ${name.padEnd(16)} ${String(r.tried).padStart(6)} ${String(r.rejected).padStart(9)} ${String(r.refused).padStart(9)} ${String(r.accepted).padStart(9)} ${String(r.through).padStart(8)}`;
    process.stdout.write(
      [
        '',
        '    hostile inputs   tried  rejected  refused¹ accepted² through',
        ...[...by].map(([name, r]) => line(name, r)),
        line('total', { ...total, through: total.through + unattributed.length }),
        '    ¹ the registry itself refused to store it   ² a legitimate value by the schema (inert: see the structure specs)',
        '',
      ].join('\n'),
    );
  }
});

describe('config-context helpers, read back by the real HAProxy and nginx', function () {
  this.timeout(60_000);

  it('passes haproxy -c and nginx -t with every value the helpers let through, each one argument', async () => {
    const dir = tempDir('helpers-real-');
    const prefix = nginxPrefix();
    const call = (name: string, v: unknown): string | null => {
      try {
        return String((helpers[name] as (...a: unknown[]) => unknown)(v, { hash: {}, data: {} }));
      } catch (e) {
        if (e instanceof HelperRefusal) return null;
        throw e;
      }
    };
    const hp: string[] = [
      'defaults',
      '    mode http',
      '    timeout connect 1s',
      '    timeout client 1s',
      '    timeout server 1s',
      'frontend f',
      '    bind 127.0.0.1:1',
    ];
    const ng: string[] = [
      'pid nginx.pid;',
      'error_log stderr;',
      'events {}',
      'http {',
      '    access_log off;',
      '    server {',
      '        listen 127.0.0.1:1;',
    ];
    let hpExpected = 0;
    let ngExpected = 0;
    helperCorpus().forEach((v, i) => {
      const s = call('haproxyString', v);
      // A header value is a log-format string: the strictest place a string goes.
      if (s !== null) {
        hp.push(`    http-response set-header X-S${i} ${s}`);
        hpExpected++;
      }
      const t = call('haproxyToken', v);
      if (t !== null) {
        hp.push(`    http-response set-header X-T${i} ${t}`);
        hpExpected++;
      }
      const line = call('asLine', v);
      if (line !== null) {
        hp.push(`    # ${line}`);
        ng.push(`        # ${line}`);
      }
      const n = call('nginxString', v);
      if (n !== null) {
        ng.push(`        add_header X-S${i} ${n};`);
        ngExpected++;
      }
    });
    hp.push('    default_backend b', 'backend b', '');
    ng.push('    }', '}', '');
    writeFileSync(join(dir, 'h.cfg'), hp.join('\n'));
    writeFileSync(join(prefix, 'conf', 'n.conf'), ng.join('\n'));
    const hc = await haproxyCheck(join(dir, 'h.cfg'));
    expect(hc.ok, hc.output.slice(0, 2000)).to.equal(true);
    const nt = await nginxTest(prefix, join(prefix, 'conf', 'n.conf'));
    expect(nt.ok, nt.output.slice(0, 2000)).to.equal(true);
    // Each value stayed one argument of its own directive: as many directives as values, three words each.
    const hd = parseHaproxy(hp.join('\n'), new Set()).directives.filter((d) => d.words[0] === 'http-response');
    expect(hd.length).to.equal(hpExpected);
    expect(hd.every((d) => d.words.length === 4)).to.equal(true);
    const nd = parseNginx(ng.join('\n')).directives.filter((d) => d.words[0] === 'add_header');
    expect(nd.length).to.equal(ngExpected);
    expect(nd.every((d) => d.words.length === 3)).to.equal(true);
    expect(hpExpected).to.be.greaterThan(100);
    expect(ngExpected).to.be.greaterThan(100);
  });
});
