import { expect } from 'chai';
import { join } from 'node:path';
import type { ApplyResult } from '../../src/targets/target.js';
import { startBackends, type Backend } from '../support/backends.js';
import { haproxyTarget, type HaproxyHandle } from '../support/haproxy.js';
import { countHits, httpGet } from '../support/http.js';
import { MarathonDouble } from '../support/marathon-double.js';
import { freePort } from '../support/ports.js';
import { haproxyOnFirstConfig, startSwitchyard, type SwitchyardHandle } from '../support/switchyard.js';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';

interface StateService {
  id: string;
  allBackends: { id: string; healthy: boolean }[];
}

// A rolling restart of an app with a readiness check, as Marathon runs one: a
// new task starts, Marathon checks it until it is ready, then kills an old
// task; the deployment ends once every new task is ready. Through Switchyard
// and a real HAProxy, a new task takes traffic only once Marathon has found it
// ready; apps without readiness checks, and tasks outside deployments, are
// served as soon as they run.
describe('Marathon readiness checks during a deployment, through HAProxy', function () {
  this.timeout(60_000);
  let dir: string;
  let marathon: MarathonDouble;
  let backends: Map<string, Backend>;
  let haproxy: HaproxyHandle;
  let sy: SwitchyardHandle;
  let webPort: number;
  let plainPort: number;
  let deployment: string;
  const task = new Map<string, string>();
  const start = (app: string, name: string) =>
    task.set(name, marathon.addTask(app, { host: '127.0.0.1', ports: [backends.get(name)!.port] }));
  const served = async (port: number) => [...(await countHits(`http://127.0.0.1:${port}/`, 16)).keys()].sort();
  /** Whether Switchyard's state has the task as a backend of the app, taking traffic or not. */
  const known = async (app: string, name: string) => {
    const { services } = JSON.parse((await httpGet(`${sy.url}/api/state`)).body) as { services: StateService[] };
    return services.find((s) => s.id === app)?.allBackends.find((b) => b.id === task.get(name)) ?? null;
  };

  before(async () => {
    dir = tempDir('readiness-');
    webPort = await freePort();
    plainPort = await freePort();
    const started = await startBackends(['old-1', 'old-2', 'new-1', 'new-2', 'after', 'plain-1', 'plain-2']);
    backends = new Map(started.map((b) => [b.name, b]));
    marathon = new MarathonDouble({ keepAliveMs: 500 });
    const url = await marathon.start();
    marathon.addApp({
      id: '/web',
      portDefinitions: [{ port: webPort, name: 'http-api' }],
      readinessChecks: [{ path: '/ready', portName: 'http-api' }],
    });
    start('/web', 'old-1');
    start('/web', 'old-2');
    marathon.addApp({ id: '/plain', ports: [plainPort] });
    start('/plain', 'plain-1');
    const output = join(dir, 'haproxy.cfg');
    sy = await startSwitchyard(
      {
        // A poll far beyond the spec: every change below comes from the event stream.
        marathon: { endpoints: [url], pollIntervalMs: 3_600_000 },
        targets: [{ ...haproxyTarget(dir, output), vars: { bind: '127.0.0.1', httpPort: await freePort() } }],
        reload: { quietMs: 10, maxDelayMs: 100 },
      },
      dir,
    );
    haproxy = await haproxyOnFirstConfig(sy, output, dir);
  });

  after(async () => {
    await sy?.stop();
    await haproxy?.stop();
    await marathon?.stop();
    await Promise.all([...(backends?.values() ?? [])].map((b) => b.close()));
  });

  it('serves the running tasks before any deployment', async () => {
    expect(await served(webPort)).to.deep.equal(['old-1', 'old-2']);
  });

  it('keeps a task the deployment starts out while Marathon has no result for it', async () => {
    deployment = marathon.deployApp('/web', { env: { RELEASE: '2' } });
    start('/web', 'new-1');
    await eventually(async () => expect(await known('/web', 'new-1')).to.deep.include({ healthy: false }));
    expect(await served(webPort)).to.deep.equal(['old-1', 'old-2']);
  });

  it('keeps it out while Marathon finds it not ready', async () => {
    marathon.setTaskReadiness(task.get('new-1')!, false);
    // A task's news makes Switchyard fetch the results: Marathon sends no event for a check.
    start('/web', 'new-2');
    await eventually(async () => expect(await known('/web', 'new-2')).to.deep.include({ healthy: false }));
    expect(await served(webPort)).to.deep.equal(['old-1', 'old-2']);
  });

  it('serves it once Marathon finds it ready, picked up with the kill of an old task that follows', async () => {
    marathon.setTaskReadiness(task.get('new-1')!, true);
    marathon.killTask(task.get('old-1')!);
    await eventually(async () => expect(await served(webPort)).to.deep.equal(['new-1', 'old-2']));
  });

  it('serves the last new task once ready, picked up with the end of the deployment', async () => {
    marathon.setTaskReadiness(task.get('new-2')!, true);
    marathon.killTask(task.get('old-2')!);
    marathon.finishDeployment(deployment);
    await eventually(async () => expect(await served(webPort)).to.deep.equal(['new-1', 'new-2']));
  });

  it('serves a task of an app with readiness checks at once when no deployment runs', async () => {
    start('/web', 'after');
    await eventually(async () => expect(await served(webPort)).to.deep.equal(['after', 'new-1', 'new-2']));
  });

  it('serves a task of an app without readiness checks as soon as it runs', async () => {
    start('/plain', 'plain-2');
    await eventually(async () => expect(await served(plainPort)).to.deep.equal(['plain-1', 'plain-2']));
  });
});

