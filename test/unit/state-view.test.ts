import { expect } from 'chai';
import { Counter, Registry } from 'prom-client';
import { StateView, type StateSource } from '../../src/http/state-view.js';
import type { Service, Snapshot } from '../../src/state/model.js';
import { backend, service } from './fixtures.js';

// GET /api/state's body: serialized once per version, and from one version
// to the next only where something changed.

const svc = (i: number, port = 31000): Service =>
  service(`/team/svc-${String(i).padStart(4, '0')}`, [backend(`t-${i}`, port)], {
    source: 'marathon',
    env: { SECRET: `s-${i}` },
  });

function setup(count: number) {
  let snapshot: Snapshot = { version: 1, services: Array.from({ length: count }, (_, i) => svc(i)), rules: [] };
  const source: StateSource = {
    snapshot: () => snapshot,
    targets: [{ name: 'haproxy', config: { vars: { httpPort: 8080 } } }],
  };
  const lookups = new Counter({
    name: 'lookups',
    help: 'h',
    labelNames: ['view', 'result'],
    registers: [new Registry()],
  });
  const view = new StateView(source, lookups);
  /** Replaces service `i` with one whose backend port is `port`, as a scale event does. */
  const change = (i: number, port: number) => {
    const services = snapshot.services.slice();
    services[i] = svc(i, port);
    snapshot = { ...snapshot, version: snapshot.version + 1, services };
  };
  const read = async (showEnv: boolean) => {
    const body = await view.body(showEnv);
    return { body, json: JSON.parse(Buffer.concat(body.chunks).toString('utf8')) as StateJson };
  };
  return { change, read };
}

interface StateJson {
  version: number;
  services: Array<{ id: string; backends: Array<{ port: number }>; env: Record<string, string> }>;
  apps: unknown[];
  rules: unknown[];
  vars: Record<string, unknown>;
}

describe('the state view (/api/state)', () => {
  it('is one JSON document: the version, every service and app, the rules and each target’s vars', async () => {
    const { read } = setup(3);
    const { body, json } = await read(true);
    expect(json.version).to.equal(1);
    expect(json.services.map((s) => s.id)).to.deep.equal(['/team/svc-0000', '/team/svc-0001', '/team/svc-0002']);
    expect(json.apps).to.have.length(3);
    expect(json.vars).to.deep.equal({ haproxy: { httpPort: 8080 } });
    expect(body.length).to.equal(Buffer.concat(body.chunks).length);
  });

  it('shows what a service changed to once a new version is read', async () => {
    const { change, read } = setup(2000);
    await read(true);
    change(1000, 32000);
    const { json } = await read(true);
    expect(json.version).to.equal(2);
    expect(json.services[1000]!.backends[0]!.port).to.equal(32000);
    expect(json.services[999]!.backends[0]!.port).to.equal(31000);
  });

  it('copies again only the chunks that changed: one service’s, its app’s, and the first and last (the version)', async () => {
    const { change, read } = setup(2000);
    const before = (await read(true)).body.chunks;
    change(1000, 32000);
    const after = (await read(true)).body.chunks;
    expect(after).to.have.length(before.length);
    const copied = after.filter((c, i) => c !== before[i]).length;
    expect(before.length).to.be.greaterThan(6);
    expect(copied).to.equal(4);
  });

  it('keeps the two shapes apart: env values hidden in one, shown in the other, across versions', async () => {
    const { change, read } = setup(600);
    await read(true);
    await read(false);
    change(10, 32000);
    const shown = (await read(true)).json;
    const hidden = (await read(false)).json;
    expect(shown.services[10]!.env).to.deep.equal({ SECRET: 's-10' });
    expect(hidden.services[10]!.env).to.deep.equal({ SECRET: '<hidden>' });
    expect(hidden.services[500]!.env).to.deep.equal({ SECRET: '<hidden>' });
    expect(shown.services[500]!.env).to.deep.equal({ SECRET: 's-500' });
  });
});
