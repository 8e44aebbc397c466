import { expect } from 'chai';
import { appServices, toAppRecord } from '../../src/sources/marathon/apps.js';
import { appChecker, task } from './fixtures.js';

const { rejected, reject, record } = appChecker();

describe('marathon apps → services', () => {
  beforeEach(() => (rejected.length = 0));

  it('gives one service per port: the app id for port 0, <id>_<n> after', () => {
    const s = appServices(
      record({
        id: '/shop/web',
        portDefinitions: [{ port: 10000 }, { port: 10001 }],
        tasks: [task('t1', [31000, 31001])],
      }),
      '*',
      reject,
    );
    expect(s.map((x) => [x.id, x.name, x.portIndex, x.servicePort])).to.deep.equal([
      ['/shop/web', '/shop/web', 0, 10000],
      ['/shop/web_1', '/shop/web', 1, 10001],
    ]);
    expect(s[1]!.backends[0]!.port).to.equal(31001);
  });

  it('takes service ports from Docker port mappings', () => {
    const s = appServices(
      record({ id: '/a', container: { docker: { portMappings: [{ servicePort: 10005 }] } }, tasks: [] }),
      '*',
      reject,
    );
    expect(s[0]!.servicePort).to.equal(10005);
  });

  it('makes only TASK_RUNNING (and draining TASK_KILLING) tasks backends', () => {
    const s = appServices(
      record({
        id: '/a',
        ports: [10000],
        tasks: [
          task('run', [1]),
          task('stage', [2], { state: 'TASK_STAGING' }),
          task('kill', [3], { state: 'TASK_KILLING' }),
        ],
      }),
      '*',
      reject,
    );
    expect(s[0]!.backends.map((b) => [b.id, b.draining])).to.deep.equal([
      ['kill', true],
      ['run', false],
    ]);
  });

  it('marks a task without a health result unhealthy when the app has health checks', () => {
    const app = record({
      id: '/a',
      ports: [10000],
      healthChecks: [{ protocol: 'HTTP', path: '/health' }],
      tasks: [
        task('ok', [1], { healthCheckResults: [{ alive: true }] }),
        task('bad', [2], { healthCheckResults: [{ alive: false }] }),
        task('new', [3]),
      ],
    });
    const healthy = Object.fromEntries(appServices(app, '*', reject)[0]!.backends.map((b) => [b.id, b.healthy]));
    expect(healthy).to.deep.equal({ ok: true, bad: false, new: false });
  });

  it('keeps an app out unless it is in the group', () => {
    const app = record({ id: '/a', ports: [10000], labels: { HAPROXY_GROUP: 'internal' }, tasks: [] });
    expect(appServices(app, 'external', reject)).to.deep.equal([]);
    expect(appServices(app, 'internal', reject)).to.have.length(1);
    expect(appServices(app, '*', reject)).to.have.length(1);
  });

  it('lets a per-port group label override the app group', () => {
    const app = record({
      id: '/a',
      ports: [1, 2],
      labels: { HAPROXY_GROUP: 'internal', HAPROXY_1_GROUP: 'external' },
      tasks: [],
    });
    expect(appServices(app, 'external', reject).map((s) => s.id)).to.deep.equal(['/a_1']);
  });

  it('reads marathon-lb routing labels for their port', () => {
    const [s] = appServices(
      record({
        id: '/a',
        ports: [10000],
        labels: {
          HAPROXY_0_VHOST: 'A.example.com, b.example.com',
          HAPROXY_0_PATH: '/api',
          HAPROXY_0_BALANCE: 'leastconn',
          HAPROXY_0_STICKY: 'true',
          HAPROXY_0_PORT: '8443',
        },
        tasks: [],
      }),
      '*',
      reject,
    );
    expect(s).to.include({ servicePort: 8443, mode: 'http', balance: 'leastconn', sticky: true });
    expect(s!.vhosts).to.deep.equal(['a.example.com', 'b.example.com']);
    expect(s!.paths).to.deep.equal(['/api']);
  });

  it("honours Bamboo's BAMBOO_TCP_PORT as a TCP listener", () => {
    const [s] = appServices(
      record({ id: '/db', ports: [10000], env: { BAMBOO_TCP_PORT: '5432' }, tasks: [] }),
      '*',
      reject,
    );
    expect(s).to.include({ servicePort: 5432, mode: 'tcp' });
  });

  it('skips a port whose ENABLED label is false', () => {
    expect(
      appServices(record({ id: '/a', ports: [1], labels: { HAPROXY_0_ENABLED: 'false' }, tasks: [] }), '*', reject),
    ).to.deep.equal([]);
  });

  it('drops hostile label values and says which', () => {
    const [s] = appServices(
      record({
        id: '/a',
        ports: [1],
        labels: { HAPROXY_0_VHOST: 'ok.example.com,evil.com\n  bind :1', HAPROXY_0_PATH: '/x;}' },
        tasks: [],
      }),
      '*',
      reject,
    );
    expect(s!.vhosts).to.deep.equal([]);
    expect(s!.paths).to.deep.equal([]);
    expect(rejected.join('\n')).to.contain('labels.HAPROXY_0_VHOST').and.contain('HAPROXY_0_PATH');
  });

  it('refuses an app whose id could inject config', () => {
    expect(toAppRecord({ id: '/a\nlisten evil', tasks: [] }, reject)).to.equal(null);
  });

  it('skips a task with a hostile host and keeps the others', () => {
    const [s] = appServices(
      record({ id: '/a', ports: [1], tasks: [task('good', [1]), { ...task('bad', [2]), host: 'x y' }] }),
      '*',
      reject,
    );
    expect(s!.backends.map((b) => b.id)).to.deep.equal(['good']);
  });
});
