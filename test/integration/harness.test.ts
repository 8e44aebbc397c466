import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import zookeeper from 'node-zookeeper-client';
import { startBackends, type Backend } from '../support/backends.js';
import { startHaproxy, haproxyCheck } from '../support/haproxy.js';
import { countHits } from '../support/http.js';
import { nginxPrefix, nginxTest, startNginx } from '../support/nginx.js';
import { freePort } from '../support/ports.js';
import { tempDir } from '../support/tmp.js';
import { startZookeeper } from '../support/zookeeper.js';

function haproxyConfig(dir: string, port: number, backends: Backend[]): string {
  return `global
    noreuseport
    stats socket ${dir}/admin.sock mode 600 level admin
    hard-stop-after 5s

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    option idle-close-on-response

frontend fe
    bind 127.0.0.1:${port}
    default_backend be

backend be
    balance roundrobin
${backends.map((b) => `    server ${b.name} ${b.host}:${b.port}`).join('\n')}
`;
}

function nginxConfig(prefix: string, port: number, backends: Backend[]): string {
  return `worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${prefix}/tmp/body;
    proxy_temp_path ${prefix}/tmp/proxy;
    fastcgi_temp_path ${prefix}/tmp/fastcgi;
    uwsgi_temp_path ${prefix}/tmp/uwsgi;
    scgi_temp_path ${prefix}/tmp/scgi;
    upstream be {
${backends.map((b) => `        server ${b.host}:${b.port};`).join('\n')}
        keepalive 16;
    }
    server {
        listen 127.0.0.1:${port};
        location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
`;
}

function connectClient(connect: string): Promise<zookeeper.Client> {
  const client = zookeeper.createClient(connect, { sessionTimeout: 2000, spinDelay: 100 });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.close();
      reject(new Error(`no ZooKeeper session with ${connect} within 10 s`));
    }, 10_000);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve(client);
    });
    client.connect();
  });
}

function gone(pid: number): boolean {
  return !existsSync(`/proc/${pid}`);
}

describe('integration harness (real servers)', function () {
  this.timeout(30_000);
  let backends: Backend[];

  beforeEach(async () => {
    backends = await startBackends(['alpha', 'beta']);
  });

  afterEach(async () => {
    await Promise.all(backends.map((b) => b.close()));
  });

  it('runs HAProxy in master-worker mode, reloads it and stops it', async () => {
    const dir = tempDir('haproxy-');
    const port = await freePort();
    const configFile = join(dir, 'haproxy.cfg');
    await writeFile(configFile, haproxyConfig(dir, port, backends));
    expect(await haproxyCheck(configFile)).to.include({ ok: true });

    const haproxy = await startHaproxy({ configFile, dir });
    try {
      const url = `http://127.0.0.1:${port}/`;
      expect(Object.fromEntries(await countHits(url, 4))).to.deep.equal({ alpha: 2, beta: 2 });

      // noreuseport: a second instance on the same port must fail loudly instead of sharing traffic.
      const clashDir = tempDir('haproxy-clash-');
      const clashFile = join(clashDir, 'haproxy.cfg');
      await writeFile(clashFile, haproxyConfig(clashDir, port, backends));
      let clash: unknown;
      await startHaproxy({ configFile: clashFile, dir: clashDir }).catch((err: unknown) => (clash = err));
      expect(String(clash)).to.match(/did not start[\s\S]*cannot bind socket/);

      const before = await haproxy.workerPids();
      await haproxy.reload();
      const after = await haproxy.workerPids();
      expect(after).to.have.lengthOf(1);
      expect(before).to.not.include(after[0]);
      expect(await haproxy.runtime('show servers state be')).to.include('alpha');
      expect(Object.fromEntries(await countHits(url, 4))).to.deep.equal({ alpha: 2, beta: 2 });
    } finally {
      await haproxy.stop();
    }
    expect(gone(haproxy.pid)).to.equal(true);
  });

  it('runs nginx in the foreground, reloads it and stops it', async () => {
    const prefix = nginxPrefix();
    const port = await freePort();
    const configFile = join(prefix, 'conf', 'nginx.conf');
    await writeFile(configFile, nginxConfig(prefix, port, backends));
    const check = await nginxTest(prefix, configFile);
    expect(check.ok, check.output).to.equal(true);

    const nginx = await startNginx({ prefix, configFile });
    try {
      const url = `http://127.0.0.1:${port}/`;
      expect(Object.fromEntries(await countHits(url, 4))).to.deep.equal({ alpha: 2, beta: 2 });

      const before = await nginx.workerPids();
      await nginx.reload();
      const after = await nginx.workerPids();
      expect(after).to.have.lengthOf(1);
      expect(before).to.not.include(after[0]);
      const hits = await countHits(url, 4);
      expect([...hits.keys()]).to.have.members(['alpha', 'beta']);
    } finally {
      await nginx.stop();
    }
    expect(gone(nginx.pid)).to.equal(true);
  });

  it('runs ZooKeeper, keeps znodes across a restart, and stops it', async () => {
    const zk = await startZookeeper();
    try {
      const writer = await connectClient(zk.connect);
      await new Promise<void>((resolve, reject) => {
        writer.create('/harness', Buffer.from('hello'), (err) => (err ? reject(err) : resolve()));
      });
      writer.close();

      await zk.stop();
      await zk.start();
      // A fresh client: one that retries while ZooKeeper starts up can hang on a never-answered handshake.
      const reader = await connectClient(zk.connect);
      const data = await new Promise<string>((resolve, reject) => {
        reader.getData('/harness', (err, value) => (err ? reject(err) : resolve(value.toString())));
      });
      reader.close();
      expect(data).to.equal('hello');
    } finally {
      await zk.stop();
    }
    expect(gone(zk.pid)).to.equal(true);
  });
});
