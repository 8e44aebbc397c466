import { expect } from 'chai';
import { StateStore } from '../../src/state/store.js';
import { backend, service } from './fixtures.js';

describe('state store', () => {
  it('gives services sorted by id', () => {
    const store = new StateStore();
    store.apply({ kind: 'sync', source: 'file', services: [service('b'), service('a'), service('c')] });
    expect(store.snapshot().services.map((s) => s.id)).to.deep.equal(['a', 'b', 'c']);
  });

  it('does not move the version for a change that alters nothing', () => {
    const store = new StateStore();
    store.apply({ kind: 'sync', source: 'file', services: [service('a', [backend('x', 1)])] });
    const before = store.snapshot();
    const changed = store.apply({ kind: 'upsert', source: 'file', service: service('a', [backend('x', 1)]) });
    expect(changed).to.deep.equal([]);
    expect(store.snapshot()).to.equal(before);
  });

  it('keeps the object of a service that did not change, so caches keyed on it stay valid', () => {
    const store = new StateStore();
    store.apply({ kind: 'sync', source: 'file', services: [service('a'), service('b')] });
    const a = store.snapshot().services[0];
    store.apply({ kind: 'upsert', source: 'file', service: service('b', [backend('x', 1)]) });
    expect(store.snapshot().services[0]).to.equal(a);
  });

  it('reports exactly the ids a change touched', () => {
    const store = new StateStore();
    store.apply({ kind: 'sync', source: 'file', services: [service('a'), service('b')] });
    expect(store.apply({ kind: 'sync', source: 'file', services: [service('a'), service('c')] }).sort()).to.deep.equal([
      'b',
      'c',
    ]);
  });

  it('removes a service', () => {
    const store = new StateStore();
    store.apply({ kind: 'sync', source: 'file', services: [service('a'), service('b')] });
    store.apply({ kind: 'remove', source: 'file', id: 'a' });
    expect(store.snapshot().services.map((s) => s.id)).to.deep.equal(['b']);
  });

  it('unions the backends of one id across sources, one per address', () => {
    const store = new StateStore();
    store.apply({ kind: 'sync', source: 'file', services: [service('web', [backend('a', 1), backend('b', 2)])] });
    store.apply({
      kind: 'sync',
      source: 'zookeeper',
      services: [service('web', [backend('c', 2), backend('d', 3)], { source: 'zookeeper' })],
    });
    expect(store.snapshot().services[0]!.backends.map((b) => b.port)).to.deep.equal([1, 2, 3]);
  });

  it('lets a rule override what labels said, leaving the rest', () => {
    const store = new StateStore();
    store.apply({
      kind: 'sync',
      source: 'file',
      services: [service('web', [], { vhosts: ['old.example.com'], paths: ['/web'] })],
    });
    store.apply({ kind: 'rules', rules: [{ id: 'web', vhosts: ['new.example.com'], mode: 'tcp', port: 9000 }] });
    const web = store.snapshot().services[0]!;
    expect(web.vhosts).to.deep.equal(['new.example.com']);
    expect(web.paths).to.deep.equal(['/web']);
    expect(web.mode).to.equal('tcp');
    expect(web.servicePort).to.equal(9000);
  });

  it('applies a rule written before its service appears', () => {
    const store = new StateStore();
    store.apply({ kind: 'rules', rules: [{ id: 'late', vhosts: ['late.example.com'] }] });
    store.apply({ kind: 'upsert', source: 'file', service: service('late') });
    expect(store.snapshot().services[0]!.vhosts).to.deep.equal(['late.example.com']);
  });

  it('restores the labels view when a rule is deleted', () => {
    const store = new StateStore();
    store.apply({ kind: 'sync', source: 'file', services: [service('web', [], { vhosts: ['a.example.com'] })] });
    store.apply({ kind: 'rules', rules: [{ id: 'web', vhosts: ['b.example.com'] }] });
    store.apply({ kind: 'rules', rules: [] });
    expect(store.snapshot().services[0]!.vhosts).to.deep.equal(['a.example.com']);
  });
});

describe('state store drop guard', () => {
  let now = 1000;
  const guarded = () => new StateStore({ maxDrop: 0.5, holdMs: 60_000 }, () => now);
  const four = () => service('web', [backend('a', 1), backend('b', 2), backend('c', 3), backend('d', 4)]);
  beforeEach(() => (now = 1000));

  it('holds a registry that suddenly answers empty, keeping every service as it was', () => {
    const store = guarded();
    store.apply({ kind: 'sync', source: 'marathon', services: [four()] });
    expect(store.apply({ kind: 'sync', source: 'marathon', services: [] })).to.deep.equal([]);
    expect(store.snapshot().services[0]!.backends).to.have.length(4);
    expect(store.holds()).to.deep.equal([{ id: 'web', since: 1000, until: 61_000, from: 4, to: 0 }]);
  });

  it('holds a full view in which a service lost more than its share of backends', () => {
    const store = guarded();
    store.apply({ kind: 'sync', source: 'file', services: [four()] });
    store.apply({ kind: 'sync', source: 'file', services: [service('web', [backend('a', 1)])] });
    expect(store.snapshot().services[0]!.backends).to.have.length(4);
  });

  it('lets an explicit event through, even one that empties a service (a task killed, an app deleted)', () => {
    const store = guarded();
    store.apply({ kind: 'sync', source: 'marathon', services: [four()] });
    store.apply({ kind: 'upsert', source: 'marathon', service: service('web', []) });
    expect(store.snapshot().services[0]!.backends).to.have.length(0);
    store.apply({ kind: 'remove', source: 'marathon', id: 'web' });
    expect(store.snapshot().services).to.deep.equal([]);
    expect(store.holds()).to.deep.equal([]);
  });

  it('lets a drop of up to the share through', () => {
    const store = guarded();
    store.apply({ kind: 'sync', source: 'file', services: [four()] });
    store.apply({ kind: 'sync', source: 'file', services: [service('web', [backend('a', 1), backend('b', 2)])] });
    expect(store.snapshot().services[0]!.backends).to.have.length(2);
    expect(store.holds()).to.deep.equal([]);
  });

  it('applies the drop once it persists past the hold time', () => {
    const store = guarded();
    store.apply({ kind: 'sync', source: 'file', services: [four()] });
    store.apply({ kind: 'sync', source: 'file', services: [service('web', [backend('a', 1)])] });
    now += 30_000;
    expect(store.releaseHeld('expired')).to.deep.equal([]);
    now += 30_000;
    expect(store.releaseHeld('expired')).to.deep.equal(['web']);
    expect(store.snapshot().services[0]!.backends).to.have.length(1);
  });

  it('applies the drop at once when an operator confirms it', () => {
    const store = guarded();
    store.apply({ kind: 'sync', source: 'file', services: [four()] });
    store.apply({ kind: 'sync', source: 'file', services: [] });
    expect(store.releaseHeld(['web'])).to.deep.equal(['web']);
    expect(store.snapshot().services).to.deep.equal([]);
  });

  it('drops the hold when the registry comes back', () => {
    const store = guarded();
    store.apply({ kind: 'sync', source: 'file', services: [four()] });
    store.apply({ kind: 'sync', source: 'file', services: [] });
    store.apply({ kind: 'sync', source: 'file', services: [four()] });
    expect(store.holds()).to.deep.equal([]);
  });

  it('does not hold anything when it is off', () => {
    const store = new StateStore(null);
    store.apply({ kind: 'sync', source: 'file', services: [four()] });
    store.apply({ kind: 'sync', source: 'file', services: [] });
    expect(store.snapshot().services).to.deep.equal([]);
  });
});
