import { expect } from 'chai';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { httpGet, httpsGet } from '../support/http.js';
import { freePort } from '../support/ports.js';
import { selfSignedPem } from '../support/tls.js';
import { eventually } from '../support/wait.js';
import { startZookeeper, type ZookeeperHandle } from '../support/zookeeper.js';
import zookeeper from 'node-zookeeper-client';
import { ADDRESS, PROXIES, startTwoProxies, type TwoProxies } from '../support/two-proxies.js';

// Issue 12's proof: one daemon, a real HAProxy and a real nginx, the Marathon
// double. Each case brings one bad app while the healthy app /ok/web scales
// up or down: the healthy change is served by both proxies, the bad app is
// named on /health (200, ok) with its reason, and it comes back once fixed,
// without a restart. The installed configs pass `haproxy -c` / `nginx -t`
// after every case.

/** What one case measured, printed with SWITCHYARD_QUARANTINE_REPORT=1. */
interface CaseRow {
  case: string;
  target: string;
  finding: string;
  reason: string;
  healthyMs: number;
}

function report(title: string, rows: CaseRow[]): void {
  if (!process.env.SWITCHYARD_QUARANTINE_REPORT || rows.length === 0) return;
  console.log(`\n${title}\n| case | target | found by | reason | healthy change served in |\n|---|---|---|---|---|`);
  for (const r of rows)
    console.log(`| ${r.case} | ${r.target} | ${r.finding} | ${r.reason.replaceAll('|', '\\|')} | ${r.healthyMs} ms |`);
}

/** The error code of a request that fails (nothing listens: ECONNREFUSED); 'answered' when it gets a response. */
async function connectError(request: Promise<unknown>): Promise<string> {
  return request.then(
    () => 'answered',
    (e: NodeJS.ErrnoException) => e.code ?? e.message,
  );
}

function holdPort(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => resolve(server));
  });
}

