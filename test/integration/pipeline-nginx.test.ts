import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBackends, type Backend } from '../support/backends.js';
import { countHits, httpGet } from '../support/http.js';
import { MarathonDouble } from '../support/marathon-double.js';
import { nginxPrefix, startNginx, type NginxHandle } from '../support/nginx.js';
import { freePort } from '../support/ports.js';
import { startSwitchyard, waitForHealth, type SwitchyardHandle } from '../support/switchyard.js';
import { eventually } from '../support/wait.js';
import { connect } from 'node:net';

const repo = process.cwd();
const hits = async (url: string, n: number, headers: Record<string, string> = {}) =>
  [...(await countHits(url, n, headers)).keys()].sort();

/** Opens a TCP connection, sends a request, returns what comes back before the server closes (no half-close: nginx's stream proxy ends the session on it). */
function tcpExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let data = '';
    socket.setTimeout(3000, () => socket.destroy(new Error('tcp exchange timed out')));
    socket.on('data', (c) => (data += c.toString()));
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
  });
}

// Marathon (the test double) → Switchyard → a real nginx (HUP reloads) → real backends.
describe('pipeline: Marathon → nginx, serving real traffic', function () {
  this.timeout(60_000);
  let prefix: string;
  let marathon: MarathonDouble;
  let backends: Backend[];
  let nginx: NginxHandle;
  let sy: SwitchyardHandle;
  let httpPort: number;
  let webPort: number;
  let tcpPort: number;
  const taskOf = new Map<string, string>();
  const addTask = (app: string, b: Backend) =>
    taskOf.set(b.name, marathon.addTask(app, { host: '127.0.0.1', ports: [b.port], healthy: true }));

  before(async () => {
    prefix = nginxPrefix();
    [httpPort, webPort, tcpPort] = [await freePort(), await freePort(), await freePort()];
    backends = await startBackends(['n1', 'n2', 'n3', 't1', 'a1']);
    marathon = new MarathonDouble({ keepAliveMs: 500 });
    const url = await marathon.start();
    marathon.addApp({
      id: '/shop/web',
      ports: [webPort],
      labels: { HAPROXY_0_VHOST: 'shop.example.com' },
      healthChecks: [{ protocol: 'HTTP', path: '/health', portIndex: 0 }],
    });
    marathon.addApp({ id: '/echo', ports: [tcpPort], labels: { HAPROXY_0_MODE: 'tcp' } });
    marathon.addApp({ id: '/api/v1', ports: [await freePort()] });
    addTask('/api/v1', backends[4]!);
    addTask('/shop/web', backends[0]!);
    addTask('/shop/web', backends[1]!);
    addTask('/echo', backends[3]!);
    const output = join(prefix, 'conf', 'nginx.conf');
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
            vars: {
              bind: '127.0.0.1',
              httpPort,
              workerProcesses: 1,
              errorLog: 'logs/error.log',
              streamModule: '/usr/lib/nginx/modules/ngx_stream_module.so',
            },
          },
        ],
        reload: { quietMs: 20, maxDelayMs: 200 },
      },
      prefix,
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

  it('reaches every backend through the service port', async () => {
    expect(await hits(`http://127.0.0.1:${webPort}/`, 10)).to.deep.equal(['n1', 'n2']);
  });

  it('reaches every backend through the vhost', async () => {
    expect(await hits(`http://127.0.0.1:${httpPort}/any/path`, 10, { Host: 'shop.example.com' })).to.deep.equal([
      'n1',
      'n2',
    ]);
  });

  it("reaches an app with neither vhost nor path at its id's path, on any host", async () => {
    expect(await hits(`http://127.0.0.1:${httpPort}/api/v1/users`, 3, { Host: 'other.example.com' })).to.deep.equal([
      'a1',
    ]);
    expect(await hits(`http://127.0.0.1:${httpPort}/api/v1`, 1)).to.deep.equal(['a1']);
  });

  it('does not route an app with a vhost by its id on other hosts', async () => {
    expect(
      (await httpGet(`http://127.0.0.1:${httpPort}/shop/web`, { headers: { Host: 'other.example.com' } })).status,
    ).to.equal(503);
  });

  it('answers 503 where no service matches', async () => {
    expect((await httpGet(`http://127.0.0.1:${httpPort}/nothing-here`)).status).to.equal(503);
  });

  it('gives a TCP service its own stream listener', async () => {
    expect(await tcpExchange(tcpPort, 'GET / HTTP/1.0\r\n\r\n')).to.match(/\r\n\r\nt1$/);
  });

  it('sends traffic to a new backend after a scale up', async () => {
    addTask('/shop/web', backends[2]!);
    await eventually(
      async () => expect(await hits(`http://127.0.0.1:${webPort}/`, 12)).to.deep.equal(['n1', 'n2', 'n3']),
      { timeoutMs: 10_000 },
    );
  });

  it('stops sending traffic to a backend whose health check fails', async () => {
    marathon.setTaskHealth(taskOf.get('n3')!, false);
    await eventually(async () => expect(await hits(`http://127.0.0.1:${webPort}/`, 12)).to.deep.equal(['n1', 'n2']), {
      timeoutMs: 10_000,
    });
  });

  it('stops sending traffic to a killed task', async () => {
    marathon.killTask(taskOf.get('n2')!);
    await eventually(async () => expect(await hits(`http://127.0.0.1:${webPort}/`, 12)).to.deep.equal(['n1']), {
      timeoutMs: 10_000,
    });
  });

  it('answers 503 when an app has no backend left', async () => {
    marathon.killTask(taskOf.get('n3')!);
    marathon.killTask(taskOf.get('n1')!);
    await eventually(async () => expect((await httpGet(`http://127.0.0.1:${webPort}/`)).status).to.equal(503), {
      timeoutMs: 10_000,
    });
  });
});
