import { expect } from 'chai';
import { RenderCache } from '../../src/render/cache.js';
import { templateData, type TemplateData, type Vars } from '../../src/render/data.js';
import type { Service, Snapshot } from '../../src/state/model.js';
import { backend, service } from './fixtures.js';

// The views built from every service at once (route order, route table,
// listeners, certificates, Bamboo apps) are patched when an event only
// replaces services that are routed as before, and built anew otherwise.
// Either way they must be what a fresh build gives: one spec, both paths.

const vars: Vars = { httpPort: 8080 };

/** A mix that exercises every view: shared hosts, several paths, host-less paths, an ACL, TCP, multi-port apps, TLS. */
function cluster(): Service[] {
  const out: Service[] = [];
  for (let i = 0; i < 24; i++) {
    const id = `/app-${String(i).padStart(2, '0')}`;
    const backends = [backend(`${id}.a`, 31000 + i), backend(`${id}.b`, 32000 + i, { healthy: i % 5 !== 0 })];
    const extra: Partial<Service> = {
      source: 'marathon',
      servicePort: 10000 + i,
      vhosts: i % 4 === 0 ? [] : [`host-${i % 3}.example.com`],
      paths: i % 3 === 0 ? [`/p${i}`, `/p${i}/`] : i % 3 === 1 ? [`/p${i % 2}`] : [],
      acl: i === 7 ? 'hdr(x-canary) -m found' : null,
      mode: i === 11 ? 'tcp' : 'http',
      sslCert: i % 6 === 0 ? `/certs/${i}.pem` : null,
      backendWeight: i % 7,
    };
    out.push(service(id, backends, extra));
    if (i % 8 === 0)
      out.push(service(`${id}_1`, backends, { ...extra, name: id, portIndex: 1, servicePort: 11000 + i }));
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** `services` with those at the given indexes scaled: a backend moved, routing as before (new objects, as the state makes them). */
function scaled(services: Service[], at: (i: number) => boolean): Service[] {
  return services.map((s, i) =>
    at(i) ? { ...s, backends: s.backends.map((b, k) => (k === 0 ? { ...b, port: b.port + 500 } : b)) } : s,
  );
}

const snapshot = (version: number, services: Service[]): Snapshot => ({ version, services, rules: [] });

function views(d: TemplateData) {
  return {
    httpRoutes: d.httpRoutes,
    virtualHosts: d.virtualHosts,
    pathRoutes: d.pathRoutes,
    listeners: d.listeners,
    certificates: d.certificates,
    apps: d.apps,
  };
}

/** Renders `first` then `second` through one cache; returns both views and those of a fresh build of `second`. */
function throughOneCache(first: Service[], second: Service[]) {
  const cache = new RenderCache();
  const before = views(templateData(snapshot(1, first), vars, { cache }));
  cache.endRender();
  const after = views(templateData(snapshot(2, second), vars, { cache }));
  cache.endRender();
  return { before, after, fresh: views(templateData(snapshot(2, second), vars)), counts: cache.counts() };
}

describe('derived views', () => {
  it('after a scale event (backends changed, routing the same) equal a fresh build', () => {
    const first = cluster();
    const { after, fresh } = throughOneCache(
      first,
      scaled(first, (i) => i % 5 === 2),
    );
    expect(after).to.deep.equal(fresh);
  });

  it('after a scale event are patched, not built anew', () => {
    const first = cluster();
    const { counts } = throughOneCache(
      first,
      scaled(first, (i) => i % 5 === 2),
    );
    // Five views (route order, table, listeners, certificates, apps) built by the first render, patched by the second.
    expect([counts.derivedMisses, counts.derivedHits]).to.deep.equal([5, 5]);
  });

  it('after a scale event keep the objects of every route, host and app that did not change', () => {
    const first = cluster();
    const second = scaled(first, (i) => first[i]!.id === '/app-02');
    const { before, after } = throughOneCache(first, second);
    const unchanged = (r: { service: { id: string } }) => r.service.id !== '/app-02';
    expect(after.pathRoutes.filter(unchanged)).to.deep.equal(before.pathRoutes.filter(unchanged));
    after.virtualHosts.forEach((v, i) => {
      if (v.routes.every(unchanged)) expect(v, v.host).to.equal(before.virtualHosts[i]);
      else expect(v, v.host).to.not.equal(before.virtualHosts[i]);
    });
    after.apps.forEach((a, i) => {
      if (a.id !== '/app-02') expect(a, a.id).to.equal(before.apps[i]);
    });
  });

  it('after a routing change (a vhost moved, a service added and one gone) equal a fresh build', () => {
    const first = cluster();
    const second = [
      ...first
        .filter((s) => s.id !== '/app-05')
        .map((s) => (s.id === '/app-09' ? { ...s, vhosts: ['moved.example.com'] } : s)),
      service('/app-99', [backend('/app-99.a', 39000)], {
        source: 'marathon',
        vhosts: ['host-1.example.com'],
        paths: ['/p1'],
      }),
    ].sort((a, b) => (a.id < b.id ? -1 : 1));
    const { after, fresh } = throughOneCache(first, second);
    expect(after).to.deep.equal(fresh);
  });

  it('after a scale of every service equal a fresh build', () => {
    const first = cluster();
    const { after, fresh } = throughOneCache(
      first,
      scaled(first, () => true),
    );
    expect(after).to.deep.equal(fresh);
  });

  it('after patched renders still intern: a later rebuild gives unchanged hosts their old objects', () => {
    const cache = new RenderCache();
    const first = cluster();
    const hosts = templateData(snapshot(1, first), vars, { cache }).virtualHosts;
    cache.endRender();
    void templateData(
      snapshot(
        2,
        scaled(first, (i) => i === 2),
      ),
      vars,
      { cache },
    ).virtualHosts;
    cache.endRender();
    const added = [...first, service('/zz-new', [backend('/zz-new.a', 39000)], { vhosts: ['new.example.com'] })];
    const rebuilt = templateData(snapshot(3, added), vars, { cache }).virtualHosts;
    const kept = rebuilt.filter((v) => hosts.includes(v));
    expect(kept.map((v) => v.host)).to.include('host-0.example.com');
  });
});
