import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { templateData, type Vars } from '../../src/render/data.js';
import { allocateSlots } from '../../src/render/slots.js';
import { loadTemplate } from '../../src/render/template.js';
import type { Backend as ModelBackend, Service, Snapshot } from '../../src/state/model.js';
import { startBackends, type Backend } from '../support/backends.js';
import { haproxyCheck, startHaproxy, type HaproxyHandle } from '../support/haproxy.js';
import { httpGet, httpsGet } from '../support/http.js';
import { freePort } from '../support/ports.js';
import { tempDir } from '../support/tmp.js';
import { selfSignedPem } from '../support/tls.js';
import { backend, service } from '../unit/fixtures.js';

// The example templates of examples/templates are promises to operators: they
// render against a realistic state, pass `haproxy -c`, and do what they say.

const examples = join(process.cwd(), 'examples/templates');

async function renderTo(file: string, template: string, state: Snapshot, vars: Vars): Promise<string> {
  writeFileSync(
    file,
    (await loadTemplate(join(examples, template))).render(
      templateData(state, vars, { slots: allocateSlots(new Map(), state.services) }),
    ),
  );
  return file;
}

const toModel = (b: Backend, extra: Partial<ModelBackend> = {}) => backend(b.name, b.port, extra);
const snap = (...services: Service[]): Snapshot => ({ version: 1, services, rules: [] });

describe('example template: TLS termination with SNI routing and sticky sessions', function () {
  this.timeout(30_000);
  let dir: string;
  let pem: string;
  let backends: Backend[];
  let haproxy: HaproxyHandle | undefined;
  let httpPort: number;
  let httpsPort: number;
  let state: Snapshot;

  before(async () => {
    dir = tempDir('example-sni-');
    pem = await selfSignedPem(dir);
    backends = await startBackends(['shop-1', 'shop-2', 'api-1']);
    [httpPort, httpsPort] = [await freePort(), await freePort()];
    const [shop1, shop2, api1] = backends as [Backend, Backend, Backend];
    state = snap(
      service('/shop/web', [toModel(shop1), toModel(shop2)], {
        source: 'marathon',
        vhosts: ['shop.example.com'],
        healthCheck: { protocol: 'HTTP', path: '/health' },
      }),
      service('/shop/api', [toModel(api1)], { source: 'marathon', vhosts: ['shop.example.com'], paths: ['/api'] }),
      service('/db', [backend('db-1', 5432)], { mode: 'tcp', servicePort: 15432 }),
    );
  });

  after(async () => {
    await haproxy?.stop();
    await Promise.all((backends ?? []).map((b) => b.close()));
  });

  it('passes haproxy -c', async () => {
    const cfg = await renderTo(join(dir, 'sni.cfg'), 'haproxy-tls-sni.cfg.hbs', state, {
      bind: '127.0.0.1',
      httpPort,
      httpsPort,
      certificate: pem,
    });
    const check = await haproxyCheck(cfg);
    expect(check.ok, check.output).to.equal(true);
  });

  describe('on a real HAProxy', () => {
    before(async () => {
      const cfg = await renderTo(join(dir, 'sni-run.cfg'), 'haproxy-tls-sni.cfg.hbs', state, {
        bind: '127.0.0.1',
        httpPort,
        httpsPort,
        certificate: pem,
      });
      haproxy = await startHaproxy({ configFile: cfg, dir });
    });

    const get = (path: string, headers: Record<string, string> = {}) =>
      httpsGet(`https://127.0.0.1:${httpsPort}${path}`, { servername: 'shop.example.com', headers });

    it('terminates TLS and routes by the server name, path prefixes first', async () => {
      expect((await get('/api/orders')).body).to.equal('api-1');
      expect((await get('/')).body).to.match(/^shop-[12]$/);
    });

    it('sends a client back to the server its cookie names', async () => {
      const first = await get('/');
      const cookie = String(first.headers['set-cookie']?.[0] ?? '').split(';')[0]!;
      expect(cookie).to.match(/^SRV=s[12]$/);
      for (let i = 0; i < 4; i++) expect((await get('/', { Cookie: cookie })).body).to.equal(first.body);
    });

    it('redirects plain HTTP to https', async () => {
      const r = await httpGet(`http://127.0.0.1:${httpPort}/cart`, { headers: { Host: 'shop.example.com' } });
      expect(r.status).to.equal(301);
      expect(r.headers.location).to.equal('https://shop.example.com/cart');
    });
  });
});

describe("example template: Bamboo's default, translated", () => {
  it('passes haproxy -c', async () => {
    const dir = tempDir('example-bamboo-');
    const state = snap(
      service('/shop/web', [backend('t1', 31000), backend('t2', 31001, { healthy: false })], {
        source: 'marathon',
        healthCheck: { protocol: 'HTTP', path: '/hc' },
        labels: { BAMBOO_VHOSTS: 'shop.example.com' },
      }),
      service('/db', [backend('d1', 5432)], { source: 'marathon', env: { BAMBOO_TCP_PORT: String(await freePort()) } }),
      service('/api', [backend('a1', 8080)], { source: 'marathon', acl: 'hdr(host) -i api.example.com' }),
    );
    const check = await haproxyCheck(
      await renderTo(join(dir, 'bamboo.cfg'), 'bamboo-haproxy.cfg.hbs', state, {
        bind: '127.0.0.1',
        httpPort: await freePort(),
      }),
    );
    expect(check.ok, check.output).to.equal(true);
  });
});