/** The cases the proxy would refuse at load time (bind address, port held, shared listener port). */
function loadTimeCases(rig: () => TwoProxies, rows: CaseRow[]) {
  it('quarantines an app whose HAPROXY_0_BIND_ADDR is not on this host, in both, while the healthy app scales', async () => {
    const port = await freePort();
    const [b] = await rig().backends(['bind-1']);
    rig().addApp({ id: '/bad/bind', ports: [port], labels: { HAPROXY_0_BIND_ADDR: '192.0.2.1' } }, [b!]);
    const q = await rig().quarantined('/bad/bind', ['haproxy', 'nginx']);
    const healthyMs = await rig().bounceHealthy();
    for (const p of PROXIES) {
      expect(q[p]).to.include({ finding: 'precheck', reason: 'bind address 192.0.2.1 is not an address of this host' });
      rows.push({ case: 'BIND_ADDR 192.0.2.1', target: p, finding: q[p]!.finding, reason: q[p]!.reason, healthyMs });
    }
  });

  it('serves the app once its HAPROXY_0_BIND_ADDR label is removed, without a restart', async () => {
    const port = rig().marathon.getApp('/bad/bind')!.portDefinitions![0]!.port;
    rig().marathon.updateApp('/bad/bind', { labels: {} });
    await rig().released('/bad/bind');
    await Promise.all(PROXIES.map((p) => rig().serves(`http://${ADDRESS[p]}:${port}/`, ['bind-1'])));
  });

  let held: Server | null = null;
  afterEach(async () => {
    await new Promise((r) => (held ? held.close(r) : r(null)));
    held = null;
  });

  it('quarantines an app whose service port another process holds, in both, while the healthy app scales', async () => {
    const port = await freePort();
    held = await holdPort(port);
    const [b] = await rig().backends(['held-1']);
    rig().addApp({ id: '/bad/held', ports: [port] }, [b!]);
    const q = await rig().quarantined('/bad/held', ['haproxy', 'nginx']);
    const healthyMs = await rig().bounceHealthy();
    for (const p of PROXIES) {
      expect(q[p]).to.include({ finding: 'precheck', reason: `port ${port} is held by another process` });
      rows.push({
        case: 'port held by another process',
        target: p,
        finding: 'precheck',
        reason: q[p]!.reason,
        healthyMs,
      });
    }
  });

  it('serves the app once the other process frees its port, without a restart', async () => {
    const port = rig().marathon.getApp('/bad/held')!.portDefinitions![0]!.port;
    // held by the previous test, closed by its afterEach: the retry finds the port free.
    await rig().released('/bad/held');
    await Promise.all(PROXIES.map((p) => rig().serves(`http://${ADDRESS[p]}:${port}/`, ['held-1'])));
  });

  it('quarantines an app on a port the proxies let go of and another process then took', async () => {
    const port = await freePort();
    const [a, b] = await rig().backends(['left-1', 'took-1']);
    rig().addApp({ id: '/left/a', ports: [port] }, [a!]);
    await Promise.all(PROXIES.map((p) => rig().serves(`http://${ADDRESS[p]}:${port}/`, ['left-1'])));
    rig().marathon.removeApp('/left/a');
    for (const p of PROXIES)
      await eventually(
        async () => expect(await connectError(httpGet(`http://${ADDRESS[p]}:${port}/`))).to.equal('ECONNREFUSED'),
        { timeoutMs: 30_000, message: `${p} still listens on ${port}` },
      );
    held = await holdPort(port);
    rig().addApp({ id: '/took/b', ports: [port] }, [b!]);
    const q = await rig().quarantined('/took/b', ['haproxy', 'nginx']);
    const healthyMs = await rig().bounceHealthy();
    for (const p of PROXIES) {
      expect(q[p]).to.include({ finding: 'precheck', reason: `port ${port} is held by another process` });
      rows.push({
        case: 'port the proxy let go, then taken',
        target: p,
        finding: 'precheck',
        reason: q[p]!.reason,
        healthyMs,
      });
    }
  });

  it('quarantines an app whose service port is the shared listener port, in both, and the shared listener keeps answering', async () => {
    const [b] = await rig().backends(['shared-1']);
    rig().addApp({ id: '/bad/shared', ports: [rig().httpPort] }, [b!]);
    const q = await rig().quarantined('/bad/shared', ['haproxy', 'nginx']);
    const healthyMs = await rig().bounceHealthy();
    for (const p of PROXIES) {
      expect(q[p]).to.include({
        finding: 'precheck',
        reason: `service port ${rig().httpPort} is the port of the shared listener (vars.httpPort)`,
      });
      rows.push({
        case: 'service port = vars.httpPort',
        target: p,
        finding: 'precheck',
        reason: q[p]!.reason,
        healthyMs,
      });
    }
    const names = rig().scaleHealthy(rig().marathon.getApp('/ok/web')!.tasks!.length);
    await Promise.all(
      PROXIES.map((p) => rig().serves(`http://${ADDRESS[p]}:${rig().httpPort}/`, names, { Host: 'ok.example.com' })),
    );
  });

  it('serves the app on a port of its own once its port is changed, without a restart', async () => {
    const port = await freePort();
    rig().marathon.updateApp('/bad/shared', { ports: [port] });
    await rig().released('/bad/shared');
    await Promise.all(PROXIES.map((p) => rig().serves(`http://${ADDRESS[p]}:${port}/`, ['shared-1'])));
  });

  it('keeps serving the old backends of a served app that turns bad (a bind address not on this host)', async () => {
    const port = await freePort();
    const [one, two] = await rig().backends(['turn-1', 'turn-2']);
    rig().addApp({ id: '/turns/bad', ports: [port] }, [one!]);
    await Promise.all(PROXIES.map((p) => rig().serves(`http://${ADDRESS[p]}:${port}/`, ['turn-1'])));
    rig().marathon.updateApp('/turns/bad', { labels: { HAPROXY_0_BIND_ADDR: '192.0.2.1' } });
    rig().marathon.addTask('/turns/bad', { host: '127.0.0.1', ports: [two!.port] });
    await rig().quarantined('/turns/bad', ['haproxy', 'nginx']);
    await rig().bounceHealthy();
    await Promise.all(PROXIES.map((p) => rig().serves(`http://${ADDRESS[p]}:${port}/`, ['turn-1'])));
  });

  it('serves the new backends of that app once the label is removed', async () => {
    const port = rig().marathon.getApp('/turns/bad')!.portDefinitions![0]!.port;
    rig().marathon.updateApp('/turns/bad', { labels: {} });
    await rig().released('/turns/bad');
    await Promise.all(PROXIES.map((p) => rig().serves(`http://${ADDRESS[p]}:${port}/`, ['turn-1', 'turn-2'])));
  });
}

