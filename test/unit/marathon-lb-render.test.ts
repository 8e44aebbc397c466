import { expect } from 'chai';
import { join } from 'node:path';
import { templateData, type Vars } from '../../src/render/data.js';
import { allocateSlots } from '../../src/render/slots.js';
import { loadTemplate } from '../../src/render/template.js';
import type { Snapshot } from '../../src/state/model.js';
import { backend, service } from './fixtures.js';

// How the default templates print what marathon-lb's labels say.

const snap = (...services: ReturnType<typeof service>[]): Snapshot => ({ version: 1, services, rules: [] });
const templates = join(process.cwd(), 'templates');
const vars: Vars = { httpPort: 8080, bind: '127.0.0.1' };

async function render(template: string, s: Snapshot, v: Vars = vars): Promise<string> {
  return (await loadTemplate(join(templates, template))).render(
    templateData(s, v, { slots: allocateSlots(new Map(), s.services) }),
  );
}
const haproxy = (s: Snapshot, v?: Vars) => render('haproxy.cfg.hbs', s, v);
const nginx = (s: Snapshot, v?: Vars) => render('nginx.conf.hbs', s, v);
/** The blank-line-separated block with a line reading `header`. */
const section = (cfg: string, header: string) =>
  cfg.split('\n\n').find((block) => block.split('\n').some((l) => l.trim() === header)) ?? '';

