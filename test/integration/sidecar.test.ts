import { expect } from 'chai';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { startBackends, type Backend } from '../support/backends.js';
import { countHits, httpGet } from '../support/http.js';
import { MarathonDouble } from '../support/marathon-double.js';
import { freePort } from '../support/ports.js';
import { imageHealthcheckCommand } from '../support/shipped-checks.js';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';

const repo = process.cwd();
const NOBODY = 65534;

// The Dockerfile's steps, run here because no Docker engine is: the run
// stage's system packages (docker/install-runtime.sh), production-only
// dependencies, the files it copies, and its entry point under tini as a
// non-root user, configured through environment variables only.
describe('sidecar image steps', function () {
  this.timeout(180_000);
  let home: string;
  let marathon: MarathonDouble;
  let backends: Backend[];
  let sidecar: ChildProcess;
  let servicePort: number;
  let healthPort: number;
  let logs = '';

  before(async () => {
    execFileSync(join(repo, 'docker/install-runtime.sh'), { stdio: 'inherit' });
    home = tempDir('image-');
    chmodSync(home, 0o755);
    copyFileSync(join(repo, 'package.json'), join(home, 'package.json'));
    copyFileSync(join(repo, 'package-lock.json'), join(home, 'package-lock.json'));
    execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
      cwd: home,
      stdio: 'ignore',
      timeout: 150_000,
    });
    for (const dir of ['dist/src', 'dist/bundle'])
      cpSync(join(repo, dir), join(home, dir), { recursive: true, preserveTimestamps: true });
    // The image's build makes the bundle afresh, without a code cache, and leaves its directory to the user that runs.
    for (const f of readdirSync(join(home, 'dist/bundle')).filter((n) => n.endsWith('.cache')))
      rmSync(join(home, 'dist/bundle', f));
    chownSync(join(home, 'dist/bundle'), NOBODY, NOBODY);
    for (const dir of ['bin', 'templates']) cpSync(join(repo, dir), join(home, dir), { recursive: true });
    mkdirSync(join(home, 'config'));
    copyFileSync(join(repo, 'docker/switchyard.json'), join(home, 'config/switchyard.json'));
    mkdirSync(join(home, 'docker'));
    copyFileSync(join(repo, 'docker/sidecar.sh'), join(home, 'docker/sidecar.sh'));
    chmodSync(join(home, 'docker/sidecar.sh'), 0o755);
    const run = join(home, 'run');
    mkdirSync(run);
    chownSync(run, NOBODY, NOBODY);

    backends = await startBackends(['i1', 'i2']);
    marathon = new MarathonDouble();
    const url = await marathon.start();
    servicePort = await freePort();
    healthPort = await freePort();
    marathon.addApp({ id: '/shop', ports: [servicePort], labels: { HAPROXY_GROUP: 'external' } });
    marathon.addTask('/shop', { host: '127.0.0.1', ports: [backends[0]!.port] });

    const env = {
      PATH: process.env.PATH,
      TINI_SUBREAPER: '1',
      SIDECAR_HOME: home,
      HAPROXY_RUN_DIR: run,
      SWITCHYARD_MARATHON_ENDPOINTS: url,
      SWITCHYARD_MARATHON_GROUP: 'external',
      SWITCHYARD_HTTP_LISTEN: `127.0.0.1:${healthPort}`,
      SWITCHYARD_TARGETS_0_OUTPUT: join(run, 'haproxy.cfg'),
      SWITCHYARD_TARGETS_0_RELOAD: `../bin/haproxy-reload ${join(run, 'master.sock')}`,
      SWITCHYARD_TARGETS_0_RUNTIME_API: join(run, 'admin.sock'),
      SWITCHYARD_TARGETS_0_VARS_STATS_SOCKET: join(run, 'admin.sock'),
      SWITCHYARD_TARGETS_0_VARS_SERVER_STATE_FILE: join(run, 'servers.state'),
      SWITCHYARD_TARGETS_0_VARS_BIND: '127.0.0.1',
      SWITCHYARD_TARGETS_0_VARS_HTTP_PORT: String(await freePort()),
    };
    sidecar = spawn('runuser', ['-u', 'nobody', '--', '/usr/bin/tini', '--', join(home, 'docker/sidecar.sh')], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    sidecar.stdout!.on('data', (c: Buffer) => (logs += c.toString()));
    sidecar.stderr!.on('data', (c: Buffer) => (logs += c.toString()));
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(`--- sidecar output ---\n${logs}`);
  });

  after(async () => {
    if (sidecar && sidecar.exitCode === null) {
      sidecar.kill('SIGKILL');
      spawn('pkill', ['-KILL', '-u', 'nobody', '-f', home], { stdio: 'ignore' });
    }
    await marathon?.stop();
    await Promise.all((backends ?? []).map((b) => b.close()));
  });

  it('serves the app through HAProxy, started by the entry point from the first config', async () => {
    await eventually(
      async () => expect([...(await countHits(`http://127.0.0.1:${servicePort}/`, 4)).keys()]).to.deep.equal(['i1']),
      {
        timeoutMs: 30_000,
        message: 'the sidecar never served',
      },
    );
  });

  it('runs Switchyard and HAProxy as the unprivileged user', () => {
    const users = execFileSync('ps', ['-o', 'user=,args=', '-u', 'nobody'], { encoding: 'utf8' });
    expect(users)
      .to.match(/switchyard\.js serve/)
      .and.match(/haproxy -W -S/);
  });

  it('keeps a code cache of its start-up beside the bundle, for the next start', async () => {
    const dir = join(home, 'dist/bundle');
    await eventually(
      async () => {
        const caches = readdirSync(dir).filter((n) => n.endsWith('.cache'));
        if (caches.length !== 1) throw new Error(`code caches: ${caches.join(', ') || 'none'}`);
        expect(statSync(join(dir, caches[0]!)).uid).to.equal(NOBODY);
      },
      { timeoutMs: 10_000, message: 'the daemon wrote its code cache' },
    );
  });

  it("passes the image's HEALTHCHECK command", async () => {
    await eventually(() => execFileSync('/bin/sh', ['-c', imageHealthcheckCommand(healthPort)]));
  });

  it('becomes ready once the HAProxy the entry point started runs its config', async () => {
    // Its first reload found no HAProxy yet (the entry point starts it on the first config); the retry loads it.
    await eventually(
      async () => expect((await httpGet(`http://127.0.0.1:${healthPort}/health`)).status).to.equal(200),
      {
        timeoutMs: 30_000,
        message: 'readiness never turned ok',
      },
    );
  });

  it('logs JSON lines to its output', async () => {
    const line = await eventually(() => {
      const found = logs.split('\n').find((l) => l.includes('"config installed"'));
      if (!found) throw new Error('no "config installed" line yet');
      return found;
    });
    expect(JSON.parse(line)).to.include({ level: 'info', target: 'haproxy' });
  });

  it('applies a scale-up live', async () => {
    marathon.addTask('/shop', { host: '127.0.0.1', ports: [backends[1]!.port] });
    await eventually(async () =>
      expect([...(await countHits(`http://127.0.0.1:${servicePort}/`, 8)).keys()].sort()).to.deep.equal(['i1', 'i2']),
    );
    // HAProxy serves the new task before the install that follows the runtime commands is logged.
    await eventually(() => expect(logs).to.contain('"how":"live"'), { timeoutMs: 5000 });
  });

  it('stops both processes on SIGTERM and exits 0', async () => {
    const master = readFileSync(join(home, 'run', 'haproxy.cfg'), 'utf8');
    expect(master).to.contain('backend ::shop');
    // `docker stop` signals the container's PID 1, tini (here the child of runuser).
    const tini = Number(execFileSync('pgrep', ['-P', String(sidecar.pid)], { encoding: 'utf8' }).trim());
    process.kill(tini, 'SIGTERM');
    const code = await new Promise((r) => sidecar.on('exit', r));
    expect(code).to.equal(0);
    expect((await httpGet(`http://127.0.0.1:${healthPort}/health`).catch(() => ({ status: 0 }))).status).to.equal(0);
  });
});
