import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBackends, type Backend } from '../support/backends.js';
import { startHaproxy, haproxyTarget, type HaproxyHandle } from '../support/haproxy.js';
import { countHits, httpGet, httpPost } from '../support/http.js';
import { MarathonDouble } from '../support/marathon-double.js';
import { freePort } from '../support/ports.js';
import { startSwitchyard, waitForHealth, type SwitchyardHandle } from '../support/switchyard.js';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';

// The drop guard across a restart: Switchyard stops, Marathon comes back
// empty (a fresh ZooKeeper, a wrong cluster), Switchyard starts again. Its
// first view has nothing to compare with but the config HAProxy runs.
describe('the drop guard across a restart', function () {
  this.timeout(90_000);
  let dir: string;
  let marathon: MarathonDouble;
  let backends: Backend[];
  let haproxy: HaproxyHandle;
  let sy: SwitchyardHandle | null = null;
  let servicePort: number;
  const output = () => join(dir, 'haproxy.cfg');
  const serving = async () => [...(await countHits(`http://127.0.0.1:${servicePort}/`, 8)).keys()].sort();
  const start = async (guard: Record<string, unknown> = {}) => {
    sy = await startSwitchyard(
      {
        marathon: { endpoints: [marathon.url], pollIntervalMs: 60_000 },
        targets: [{ ...haproxyTarget(dir, 'haproxy.cfg'), vars: { bind: '127.0.0.1', httpPort: await freePort() } }],
        reload: { quietMs: 0 },
        guard,
      },
      dir,
    );
  };
  const restart = async (guard: Record<string, unknown> = {}) => {
    await sy?.stop();
    sy = null;
    await start(guard);
  };

  before(async () => {
    dir = tempDir('restart-guard-');
    backends = await startBackends(['a', 'b', 'c', 'd']);
    marathon = new MarathonDouble();
    await marathon.start();
    servicePort = await freePort();
    marathon.addApp({ id: '/web', ports: [servicePort] });
    for (const b of backends) marathon.addTask('/web', { host: '127.0.0.1', ports: [b.port] });
    await start();
    await eventually(() => readFileSync(output(), 'utf8'), { message: 'first config never installed' });
    haproxy = await startHaproxy({ configFile: output(), dir });
    await waitForHealth(sy!, 'ok');
    await eventually(async () => expect(await serving()).to.deep.equal(['a', 'b', 'c', 'd']));
  });

  after(async () => {
    await sy?.stop();
    await haproxy?.stop();
    await marathon?.stop();
    await Promise.all((backends ?? []).map((b) => b.close()));
  });

  it('installs at once after a restart into the same registry', async () => {
    await restart();
    await waitForHealth(sy!, 'ok');
    expect((await sy!.health()).body.held).to.deep.equal([]);
  });

  describe('restarted into an empty registry', () => {
    let installed: string;

    before(async () => {
      installed = readFileSync(output(), 'utf8');
      await sy!.stop();
      sy = null;
      marathon.removeApp('/web');
      await start();
    });

    it('keeps the installed config, and HAProxy keeps serving every backend', async () => {
      await waitForHealth(sy!, 'degraded');
      expect(readFileSync(output(), 'utf8')).to.equal(installed);
      expect(await serving()).to.deep.equal(['a', 'b', 'c', 'd']);
    });

    it('shows the hold on /health: the guard failing, the service with the backends it would lose', async () => {
      const h = await sy!.health();
      expect(h.status).to.equal(503);
      expect(h.body.failing).to.deep.equal(['guard']);
      const held = h.body.held as { id: string; from: number; to: number }[];
      expect(held).to.have.length(1);
      expect(held[0]).to.include({ id: '/web', from: 4, to: 0 });
    });

    it('installs the empty view once an operator confirms it', async () => {
      const r = await httpPost(`${sy!.url}/api/guard/release`, '');
      expect(r.status).to.equal(200);
      expect(JSON.parse(r.body).released).to.deep.equal(['/web']);
      await waitForHealth(sy!, 'ok');
      expect(readFileSync(output(), 'utf8')).to.not.contain('backend ::web');
    });
  });

  describe('restarted into an empty registry with a short hold time', () => {
    it('installs the empty view once the hold time has passed', async () => {
      marathon.addApp({ id: '/web', ports: [servicePort] });
      for (const b of backends) marathon.addTask('/web', { host: '127.0.0.1', ports: [b.port] });
      await restart();
      await eventually(async () => expect(await serving()).to.deep.equal(['a', 'b', 'c', 'd']), { timeoutMs: 20_000 });
      await sy!.stop();
      sy = null;
      marathon.removeApp('/web');
      await start({ holdMs: 1000 });
      await eventually(() => expect(readFileSync(output(), 'utf8')).to.not.contain('backend ::web'), {
        timeoutMs: 20_000,
        message: 'the held view was never installed',
      });
      await waitForHealth(sy!, 'ok');
      expect((await httpGet(`http://127.0.0.1:${servicePort}/`).catch(() => ({ status: 0 }))).status).to.not.equal(200);
    });
  });
});
