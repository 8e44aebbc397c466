import { expect } from 'chai';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBackends, type Backend } from '../support/backends.js';
import { haproxyTarget, type HaproxyHandle } from '../support/haproxy.js';
import { httpGet } from '../support/http.js';
import { freePort } from '../support/ports.js';
import { haproxyOnFirstConfig, startSwitchyard, waitForHealth, type SwitchyardHandle } from '../support/switchyard.js';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';

const repo = process.cwd();

// An operator edits the template while the daemon runs beside a real HAProxy:
// a good edit is live on the proxy, a bad one is refused with where it went
// wrong, and the proxy keeps serving what it served.
describe('template edited while the daemon runs', function () {
  this.timeout(60_000);
  let dir: string;
  let template: string;
  let original: string;
  let output: string;
  let backends: Backend[];
  let haproxy: HaproxyHandle;
  let sy: SwitchyardHandle;
  let httpPort: number;

  const get = () => httpGet(`http://127.0.0.1:${httpPort}/`, { headers: { Host: 'web.example.com' } });
  /** The default template with `line` added to the shared frontend, after `option forwardfor`. */
  const withFrontendLine = (line: string) => original.replace('frontend http-in\n', `frontend http-in\n${line}\n`);
  const logText = () => JSON.stringify(sy.logs);
  const targetError = async () => {
    const h = await sy.health();
    return JSON.stringify((h.body.targets as Record<string, unknown>).haproxy);
  };

  before(async () => {
    dir = tempDir('template-edit-');
    httpPort = await freePort();
    backends = await startBackends(['web-1']);
    template = join(dir, 'haproxy.cfg.hbs');
    copyFileSync(join(repo, 'templates/haproxy.cfg.hbs'), template);
    original = readFileSync(template, 'utf8');
    writeFileSync(
      join(dir, 'registry.json'),
      JSON.stringify({
        services: [
          {
            id: 'web',
            labels: { HAPROXY_0_VHOST: 'web.example.com' },
            backends: [{ host: '127.0.0.1', port: backends[0]!.port }],
          },
        ],
      }),
    );
    output = join(dir, 'haproxy.cfg');
    sy = await startSwitchyard(
      {
        file: { path: 'registry.json' },
        targets: [
          {
            ...haproxyTarget(dir, 'haproxy.cfg'),
            template: 'haproxy.cfg.hbs',
            vars: { bind: '127.0.0.1', httpPort },
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
    await Promise.all((backends ?? []).map((b) => b.close()));
  });

  it('applies a valid edit on the running proxy', async () => {
    expect((await get()).headers['x-edited']).to.equal(undefined);
    writeFileSync(template, withFrontendLine('    http-response set-header X-Edited 1'));
    await eventually(async () => expect((await get()).headers['x-edited']).to.equal('1'), { timeoutMs: 10_000 });
    await eventually(() => expect(logText()).to.contain('template edit applied'));
    await waitForHealth(sy, 'ok');
  });

  it('refuses an edit with a syntax error, naming file and line on /health and in the log, and serves on', async () => {
    const installed = readFileSync(output, 'utf8');
    const broken = withFrontendLine('    http-response set-header X-Edited 1').replace(
      '{{#each listeners}}',
      '{{#each listeners}',
    );
    const line = broken.split('\n').findIndex((l) => l.includes('{{#each listeners}')) + 1;
    writeFileSync(template, broken);
    await waitForHealth(sy, 'degraded');
    expect((await sy.health()).body.failing).to.deep.equal(['haproxy']);
    expect(await targetError()).to.contain(`${template}:${line}:`);
    expect(logText()).to.contain(`${template}:${line}:`);
    expect(readFileSync(output, 'utf8')).to.equal(installed);
    expect((await get()).headers['x-edited']).to.equal('1');
  });

  it('refuses an edit the proxy does not validate, naming the line haproxy -c rejects, and serves on', async () => {
    const installed = readFileSync(output, 'utf8');
    writeFileSync(template, withFrontendLine('    http-response set-header X-Edited 2\n    bogus_keyword on'));
    await eventually(async () => expect(await targetError()).to.contain('bogus_keyword'), { timeoutMs: 10_000 });
    const bogusLine = installed.split('\n').findIndex((l) => l.startsWith('frontend http-in')) + 3;
    expect(await targetError()).to.match(new RegExp(`:${bogusLine}\\] : unknown keyword 'bogus_keyword'`));
    expect(logText()).to.match(new RegExp(`:${bogusLine}\\] : unknown keyword 'bogus_keyword'`));
    expect((await sy.health()).body.failing).to.deep.equal(['haproxy']);
    expect(readFileSync(output, 'utf8')).to.equal(installed);
    expect((await get()).headers['x-edited']).to.equal('1');
  });

  it('takes the template again once it is fixed', async () => {
    writeFileSync(template, withFrontendLine('    http-response set-header X-Edited 3'));
    await eventually(async () => expect((await get()).headers['x-edited']).to.equal('3'), { timeoutMs: 10_000 });
    await waitForHealth(sy, 'ok');
  });
});
