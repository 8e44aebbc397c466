import { expect } from 'chai';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TargetConfig } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import type { Snapshot } from '../../src/state/model.js';
import { shellExec } from '../../src/targets/exec.js';
import { Target, type ApplyResult } from '../../src/targets/target.js';
import { backend, service } from './fixtures.js';

// A target whose template prints each backend, whose validate refuses any
// config mentioning port 666, and whose reload appends to a log file: real
// files and real shell commands.
function setup(overrides: Partial<TargetConfig> = {}, commandTimeoutMs = 2000) {
  const dir = mkdtempSync(join(tmpdir(), 'sy-target-'));
  writeFileSync(join(dir, 't.hbs'), '{{#each services}}{{id}}{{#each backends}} {{host}}:{{port}}{{/each}}\n{{/each}}');
  const config: TargetConfig = {
    name: 't',
    template: join(dir, 't.hbs'),
    output: join(dir, 'out', 'proxy.cfg'),
    validate: `! grep -q ':666' {{file}} || { echo "port 666 refused" >&2; exit 1; }`,
    reload: `echo reload >> ${join(dir, 'reloads.log')}`,
    runtimeApi: '',
    vars: {},
    ...overrides,
  };
  const target = new Target(config, { exec: shellExec, log: silentLogger(), commandTimeoutMs, cwd: dir });
  const reloads = () => {
    try {
      return readFileSync(join(dir, 'reloads.log'), 'utf8').split('\n').filter(Boolean).length;
    } catch {
      return 0;
    }
  };
  return { dir, config, target, reloads, installed: () => readFileSync(config.output, 'utf8') };
}

/** An outcome in one word: `unchanged`, `deferred`, `installed:<how>` or `failed:<stage>`. */
const what = (r: ApplyResult): string =>
  r.kind === 'installed' ? `installed:${r.how}` : r.kind === 'failed' ? `failed:${r.error.stage}` : r.kind;
const errorOf = (r: ApplyResult): string => (r.kind === 'failed' ? r.error.message : '');

const snap = (version: number, port: number): Snapshot => ({
  version,
  services: [service('web', [backend('a', port)])],
  rules: [],
});

