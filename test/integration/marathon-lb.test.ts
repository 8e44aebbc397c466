import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBackends, type Backend } from '../support/backends.js';
import { haproxyTarget, type HaproxyHandle } from '../support/haproxy.js';
import { countHits, httpGet, httpsGet } from '../support/http.js';
import type { AppInput } from '../support/marathon-double.js';
import { MarathonDouble } from '../support/marathon-double.js';
import { freePort } from '../support/ports.js';
import { haproxyOnFirstConfig, startSwitchyard, type SwitchyardHandle } from '../support/switchyard.js';
import { tempDir } from '../support/tmp.js';
import { selfSignedPem } from '../support/tls.js';
import { eventually } from '../support/wait.js';

const hits = async (url: string, n: number, headers: Record<string, string> = {}) =>
  [...(await countHits(url, n, headers)).keys()].sort();

// Marathon apps labelled for marathon-lb, through the Marathon double, into
// Switchyard's default template on a real HAProxy: routed as marathon-lb
// would route them.
describe('marathon-lb labels, served by a real HAProxy', function () {
  this.timeout(60_000);
  let dir: string;
  let marathon: MarathonDouble;
  let backends: Map<string, Backend>;
  let haproxy: HaproxyHandle;
  let sy: SwitchyardHandle;
  let output: string;
  let httpPort: number;
  let httpsPort: number;
  const servicePort = new Map<string, number>();

  /** Which backends answer `n` requests for `path` with Host `host` on the shared listener. */
  const viaShared = (path: string, host: string, n = 4) =>
    hits(`http://127.0.0.1:${httpPort}${path}`, n, { Host: host });
  const be = (name: string) => backends.get(name)!;

  before(async () => {
    dir = tempDir('marathon-lb-');
    const pem = await selfSignedPem(dir, 'secure.example.com');
    [httpPort, httpsPort] = [await freePort(), await freePort()];
    backends = new Map(
      (
        await startBackends(['web', 'api', 'light', 'heavy', 'secure', 'bound', 'raw', 'checked', 'checked-health'])
      ).map((b) => [b.name, b]),
    );
    marathon = new MarathonDouble({ keepAliveMs: 500 });
    const marathonUrl = await marathon.start();

    const app = async (
      id: string,
      labels: Record<string, string>,
      taskPorts: number[],
      extra: Partial<AppInput> = {},
    ) => {
      const ports = await Promise.all(taskPorts.map(() => freePort()));
      servicePort.set(id, ports[0]!);
      marathon.addApp({ id, ports, labels, ...extra });
      marathon.addTask(id, { host: '127.0.0.1', ports: taskPorts, healthy: true });
    };
    await app('/shop/web', { HAPROXY_0_VHOST: 'shop.example.com' }, [be('web').port]);
    await app('/shop/api', { HAPROXY_0_VHOST: 'shop.example.com', HAPROXY_0_PATH: '/api' }, [be('api').port]);
    // Without a weight the first by id (a-light) would take the shared vhost.
    await app('/shared/a-light', { HAPROXY_0_VHOST: 'shared.example.com' }, [be('light').port]);
    await app('/shared/b-heavy', { HAPROXY_0_VHOST: 'shared.example.com', HAPROXY_0_BACKEND_WEIGHT: '5' }, [
      be('heavy').port,
    ]);
    await app(
      '/secure',
      { HAPROXY_0_VHOST: 'secure.example.com', HAPROXY_0_REDIRECT_TO_HTTPS: 'true', HAPROXY_0_SSL_CERT: pem },
      [be('secure').port],
    );
    await app('/bound', { HAPROXY_0_BIND_ADDR: '127.0.0.2' }, [be('bound').port]);
    await app(
      '/raw',
      { HAPROXY_0_VHOST: 'raw.example.com', HAPROXY_0_BACKEND_HEAD: 'http-response set-header X-Raw injected' },
      [be('raw').port],
    );
    await app(
      '/checked',
      { HAPROXY_0_BACKEND_HEALTHCHECK_PORT_INDEX: '1', HAPROXY_1_ENABLED: 'false' },
      [be('checked').port, be('checked-health').port],
      {
        healthChecks: [
          { protocol: 'HTTP', path: '/health', portIndex: 1, intervalSeconds: 1, maxConsecutiveFailures: 1 },
        ],
      },
    );

    output = join(dir, 'haproxy.cfg');
    sy = await startSwitchyard(
      {
        marathon: { endpoints: [marathonUrl], pollIntervalMs: 60_000, requestTimeoutMs: 2000 },
        targets: [
          {
            ...haproxyTarget(dir, output),
            vars: { bind: '127.0.0.1', httpPort, httpsPort, timeoutClient: '5s' },
          },
        ],
        reload: { quietMs: 20, maxDelayMs: 200 },
      },
      dir,
      { captureLogs: true },
    );
    haproxy = await haproxyOnFirstConfig(sy, output, dir);
  });

  after(async () => {
    await sy?.stop();
    await haproxy?.stop();
    await marathon?.stop();
    await Promise.all([...(backends?.values() ?? [])].map((b) => b.close()));
  });

  it('routes by vhost', async () => {
    expect(await viaShared('/', 'shop.example.com')).to.deep.equal(['web']);
  });

  it('routes a path on a vhost to the app that names it, before the vhost alone', async () => {
    expect(await viaShared('/api/orders', 'shop.example.com')).to.deep.equal(['api']);
    expect(await viaShared('/apis', 'shop.example.com')).to.deep.equal(['web']);
  });

  it('gives a vhost two apps claim to the one with the higher BACKEND_WEIGHT', async () => {
    expect(await viaShared('/', 'shared.example.com')).to.deep.equal(['heavy']);
  });

  it('answers plain HTTP for a REDIRECT_TO_HTTPS app with a redirect to https', async () => {
    const r = await httpGet(`http://127.0.0.1:${httpPort}/basket?x=1`, { headers: { Host: 'secure.example.com' } });
    expect(r.status).to.be.oneOf([301, 302]);
    expect(r.headers.location).to.equal('https://secure.example.com/basket?x=1');
  });

  it('serves an app over TLS with its SSL_CERT on vars.httpsPort, without redirecting', async () => {
    const r = await httpsGet(`https://127.0.0.1:${httpsPort}/basket`, {
      servername: 'secure.example.com',
      headers: { Host: 'secure.example.com' },
    });
    expect([r.status, r.body]).to.deep.equal([200, 'secure']);
  });

  it("binds an app's own listener to its BIND_ADDR, and only there", async () => {
    const port = servicePort.get('/bound')!;
    expect((await httpGet(`http://127.0.0.2:${port}/`)).body).to.equal('bound');
    await httpGet(`http://127.0.0.1:${port}/`).then(
      () => expect.fail(`127.0.0.1:${port} answered`),
      (e: NodeJS.ErrnoException) => expect(e.code).to.equal('ECONNREFUSED'),
    );
  });

  it('refuses a raw config label by default: not in the config, not on the wire, and logged for the app', async () => {
    expect(readFileSync(output, 'utf8')).not.to.contain('X-Raw');
    const r = await httpGet(`http://127.0.0.1:${httpPort}/`, { headers: { Host: 'raw.example.com' } });
    expect([r.body, r.headers['x-raw']]).to.deep.equal(['raw', undefined]);
    const refusals = sy.logs.filter((e) => JSON.stringify(e).includes('HAPROXY_0_BACKEND_HEAD'));
    expect(refusals).to.have.length(1);
    expect(refusals[0]).to.include({ level: 'warn', app: '/raw' });
  });

  it("health-checks an app on the task's port at BACKEND_HEALTHCHECK_PORT_INDEX", async () => {
    const url = `http://127.0.0.1:${servicePort.get('/checked')}/`;
    expect(await hits(url, 2)).to.deep.equal(['checked']);
    be('checked-health').setHealthy(false);
    try {
      // Marathon still calls the task alive: only HAProxy's own check, on the other port, can take it out.
      await eventually(async () => expect((await httpGet(url)).status).to.equal(503), { timeoutMs: 10_000 });
    } finally {
      be('checked-health').setHealthy(true);
    }
    await eventually(async () => expect((await httpGet(url)).status).to.equal(200), { timeoutMs: 10_000 });
  });
});
