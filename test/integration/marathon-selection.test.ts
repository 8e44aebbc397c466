import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBackends, type Backend } from '../support/backends.js';
import { haproxyCheck, haproxyTarget, type HaproxyHandle } from '../support/haproxy.js';
import { countHits, httpGet } from '../support/http.js';
import type { AppInput } from '../support/marathon-double.js';
import { MarathonDouble } from '../support/marathon-double.js';
import { freePort } from '../support/ports.js';
import { haproxyOnFirstConfig, startSwitchyard, type SwitchyardHandle } from '../support/switchyard.js';
import { tempDir } from '../support/tmp.js';

interface StateService {
  id: string;
  mode: string;
}

// An operator moving from `marathon-lb --group external --group internal
// --strict-mode` (whose unlabelled ports are TCP unless they have a vhost or an
// HTTP health check) sets marathon.group, .strictMode and .defaultMode, and
// gets the apps marathon-lb would have routed, in the modes it would have.
describe('selecting Marathon apps as marathon-lb does', function () {
  this.timeout(60_000);
  let marathon: MarathonDouble;
  let backends: Backend[];
  let haproxy: HaproxyHandle;
  let sy: SwitchyardHandle;
  let dir: string;
  const ports = new Map<string, number>();
  const services = async () =>
    (JSON.parse((await httpGet(`${sy.url}/api/state`)).body) as { services: StateService[] }).services;

  before(async () => {
    dir = tempDir('marathon-selection-');
    backends = await startBackends(['pg', 'site']);
    marathon = new MarathonDouble();
    const url = await marathon.start();
    const app = async (id: string, labels: Record<string, string>, extra: Partial<AppInput> = {}, backend = 0) => {
      ports.set(id, await freePort());
      marathon.addApp({ id, ports: [ports.get(id)!], labels, ...extra });
      marathon.addTask(id, { host: '127.0.0.1', ports: [backends[backend]!.port], healthy: true });
    };
    const on = { HAPROXY_0_ENABLED: 'true' };
    await app('/ext', { HAPROXY_GROUP: 'external', ...on });
    await app('/int', { HAPROXY_GROUP: 'internal', ...on });
    await app('/other', { HAPROXY_GROUP: 'other', ...on });
    await app('/ext-not-enabled', { HAPROXY_GROUP: 'external' });
    await app('/unlabelled', {});
    await app('/pg', { HAPROXY_GROUP: 'external', ...on });
    await app('/site', { HAPROXY_GROUP: 'external', HAPROXY_0_VHOST: 'site.example.com', ...on }, {}, 1);
    await app('/checked', { HAPROXY_GROUP: 'internal', ...on }, { healthChecks: [{ protocol: 'HTTP', path: '/' }] });
    await app('/forced', { HAPROXY_GROUP: 'internal', HAPROXY_0_MODE: 'http', ...on });
    sy = await startSwitchyard(
      {
        marathon: {
          endpoints: [url],
          group: ['external', 'internal'],
          strictMode: true,
          defaultMode: 'tcp',
        },
        targets: [{ ...haproxyTarget(dir, 'haproxy.cfg'), vars: { bind: '127.0.0.1', httpPort: await freePort() } }],
        reload: { quietMs: 0 },
      },
      dir,
    );
    haproxy = await haproxyOnFirstConfig(sy, join(dir, 'haproxy.cfg'), dir);
  });

  after(async () => {
    await sy?.stop();
    await haproxy?.stop();
    await marathon?.stop();
    await Promise.all((backends ?? []).map((b) => b.close()));
  });

  it('takes the apps of either group that strict mode lets through, and no other', async () => {
    expect((await services()).map((s) => s.id)).to.deep.equal(['/checked', '/ext', '/forced', '/int', '/pg', '/site']);
  });

  it('serves an unlabelled port in tcp mode, a vhost, an HTTP health check or a mode label in http mode', async () => {
    const modes = Object.fromEntries((await services()).map((s) => [s.id, s.mode]));
    expect(modes).to.deep.equal({
      '/checked': 'http',
      '/ext': 'tcp',
      '/forced': 'http',
      '/int': 'tcp',
      '/pg': 'tcp',
      '/site': 'http',
    });
    const config = readFileSync(join(dir, 'haproxy.cfg'), 'utf8');
    expect((await haproxyCheck(join(dir, 'haproxy.cfg'))).ok).to.equal(true);
    expect(config).to.match(new RegExp(`frontend port_${ports.get('/pg')}\\n(?:.*\\n)*?\\s+mode tcp`));
  });

  it('carries a tcp service through HAProxy', async () => {
    expect([...(await countHits(`http://127.0.0.1:${ports.get('/pg')}/`, 4)).keys()]).to.deep.equal(['pg']);
  });
});
