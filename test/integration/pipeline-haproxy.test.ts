import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBackends, type Backend } from '../support/backends.js';
import { haproxyTarget, type HaproxyHandle } from '../support/haproxy.js';
import { countHits, httpGet, httpPost } from '../support/http.js';
import { MarathonDouble } from '../support/marathon-double.js';
import { freePort } from '../support/ports.js';
import { haproxyOnFirstConfig, startSwitchyard, waitForHealth, type SwitchyardHandle } from '../support/switchyard.js';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';

const repo = process.cwd();
const hits = async (url: string, n: number, headers: Record<string, string> = {}) =>
  [...(await countHits(url, n, headers)).keys()].sort();

// Marathon (the test double) → Switchyard (in process) → a real HAProxy in
// master-worker mode, reloaded through its master CLI, → real backends.
describe('pipeline: Marathon → HAProxy, serving real traffic', function () {
  this.timeout(60_000);
  let dir: string;
  let marathon: MarathonDouble;
  let backends: Backend[];
  let haproxy: HaproxyHandle;
  let sy: SwitchyardHandle;
  let httpPort: number;
  let servicePort: number;
  let output: string;
  const taskOf = new Map<string, string>();

  const app = (id: string) => ({
    id,
    ports: [servicePort],
    labels: { HAPROXY_0_VHOST: 'shop.example.com' },
    healthChecks: [{ protocol: 'HTTP' as const, path: '/health', portIndex: 0 }],
  });
  const addTask = (b: Backend, healthy = true) =>
    taskOf.set(b.name, marathon.addTask('/shop/web', { host: '127.0.0.1', ports: [b.port], healthy }));

  before(async () => {
    dir = tempDir('pipeline-haproxy-');
    [httpPort, servicePort] = [await freePort(), await freePort()];
    backends = await startBackends(['b1', 'b2', 'b3', 'b4']);
    marathon = new MarathonDouble({ keepAliveMs: 500 });
    const marathonUrl = await marathon.start();
    marathon.addApp(app('/shop/web'));
    addTask(backends[0]!);
    addTask(backends[1]!);
    addTask(backends[2]!, false);
    output = join(dir, 'haproxy.cfg');
    sy = await startSwitchyard(
      {
        marathon: {
          endpoints: [marathonUrl],
          pollIntervalMs: 60_000,
          streamIdleTimeoutMs: 2000,
          requestTimeoutMs: 2000,
        },
        targets: [
          {
            ...haproxyTarget(dir, output),
            vars: { bind: '127.0.0.1', httpPort, timeoutClient: '5s' },
          },
        ],
        reload: { quietMs: 20, maxDelayMs: 200 },
        http: { listen: '127.0.0.1:0', token: 't0ken' },
      },
      dir,
    );
    haproxy = await haproxyOnFirstConfig(sy, output, dir);
  });

  after(async () => {
    await sy?.stop();
    await haproxy?.stop();
    await marathon?.stop();
    await Promise.all((backends ?? []).map((b) => b.close()));
  });

  it('reaches every healthy backend through the service port', async () => {
    expect(await hits(`http://127.0.0.1:${servicePort}/`, 12)).to.deep.equal(['b1', 'b2']);
  });

  it('reaches every healthy backend through the vhost on the shared listener', async () => {
    expect(await hits(`http://127.0.0.1:${httpPort}/`, 12, { Host: 'shop.example.com' })).to.deep.equal(['b1', 'b2']);
  });

  it("reaches the app at its id's path on the shared listener", async () => {
    expect(await hits(`http://127.0.0.1:${httpPort}/shop/web`, 1, { Host: 'shop.example.com' })).to.have.length(1);
  });

  it('sends traffic to a new backend after a scale up', async () => {
    addTask(backends[3]!);
    await eventually(
      async () => expect(await hits(`http://127.0.0.1:${servicePort}/`, 12)).to.deep.equal(['b1', 'b2', 'b4']),
      { timeoutMs: 10_000 },
    );
  });

  it('sends traffic to a backend once its health check passes', async () => {
    marathon.setTaskHealth(taskOf.get('b3')!, true);
    await eventually(async () => expect(await hits(`http://127.0.0.1:${servicePort}/`, 16)).to.include('b3'), {
      timeoutMs: 10_000,
    });
  });

  it('stops sending traffic to a backend whose health check fails', async () => {
    marathon.setTaskHealth(taskOf.get('b3')!, false);
    await eventually(async () => expect(await hits(`http://127.0.0.1:${servicePort}/`, 16)).not.to.include('b3'), {
      timeoutMs: 10_000,
    });
  });

  it('stops sending traffic to a killed task', async () => {
    marathon.killTask(taskOf.get('b4')!, { killing: true });
    await eventually(
      async () => expect(await hits(`http://127.0.0.1:${servicePort}/`, 16)).to.deep.equal(['b1', 'b2']),
      { timeoutMs: 10_000 },
    );
  });

  it('coalesces a burst of events into one install', async () => {
    const installs: number[] = [];
    const off = sy.daemon.runner.onCycle((rs) => rs.forEach((r) => r.kind === 'installed' && installs.push(r.version)));
    for (let i = 0; i < 10; i++) marathon.setTaskHealth(taskOf.get('b3')!, i % 2 === 0);
    await eventually(
      async () => expect(await hits(`http://127.0.0.1:${servicePort}/`, 16)).to.deep.equal(['b1', 'b2']),
      { timeoutMs: 10_000 },
    );
    await new Promise((r) => setTimeout(r, 400));
    off();
    expect(installs.length).to.be.at.most(1);
  });

  it('keeps serving the last good config while Marathon is unreachable, and says so on /health', async () => {
    const before = readFileSync(output, 'utf8');
    marathon.failRequests(503);
    marathon.dropStreams();
    await waitForHealth(sy, 'degraded');
    const h = await sy.health();
    expect(h.status).to.equal(503);
    expect(h.body.failing).to.deep.equal(['marathon']);
    expect(readFileSync(output, 'utf8')).to.equal(before);
    expect(await hits(`http://127.0.0.1:${servicePort}/`, 8)).to.deep.equal(['b1', 'b2']);
    marathon.failRequests(null);
    await waitForHealth(sy, 'ok');
  });

  it('catches up after the stream comes back with what changed while it was down', async () => {
    marathon.stallStreams(true);
    addTask(backends[3]!);
    // The stalled stream is noticed by its silence (streamIdleTimeoutMs) and re-attached with a full resync.
    await eventually(
      async () => expect(await hits(`http://127.0.0.1:${servicePort}/`, 12)).to.deep.equal(['b1', 'b2', 'b4']),
      { timeoutMs: 15_000 },
    );
    marathon.stallStreams(false);
    await waitForHealth(sy, 'ok');
  });

  it('keeps the last good config when validation fails, and names the target on /health', async () => {
    const before = readFileSync(output, 'utf8');
    const config = sy.daemon.runner.targets[0]!.config as { validate: string };
    const validate = config.validate;
    config.validate = 'echo "simulated: config rejected" >&2; exit 1';
    try {
      marathon.killTask(taskOf.get('b4')!);
      await waitForHealth(sy, 'degraded');
      const h = await sy.health();
      expect(h.body.failing).to.deep.equal(['haproxy']);
      expect(JSON.stringify(h.body.targets)).to.contain('simulated: config rejected');
      expect(readFileSync(output, 'utf8')).to.equal(before);
      expect(await hits(`http://127.0.0.1:${servicePort}/`, 12)).to.deep.equal(['b1', 'b2', 'b4']);
    } finally {
      config.validate = validate;
    }
    await waitForHealth(sy, 'ok');
    expect(await hits(`http://127.0.0.1:${servicePort}/`, 12)).to.deep.equal(['b1', 'b2']);
  });

  it('holds a resync that suddenly finds no apps (the drop guard), serving on, until an operator releases it', async () => {
    const before = readFileSync(output, 'utf8');
    marathon.answerEmpty(true);
    marathon.dropStreams();
    await eventually(async () => expect((await sy.health()).body.failing).to.deep.equal(['guard']));
    const held = (await sy.health()).body.held as { id: string; from: number; to: number }[];
    expect(held.map((h) => [h.id, h.to])).to.deep.include(['/shop/web', 0]);
    expect(readFileSync(output, 'utf8')).to.equal(before);
    expect(await hits(`http://127.0.0.1:${servicePort}/`, 8)).to.deep.equal(['b1', 'b2']);
    const denied = await httpPost(`${sy.url}/api/guard/release`, '', {});
    expect(denied.status).to.equal(401);
    marathon.answerEmpty(false);
    marathon.dropStreams();
    await waitForHealth(sy, 'ok');
    expect(readFileSync(output, 'utf8')).to.equal(before);
  });

  it('applies a held drop once an operator releases it through the API', async () => {
    marathon.answerEmpty(true);
    marathon.dropStreams();
    await eventually(async () => expect((await sy.health()).body.failing).to.deep.equal(['guard']));
    const released = await httpPost(`${sy.url}/api/guard/release`, '{"ids":["/shop/web"]}', {
      Authorization: 'Bearer t0ken',
    });
    expect(released.status).to.equal(200);
    expect(JSON.parse(released.body).released).to.include('/shop/web');
    await eventually(async () =>
      expect((await httpGet(`http://127.0.0.1:${servicePort}/`).catch(() => ({ status: 0 }))).status).to.not.equal(200),
    );
    marathon.answerEmpty(false);
    marathon.dropStreams();
    await waitForHealth(sy, 'ok');
    await eventually(async () => expect(await hits(`http://127.0.0.1:${servicePort}/`, 8)).to.deep.equal(['b1', 'b2']));
  });

  it('exports what happened on /metrics', async () => {
    const text = (await httpGet(`${sy.url}/metrics`)).body;
    expect(text).to.match(/switchyard_source_events_total\{source="marathon",type="status_update_event"\} [1-9]/);
    expect(text).to.match(/switchyard_reloads_total\{target="haproxy",outcome="ok"\} [1-9]/);
    expect(text).to.match(/switchyard_validations_total\{target="haproxy",outcome="failed"\} [1-9]/);
    expect(text).to.match(/switchyard_backends\{service="\/shop\/web"\} 2/);
    expect(text).to.match(/switchyard_source_connected\{source="marathon"\} 1/);
    expect(text).to.contain('switchyard_event_to_install_seconds_bucket');
  });

  // One service that every event touches: each render builds its view and its loop items anew.
  it('exports the render cache’s lookups per target on /metrics', async () => {
    const text = (await httpGet(`${sy.url}/metrics`)).body;
    expect(text).to.match(/switchyard_render_cache_lookups_total\{target="haproxy",cache="view",result="miss"\} [1-9]/);
    expect(text).to.match(
      /switchyard_render_cache_lookups_total\{target="haproxy",cache="fragment",result="miss"\} [1-9]/,
    );
  });

  it('answers 503 for an app with no healthy task, keeping its frontend', async () => {
    const port = await freePort();
    marathon.addApp({
      id: '/empty',
      ports: [port],
      healthChecks: [{ protocol: 'HTTP', path: '/health', portIndex: 0 }],
    });
    await eventually(async () => expect((await httpGet(`http://127.0.0.1:${port}/`)).status).to.equal(503), {
      timeoutMs: 10_000,
    });
  });
});