describe('quarantine: one bad app costs only itself, in a real HAProxy and nginx (checked HAProxy reloads)', function () {
  this.timeout(120_000);
  let two: TwoProxies;
  const rows: CaseRow[] = [];
  const installedChecks: string[] = [];
  const rig = () => two;

  before(async () => {
    two = await startTwoProxies({ haproxyReload: 'checked', allowRawLabels: true });
  });

  afterEach(async () => {
    if (two) installedChecks.push(...(await two.checkInstalled()));
  });

  after(async () => {
    await two?.stop();
    report('checked HAProxy reloads (bin/haproxy-reload), nginx kill -HUP', rows);
  });

  it('serves the healthy app through both proxies as it scales', async () => {
    await two.bounceHealthy();
    await two.bounceHealthy();
  });

  it('quarantines an app whose HAPROXY_0_SSL_CERT is missing, in HAProxy, while the healthy app scales', async () => {
    const port = await freePort();
    const [b] = await two.backends(['cert-1']);
    two.addApp({ id: '/bad/cert', ports: [port], labels: { HAPROXY_0_SSL_CERT: join(two.dir, 'missing.pem') } }, [b!]);
    const q = await two.quarantined('/bad/cert', ['haproxy']);
    const healthyMs = await two.bounceHealthy();
    expect(q.haproxy).to.include({
      finding: 'precheck',
      reason: `certificate ${join(two.dir, 'missing.pem')} cannot be read (ENOENT)`,
    });
    rows.push({
      case: 'SSL_CERT missing',
      target: 'haproxy',
      finding: 'precheck',
      reason: q.haproxy!.reason,
      healthyMs,
    });
  });

  it('serves that app through nginx meanwhile: its template loads no certificate', async () => {
    const port = two.marathon.getApp('/bad/cert')!.portDefinitions![0]!.port;
    await two.serves(`http://${ADDRESS.nginx}:${port}/`, ['cert-1']);
  });

  it('serves the app over TLS once its certificate file is created, without a restart', async () => {
    const port = two.marathon.getApp('/bad/cert')!.portDefinitions![0]!.port;
    const made = await selfSignedPem(two.dir, 'made');
    renameSync(made, join(two.dir, 'missing.pem'));
    await two.released('/bad/cert');
    const r = await httpsGet(`https://${ADDRESS.haproxy}:${port}/`);
    expect([r.status, r.body]).to.deep.equal([200, 'cert-1']);
  });

  it('leaves out a served app whose certificate is deleted, and installs the healthy change', async () => {
    const port = two.marathon.getApp('/bad/cert')!.portDefinitions![0]!.port;
    rmSync(join(two.dir, 'missing.pem'));
    // Nothing about the app changed: HAProxy's refusal names its listener's line (and the shared TLS
    // listener's), and its last good rendering is refused too, so it is left out.
    const healthyMs = await two.bounceHealthy();
    const q = await two.quarantined('/bad/cert', ['haproxy']);
    expect(q.haproxy).to.include({ finding: 'line' });
    expect(q.haproxy!.reason).to.contain(join(two.dir, 'missing.pem')).and.contain(`${two.haproxyOut}:`);
    expect(await connectError(httpsGet(`https://${ADDRESS.haproxy}:${port}/`))).to.equal('ECONNREFUSED');
    rows.push({
      case: 'served cert deleted',
      target: 'haproxy',
      finding: q.haproxy!.finding,
      reason: q.haproxy!.reason,
      healthyMs,
    });
  });

  loadTimeCases(rig, rows);

  it('keeps the vhost with the app that held it and quarantines the later claimant, naming the holder', async () => {
    const [a, b] = await two.backends(['vhost-a', 'vhost-b']);
    two.addApp({ id: '/dup/a', ports: [await freePort()], labels: { HAPROXY_0_VHOST: 'dup.example.com' } }, [a!]);
    await Promise.all(
      PROXIES.map((p) => two.serves(`http://${ADDRESS[p]}:${two.httpPort}/`, ['vhost-a'], { Host: 'dup.example.com' })),
    );
    two.addApp({ id: '/dup/b', ports: [await freePort()], labels: { HAPROXY_0_VHOST: 'dup.example.com' } }, [b!]);
    const q = await two.quarantined('/dup/b', ['haproxy', 'nginx']);
    const healthyMs = await two.bounceHealthy();
    for (const p of PROXIES) {
      expect(q[p]).to.include({
        finding: 'conflict',
        reason: 'host dup.example.com path / is already claimed by /dup/a',
      });
      rows.push({
        case: 'same vhost as a served app',
        target: p,
        finding: 'conflict',
        reason: q[p]!.reason,
        healthyMs,
      });
    }
    await Promise.all(
      PROXIES.map((p) => two.serves(`http://${ADDRESS[p]}:${two.httpPort}/`, ['vhost-a'], { Host: 'dup.example.com' })),
    );
  });

  it('keeps a listener port with the app that held it and quarantines the later claimant, naming the holder', async () => {
    const port = await freePort();
    const [a, b] = await two.backends(['port-a', 'port-b']);
    two.addApp({ id: '/dupport/a', ports: [port] }, [a!]);
    await Promise.all(PROXIES.map((p) => two.serves(`http://${ADDRESS[p]}:${port}/`, ['port-a'])));
    two.addApp({ id: '/dupport/b', ports: [await freePort()], labels: { HAPROXY_0_PORT: String(port) } }, [b!]);
    const q = await two.quarantined('/dupport/b', ['haproxy', 'nginx']);
    const healthyMs = await two.bounceHealthy();
    for (const p of PROXIES) {
      expect(q[p]).to.include({ finding: 'conflict', reason: `port ${port} is already claimed by /dupport/a` });
      rows.push({ case: 'same port as a served app', target: p, finding: 'conflict', reason: q[p]!.reason, healthyMs });
    }
    await Promise.all(PROXIES.map((p) => two.serves(`http://${ADDRESS[p]}:${port}/`, ['port-a'])));
  });

  it('gives a port two new apps claim at once to the first by id, and quarantines the other naming it', async () => {
    const port = await freePort();
    const [a, b] = await two.backends(['pair-a', 'pair-b']);
    two.addApp({ id: '/pair/b', ports: [await freePort()], labels: { HAPROXY_0_PORT: String(port) } }, [b!]);
    two.addApp({ id: '/pair/a', ports: [await freePort()], labels: { HAPROXY_0_PORT: String(port) } }, [a!]);
    const q = await two.quarantined('/pair/b', ['haproxy', 'nginx']);
    for (const p of PROXIES)
      expect(q[p]).to.include({ finding: 'conflict', reason: `port ${port} is already claimed by /pair/a` });
    expect(await two.quarantineOf('/pair/a')).to.deep.equal({});
    await Promise.all(PROXIES.map((p) => two.serves(`http://${ADDRESS[p]}:${port}/`, ['pair-a'])));
  });

  it('quarantines an app whose raw backend label HAProxy refuses, by the line HAProxy names, and nginx serves it', async () => {
    const port = await freePort();
    const [b] = await two.backends(['raw-1']);
    two.addApp({ id: '/bad/raw', ports: [port], labels: { HAPROXY_0_BACKEND_HEAD: 'no-such-keyword on' } }, [b!]);
    const q = await two.quarantined('/bad/raw', ['haproxy']);
    const healthyMs = await two.bounceHealthy();
    expect(q.haproxy).to.include({ finding: 'line' });
    expect(q.haproxy!.reason).to.contain(`${two.haproxyOut}:`).and.contain('no-such-keyword');
    rows.push({
      case: 'raw BACKEND_HEAD refused',
      target: 'haproxy',
      finding: 'line',
      reason: q.haproxy!.reason,
      healthyMs,
    });
    await two.serves(`http://${ADDRESS.nginx}:${port}/`, ['raw-1']);
    expect(await connectError(httpGet(`http://${ADDRESS.haproxy}:${port}/`))).to.equal('ECONNREFUSED');
  });

  it('quarantines an app whose certificate HAProxy cannot load on the shared TLS listener, by the file it names', async () => {
    const pem = join(two.dir, 'not-a-certificate.pem');
    writeFileSync(pem, 'not a certificate\n');
    const [b] = await two.backends(['file-1']);
    // No port of its own: only the shared TLS listener, a line of the template's frame, loads its certificate.
    two.addApp(
      {
        id: '/bad/file',
        portDefinitions: [],
        labels: { HAPROXY_0_VHOST: 'file.example.com', HAPROXY_0_SSL_CERT: pem },
      },
      [b!],
    );
    const q = await two.quarantined('/bad/file', ['haproxy']);
    const healthyMs = await two.bounceHealthy();
    expect(q.haproxy).to.include({ finding: 'file' });
    expect(q.haproxy!.reason).to.contain(`'${pem}'`);
    rows.push({
      case: 'non-certificate on shared TLS listener',
      target: 'haproxy',
      finding: 'file',
      reason: q.haproxy!.reason,
      healthyMs,
    });
    await two.serves(`http://${ADDRESS.nginx}:${two.httpPort}/`, ['file-1'], { Host: 'file.example.com' });
  });

  it('quarantines an app whose raw frontend label HAProxy refuses without naming a line, by bisection', async () => {
    const port = await freePort();
    const [b] = await two.backends(['bisect-1']);
    two.addApp(
      { id: '/bad/bisect', ports: [port], labels: { HAPROXY_0_FRONTEND_HEAD: 'use_backend no-such-backend' } },
      [b!],
    );
    const q = await two.quarantined('/bad/bisect', ['haproxy']);
    const healthyMs = await two.bounceHealthy();
    expect(q.haproxy).to.include({ finding: 'bisection' });
    expect(q.haproxy!.reason).to.contain("unable to find required use_backend: 'no-such-backend'");
    rows.push({
      case: 'raw FRONTEND_HEAD, no line named',
      target: 'haproxy',
      finding: 'bisection',
      reason: q.haproxy!.reason,
      healthyMs,
    });
    await two.serves(`http://${ADDRESS.nginx}:${port}/`, ['bisect-1']);
  });

  it('never let HAProxy load a config it refused', async () => {
    expect(await two.haproxyFailedLoads()).to.equal(0);
  });

  it('left installed configs that pass haproxy -c and nginx -t after every case', () => {
    expect(installedChecks).to.deep.equal([]);
  });
});

