import { expect } from 'chai';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/log.js';
import type { Service, Snapshot } from '../../src/state/model.js';
import { shellExec } from '../../src/targets/exec.js';
import { Target } from '../../src/targets/target.js';
import { backend, service } from './fixtures.js';

// A reload that fails after the proxy started a new worker on the candidate
// (bin/haproxy-reload: a frontend stayed paused) leaves the proxy running the
// candidate, not the previous config: once the service at fault is left out,
// the rest must be reloaded, not taken for what already runs.

/** A reload command that refuses an installed file holding BAD, naming the line as bin/haproxy-reload does, and logs each reload it takes. */
function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'sy-reload-failure-'));
  const output = join(dir, 'proxy.cfg');
  writeFileSync(
    join(dir, 't.hbs'),
    'frontend shared\n{{#each services}}frontend {{id}}\n{{#each backends}}  server {{host}}:{{port}}\n{{/each}}{{/each}}',
  );
  const reload = [
    `n=$(grep -n BAD ${output} | cut -d: -f1 | head -1)`,
    `if [ -n "$n" ]; then echo "haproxy-reload: frontend shared is PAUSED in the new worker: its port 80 is bound by frontend bad [${output}:$n] too" >&2; exit 1; fi`,
    `echo reload >> ${join(dir, 'reloads.log')}`,
  ].join('\n');
  const target = new Target(
    { name: 't', template: join(dir, 't.hbs'), output, validate: '', reload, runtimeApi: '', vars: {} },
    { exec: shellExec, log: silentLogger(), commandTimeoutMs: 5000, cwd: dir },
  );
  const reloads = () => readFileSync(join(dir, 'reloads.log'), 'utf8').split('\n').filter(Boolean).length;
  return { target, reloads };
}

const snap = (version: number, services: Service[]): Snapshot => ({ version, services, rules: [] });

describe('a reload refused for one service', () => {
  it('quarantines the service its line names and reloads the rest, even when the rest is what was installed', async () => {
    const { target, reloads } = setup();
    await target.init();
    const web = service('web', [backend('w1', 8080, { host: '10.0.0.1' })]);
    await target.apply(snap(1, [web]));
    expect(reloads()).to.equal(1);
    const bad = service('bad', [backend('b1', 8081, { host: 'BAD' })]);
    const r = await target.apply(snap(2, [web, bad]));
    expect(r.kind).to.equal('installed');
    expect(target.quarantined().map((q) => [q.service, q.finding])).to.deep.equal([['bad', 'reload']]);
    expect(reloads()).to.equal(2);
  });
});