describe('target', () => {
  it('installs the rendered config and reloads once', async () => {
    const { target, installed, reloads } = setup();
    await target.init();
    const r = await target.apply(snap(1, 80));
    expect(what(r)).to.equal('installed:reload');
    expect(installed()).to.equal('web 127.0.0.1:80\n');
    expect(reloads()).to.equal(1);
  });

  it('neither writes nor reloads when the output would not change', async () => {
    const { target, reloads } = setup();
    await target.init();
    await target.apply(snap(1, 80));
    const r = await target.apply(snap(2, 80));
    expect(what(r)).to.equal('unchanged');
    expect(reloads()).to.equal(1);
  });

  it('does not reload on start when the installed file already matches', async () => {
    const first = setup();
    await first.target.init();
    await first.target.apply(snap(1, 80));
    const again = new Target(first.config, {
      exec: shellExec,
      log: silentLogger(),
      commandTimeoutMs: 2000,
      cwd: first.dir,
    });
    await again.init();
    expect(what(await again.apply(snap(1, 80)))).to.equal('unchanged');
    expect(first.reloads()).to.equal(1);
  });

  it('keeps a refused service at its last good rendering, quarantined with the tool’s own message', async () => {
    const { target, installed, reloads } = setup();
    await target.init();
    await target.apply(snap(1, 80));
    const r = await target.apply(snap(2, 666));
    expect(what(r)).to.equal('unchanged');
    expect(installed()).to.equal('web 127.0.0.1:80\n');
    expect(reloads()).to.equal(1);
    expect(target.quarantined()).to.have.length(1);
    expect(target.quarantined()[0]).to.include({ service: 'web', target: 't', finding: 'bisection' });
    expect(target.quarantined()[0]!.reason).to.contain('port 666 refused');
    expect(target.status()).to.include({ ok: true });
  });

  it('keeps the last good config when the proxy refuses what no service changed', async () => {
    const { config, target, installed } = setup();
    await target.init();
    await target.apply(snap(1, 80));
    writeFileSync(config.template, 'listen :666\n{{#each services}}{{id}}{{/each}}\n');
    const r = await target.reloadTemplate(snap(1, 80));
    expect(what(r)).to.equal('failed:validate');
    expect(errorOf(r)).to.contain('port 666 refused');
    expect(installed()).to.equal('web 127.0.0.1:80\n');
    expect(target.quarantined()).to.deep.equal([]);
  });

  it('recovers its status on the next good apply', async () => {
    const { target } = setup();
    await target.init();
    await target.apply(snap(1, 666));
    await target.apply(snap(2, 81));
    expect(target.status()).to.include({ ok: true, lastError: null, version: 2 });
  });

  it('puts the previous file back when the reload fails', async () => {
    const { dir, target, installed } = setup({
      reload: 'test ! -e fail-reload || { echo "proxy not running" >&2; exit 3; }',
    });
    await target.init();
    await target.apply(snap(1, 80));
    writeFileSync(join(dir, 'fail-reload'), '');
    const r = await target.apply(snap(2, 81));
    expect(what(r)).to.equal('failed:reload');
    expect(errorOf(r)).to.contain('exited 3').and.contain('proxy not running');
    expect(installed()).to.equal('web 127.0.0.1:80\n');
  });

  it('kills a reload that hangs, after the timeout', async () => {
    const { target } = setup({ reload: 'sleep 30' }, 300);
    await target.init();
    const r = await target.apply(snap(1, 80));
    expect(what(r)).to.equal('failed:reload');
    expect(errorOf(r)).to.contain('timed out');
  });

  it('leaves no temporary file behind, whatever the outcome', async () => {
    const { config, target } = setup();
    await target.init();
    await target.apply(snap(1, 80));
    await target.apply(snap(2, 666));
    expect(readdirSync(join(config.output, '..'))).to.deep.equal(['proxy.cfg']);
  });

  it('reports a bad template without throwing, and renders nothing', async () => {
    const { config, target } = setup();
    writeFileSync(config.template, '{{#each services}}');
    await target.init();
    expect(target.status()).to.include({ ok: false, stage: 'template' });
    expect(what(await target.apply(snap(1, 80)))).to.equal('failed:template');
  });

  it('keeps the active template when an edit fails to parse, and names the file', async () => {
    const { config, target, installed } = setup();
    await target.init();
    await target.apply(snap(1, 80));
    writeFileSync(config.template, '{{#each services}}broken');
    const r = await target.reloadTemplate(snap(1, 80));
    expect(what(r)).to.equal('failed:template');
    expect(target.status().templateError).to.contain(config.template);
    expect(what(await target.apply(snap(2, 81)))).to.equal('installed:reload');
    expect(installed()).to.equal('web 127.0.0.1:81\n');
  });

  it('refuses a template edit whose render fails validation', async () => {
    const { config, target, installed } = setup();
    await target.init();
    await target.apply(snap(1, 80));
    writeFileSync(config.template, 'listen :666\n');
    expect(what(await target.reloadTemplate(snap(1, 80)))).to.equal('failed:validate');
    expect(installed()).to.equal('web 127.0.0.1:80\n');
  });

  it('applies a good template edit', async () => {
    const { config, target, installed } = setup();
    await target.init();
    await target.apply(snap(1, 80));
    writeFileSync(config.template, '# v2\n{{#each services}}{{id}}{{/each}}\n');
    expect(what(await target.reloadTemplate(snap(1, 80)))).to.equal('installed:reload');
    expect(installed()).to.equal('# v2\nweb\n');
    expect(target.status().templateError).to.equal(null);
  });

  it('validates a template edit that came while a reload was held back before making it the active one', async () => {
    const { config, dir, installed } = setup();
    const target = new Target(config, {
      exec: shellExec,
      log: silentLogger(),
      commandTimeoutMs: 2000,
      cwd: dir,
      minReloadIntervalMs: 150,
    });
    await target.init();
    await target.apply(snap(1, 80));
    writeFileSync(config.template, 'listen :666\n');
    const held = await target.reloadTemplate(snap(2, 81));
    expect(held.kind === 'deferred' && held.retryInMs > 0).to.equal(true);
    await new Promise((resolve) => setTimeout(resolve, held.kind === 'deferred' ? held.retryInMs + 20 : 0));
    expect(what(await target.apply(snap(2, 81)))).to.equal('failed:validate');
    expect(target.status().templateError).to.contain('port 666 refused');
    expect(what(await target.apply(snap(3, 82)))).to.equal('installed:reload');
    expect(installed()).to.equal('web 127.0.0.1:82\n');
  });
});

describe('target, first install', () => {
  it('leaves a validated first config in place when the proxy is not up to reload, and tries the reload again', async () => {
    const { dir, target, installed } = setup({ reload: 'test -e proxy-up' });
    await target.init();
    expect(what(await target.apply(snap(1, 80)))).to.equal('failed:reload');
    expect(installed()).to.equal('web 127.0.0.1:80\n');
    writeFileSync(join(dir, 'proxy-up'), '');
    expect(what(await target.apply(snap(1, 80)))).to.equal('installed:reload');
  });
});

describe('target, restart', () => {
  it('renders the installed file again after a restart, slots and all, so nothing reloads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-restart-'));
    const config: TargetConfig = {
      name: 'haproxy',
      template: join(process.cwd(), 'templates/haproxy.cfg.hbs'),
      output: join(dir, 'haproxy.cfg'),
      validate: '',
      reload: `echo reload >> ${join(dir, 'reloads.log')}`,
      runtimeApi: '',
      vars: {},
    };
    const deps = { exec: shellExec, log: silentLogger(), commandTimeoutMs: 2000, cwd: dir };
    const first = new Target(config, deps);
    await first.init();
    // c comes first and takes s1; a fresh placement would put a there (id order).
    await first.apply({ version: 1, services: [service('/web', [backend('c', 2)])], rules: [] });
    await first.apply({
      version: 2,
      services: [service('/web', [backend('a', 3), backend('b', 1), backend('c', 2)])],
      rules: [],
    });
    const again = new Target(config, deps);
    await again.init();
    const r = await again.apply({
      version: 1,
      services: [service('/web', [backend('a', 3), backend('b', 1), backend('c', 2)])],
      rules: [],
    });
    expect(what(r)).to.equal('unchanged');
  });
});
