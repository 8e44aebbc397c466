import { expect } from 'chai';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { templateData } from '../../src/render/data.js';
import { allocateSlots } from '../../src/render/slots.js';
import { loadTemplate, TemplateError } from '../../src/render/template.js';
import type { Snapshot } from '../../src/state/model.js';
import { backend, service } from './fixtures.js';

const snap = (...services: ReturnType<typeof service>[]): Snapshot => ({ version: 1, services, rules: [] });
const templates = join(process.cwd(), 'templates');

function tempTemplate(text: string, partials: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'sy-tpl-'));
  mkdirSync(join(dir, 'partials'));
  for (const [name, body] of Object.entries(partials)) writeFileSync(join(dir, 'partials', `${name}.hbs`), body);
  writeFileSync(join(dir, 't.hbs'), text);
  return join(dir, 't.hbs');
}

describe('template data', () => {
  it('routes a service with neither vhost nor path at /<id>', () => {
    const d = templateData(snap(service('/shop/api'), service('web')), {});
    expect(d.services.map((s) => s.paths)).to.deep.equal([['/shop/api'], ['/web']]);
  });

  it('orders routes: acl, host and path, host, then longest path', () => {
    const d = templateData(
      snap(
        service('p-short', [], { paths: ['/a'] }),
        service('p-long', [], { paths: ['/a/b/c'] }),
        service('host', [], { vhosts: ['h.example.com'] }),
        service('host-path', [], { vhosts: ['h.example.com'], paths: ['/x'] }),
        service('acl', [], { acl: 'hdr(x-canary) -m found' }),
      ),
      {},
    );
    expect(d.httpRoutes.map((s) => s.id)).to.deep.equal(['acl', 'host-path', 'host', 'p-long', 'p-short']);
  });

  it('gives each service port one listener, the first id winning a contested port', () => {
    const d = templateData(
      snap(
        service('a', [], { servicePort: 9000 }),
        service('b', [], { servicePort: 9000 }),
        service('c', [], { servicePort: 80 }),
      ),
      { httpPort: 80 },
    );
    expect(d.listeners.map((s) => s.id)).to.deep.equal(['a']);
  });

  it('hands templates only healthy, non-draining backends, and all of them apart', () => {
    const d = templateData(
      snap(service('a', [backend('x', 1), backend('y', 2, { healthy: false }), backend('z', 3, { draining: true })])),
      {},
    );
    expect(d.services[0]!.backends.map((b) => b.id)).to.deep.equal(['x']);
    expect(d.services[0]!.allBackends).to.have.length(3);
  });

  it('builds the Bamboo apps view from Marathon services', () => {
    const d = templateData(
      snap(
        service('/shop/web', [backend('t1', 31000)], {
          source: 'marathon',
          name: '/shop/web',
          servicePort: 10000,
          healthCheck: { protocol: 'HTTP', path: '/hc' },
        }),
        service('/shop/web_1', [backend('t1', 31001)], {
          source: 'marathon',
          name: '/shop/web',
          portIndex: 1,
          servicePort: 10001,
        }),
      ),
      {},
    );
    expect(d.apps).to.have.length(1);
    expect(d.apps[0]).to.include({
      id: '/shop/web',
      escapedId: '::shop::web',
      mesosDnsId: 'web-shop',
      healthCheckPath: '/hc',
      servicePort: 10000,
    });
    expect(d.apps[0]!.tasks[0]).to.deep.include({ id: 't1', port: 31000, ports: [31000, 31001], alive: true });
  });

  it('is the same for the same state', () => {
    const s = snap(service('a', [backend('x', 1)], { vhosts: ['a.example.com'] }));
    expect(JSON.stringify(templateData(s, { v: 1 }))).to.equal(
      JSON.stringify(templateData(snap(...s.services), { v: 1 })),
    );
  });
});

