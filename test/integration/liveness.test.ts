import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { httpGet } from '../support/http.js';
import { freePort } from '../support/ports.js';
import { appDefinitionHealthChecks, imageHealthcheckCommand } from '../support/shipped-checks.js';
import { startSwitchyard, waitForHealth, type SwitchyardHandle } from '../support/switchyard.js';
import { tempDir } from '../support/tmp.js';

const repo = process.cwd();

// Liveness (/live, /healthz) says the process serves; readiness (/health,
// /readyz) says its view and installs are current. The checks the project
// ships that restart Switchyard must use the first: a degraded daemon keeps
// HAProxy serving its last good config, and killing it helps nobody.
describe('liveness and readiness', function () {
  this.timeout(30_000);

  describe('a degraded daemon (its target refuses every config)', () => {
    let sy: SwitchyardHandle;
    let port: number;

    before(async () => {
      const dir = tempDir('liveness-');
      writeFileSync(
        join(dir, 'registry.json'),
        JSON.stringify({
          services: [{ id: 'web', servicePort: 10080, backends: [{ host: '127.0.0.1', port: 31001 }] }],
        }),
      );
      port = await freePort();
      sy = await startSwitchyard(
        {
          file: { path: 'registry.json' },
          http: { listen: `127.0.0.1:${port}` },
          targets: [
            {
              name: 'haproxy',
              template: join(repo, 'templates/haproxy.cfg.hbs'),
              output: 'haproxy.cfg',
              validate: 'echo "[ALERT] config refused" >&2; exit 1',
            },
          ],
        },
        dir,
      );
      await waitForHealth(sy, 'degraded');
    });

    after(() => sy?.stop());

    it('answers 503 "degraded" on /health and on its alias /readyz', async () => {
      for (const path of ['/health', '/readyz']) {
        const r = await httpGet(`${sy.url}${path}`);
        expect(r.status, path).to.equal(503);
        expect(JSON.parse(r.body)).to.include({ status: 'degraded' });
        expect(JSON.parse(r.body).failing, path).to.deep.equal(['haproxy']);
      }
    });

    it('answers 200 on /live and on its alias /healthz', async () => {
      for (const path of ['/live', '/healthz']) expect((await httpGet(`${sy.url}${path}`)).status, path).to.equal(200);
    });

    it("passes the image's HEALTHCHECK command", async () => {
      // Rejects on a non-zero exit, which Docker would count as a failed check (the daemon runs in this process).
      await promisify(execFile)('/bin/sh', ['-c', imageHealthcheckCommand(port)], { timeout: 10_000 });
    });

    it("passes the Marathon app definition's health checks", async () => {
      const checks = appDefinitionHealthChecks();
      expect(checks).to.have.length.greaterThan(0);
      for (const check of checks) {
        const r = await httpGet(`http://127.0.0.1:${port}${check.path}`);
        // Marathon counts 200–399 as healthy.
        expect(r.status, `${check.protocol} ${check.path}`).to.be.within(200, 399);
      }
    });
  });

  it("aims the app definition's health check at the port its own environment makes Switchyard listen on", () => {
    const app = JSON.parse(readFileSync(join(repo, 'examples/marathon-switchyard.json'), 'utf8')) as {
      env: Record<string, string>;
    };
    const listenPort = Number(app.env.SWITCHYARD_HTTP_LISTEN!.split(':').pop());
    expect(appDefinitionHealthChecks().map((c) => c.port)).to.deep.equal([listenPort]);
  });

  it('is live while still starting, before any registry has answered', async () => {
    const dir = tempDir('liveness-starting-');
    const closed = await freePort();
    const sy = await startSwitchyard(
      {
        marathon: { endpoints: [`http://127.0.0.1:${closed}`], requestTimeoutMs: 500 },
        targets: [{ name: 'haproxy', template: join(repo, 'templates/haproxy.cfg.hbs'), output: 'haproxy.cfg' }],
      },
      dir,
    );
    try {
      const ready = await httpGet(`${sy.url}/readyz`);
      expect(ready.status).to.equal(503);
      expect(JSON.parse(ready.body)).to.include({ status: 'starting' });
      expect((await httpGet(`${sy.url}/live`)).status).to.equal(200);
    } finally {
      await sy.stop();
    }
  });
});
