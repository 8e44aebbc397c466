import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpGet } from '../support/http.js';
import { freePort } from '../support/ports.js';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';

const repo = process.cwd();
const bin = join(repo, 'bin', 'switchyard.js');

interface Health {
  status: string;
  failing: string[];
  sources: Record<string, { lastSyncAt: number | null }>;
  config: { ok: boolean; error: string | null };
}

// `switchyard serve` as systemd runs it, with `ExecReload=kill -HUP $MAINPID`.
describe('SIGHUP re-reads the config and the templates', function () {
  this.timeout(60_000);
  let dir: string;
  let child: ChildProcess;
  let port: number;
  let logs = '';
  let config: Record<string, unknown> & { targets: Record<string, unknown>[]; file: { path: string } };
  const output = () => join(dir, 'haproxy.cfg');
  const writeConfig = () => writeFileSync(join(dir, 'switchyard.json'), JSON.stringify(config, null, 2));
  const health = async () => {
    const r = await httpGet(`http://127.0.0.1:${port}/health`);
    return { status: r.status, body: JSON.parse(r.body) as Health };
  };
  const logLines = () =>
    logs
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown> & { message: string });
  /** Sends SIGHUP and waits for the daemon's verdict on the config it re-read. */
  const hangup = async () => {
    const before = logLines().length;
    child.kill('SIGHUP');
    return eventually(
      () => {
        const verdict = logLines()
          .slice(before)
          .find((l) => /^config re-read and applied|^new config refused/.test(l.message));
        if (!verdict) throw new Error('no verdict logged yet');
        return verdict;
      },
      { message: 'the re-read was never logged' },
    );
  };

  before(async () => {
    dir = tempDir('sighup-');
    port = await freePort();
    writeFileSync(
      join(dir, 'registry.json'),
      JSON.stringify({ services: [{ id: 'web', servicePort: 10080, backends: [{ host: '127.0.0.1', port: 31001 }] }] }),
    );
    config = {
      file: { path: 'registry.json' },
      targets: [
        {
          name: 'haproxy',
          template: join(repo, 'templates/haproxy.cfg.hbs'),
          output: 'haproxy.cfg',
          validate: 'haproxy -c -q -f {{file}}',
          vars: { bind: '127.0.0.1', httpPort: 18080 },
        },
      ],
      reload: { quietMs: 0 },
      http: { listen: `127.0.0.1:${port}` },
      log: { level: 'info', format: 'json' },
    };
    writeConfig();
    child = spawn('node', [bin, 'serve', '--config', join(dir, 'switchyard.json')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', (c: Buffer) => (logs += c.toString()));
    await eventually(async () => expect((await health()).status).to.equal(200), { message: 'never healthy' });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(`--- switchyard log ---\n${logs}`);
  });

  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });

  it('keeps running, and logs what it did', async () => {
    const verdict = await hangup();
    expect(verdict.message).to.equal('config re-read and applied');
    expect(verdict).to.deep.include({ sourcesKept: ['file'], targetsKept: ['haproxy'] });
    expect(child.exitCode).to.equal(null);
    expect((await health()).status).to.equal(200);
  });

  it('applies a changed target var', async () => {
    expect(readFileSync(output(), 'utf8')).to.contain(':18080');
    config.targets[0]!.vars = { bind: '127.0.0.1', httpPort: 18081 };
    writeConfig();
    const verdict = await hangup();
    expect(verdict).to.deep.include({ targetsChanged: ['haproxy'], sourcesKept: ['file'] });
    await eventually(() => expect(readFileSync(output(), 'utf8')).to.contain(':18081').and.not.contain(':18080'));
  });

  it('keeps a source whose settings did not change running, without fetching its view again', async () => {
    const before = (await health()).body.sources.file!.lastSyncAt;
    config.targets[0]!.vars = { bind: '127.0.0.1', httpPort: 18082 };
    writeConfig();
    await hangup();
    await eventually(() => expect(readFileSync(output(), 'utf8')).to.contain(':18082'));
    expect((await health()).body.sources.file!.lastSyncAt).to.equal(before);
  });

  it('rebuilds a source whose settings changed', async () => {
    writeFileSync(
      join(dir, 'other.json'),
      JSON.stringify({ services: [{ id: 'web', servicePort: 10080, backends: [{ host: '127.0.0.1', port: 31999 }] }] }),
    );
    config.file = { path: 'other.json' };
    writeConfig();
    const verdict = await hangup();
    expect(verdict).to.deep.include({ sourcesChanged: ['file'], targetsKept: ['haproxy'] });
    await eventually(() => expect(readFileSync(output(), 'utf8')).to.contain('127.0.0.1:31999'));
  });

  describe('with a broken config', () => {
    let installed: string;

    before(async () => {
      installed = readFileSync(output(), 'utf8');
      writeFileSync(join(dir, 'switchyard.json'), JSON.stringify({ ...config, relaod: { quietMs: 5 } }));
    });

    it('keeps running on the config it had, logging the key at fault', async () => {
      const verdict = await hangup();
      expect(verdict.message).to.equal('new config refused; the running config stays');
      expect(verdict.level).to.equal('error');
      expect(String(verdict.error)).to.contain('unknown key "relaod"');
      expect(child.exitCode).to.equal(null);
      expect(readFileSync(output(), 'utf8')).to.equal(installed);
    });

    it('says so on /health (503, "config" failing) while /live stays 200', async () => {
      const h = await health();
      expect(h.status).to.equal(503);
      expect(h.body.failing).to.deep.equal(['config']);
      expect(h.body.config.error).to.contain('relaod');
      expect((await httpGet(`http://127.0.0.1:${port}/live`)).status).to.equal(200);
    });

    it('still follows its registry meanwhile', async () => {
      writeFileSync(
        join(dir, 'other.json'),
        JSON.stringify({
          services: [{ id: 'web', servicePort: 10080, backends: [{ host: '127.0.0.1', port: 31888 }] }],
        }),
      );
      await eventually(() => expect(readFileSync(output(), 'utf8')).to.contain('127.0.0.1:31888'));
    });

    it('takes the next good config, and /health is ok again', async () => {
      writeConfig();
      expect((await hangup()).message).to.equal('config re-read and applied');
      const h = await health();
      expect(h.status).to.equal(200);
      expect(h.body.config).to.deep.include({ ok: true, error: null });
    });
  });

  it('refuses a config whose new template does not compile, keeping the running one', async () => {
    writeFileSync(join(dir, 'broken.hbs'), 'global\n{{#each services}}\n  backend {{id}}\n');
    const installed = readFileSync(output(), 'utf8');
    writeFileSync(
      join(dir, 'switchyard.json'),
      JSON.stringify({ ...config, targets: [{ ...config.targets[0], template: 'broken.hbs' }] }),
    );
    const verdict = await hangup();
    expect(verdict.message).to.equal('new config refused; the running config stays');
    expect(String(verdict.error)).to.contain('haproxy').and.contain('broken.hbs');
    expect((await health()).body.failing).to.deep.equal(['config']);
    expect(readFileSync(output(), 'utf8')).to.equal(installed);
    writeConfig();
    await hangup();
  });
});
