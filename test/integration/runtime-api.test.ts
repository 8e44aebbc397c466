import { expect } from 'chai';
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { parseServersState } from '../../src/targets/haproxy/runtime.js';
import { serversOf } from '../../src/targets/haproxy/servers.js';
import type { ApplyResult } from '../../src/targets/target.js';
import { startBackends, type Backend } from '../support/backends.js';
import { haproxyTarget, type HaproxyHandle } from '../support/haproxy.js';
import { countHits } from '../support/http.js';
import { MarathonDouble } from '../support/marathon-double.js';
import { freePort } from '../support/ports.js';
import { haproxyOnFirstConfig, startSwitchyard, type SwitchyardHandle } from '../support/switchyard.js';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';

const served = async (port: number, n = 16) => [...(await countHits(`http://127.0.0.1:${port}/`, n)).keys()].sort();

// Switchyard with `runtimeApi` beside a real HAProxy in master-worker mode:
// membership goes through the runtime API, structure through a checked reload.
describe('HAProxy runtime API: membership without reloads', function () {
  this.timeout(60_000);
  let dir: string;
  let marathon: MarathonDouble;
  let backends: Backend[];
  let haproxy: HaproxyHandle;
  let sy: SwitchyardHandle;
  let port: number;
  let output: string;
  const results: ApplyResult[] = [];
  const taskOf = new Map<string, string>();
  const addTask = (b: Backend, app = '/web') =>
    taskOf.set(b.name, marathon.addTask(app, { host: '127.0.0.1', ports: [b.port] }));
  const since = (mark: number) => results.slice(mark).filter((r) => r.kind === 'installed');

  before(async () => {
    dir = tempDir('runtime-');
    port = await freePort();
    backends = await startBackends(['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7']);
    marathon = new MarathonDouble({ keepAliveMs: 500 });
    const url = await marathon.start();
    marathon.addApp({ id: '/web', ports: [port] });
    addTask(backends[0]!);
    output = join(dir, 'haproxy.cfg');
    const admin = join(dir, 'admin.sock');
    sy = await startSwitchyard(
      {
        marathon: { endpoints: [url], pollIntervalMs: 60_000 },
        targets: [
          {
            ...haproxyTarget(dir, output),
            runtimeApi: admin,
            vars: {
              bind: '127.0.0.1',
              httpPort: await freePort(),
              statsSocket: admin,
              serverStateFile: join(dir, 'servers.state'),
              serverSlots: 8,
            },
          },
        ],
        reload: { quietMs: 10, maxDelayMs: 100 },
      },
      dir,
    );
    sy.daemon.runner.onCycle((rs) => results.push(...rs));
    haproxy = await haproxyOnFirstConfig(sy, output, dir);
    expect(await served(port)).to.deep.equal(['r1']);
  });

  after(async () => {
    await sy?.stop();
    await haproxy?.stop();
    await marathon?.stop();
    await Promise.all((backends ?? []).map((b) => b.close()));
  });

  it('serves a scale-up through the runtime API, with the same worker process', async () => {
    const workers = await haproxy.workerPids();
    const mark = results.length;
    addTask(backends[1]!);
    await eventually(async () => expect(await served(port)).to.deep.equal(['r1', 'r2']));
    expect(await haproxy.workerPids()).to.deep.equal(workers);
    expect(since(mark).every((r) => r.kind === 'installed' && r.how === 'live')).to.equal(true);
  });

  it('takes a killed task out without a reload', async () => {
    const workers = await haproxy.workerPids();
    marathon.killTask(taskOf.get('r2')!);
    await eventually(async () => expect(await served(port)).to.deep.equal(['r1']));
    expect(await haproxy.workerPids()).to.deep.equal(workers);
  });

  it('drains a TASK_KILLING task (weight 0) before it goes', async () => {
    addTask(backends[2]!);
    await eventually(async () => expect(await served(port)).to.deep.equal(['r1', 'r3']));
    marathon.setTaskState(taskOf.get('r3')!, 'TASK_KILLING');
    await eventually(async () => {
      const states = parseServersState(await haproxy.runtime('show servers state ::web'));
      expect(states.find((s) => s.port === backends[2]!.port)).to.include({ weight: 0, maint: false });
    });
    expect(await served(port)).to.deep.equal(['r1']);
    marathon.killTask(taskOf.get('r3')!);
  });

  it('applies a churn of membership changes with zero reloads', async () => {
    const workers = await haproxy.workerPids();
    const mark = results.length;
    for (const b of backends.slice(3, 6)) addTask(b);
    await eventually(async () => expect(await served(port, 24)).to.deep.equal(['r1', 'r4', 'r5', 'r6']));
    for (const b of backends.slice(3, 5)) marathon.killTask(taskOf.get(b.name)!);
    await eventually(async () => expect(await served(port)).to.deep.equal(['r1', 'r6']));
    expect(since(mark).filter((r) => r.kind === 'installed' && r.how === 'reload').length).to.equal(0);
    expect(await haproxy.workerPids()).to.deep.equal(workers);
  });

  it('keeps the installed file in step with what HAProxy serves', async () => {
    const file = serversOf(readFileSync(output, 'utf8'));
    const live = parseServersState(await haproxy.runtime('show servers state ::web'));
    expect(live.length).to.be.greaterThan(0);
    for (const s of live) {
      const f = file.get(`::web/${s.name}`)!;
      expect({ name: s.name, port: s.port, maint: s.maint, weight: s.weight }).to.deep.equal({
        name: f.name,
        port: f.port,
        maint: f.disabled,
        weight: f.weight,
      });
    }
  });

  it('reloads exactly once for a structural change (a new app)', async () => {
    const workers = await haproxy.workerPids();
    const mark = results.length;
    const apiPort = await freePort();
    marathon.addApp({ id: '/api', ports: [apiPort] });
    addTask(backends[6]!, '/api');
    await eventually(async () => expect(await served(apiPort, 4)).to.deep.equal(['r7']));
    await eventually(() =>
      expect(since(mark).filter((r) => r.kind === 'installed' && r.how === 'reload')).to.have.length(1),
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(since(mark).filter((r) => r.kind === 'installed' && r.how === 'reload')).to.have.length(1);
    expect(await haproxy.workerPids()).to.not.deep.equal(workers);
  });

  it('falls back to a reload when the runtime API refuses', async () => {
    const admin = join(dir, 'admin.sock');
    renameSync(admin, `${admin}.away`);
    try {
      const workers = await haproxy.workerPids();
      const mark = results.length;
      addTask(backends[1]!);
      await eventually(async () => expect(await served(port)).to.deep.equal(['r1', 'r2', 'r6']));
      await eventually(() =>
        expect(since(mark).some((r) => r.kind === 'installed' && r.how === 'reload')).to.equal(true),
      );
      expect(await haproxy.workerPids()).to.not.deep.equal(workers);
    } finally {
      renameSync(`${admin}.away`, admin);
    }
  });

  it('carries server state across a reload without resurrecting old addresses', async () => {
    const state = readFileSync(join(dir, 'servers.state'), 'utf8');
    expect(state.split('\n')[0]).to.equal('1');
    expect(await served(port)).to.deep.equal(['r1', 'r2', 'r6']);
  });
});
