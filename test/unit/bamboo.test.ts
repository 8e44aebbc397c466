import { expect } from 'chai';
import { join } from 'node:path';
import { templateData } from '../../src/render/data.js';
import { loadTemplate } from '../../src/render/template.js';
import type { Backend, Service, Snapshot } from '../../src/state/model.js';
import { backend, service } from './fixtures.js';

// Bamboo compatibility: the `apps` view with Bamboo's field names, and a
// template written the way Bamboo's default haproxy_template.cfg is.

const snap = (...services: Service[]): Snapshot => ({ version: 1, services, rules: [] });
const marathon = (id: string, portIndex: number, backends: Backend[], extra: Partial<Service> = {}) =>
  service(portIndex === 0 ? id : `${id}_${portIndex}`, backends, { source: 'marathon', name: id, portIndex, ...extra });

describe('Bamboo apps view', () => {
  const web = snap(
    marathon(
      '/shop/web',
      0,
      [backend('t1', 31000), backend('t2', 31010, { healthy: false }), backend('t3', 31020, { draining: true })],
      {
        servicePort: 10000,
        healthCheck: { protocol: 'HTTP', path: '/hc' },
        env: { BAMBOO_TCP_PORT: '5000' },
        labels: { team: 'shop' },
      },
    ),
    marathon(
      '/shop/web',
      1,
      [backend('t1', 31001), backend('t2', 31011, { healthy: false }), backend('t3', 31021, { draining: true })],
      { servicePort: 10001 },
    ),
  );
  const app = () => templateData(web, {}).apps[0]!;

  it("names the app as Bamboo does: id, escapedId, mesosDnsId and Bamboo's splitId", () => {
    expect(app()).to.include({ id: '/shop/web', escapedId: '::shop::web', mesosDnsId: 'web-shop' });
    expect(app().splitId).to.deep.equal(['', 'shop', 'web']);
  });

  it('carries service ports, env and labels', () => {
    expect(app().servicePort).to.equal(10000);
    expect(app().servicePorts).to.deep.equal([10000, 10001]);
    expect(app().env).to.deep.equal({ BAMBOO_TCP_PORT: '5000' });
    expect(app().labels).to.deep.equal({ team: 'shop' });
  });

  it('lists every task, with host, port and the ports of every app port', () => {
    expect(app().tasks.map((t) => [t.id, t.host, t.port, t.ports])).to.deep.equal([
      ['t1', '127.0.0.1', 31000, [31000, 31001]],
      ['t2', '127.0.0.1', 31010, [31010, 31011]],
      ['t3', '127.0.0.1', 31020, [31020, 31021]],
    ]);
  });

  it('marks a task failing its health checks not alive, and a task being killed not ready', () => {
    expect(app().tasks.map((t) => [t.id, t.alive, t.ready, t.state])).to.deep.equal([
      ['t1', true, true, 'TASK_RUNNING'],
      ['t2', false, true, 'TASK_RUNNING'],
      ['t3', true, false, 'TASK_KILLING'],
    ]);
  });

  it('takes the health check path and protocol of the first HTTP check, as Bamboo does', () => {
    expect(app()).to.include({ healthCheckPath: '/hc', healthCheckProtocol: 'HTTP' });
    const tcp = templateData(snap(marathon('/db', 0, [], { healthCheck: { protocol: 'TCP' } })), {}).apps[0]!;
    expect(tcp).to.include({ healthCheckPath: '', healthCheckProtocol: '' });
  });

  it('reads 0 for a port of the app that Switchyard does not route', () => {
    const [only1] = templateData(snap(marathon('/a', 1, [backend('t1', 31001)])), {}).apps;
    expect(only1!.tasks[0]!.ports).to.deep.equal([0, 31001]);
    expect(only1!.tasks[0]!.port).to.equal(31001);
  });

  it('holds Marathon apps only', () => {
    expect(templateData(snap(service('zk-service', [backend('i', 1)])), {}).apps).to.deep.equal([]);
  });
});

describe("a template written like Bamboo's default", () => {
  const template = join(process.cwd(), 'examples/templates/bamboo-haproxy.cfg.hbs');
  const state = snap(
    marathon('/shop/web', 0, [backend('t1', 31000), backend('t2', 31010, { draining: true })], {
      healthCheck: { protocol: 'HTTP', path: '/hc' },
      labels: { BAMBOO_VHOSTS: 'shop.example.com,www.example.com' },
    }),
    marathon('/db', 0, [backend('d1', 5432)], { env: { BAMBOO_TCP_PORT: '15432' } }),
    marathon('/api', 0, [backend('a1', 8080)], { acl: 'hdr(host) -i api.example.com' }),
  );
  const render = async (s = state) => (await loadTemplate(template)).render(templateData(s, { httpPort: 8080 }));

  it("routes an app by its rule's acl, else by its id as a path prefix", async () => {
    const cfg = await render();
    expect(cfg).to.contain(
      '    acl ::api-aclrule hdr(host) -i api.example.com\n    use_backend ::api-cluster if ::api-aclrule\n',
    );
    expect(cfg).to.contain('    acl ::shop::web-aclrule path_beg -i /shop/web\n');
  });

  it('splits a label into checked hostnames', async () => {
    expect(await render()).to.contain('    acl ::shop::web-aclrule hdr(host) -i shop.example.com www.example.com\n');
  });

  it('gives an app with BAMBOO_TCP_PORT a TCP listener on that port', async () => {
    expect(await render()).to.contain('listen ::db-cluster-tcp\n    bind *:15432\n    mode tcp\n');
  });

  it('puts ready tasks into the backend, health-checked where the app has an HTTP check', async () => {
    const cfg = await render();
    expect(cfg).to.contain('backend ::shop::web-cluster\n    option httpchk GET /hc\n');
    expect(cfg).to.contain('    server ::shop::web-127.0.0.1-31000 127.0.0.1:31000 check inter 30000\n');
    expect(cfg).not.to.contain('31010');
  });

  it('fails the render, naming the value, when an env value is not a port', async () => {
    const bad = snap(marathon('/db', 0, [backend('d1', 5432)], { env: { BAMBOO_TCP_PORT: '15432 ssl crt /x' } }));
    await render(bad).then(
      () => expect.fail('expected the render to fail'),
      (e: Error) => expect(e.message).to.match(/asPort: refused "15432 ssl crt \/x"/),
    );
  });
});