describe('templates', () => {
  it('do not HTML-escape', async () => {
    const t = await loadTemplate(tempTemplate('{{vars.x}}'));
    expect(t.render(templateData(snap(), { x: `a<b>&"c'` }))).to.equal(`a<b>&"c'`);
  });

  it('report a syntax error with file, line and column', async () => {
    const file = tempTemplate('global\n  maxconn 1\n{{#each services}}\n  server {{name}\n{{/each}}\n');
    try {
      await loadTemplate(file);
      expect.fail('expected a TemplateError');
    } catch (e) {
      expect(e).to.be.instanceOf(TemplateError);
      expect((e as TemplateError).line).to.equal(4);
      expect((e as Error).message).to.match(new RegExp(`^${file}:4:\\d+: syntax error`));
    }
  });

  it('report a block mismatch with its line', async () => {
    const file = tempTemplate('a\n{{#if x}}\n{{/each}}\n');
    const err = await loadTemplate(file).then(
      () => null,
      (e: TemplateError) => e,
    );
    expect(err?.message).to.contain(`${file}:2`);
  });

  it('fail the render, naming the helper, when a helper refuses a value', async () => {
    const t = await loadTemplate(tempTemplate('{{haproxyToken vars.x}}'));
    expect(() => t.render(templateData(snap(), { x: 'a\nb' }))).to.throw(/haproxyToken: refused/);
  });

  it('load partials from partials/ beside the template', async () => {
    const t = await loadTemplate(tempTemplate('[{{> item name="x"}}]', { item: '<{{name}}>' }));
    expect(t.render(templateData(snap(), {}))).to.equal('[<x>]');
  });

  describe('default HAProxy template', () => {
    const render = async (s: Snapshot, vars = { httpPort: 8080, bind: '127.0.0.1' }) =>
      (await loadTemplate(join(templates, 'haproxy.cfg.hbs'))).render(templateData(s, vars));

    it('gives a service with a service port its own listener', async () => {
      const cfg = await render(snap(service('db', [backend('d1', 5432)], { servicePort: 15432, mode: 'tcp' })));
      expect(cfg).to.match(/frontend port_15432\n {4}bind 127\.0\.0\.1:15432\n {4}mode tcp\n {4}default_backend db/);
    });

    it('keeps a service with no backend, its slots parked (HAProxy then answers 503 itself)', async () => {
      const s = snap(service('empty'));
      const cfg = (await loadTemplate(join(templates, 'haproxy.cfg.hbs'))).render(
        templateData(s, { httpPort: 8080 }, { slots: allocateSlots(new Map(), s.services) }),
      );
      const servers = cfg
        .slice(cfg.indexOf('backend empty'))
        .split('\n')
        .filter((l) => l.includes(' server '));
      expect(servers).to.have.length(4);
      expect(servers.every((l) => l.endsWith(' disabled'))).to.equal(true);
    });

    it('gives each backend a slot, disables an unhealthy one and weighs a draining one 0', async () => {
      const s = snap(
        service('web', [backend('a', 1), backend('b', 2, { healthy: false }), backend('c', 3, { draining: true })]),
      );
      const cfg = (await loadTemplate(join(templates, 'haproxy.cfg.hbs'))).render(
        templateData(s, {}, { slots: allocateSlots(new Map(), s.services) }),
      );
      expect(cfg).to.contain('server s1 127.0.0.1:1 weight 1\n');
      expect(cfg).to.contain('server s2 127.0.0.1:2 weight 1 disabled\n');
      expect(cfg).to.contain('server s3 127.0.0.1:3 weight 0\n');
      expect(cfg).to.contain('server s4 127.0.0.1:1 weight 0 disabled\n');
    });

    it('routes by vhost and by /<id> on the shared listener', async () => {
      const cfg = await render(
        snap(service('web', [backend('w', 1)], { vhosts: ['web.example.com'] }), service('api', [backend('a', 2)])),
      );
      expect(cfg).to.contain('acl host_web req.hdr(host),field(1,:) -i -m str web.example.com');
      expect(cfg).to.contain('use_backend web if host_web');
      expect(cfg).to.contain('acl path_api path -m str /api').and.contain('use_backend api if path_api');
    });

    it('renders the same bytes for the same state', async () => {
      const s = snap(service('web', [backend('w', 1)], { vhosts: ['web.example.com'] }));
      expect(await render(s)).to.equal(await render(snap(...s.services)));
    });
  });
});