// With HAProxy's runtime API, a task held out for readiness sits in a server
// slot, disabled: turning ready enables it without a reload.
describe('Marathon readiness checks through the HAProxy runtime API', function () {
  this.timeout(60_000);
  let dir: string;
  let marathon: MarathonDouble;
  let backends: Backend[];
  let haproxy: HaproxyHandle;
  let sy: SwitchyardHandle;
  let port: number;
  const results: ApplyResult[] = [];
  const served = async () => [...(await countHits(`http://127.0.0.1:${port}/`, 16)).keys()].sort();

  before(async () => {
    dir = tempDir('readiness-live-');
    port = await freePort();
    backends = await startBackends(['old', 'new']);
    marathon = new MarathonDouble({ keepAliveMs: 500 });
    const url = await marathon.start();
    marathon.addApp({
      id: '/web',
      portDefinitions: [{ port, name: 'http-api' }],
      readinessChecks: [{ path: '/ready' }],
    });
    marathon.addTask('/web', { host: '127.0.0.1', ports: [backends[0]!.port] });
    const output = join(dir, 'haproxy.cfg');
    const admin = join(dir, 'admin.sock');
    sy = await startSwitchyard(
      {
        marathon: { endpoints: [url], pollIntervalMs: 3_600_000 },
        targets: [
          {
            ...haproxyTarget(dir, output),
            runtimeApi: admin,
            vars: { bind: '127.0.0.1', httpPort: await freePort(), statsSocket: admin, serverSlots: 4 },
          },
        ],
        reload: { quietMs: 10, maxDelayMs: 100 },
      },
      dir,
    );
    sy.daemon.runner.onCycle((rs) => results.push(...rs));
    haproxy = await haproxyOnFirstConfig(sy, output, dir);
  });

  after(async () => {
    await sy?.stop();
    await haproxy?.stop();
    await marathon?.stop();
    await Promise.all((backends ?? []).map((b) => b.close()));
  });

  it('enables the new task live once Marathon finds it ready, with the same HAProxy worker', async () => {
    const deployment = marathon.deployApp('/web', { env: { RELEASE: '2' } });
    const fresh = marathon.addTask('/web', { host: '127.0.0.1', ports: [backends[1]!.port] });
    await eventually(async () => {
      const { services } = JSON.parse((await httpGet(`${sy.url}/api/state`)).body) as { services: StateService[] };
      expect(services[0]!.allBackends.find((b) => b.id === fresh)).to.deep.include({ healthy: false });
    });
    expect(await served()).to.deep.equal(['old']);
    const workers = await haproxy.workerPids();
    const mark = results.length;
    marathon.setTaskReadiness(fresh, true);
    marathon.finishDeployment(deployment);
    await eventually(async () => expect(await served()).to.deep.equal(['new', 'old']));
    // HAProxy serves as soon as the runtime commands are in; the cycle's record follows them.
    const installs = () => results.slice(mark).filter((r) => r.kind === 'installed');
    await eventually(() => expect(installs().length).to.be.greaterThan(0));
    expect(installs().every((r) => r.kind === 'installed' && r.how === 'live')).to.equal(true);
    expect(await haproxy.workerPids()).to.deep.equal(workers);
  });
});