describe('marathon-lb labels in the default templates', () => {
  describe('BACKEND_WEIGHT', () => {
    it('puts routes of the same kind with a higher weight first', () => {
      const d = templateData(
        snap(
          service('a', [], { vhosts: ['h.example.com'] }),
          service('b', [], { vhosts: ['h.example.com'], backendWeight: 5 }),
        ),
        vars,
      );
      expect(d.httpRoutes.map((s) => s.id)).to.deep.equal(['b', 'a']);
    });

    it('ranks before path length, but never above a more specific kind of route', () => {
      const d = templateData(
        snap(
          service('long', [], { paths: ['/api/v2'] }),
          service('short', [], { paths: ['/api'], backendWeight: 10 }),
          service('host', [], { vhosts: ['h.example.com'] }),
        ),
        vars,
      );
      expect(d.httpRoutes.map((s) => s.id)).to.deep.equal(['host', 'short', 'long']);
    });

    it('decides which service a shared vhost goes to in nginx too', async () => {
      const cfg = await nginx(
        snap(
          service('a', [backend('x', 1)], { vhosts: ['h.example.com'] }),
          service('b', [backend('y', 2)], { vhosts: ['h.example.com'], backendWeight: 1 }),
        ),
      );
      expect(section(cfg, 'server_name h.example.com;')).to.contain('proxy_pass http://b;');
    });
  });

  describe('BIND_ADDR', () => {
    it("binds the service's own listener there, and leaves the shared one on vars.bind", async () => {
      const cfg = await haproxy(
        snap(service('db', [backend('d', 5432)], { servicePort: 15432, mode: 'tcp', bindAddress: '10.0.0.42' })),
      );
      expect(cfg).to.contain('frontend port_15432\n    bind 10.0.0.42:15432\n');
      expect(cfg).to.contain('frontend http-in\n    bind 127.0.0.1:8080\n');
    });

    it('writes an IPv6 address in brackets for nginx', async () => {
      const cfg = await nginx(snap(service('web', [backend('w', 1)], { servicePort: 9000, bindAddress: '::1' })));
      expect(cfg).to.contain('listen [::1]:9000;');
    });
  });

  describe('SSL_CERT', () => {
    const tls = snap(
      service('a', [backend('x', 1)], { vhosts: ['a.example.com'], servicePort: 9443, sslCert: '/certs/a.pem' }),
      service('b', [backend('y', 2)], { vhosts: ['b.example.com'], sslCert: '/certs/b.pem' }),
      service('c', [backend('z', 3)], { vhosts: ['c.example.com'], sslCert: '/certs/a.pem' }),
    );

    it('serves TLS on the shared listener at vars.httpsPort with every certificate once', async () => {
      const cfg = await haproxy(tls, { ...vars, httpsPort: 8443 });
      expect(section(cfg, 'frontend http-in')).to.contain(
        '    bind 127.0.0.1:8443 ssl crt /certs/a.pem crt /certs/b.pem\n',
      );
    });

    it('takes 443 when vars.httpsPort is not set', async () => {
      expect(await haproxy(tls)).to.contain('bind 127.0.0.1:443 ssl crt');
    });

    it("serves the service's own listener over TLS with its certificate", async () => {
      expect(await haproxy(tls)).to.contain('frontend port_9443\n    bind 127.0.0.1:9443 ssl crt /certs/a.pem\n');
    });

    it('binds no TLS port while no service has a certificate', async () => {
      expect(await haproxy(snap(service('a', [backend('x', 1)], { vhosts: ['a.example.com'] })))).not.to.contain(
        ' ssl ',
      );
    });
  });

  describe('REDIRECT_TO_HTTPS', () => {
    it('redirects plain HTTP that reached the service on the shared listener, with 301', async () => {
      const cfg = await haproxy(
        snap(service('a', [backend('x', 1)], { vhosts: ['a.example.com'], redirectToHttps: true })),
      );
      expect(section(cfg, 'backend a')).to.contain(
        'http-request redirect scheme https code 301 if !{ ssl_fc } { fe_name http-in }',
      );
    });

    it('answers the routes of the service on the shared nginx listener with a redirect', async () => {
      const cfg = await nginx(
        snap(service('a', [backend('x', 1)], { vhosts: ['a.example.com'], redirectToHttps: true })),
      );
      expect(section(cfg, 'server_name a.example.com;'))
        .to.contain('return 301 https://$host$request_uri;')
        .and.not.contain('proxy_pass');
    });
  });

  describe('health checks', () => {
    it('checks servers every intervalSeconds, down after maxConsecutiveFailures + 1, within timeoutSeconds', async () => {
      const cfg = await haproxy(
        snap(
          service('a', [backend('x', 1)], {
            healthCheck: {
              protocol: 'HTTP',
              path: '/health',
              intervalSeconds: 5,
              timeoutSeconds: 3,
              maxConsecutiveFailures: 3,
            },
          }),
        ),
      );
      expect(cfg).to.contain('    option httpchk GET /health\n    timeout check 3s\n');
      expect(cfg).to.contain('server s1 127.0.0.1:1 weight 1 check inter 5s fall 4 rise 1\n');
    });

    it('takes one failure as enough when Marathon never kills (maxConsecutiveFailures 0)', async () => {
      const cfg = await haproxy(
        snap(service('a', [backend('x', 1)], { healthCheck: { protocol: 'TCP', maxConsecutiveFailures: 0 } })),
      );
      expect(cfg).to.contain('check inter 2s fall 1 rise 1');
    });

    it('keeps 2s and 2 failures when Marathon does not say', async () => {
      const cfg = await haproxy(
        snap(service('a', [backend('x', 1)], { healthCheck: { protocol: 'HTTP', path: '/health' } })),
      );
      expect(cfg).to.contain('check inter 2s fall 2 rise 1');
    });

    it('checks a server on its check port when it has one', async () => {
      const cfg = await haproxy(
        snap(
          service('a', [backend('x', 1, { checkPort: 31001 })], { healthCheck: { protocol: 'HTTP', path: '/health' } }),
        ),
      );
      expect(cfg).to.contain('server s1 127.0.0.1:1 weight 1 check port 31001 inter 2s');
    });
  });

  describe('raw config', () => {
    const raw = {
      frontendHead: 'http-request set-header X-Frontend 1',
      bindOptions: 'maxconn 100',
      backendHead: 'http-response set-header X-Backend 1',
      backendHttpOptions: 'option http-server-close',
      httpFrontendAcl: 'acl raw_a hdr(x-raw) -m found',
    };
    const withRaw = snap(service('a', [backend('x', 1)], { vhosts: ['a.example.com'], servicePort: 9000, raw }));

    it('prints nothing when a service has none', async () => {
      const cfg = await haproxy(
        snap(service('a', [backend('x', 1)], { vhosts: ['a.example.com'], servicePort: 9000 })),
      );
      for (const line of Object.values(raw)) expect(cfg).not.to.contain(line);
    });

    it("prints frontendHead and bindOptions in the service's own frontend", async () => {
      const fe = section(await haproxy(withRaw), 'frontend port_9000');
      expect(fe)
        .to.contain('bind 127.0.0.1:9000 maxconn 100\n')
        .and.contain('\n    http-request set-header X-Frontend 1\n');
    });

    it('prints backendHead and backendHttpOptions in its backend', async () => {
      expect(section(await haproxy(withRaw), 'backend a'))
        .to.contain('\n    http-response set-header X-Backend 1\n')
        .and.contain('\n    option http-server-close\n');
    });

    it('prints httpFrontendAcl on the shared listener just before its routing line', async () => {
      expect(section(await haproxy(withRaw), 'frontend http-in')).to.contain(
        '    acl raw_a hdr(x-raw) -m found\n    use_backend a if host_a',
      );
    });
  });
});