describe('quarantine with a reload that reports nothing (HAProxy master-worker, plain kill -USR2)', function () {
  this.timeout(120_000);
  let two: TwoProxies;
  const rows: CaseRow[] = [];
  const installedChecks: string[] = [];
  const rig = () => two;

  before(async () => {
    two = await startTwoProxies({ haproxyReload: 'usr2' });
  });

  afterEach(async () => {
    if (two) installedChecks.push(...(await two.checkInstalled()));
  });

  after(async () => {
    await two?.stop();
    report('HAProxy reloaded by a plain kill -USR2, nginx kill -HUP', rows);
  });

  loadTimeCases(rig, rows);

  it('never let HAProxy load a config it refused', async () => {
    expect(await two.haproxyFailedLoads()).to.equal(0);
  });

  it('left installed configs that pass haproxy -c and nginx -t after every case', () => {
    expect(installedChecks).to.deep.equal([]);
  });
});

describe('quarantine of a rule ACL written straight into ZooKeeper (never checked by the API)', function () {
  this.timeout(120_000);
  const RULES = '/qr/rules';
  let zk: ZookeeperHandle;
  let client: zookeeper.Client;
  let two: TwoProxies;
  let port: number;
  const rows: CaseRow[] = [];
  const rule = (id: string, body: unknown) =>
    new Promise<void>((resolve, reject) => {
      const path = `${RULES}/${encodeURIComponent(id)}`;
      const data = Buffer.from(JSON.stringify(body));
      client.mkdirp(RULES, (e) => {
        if (e) return reject(e);
        client.create(path, data, (e2) => {
          if (!e2) return resolve();
          if ((e2 as zookeeper.Exception).getCode?.() !== zookeeper.Exception.NODE_EXISTS) return reject(e2);
          client.setData(path, data, -1, (e3) => (e3 ? reject(e3) : resolve()));
        });
      });
    });

  before(async () => {
    zk = await startZookeeper();
    client = zookeeper.createClient(zk.connect, { sessionTimeout: 30_000, spinDelay: 100 });
    await new Promise<void>((resolve) => {
      client.once('connected', () => resolve());
      client.connect();
    });
    two = await startTwoProxies({ haproxyReload: 'checked', rules: { connect: zk.connect, rulesPath: RULES } });
    port = await freePort();
    const [a] = await two.backends(['acl-1']);
    two.addApp({ id: '/acl/web', ports: [port], labels: { HAPROXY_0_VHOST: 'acl.example.com' } }, [a!]);
    await Promise.all(
      PROXIES.map((p) => two.serves(`http://${ADDRESS[p]}:${two.httpPort}/`, ['acl-1'], { Host: 'acl.example.com' })),
    );
  });

  after(async () => {
    await two?.stop();
    client?.close();
    await zk?.stop();
    report('a rule ACL written into ZooKeeper', rows);
  });

  it('keeps the app at its last good routing in HAProxy, blamed by the line HAProxy names, while the healthy app scales', async () => {
    // A backend named `check` exists in the API's scratch config, not in a real one.
    await rule('/acl/web', { id: '/acl/web', acl: 'nbsrv(check) gt 0' });
    const q = await two.quarantined('/acl/web', ['haproxy']);
    const healthyMs = await two.bounceHealthy();
    expect(q.haproxy).to.include({ finding: 'line' });
    rows.push({
      case: 'rule ACL nbsrv(check) in ZooKeeper',
      target: 'haproxy',
      finding: 'line',
      reason: q.haproxy!.reason,
      healthyMs,
    });
    expect(q.haproxy!.reason).to.contain(`${two.haproxyOut}:`).and.contain('check');
    await two.serves(`http://${ADDRESS.haproxy}:${two.httpPort}/`, ['acl-1'], { Host: 'acl.example.com' });
  });

  it('takes the app back once the rule is fixed in ZooKeeper, without a restart', async () => {
    await rule('/acl/web', { id: '/acl/web', acl: 'hdr(host) -i ruled.example.com' });
    await two.released('/acl/web');
    await two.serves(`http://${ADDRESS.haproxy}:${two.httpPort}/`, ['acl-1'], { Host: 'ruled.example.com' });
  });

  it('left installed configs that pass haproxy -c and nginx -t', async () => {
    expect(await two.checkInstalled()).to.deep.equal([]);
  });
});