describe('pipeline: bad input at start', function () {
  this.timeout(30_000);

  it('renders nothing and reports "starting" with the reason while Marathon is unreachable', async () => {
    const dir = tempDir('pipeline-down-');
    const marathon = new MarathonDouble();
    const url = await marathon.start();
    marathon.failRequests('reset');
    const output = join(dir, 'out.cfg');
    const sy = await startSwitchyard(
      {
        marathon: { endpoints: [url], requestTimeoutMs: 1000 },
        targets: [{ name: 'haproxy', template: join(repo, 'templates/haproxy.cfg.hbs'), output }],
      },
      dir,
    );
    try {
      await eventually(async () => {
        const h = await sy.health();
        expect(h.status).to.equal(503);
        expect(h.body.status).to.equal('starting');
        expect(JSON.stringify(h.body.sources)).to.match(/ECONNRESET|socket hang up/);
      });
      expect(() => readFileSync(output)).to.throw(/ENOENT/);
      marathon.failRequests(null);
      await waitForHealth(sy, 'ok');
      expect(readFileSync(output, 'utf8')).to.contain('frontend http-in');
    } finally {
      await sy.stop();
      await marathon.stop();
    }
  });

  it('keeps running with a broken template, names it on /health, and leaves the installed file alone', async () => {
    const dir = tempDir('pipeline-badtpl-');
    writeFileSync(
      join(dir, 'registry.json'),
      JSON.stringify({ services: [{ id: 'web', backends: [{ host: '127.0.0.1', port: 1 }] }] }),
    );
    writeFileSync(join(dir, 'bad.hbs'), 'global\n{{#each services}}\n  server {{id}\n');
    writeFileSync(join(dir, 'out.cfg'), 'the last good config\n');
    const sy = await startSwitchyard(
      { file: { path: 'registry.json' }, targets: [{ name: 'edge', template: 'bad.hbs', output: 'out.cfg' }] },
      dir,
    );
    try {
      await waitForHealth(sy, 'degraded');
      const h = await sy.health();
      expect(h.body.failing).to.deep.equal(['edge']);
      expect(JSON.stringify(h.body.targets)).to.contain('bad.hbs:3');
      expect(readFileSync(join(dir, 'out.cfg'), 'utf8')).to.equal('the last good config\n');
    } finally {
      await sy.stop();
    }
  });
});
