import { expect } from 'chai';
import { appServices } from '../../src/sources/marathon/apps.js';
import type { MarathonApp } from '../../src/sources/marathon/types.js';
import { appChecker, task } from './fixtures.js';

const { rejected, reject, record } = appChecker();
const port0 = (labels: Record<string, string>, extra: Partial<MarathonApp> = {}, allowRaw = false) =>
  appServices(record({ id: '/a', ports: [10000], labels, tasks: [], ...extra }), '*', reject, allowRaw)[0]!;

describe('marathon-lb labels', () => {
  beforeEach(() => (rejected.length = 0));

  describe('mode', () => {
    it('serves a port in the mode its MODE label names', () => {
      expect(port0({ HAPROXY_0_MODE: 'tcp' }).mode).to.equal('tcp');
    });

    it('serves a port with a vhost in http mode whatever its MODE label says, and says so', () => {
      expect(port0({ HAPROXY_0_MODE: 'tcp', HAPROXY_0_VHOST: 'a.example.com' }).mode).to.equal('http');
      expect(rejected.join('\n')).to.contain('HAPROXY_0_MODE');
    });

    it('serves a port with an HTTP health check in http mode', () => {
      const s = port0(
        { HAPROXY_0_MODE: 'tcp' },
        { healthChecks: [{ protocol: 'MESOS_HTTP', path: '/ping', portIndex: 0 }] },
      );
      expect(s.mode).to.equal('http');
    });

    it('keeps tcp mode with a TCP health check', () => {
      expect(port0({ HAPROXY_0_MODE: 'tcp' }, { healthChecks: [{ protocol: 'TCP', portIndex: 0 }] }).mode).to.equal(
        'tcp',
      );
    });
  });

  describe('BIND_ADDR', () => {
    it("binds the port's own listener to an IPv4 or IPv6 literal", () => {
      expect(port0({ HAPROXY_0_BIND_ADDR: '10.0.0.42' }).bindAddress).to.equal('10.0.0.42');
      expect(port0({ HAPROXY_0_BIND_ADDR: '::1' }).bindAddress).to.equal('::1');
    });

    it('refuses a name or anything that is not an address, and says which', () => {
      for (const bad of ['lb.example.com', '10.0.0.1:80', '0.0.0.0 ssl', '*']) {
        expect(port0({ HAPROXY_0_BIND_ADDR: bad }).bindAddress, bad).to.equal(null);
      }
      expect(rejected.join('\n')).to.contain('HAPROXY_0_BIND_ADDR');
    });
  });

  describe('SSL_CERT', () => {
    it('takes an absolute path of safe characters', () => {
      expect(port0({ HAPROXY_0_SSL_CERT: '/etc/ssl/site_1.example.pem' }).sslCert).to.equal(
        '/etc/ssl/site_1.example.pem',
      );
    });

    it('refuses a relative path, a dot segment, spaces and config syntax', () => {
      for (const bad of [
        'etc/ssl/a.pem',
        '/etc/ssl/../a.pem',
        '/etc/ssl/a b.pem',
        '/a.pem crt /b.pem',
        '/a.pem;',
        '/',
      ]) {
        expect(port0({ HAPROXY_0_SSL_CERT: bad }).sslCert, bad).to.equal(null);
      }
      expect(rejected.join('\n')).to.contain('HAPROXY_0_SSL_CERT');
    });
  });

  describe('REDIRECT_TO_HTTPS', () => {
    it('reads the booleans marathon-lb reads', () => {
      for (const yes of ['true', 'True', 't', 'yes', 'y'])
        expect(port0({ HAPROXY_0_REDIRECT_TO_HTTPS: yes }).redirectToHttps, yes).to.equal(true);
      for (const no of ['false', '1', 'on', ''])
        expect(port0({ HAPROXY_0_REDIRECT_TO_HTTPS: no }).redirectToHttps, no).to.equal(false);
    });
  });

  describe('BACKEND_WEIGHT', () => {
    it('reads an integer, 0 when absent or not an integer', () => {
      expect(port0({ HAPROXY_0_BACKEND_WEIGHT: '5' }).backendWeight).to.equal(5);
      expect(port0({ HAPROXY_0_BACKEND_WEIGHT: '-2' }).backendWeight).to.equal(-2);
      expect(port0({}).backendWeight).to.equal(0);
      expect(port0({ HAPROXY_0_BACKEND_WEIGHT: '1.5' }).backendWeight).to.equal(0);
      expect(rejected.join('\n')).to.contain('HAPROXY_0_BACKEND_WEIGHT');
    });
  });

  describe('health checks', () => {
    const app = (labels: Record<string, string>, healthChecks: MarathonApp['healthChecks']) =>
      record({
        id: '/a',
        ports: [10000, 10001],
        labels,
        healthChecks,
        tasks: [task('t1', [31000, 31001], { healthCheckResults: [{ alive: true }] })],
      });

    it("takes the Marathon check's interval, timeout and tolerated failures", () => {
      const [s] = appServices(
        app({}, [
          {
            protocol: 'HTTP',
            path: '/health',
            portIndex: 0,
            intervalSeconds: 5,
            timeoutSeconds: 3,
            maxConsecutiveFailures: 0,
          },
        ]),
        '*',
        reject,
      );
      expect(s!.healthCheck).to.deep.equal({
        protocol: 'HTTP',
        path: '/health',
        intervalSeconds: 5,
        timeoutSeconds: 3,
        maxConsecutiveFailures: 0,
      });
    });

    it('leaves out check timings that are not sensible numbers', () => {
      const checks = [
        {
          protocol: 'HTTP',
          path: '/health',
          portIndex: 0,
          intervalSeconds: 0,
          timeoutSeconds: -1,
          maxConsecutiveFailures: 1.5,
        },
      ] as MarathonApp['healthChecks'];
      expect(appServices(app({}, checks), '*', reject)[0]!.healthCheck).to.deep.equal({
        protocol: 'HTTP',
        path: '/health',
      });
    });

    it("checks a port on the task's port at BACKEND_HEALTHCHECK_PORT_INDEX, with that port's check when it has none", () => {
      const [s] = appServices(
        app({ HAPROXY_0_BACKEND_HEALTHCHECK_PORT_INDEX: '1' }, [{ protocol: 'HTTP', path: '/status', portIndex: 1 }]),
        '*',
        reject,
      );
      expect(s!.healthCheck).to.include({ protocol: 'HTTP', path: '/status' });
      expect(s!.backends[0]).to.include({ port: 31000, checkPort: 31001 });
    });

    it('keeps the port of its own when the index names no port of the task', () => {
      const [s] = appServices(
        app({ HAPROXY_0_BACKEND_HEALTHCHECK_PORT_INDEX: '7' }, [{ protocol: 'HTTP', path: '/health', portIndex: 0 }]),
        '*',
        reject,
      );
      expect(s!.backends[0]).to.include({ port: 31000, checkPort: null });
    });
  });

  describe('raw config labels', () => {
    const rawLabels = {
      HAPROXY_0_BACKEND_HEAD: '  http-response set-header X-Raw 1',
      HAPROXY_0_FRONTEND_HEAD: 'http-request deny',
      HAPROXY_1_HTTP_FRONTEND_ACL: 'acl x always_true',
    };
    const twoPorts = (allowRaw: boolean) =>
      appServices(record({ id: '/a', ports: [10000, 10001], labels: rawLabels, tasks: [] }), '*', reject, allowRaw);

    it('refuses them by default, and reports each by its key, for the app', () => {
      const services = twoPorts(false);
      expect(services.map((s) => s.raw)).to.deep.equal([{}, {}]);
      const expected = 'expected no raw HAProxy config label (marathon.allowRawLabels allows them, one line each)';
      expect(rejected.filter((p) => p.includes('raw HAProxy config'))).to.deep.equal([
        `/a: bad labels "HAPROXY_0_BACKEND_HEAD": ${expected}`,
        `/a: bad labels "HAPROXY_0_FRONTEND_HEAD": ${expected}`,
        `/a: bad labels "HAPROXY_1_HTTP_FRONTEND_ACL": ${expected}`,
      ]);
    });

    it('takes them when allowed, trimmed, by camelCase template name, per port', () => {
      expect(twoPorts(true).map((s) => s.raw)).to.deep.equal([
        { backendHead: 'http-response set-header X-Raw 1', frontendHead: 'http-request deny' },
        { httpFrontendAcl: 'acl x always_true' },
      ]);
      expect(rejected.filter((p) => p.includes('raw HAProxy config'))).to.deep.equal([]);
    });

    it('never takes one that spans lines, even when allowed', () => {
      expect(port0({ HAPROXY_0_BACKEND_HEAD: 'balance first\n  server evil 1.2.3.4:80' }, {}, true).raw).to.deep.equal(
        {},
      );
    });

    it('never takes a name that would shadow an object property', () => {
      expect(port0({ HAPROXY_0_CONSTRUCTOR: 'x', HAPROXY_0_TO_STRING: 'y' }, {}, true).raw).to.deep.equal({});
    });
  });

  it('reports marathon-lb labels it does not support', () => {
    port0({ HAPROXY_0_USE_HSTS: 'true', HAPROXY_0_AUTH: 'realm:user:hash' });
    expect(rejected.join('\n'))
      .to.contain('expected a marathon-lb label Switchyard supports')
      .and.contain('HAPROXY_0_USE_HSTS')
      .and.contain('HAPROXY_0_AUTH')
      .and.not.contain('hash');
  });
});
