import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { startHaproxy, type HaproxyHandle } from '../support/haproxy.js';
import { httpGet } from '../support/http.js';
import { freePort } from '../support/ports.js';
import { runCommand } from '../support/processes.js';
import { tempDir } from '../support/tmp.js';

const reloadCommand = join(process.cwd(), 'bin/haproxy-reload');

/** A config with one frontend per entry, each answering its own name; `bind` lines are the entries' addresses. */
function config(frontends: Array<{ name: string; bind: string }>): string {
  const head = [
    'global',
    '    noreuseport',
    '    log stderr format short local0 notice',
    'defaults',
    '    mode http',
    '    timeout connect 2s',
    '    timeout client 30s',
    '    timeout server 30s',
  ];
  const sections = frontends.flatMap((f) => [
    `frontend ${f.name}`,
    `    bind ${f.bind}`,
    `    http-request return status 200 content-type text/plain string ${f.name}`,
  ]);
  return [...head, ...sections, ''].join('\n');
}

/** The 1-based line of `bind <address>` in a config made by `config`. */
const lineOf = (text: string, bind: string): number => text.split('\n').indexOf(`    bind ${bind}`) + 1;

/** A process that is not HAProxy, listening on a port. */
function holdPort(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

// bin/haproxy-reload against a real HAProxy 2.6 in master-worker mode: a new
// worker is not success unless it serves every listener of the new config.
describe('bin/haproxy-reload: a reload must achieve its listeners', function () {
  this.timeout(60_000);
  let dir: string;
  let cfg: string;
  let haproxy: HaproxyHandle;
  let shared: string;

  const reload = (...extra: string[]) => runCommand(reloadCommand, [haproxy.masterSocket, '5', ...extra]);
  const install = (text: string) => writeFileSync(cfg, text);

  beforeEach(async () => {
    dir = tempDir('haproxy-reload-');
    cfg = join(dir, 'haproxy.cfg');
    shared = `127.0.0.1:${await freePort()}`;
    install(config([{ name: 'shared', bind: shared }]));
    haproxy = await startHaproxy({ configFile: cfg, dir });
  });

  afterEach(async () => {
    await haproxy?.stop();
  });

  it('exits 0 once a new worker serves the new listeners', async () => {
    const added = `127.0.0.1:${await freePort()}`;
    install(
      config([
        { name: 'shared', bind: shared },
        { name: 'web', bind: added },
      ]),
    );
    const r = await reload();
    expect(r.code, r.output).to.equal(0);
    expect((await httpGet(`http://${added}/`)).body).to.equal('web');
  });

  it('fails when another process holds a port of the new config, naming the bind by file:line', async () => {
    const port = await freePort();
    const holder = await holdPort(port);
    try {
      const text = config([
        { name: 'shared', bind: shared },
        { name: 'svc', bind: `127.0.0.1:${port}` },
      ]);
      install(text);
      const r = await reload();
      expect(r.code).to.equal(1);
      expect(r.output).to.contain('the master reports a failed reload');
      expect(r.output).to.contain(`[${cfg}:${lineOf(text, `127.0.0.1:${port}`)}] frontend svc`);
      expect(r.output).to.contain('EADDRINUSE');
      expect((await httpGet(`http://${shared}/`)).body).to.equal('shared');
    } finally {
      holder.close();
    }
  });

  it('fails when a bind names an address this host does not have, naming it', async () => {
    // 192.0.2.0/24 is TEST-NET-1: documentation only, on no host.
    const foreign = `192.0.2.1:${await freePort()}`;
    const text = config([
      { name: 'shared', bind: shared },
      { name: 'svc', bind: foreign },
    ]);
    install(text);
    const r = await reload();
    expect(r.code).to.equal(1);
    expect(r.output).to.contain(
      `[${cfg}:${lineOf(text, foreign)}] frontend svc: cannot bind ${foreign} (EADDRNOTAVAIL`,
    );
  });

  it("fails when a frontend of the new worker is paused (its port taken by another bind), naming the taker's line", async () => {
    const text = config([
      { name: 'shared', bind: shared },
      { name: 'svc', bind: shared },
    ]);
    install(text);
    const r = await reload();
    expect(r.code).to.equal(1);
    expect(r.output).to.contain('frontend shared is PAUSED in the new worker');
    const lines = text.split('\n');
    const takerLine = lines.lastIndexOf(`    bind ${shared}`) + 1;
    expect(r.output).to.contain(`frontend svc [${cfg}:${takerLine}]`);
  });

  it('names lines of the file given with --config when the master cannot be looked at', async () => {
    const text = config([
      { name: 'shared', bind: shared },
      { name: 'svc', bind: shared },
    ]);
    install(text);
    const named = join(dir, 'as-seen-by-switchyard.cfg');
    writeFileSync(named, text);
    const r = await reload('--config', named);
    expect(r.code).to.equal(1);
    expect(r.output).to.contain(`[${named}:`);
  });
});
