import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startBackends, type Backend } from '../support/backends.js';
import { countHits } from '../support/http.js';
import { MarathonDouble } from '../support/marathon-double.js';
import { nginxPrefix, nginxTest, startNginx, type NginxHandle } from '../support/nginx.js';
import { freePort } from '../support/ports.js';
import { startSwitchyard, waitForHealth, type SwitchyardHandle } from '../support/switchyard.js';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';

const repo = process.cwd();
const UNRESOLVABLE = 'no-such-agent.invalid';
const hits = async (url: string, n: number) => [...(await countHits(url, n)).keys()].sort();

interface HostEntry {
  host: string;
  state: string;
  address: string | null;
  reason: string;
  services: string[];
}

// Marathon (the double) → Switchyard → a real nginx, with one task on an agent
// whose host name does not resolve: nginx would refuse the whole config over
// it ("host not found in upstream"); Switchyard hands nginx addresses instead.
describe('host names: nginx gets addresses, one unresolvable agent costs its backend alone', function () {
  this.timeout(60_000);
  let prefix: string;
  let output: string;
  let marathon: MarathonDouble;
  let backends: Backend[];
  let nginx: NginxHandle;
  let sy: SwitchyardHandle;
  let webPort: number;
  let mixedPort: number;
  let namedPort: number;

  before(async () => {
    prefix = nginxPrefix();
    output = join(prefix, 'conf', 'nginx.conf');
    [webPort, mixedPort, namedPort] = [await freePort(), await freePort(), await freePort()];
    backends = await startBackends(['w1', 'w2', 'm1', 'n1']);
    marathon = new MarathonDouble({ keepAliveMs: 500 });
    const url = await marathon.start();
    marathon.addApp({ id: '/web', ports: [webPort] });
    marathon.addApp({ id: '/mixed', ports: [mixedPort] });
    marathon.addApp({ id: '/named', ports: [namedPort] });
    marathon.addTask('/web', { host: '127.0.0.1', ports: [backends[0]!.port] });
    marathon.addTask('/mixed', { host: '127.0.0.1', ports: [backends[2]!.port] });
    marathon.addTask('/mixed', { host: UNRESOLVABLE, ports: [31000] });
    marathon.addTask('/named', { host: 'localhost', ports: [backends[3]!.port] });
    sy = await startSwitchyard(
      {
        marathon: { endpoints: [url], pollIntervalMs: 60_000 },
        targets: [
          {
            name: 'nginx',
            template: join(repo, 'templates/nginx.conf.hbs'),
            output,
            validate: `nginx -t -q -p ${prefix} -c {{file}}`,
            reload: `kill -HUP $(cat ${join(prefix, 'nginx.pid')})`,
            vars: { bind: '127.0.0.1', httpPort: await freePort(), workerProcesses: 1, errorLog: 'logs/error.log' },
          },
        ],
        reload: { quietMs: 20, maxDelayMs: 200 },
      },
      prefix,
      { captureLogs: true },
    );
    await eventually(() => readFileSync(output, 'utf8'), { message: 'first config never installed' });
    nginx = await startNginx({ prefix, configFile: output });
    await waitForHealth(sy, 'ok');
  });

  after(async () => {
    await sy?.stop();
    await nginx?.stop();
    await marathon?.stop();
    await Promise.all((backends ?? []).map((b) => b.close()));
  });

  it('installs a config that nginx -t passes, without the unresolvable name in it', async () => {
    expect((await nginxTest(prefix, output)).ok).to.equal(true);
    expect(readFileSync(output, 'utf8')).to.not.contain(UNRESOLVABLE);
  });

  it('serves the other backends of the app with a task on that agent', async () => {
    expect(await hits(`http://127.0.0.1:${mixedPort}/`, 6)).to.deep.equal(['m1']);
  });

  it('hands nginx the address of a host name that resolves, and serves it', async () => {
    expect(readFileSync(output, 'utf8')).to.contain(`127.0.0.1:${backends[3]!.port}`);
    expect(await hits(`http://127.0.0.1:${namedPort}/`, 3)).to.deep.equal(['n1']);
  });

  it('names the host on /health with the reason, and stays ok', async () => {
    const h = await sy.health();
    expect(h.status).to.equal(200);
    const targets = h.body.targets as Record<string, { hosts: HostEntry[] }>;
    expect(targets.nginx!.hosts).to.have.length(1);
    expect(targets.nginx!.hosts[0]).to.deep.include({
      host: UNRESOLVABLE,
      state: 'unresolved',
      address: null,
      services: ['/mixed'],
    });
    expect(targets.nginx!.hosts[0]!.reason).to.contain('ENOTFOUND');
  });

  it('serves a healthy app changing meanwhile', async () => {
    marathon.addTask('/web', { host: '127.0.0.1', ports: [backends[1]!.port] });
    await eventually(async () => expect(await hits(`http://127.0.0.1:${webPort}/`, 10)).to.deep.equal(['w1', 'w2']), {
      timeoutMs: 10_000,
    });
    expect((await nginxTest(prefix, output)).ok).to.equal(true);
  });

  it('logs the name once, not once per render', () => {
    const lines = sy.logs.filter(
      (e) => e.message === 'host name does not resolve; its backends are left out' && e.host === UNRESOLVABLE,
    );
    expect(lines).to.have.length(1);
  });

  it('counts lookups and cache reads on /metrics', async () => {
    const text = await (await fetch(`${sy.url}/metrics`)).text();
    expect(text).to.match(/^switchyard_host_lookups_total\{result="failed"\} [1-9]/m);
    expect(text).to.match(/^switchyard_host_cache_reads_total\{result="hit"\} [1-9]/m);
  });
});

describe('host names: switchyard render for an nginx target', function () {
  this.timeout(30_000);

  it('prints addresses in the config and names the unresolvable host on stderr', async () => {
    const dir = tempDir('render-hosts-');
    const backends = [
      { host: 'localhost', port: 31001 },
      { host: UNRESOLVABLE, port: 31002 },
    ];
    writeFileSync(
      join(dir, 'registry.json'),
      JSON.stringify({ services: [{ id: 'web', servicePort: 10080, backends }] }),
    );
    writeFileSync(
      join(dir, 'switchyard.json'),
      JSON.stringify({
        file: { path: 'registry.json' },
        targets: [
          {
            name: 'nginx',
            template: join(repo, 'templates/nginx.conf.hbs'),
            output: 'out/nginx.conf',
            validate: 'nginx -t -q -p . -c {{file}}',
          },
        ],
      }),
    );
    const bin = join(repo, 'bin', 'switchyard.js');
    const r = await promisify(execFile)('node', [bin, 'render', '--config', join(dir, 'switchyard.json')]);
    expect(r.stdout).to.contain('127.0.0.1:31001').and.not.contain(UNRESOLVABLE);
    expect(r.stderr).to.contain(`host ${UNRESOLVABLE} (unresolved)`).and.contain('services web');
  });
});
