import { expect } from 'chai';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBackends, type Backend } from '../support/backends.js';
import { startDaemonProcess, type DaemonProcess } from '../support/daemon-process.js';
import { haproxyTarget, startHaproxy, type HaproxyHandle } from '../support/haproxy.js';
import { countHits, httpGet } from '../support/http.js';
import { MarathonDouble } from '../support/marathon-double.js';
import { freePort } from '../support/ports.js';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';

const served = async (port: number) => [...(await countHits(`http://127.0.0.1:${port}/`, 8)).keys()].sort();
const refused = async (port: number) => (await httpGet(`http://127.0.0.1:${port}/`).catch(() => null)) === null;

/** SIGKILL to the daemon's whole process group: no handler runs, a reload command it started dies with it. */
function sigkill(d: DaemonProcess): Promise<void> {
  const gone = new Promise<void>((resolve) => d.child.once('exit', () => resolve()));
  process.kill(-d.child.pid!, 'SIGKILL');
  return gone;
}

async function waitHealthy(d: DaemonProcess): Promise<void> {
  await eventually(async () => expect((await d.health()).body.status).to.equal('ok'), {
    timeoutMs: 20_000,
    message: 'the daemon never became healthy',
  });
}

// A crash at any instant converges: after a restart, HAProxy runs what the
// installed file says, and the file says what the registry says.
describe('crash convergence', function () {
  this.timeout(90_000);

  describe('SIGKILL between installing the file and reloading HAProxy', () => {
    let dir: string;
    let backends: Backend[];
    let haproxy: HaproxyHandle;
    let daemon: DaemonProcess | null = null;
    let webPort: number;
    let shopPort: number;
    let config: Record<string, unknown>;
    const registry = (services: object[]) => writeFileSync(join(dir, 'registry.json'), JSON.stringify({ services }));

    before(async () => {
      dir = tempDir('crash-reload-');
      backends = await startBackends(['web', 'shop']);
      [webPort, shopPort] = [await freePort(), await freePort()];
      registry([{ id: 'web', servicePort: webPort, backends: [{ host: '127.0.0.1', port: backends[0]!.port }] }]);
      const target = haproxyTarget(dir, 'haproxy.cfg');
      config = {
        file: { path: 'registry.json' },
        targets: [
          {
            ...target,
            // While `hang` exists, the reload stops half-way, as a daemon killed at that instant would leave it.
            reload: `if [ -e hang ]; then touch reloading; exec sleep 60; fi; ${target.reload}`,
            vars: { bind: '127.0.0.1', httpPort: await freePort() },
          },
        ],
        reload: { quietMs: 0 },
      };
      daemon = await startDaemonProcess(config, dir);
      await eventually(() => readFileSync(join(dir, 'haproxy.cfg'), 'utf8'), {
        message: 'first config never installed',
      });
      haproxy = await startHaproxy({ configFile: join(dir, 'haproxy.cfg'), dir });
      await waitHealthy(daemon);
      expect(await served(webPort)).to.deep.equal(['web']);
    });

    after(async () => {
      await daemon?.stop();
      await haproxy?.stop();
      await Promise.all((backends ?? []).map((b) => b.close()));
    });

    it('leaves a file that HAProxy never loaded', async () => {
      writeFileSync(join(dir, 'hang'), '');
      registry([
        { id: 'web', servicePort: webPort, backends: [{ host: '127.0.0.1', port: backends[0]!.port }] },
        { id: 'shop', servicePort: shopPort, backends: [{ host: '127.0.0.1', port: backends[1]!.port }] },
      ]);
      await eventually(() => expect(existsSync(join(dir, 'reloading'))).to.equal(true), {
        message: 'the reload never started',
      });
      await sigkill(daemon!);
      daemon = null;
      expect(readFileSync(join(dir, 'haproxy.cfg'), 'utf8')).to.contain(`frontend port_${shopPort}`);
      expect(await refused(shopPort), 'HAProxy serves the new port before any reload').to.equal(true);
    });

    it('reloads it after a restart, although it is what the restarted daemon renders', async () => {
      rmSync(join(dir, 'hang'));
      daemon = await startDaemonProcess(config, dir);
      await eventually(async () => expect(await served(shopPort)).to.deep.equal(['shop']), {
        timeoutMs: 20_000,
        message: 'HAProxy never served what the file says',
      });
      await waitHealthy(daemon);
      expect(await served(webPort)).to.deep.equal(['web']);
    });
  });

  describe('SIGKILL in the middle of a runtime API batch', () => {
    let dir: string;
    let backends: Backend[];
    let marathon: MarathonDouble;
    let haproxy: HaproxyHandle;
    let daemon: DaemonProcess | null = null;
    let port: number;
    let config: Record<string, unknown>;

    before(async () => {
      dir = tempDir('crash-runtime-');
      backends = await startBackends(['a', 'b', 'c']);
      marathon = new MarathonDouble();
      const url = await marathon.start();
      port = await freePort();
      marathon.addApp({ id: '/web', ports: [port] });
      for (const b of backends.slice(0, 2)) marathon.addTask('/web', { host: '127.0.0.1', ports: [b.port] });
      const admin = join(dir, 'admin.sock');
      config = {
        marathon: { endpoints: [url], pollIntervalMs: 60_000 },
        targets: [
          {
            ...haproxyTarget(dir, 'haproxy.cfg'),
            runtimeApi: admin,
            vars: { bind: '127.0.0.1', httpPort: await freePort(), statsSocket: admin },
          },
        ],
        reload: { quietMs: 0 },
      };
      daemon = await startDaemonProcess(config, dir);
      await eventually(() => readFileSync(join(dir, 'haproxy.cfg'), 'utf8'), {
        message: 'first config never installed',
      });
      haproxy = await startHaproxy({ configFile: join(dir, 'haproxy.cfg'), dir });
      await waitHealthy(daemon);
      await eventually(async () => expect(await served(port)).to.deep.equal(['a', 'b']));
    });

    after(async () => {
      await daemon?.stop();
      await haproxy?.stop();
      await marathon?.stop();
      await Promise.all((backends ?? []).map((b) => b.close()));
    });

    it('leaves HAProxy half-way between two files', async () => {
      const file = readFileSync(join(dir, 'haproxy.cfg'), 'utf8');
      const slot = new RegExp(`server (s\\d+) 127\\.0\\.0\\.1:${backends[1]!.port}`).exec(file)![1]!;
      await sigkill(daemon!);
      daemon = null;
      // The first half of the batch that moves b's slot to c (take it out, re-address it); the daemon died before
      // "state ready" and before installing the file. Marathon then rolled the move back: it still says a and b.
      expect((await haproxy.runtime(`set server ::web/${slot} state maint`)).trim()).to.equal('');
      expect(await haproxy.runtime(`set server ::web/${slot} addr 127.0.0.1 port ${backends[2]!.port}`)).to.contain(
        'changed',
      );
      expect(await served(port)).to.deep.equal(['a']);
      expect(readFileSync(join(dir, 'haproxy.cfg'), 'utf8')).to.equal(file);
    });

    it("reads HAProxy's server state after a restart and brings it back to what the file says", async () => {
      daemon = await startDaemonProcess(config, dir);
      await eventually(async () => expect(await served(port)).to.deep.equal(['a', 'b']), {
        timeoutMs: 20_000,
        message: 'HAProxy never served what the file says',
      });
      await waitHealthy(daemon);
    });
  });
});
