import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { haproxyTarget, type HaproxyHandle } from '../support/haproxy.js';
import { httpGet } from '../support/http.js';
import { MarathonDouble } from '../support/marathon-double.js';
import { freePort } from '../support/ports.js';
import { haproxyOnFirstConfig, startSwitchyard, type SwitchyardHandle } from '../support/switchyard.js';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';

// The API views behind the dashboard, read as an operator would with curl:
// Marathon (the double) → Switchyard → a real HAProxy with its runtime API.
describe('dashboard API views', function () {
  this.timeout(60_000);
  let dir: string;
  let marathon: MarathonDouble;
  let haproxy: HaproxyHandle;
  let sy: SwitchyardHandle;
  let output: string;
  let webPort: number;

  const get = async (path: string) => {
    const r = await httpGet(`${sy.url}${path}`);
    return { status: r.status, text: r.body, json: () => JSON.parse(r.body) };
  };

  before(async () => {
    dir = tempDir('dashboard-api-');
    webPort = await freePort();
    marathon = new MarathonDouble({ keepAliveMs: 500 });
    const url = await marathon.start();
    marathon.addApp({ id: '/shop/web', ports: [webPort], env: { DB_PASSWORD: 'hunter2' }, labels: { team: 'shop' } });
    marathon.addTask('/shop/web', { host: '127.0.0.1', ports: [31001] });
    marathon.addTask('/shop/web', { host: '127.0.0.1', ports: [31002] });
    for (let i = 0; i < 30; i++) marathon.addApp({ id: `/batch/job-${String(i).padStart(2, '0')}`, ports: [0] });
    marathon.addApp({ id: '/search', labels: { HAPROXY_0_VHOST: 'search.example.com' } });
    output = join(dir, 'haproxy.cfg');
    const admin = join(dir, 'admin.sock');
    sy = await startSwitchyard(
      {
        marathon: { endpoints: [url], pollIntervalMs: 60_000 },
        targets: [
          {
            ...haproxyTarget(dir, output),
            runtimeApi: admin,
            vars: { bind: '127.0.0.1', httpPort: await freePort(), statsSocket: admin, serverSlots: 4 },
          },
        ],
        reload: { quietMs: 10, maxDelayMs: 100 },
      },
      dir,
    );
    haproxy = await haproxyOnFirstConfig(sy, output, dir);
  });

  after(async () => {
    await sy?.stop();
    await haproxy?.stop();
    await marathon?.stop();
  });

  describe('GET /api/catalog/services', () => {
    it('lists service summaries in id order, with routes and backends', async () => {
      const page = (await get('/api/catalog/services')).json();
      expect(page).to.include({ total: 32, offset: 0, limit: 50 });
      expect(page.services.map((s: { id: string }) => s.id).slice(-2)).to.deep.equal(['/search', '/shop/web']);
      const web = page.services.find((s: { id: string }) => s.id === '/shop/web');
      expect(web).to.deep.include({
        servicePort: webPort,
        mode: 'http',
        paths: ['/shop/web'],
        backendCount: 2,
        serving: 2,
      });
      expect(web.backends.map((b: { port: number }) => b.port).sort()).to.deep.equal([31001, 31002]);
      expect(web.backends[0]).to.include({ host: '127.0.0.1', weight: 1, healthy: true, draining: false });
      const search = page.services.find((s: { id: string }) => s.id === '/search');
      expect(search).to.deep.include({ vhosts: ['search.example.com'], paths: [], backendCount: 0 });
    });

    it('narrows the list by a query on id, vhost or backend address', async () => {
      const ids = async (q: string) =>
        (await get(`/api/catalog/services?query=${encodeURIComponent(q)}`))
          .json()
          .services.map((s: { id: string }) => s.id);
      expect(await ids('SEARCH.example')).to.deep.equal(['/search']);
      expect(await ids('127.0.0.1:31002')).to.deep.equal(['/shop/web']);
      expect(await ids('job-1')).to.have.length(10);
    });

    it('pages with offset and limit, the total counting every match', async () => {
      const page = (await get('/api/catalog/services?query=batch&offset=25&limit=10')).json();
      expect(page).to.include({ total: 30, offset: 25, limit: 10 });
      expect(page.services.map((s: { id: string }) => s.id)).to.deep.equal([
        '/batch/job-25',
        '/batch/job-26',
        '/batch/job-27',
        '/batch/job-28',
        '/batch/job-29',
      ]);
    });

    it('answers 400 naming the parameter for a bad limit or offset', async () => {
      for (const q of ['limit=0', 'limit=501', 'offset=-1', 'limit=ten']) {
        const r = await get(`/api/catalog/services?${q}`);
        expect(r.status, q).to.equal(400);
        expect(r.json().error).to.include(`"${q.split('=')[0]}"`);
      }
    });
  });

  describe('GET /api/catalog/services/<id>', () => {
    it('shows one service in full, env values hidden, with its fragment and slots on each target', async () => {
      const s = (await get('/api/catalog/services/%2Fshop%2Fweb')).json();
      expect(s).to.deep.include({
        id: '/shop/web',
        labels: { team: 'shop' },
        env: { shown: false, keys: ['DB_PASSWORD'] },
      });
      expect(JSON.stringify(s)).not.to.include('hunter2');
      const [t] = s.targets;
      expect(t.target).to.equal('haproxy');
      expect(t.fragment.kind).to.equal('diff');
      expect(t.fragment.text).to.include('+backend ::shop::web');
      expect(t.fragment.text).not.to.include('job-');
      const held = t.slots.filter((x: { holds: string | null }) => x.holds !== null);
      expect(held.map((x: { port: number }) => x.port).sort()).to.deep.equal([31001, 31002]);
      expect(
        t.slots
          .filter((x: { holds: string | null }) => x.holds === null)
          .every((x: { disabled: boolean }) => x.disabled),
      ).to.equal(true);
    });

    it("reports HAProxy's own state of each slot through the runtime API", async () => {
      const [t] = (await get('/api/catalog/services/%2Fshop%2Fweb')).json().targets;
      const byName = new Map(t.runtime.servers.map((x: { name: string }) => [x.name, x]));
      for (const slot of t.slots) {
        expect(byName.get(slot.name), slot.name).to.include({
          port: slot.port,
          maint: slot.disabled,
          weight: slot.weight,
        });
      }
      expect(t.runtime.servers.some((x: { state: string }) => x.state === 'running')).to.equal(true);
    });

    it("leaves the target's render cache as it was", async () => {
      const [target] = sy.daemon.runner.targets;
      const before = target!.cacheStats();
      expect((await get('/api/catalog/services/%2Fshop%2Fweb')).status).to.equal(200);
      expect(target!.cacheStats()).to.deep.equal(before);
    });

    it('answers 404 for an unknown service and 400 for an id that is not one segment', async () => {
      expect((await get('/api/catalog/services/%2Fnope')).status).to.equal(404);
      expect((await get('/api/catalog/services/shop/web')).status).to.equal(400);
    });
  });

  describe('GET /api/targets/<name>/config and /diff', () => {
    it('serves the installed file as it is on disk', async () => {
      const r = await get('/api/targets/haproxy/config');
      expect(r.status).to.equal(200);
      expect(r.text).to.equal(readFileSync(output, 'utf8'));
    });

    it('diffs the installed file against a render of the state now: empty when in step', async () => {
      await eventually(async () => expect((await get('/api/targets/haproxy/diff')).text).to.equal(''));
    });

    it('answers 404 for an unknown target', async () => {
      expect((await get('/api/targets/nope/config')).status).to.equal(404);
    });
  });

  describe('GET /api/events', () => {
    it('lists a scale-up as a live install naming the service, with its runtime commands', async () => {
      const head = (await get('/api/overview')).json().events;
      marathon.addTask('/shop/web', { host: '127.0.0.1', ports: [31003] });
      const event = await eventually(async () => {
        const list = (await get(`/api/events?after=${head}`)).json().events;
        const e = list.find((x: { kind: string }) => x.kind === 'install');
        expect(e).to.not.equal(undefined);
        return e;
      });
      expect(event).to.deep.include({ target: 'haproxy', how: 'live', services: ['/shop/web'], hasDiff: false });
      expect(event.commands.join('\n')).to.include('31003');
    });

    it('lists a new app as a reload whose diff adds its backend section', async () => {
      const head = (await get('/api/overview')).json().events;
      marathon.addApp({ id: '/billing', ports: [await freePort()] });
      const event = await eventually(async () => {
        const list = (await get(`/api/events?after=${head}`)).json().events;
        const e = list.find((x: { how?: string }) => x.how === 'reload');
        expect(e).to.not.equal(undefined);
        return e;
      });
      expect(event).to.deep.include({ services: ['/billing'], hasDiff: true });
      const full = (await get(`/api/events/${event.seq}`)).json();
      expect(full.diff.kind).to.equal('diff');
      expect(full.diff.text).to.include('+backend ::billing');
      expect(full.diff.text).to.match(/^--- haproxy \(before\)\n\+\+\+ haproxy \(installed\)\n@@ -\d+/);
    });

    it('answers 404 for an event that is not among the recent ones', async () => {
      expect((await get('/api/events/999999')).status).to.equal(404);
    });
  });

  it('refuses writes on the views with 405', async () => {
    const r = await fetch(`${sy.url}/api/catalog/services`, { method: 'POST', body: '{}' });
    expect(r.status).to.equal(405);
  });
});
