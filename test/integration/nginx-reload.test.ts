import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { httpGet } from '../support/http.js';
import { nginxPrefix, startNginx, type NginxHandle } from '../support/nginx.js';
import { freePort } from '../support/ports.js';
import { runCommand } from '../support/processes.js';

const reloadCommand = join(process.cwd(), 'bin/nginx-reload');

/** A config with one server per entry, each answering its own name on its port. */
function config(prefix: string, servers: Array<{ name: string; port: number }>): string {
  return [
    'worker_processes 1;',
    `pid ${join(prefix, 'nginx.pid')};`,
    `error_log ${join(prefix, 'logs', 'error.log')} warn;`,
    'events { worker_connections 64; }',
    'http {',
    '    access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path ${join(prefix, 'tmp', t)};`),
    ...servers.flatMap((s) => [
      '    server {',
      `        listen 127.0.0.1:${s.port};`,
      `        location / { return 200 "${s.name}"; }`,
      '    }',
    ]),
    '}',
    '',
  ].join('\n');
}

function holdPort(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

// bin/nginx-reload against a real nginx 1.22: nginx answers SIGHUP with
// nothing, and keeps its old workers when it cannot apply the new config.
describe('bin/nginx-reload: a reload must achieve its listeners', function () {
  this.timeout(60_000);
  let prefix: string;
  let cfg: string;
  let nginx: NginxHandle;
  let first: number;

  const errorLog = () => join(prefix, 'logs', 'error.log');
  const reload = (...args: string[]) => runCommand(reloadCommand, [join(prefix, 'nginx.pid'), ...args]);

  beforeEach(async () => {
    prefix = nginxPrefix();
    cfg = join(prefix, 'conf', 'nginx.conf');
    first = await freePort();
    writeFileSync(cfg, config(prefix, [{ name: 'first', port: first }]));
    nginx = await startNginx({ prefix, configFile: cfg });
  });

  afterEach(async () => {
    await nginx?.stop();
  });

  it('exits 0 once new workers serve the new config', async () => {
    const added = await freePort();
    writeFileSync(
      cfg,
      config(prefix, [
        { name: 'first', port: first },
        { name: 'added', port: added },
      ]),
    );
    const r = await reload('--error-log', errorLog());
    expect(r.code, r.output).to.equal(0);
    expect((await httpGet(`http://127.0.0.1:${added}/`)).body).to.equal('added');
  });

  it("fails with nginx's words when a listen cannot be bound, naming the listen line", async () => {
    const port = await freePort();
    const holder = await holdPort(port);
    try {
      const text = config(prefix, [
        { name: 'first', port: first },
        { name: 'svc', port },
      ]);
      writeFileSync(cfg, text);
      const r = await reload('--error-log', errorLog());
      expect(r.code).to.equal(1);
      expect(r.output).to.contain(`bind() to 127.0.0.1:${port} failed (98: Address already in use)`);
      const line = text.split('\n').indexOf(`        listen 127.0.0.1:${port};`) + 1;
      expect(r.output).to.contain(`(listen in ${cfg}:${line})`);
      expect((await httpGet(`http://127.0.0.1:${first}/`)).body).to.equal('first');
    } finally {
      holder.close();
    }
  });

  it('fails when no new workers appear in time, even without the error log', async () => {
    const port = await freePort();
    const holder = await holdPort(port);
    try {
      writeFileSync(
        cfg,
        config(prefix, [
          { name: 'first', port: first },
          { name: 'svc', port },
        ]),
      );
      const r = await reload('1');
      expect(r.code).to.equal(1);
      expect(r.output).to.contain('no new workers after 1s');
    } finally {
      holder.close();
    }
  });
});
