import { expect } from 'chai';
import { appJson, assemble, encodeApp, readHead } from '../../src/sources/fleet/app-node.js';
import { appKey, parsePartName } from '../../src/sources/fleet/layout.js';
import { checkAppServices } from '../../src/sources/fleet/service-check.js';
import { rejectionReason } from '../../src/state/rejection.js';
import { differingSettings, fleetSettings } from '../../src/sources/fleet/settings.js';
import type { Service } from '../../src/state/model.js';
import { appChecker, task } from './fixtures.js';
import { appServices } from '../../src/sources/marathon/apps.js';
import type { MarathonConfig } from '../../src/config/schema.js';

/** The services the Marathon source makes of one app: what a fleet leader publishes. */
function marathonServices(env: Record<string, string> = {}): Service[] {
  const { record, reject } = appChecker();
  const app = record({
    id: '/shop/web',
    labels: { HAPROXY_0_VHOST: 'shop.example.com', HAPROXY_1_MODE: 'tcp' },
    env,
    portDefinitions: [{ port: 10001 }, { port: 10002 }],
    healthChecks: [{ protocol: 'HTTP', path: '/health', portIndex: 0, intervalSeconds: 5 }],
    tasks: [
      task('shop_web.a', [31001, 31002], { healthCheckResults: [{ alive: true }] }),
      task('shop_web.b', [31003, 31004], { healthCheckResults: [{ alive: false }] }),
    ],
  } as never);
  return appServices(app, '*', reject);
}

/** Reassembles what encodeApp wrote, as a follower reading the znodes would. */
function reassemble(znodes: readonly { name: string; data: Buffer }[], committed: number) {
  const byName = new Map(znodes.map((z) => [z.name, z.data]));
  const head = znodes[znodes.length - 1]!;
  return assemble(head.data, (i) => byName.get(`${head.name}#${i}`) ?? null, committed);
}

describe('fleet: published apps', () => {
  it('round-trips an app’s services through its znode and the follower’s checks', () => {
    const services = marathonServices();
    const enc = encodeApp(appKey('/shop/web'), appJson(services), 7, 500_000);
    expect(enc.znodes.map((z) => z.name)).to.deep.equal(['%2Fshop%2Fweb']);
    const back = reassemble(enc.znodes, 7);
    if (back.kind !== 'ok') throw new Error(back.reason);
    const checked = checkAppServices(back.json.toString('utf8'), false, 'test');
    if (checked.kind !== 'ok') throw new Error(rejectionReason(checked.rejection));
    expect(checked.services).to.deep.equal(services);
  });

  it('splits an app past the part size into parts, written before its head, and joins them again', () => {
    const services = marathonServices({ BIG: 'x'.repeat(4000), MORE: 'y'.repeat(4000) });
    const json = appJson(services);
    const enc = encodeApp(appKey('/shop/web'), json, 3, 1000);
    expect(enc.znodes.length).to.be.greaterThan(json.length / 1000);
    expect(enc.znodes.every((z) => z.data.length <= 1000)).to.equal(true);
    expect(enc.znodes.slice(0, -1).every((z) => parsePartName(z.name)?.key === '%2Fshop%2Fweb')).to.equal(true);
    expect(parsePartName(enc.znodes[enc.znodes.length - 1]!.name)).to.equal(null);
    const back = reassemble(enc.znodes, 3);
    expect(back.kind === 'ok' && back.json.equals(json)).to.equal(true);
  });

  it('holds back an app written in a version later than the committed view', () => {
    const enc = encodeApp(appKey('/shop/web'), appJson(marathonServices()), 8, 500_000);
    expect(reassemble(enc.znodes, 7).kind).to.equal('pending');
  });

  it('holds back an app whose parts come from another update than its head', () => {
    const key = appKey('/shop/web');
    const older = encodeApp(key, appJson(marathonServices({ BIG: 'a'.repeat(3000) })), 3, 1000);
    const newer = encodeApp(key, appJson(marathonServices({ BIG: 'b'.repeat(3000) })), 4, 1000);
    // The newer update wrote its parts, not yet its head.
    const mixed = [...newer.znodes.slice(0, -1), older.znodes[older.znodes.length - 1]!];
    const back = reassemble(mixed, 3);
    expect(back.kind).to.equal('pending');
  });

  it('gives the same app the same bytes whatever order its services came in', () => {
    const services = marathonServices();
    expect(appJson([...services].reverse()).equals(appJson(services))).to.equal(true);
  });

  it('refuses a head without a header line', () => {
    expect(readHead(Buffer.from('[]'))).to.equal(null);
    expect(assemble(Buffer.from('{"v":1}\n[]'), () => null, 5).kind).to.equal('invalid');
  });
});

describe('fleet: checks on published services', () => {
  const published = () => JSON.parse(appJson(marathonServices()).toString('utf8')) as Array<Record<string, unknown>>;
  const reason = (value: unknown, allowRaw = false) => {
    const r = checkAppServices(JSON.stringify(value), allowRaw, '/fleet/apps/x');
    return r.kind === 'invalid' ? rejectionReason(r.rejection) : 'accepted';
  };

  it('refuses a backend host that would break a config line', () => {
    const list = published();
    (list[0]!.backends as Array<Record<string, unknown>>)[0]!.host = '10.0.0.1\n    server evil 6.6.6.6:80';
    expect(reason(list)).to.match(
      /^bad 0\.backends\.0\.host "10\.0\.0\.1\\n {4}server evil.*: expected a host name or IP address$/,
    );
  });

  it('refuses a service from another source or with a field it does not know', () => {
    const list = published();
    list[0]!.source = 'file';
    expect(reason(list)).to.match(/^bad 0\.source "file"/);
    const extra = published();
    extra[1]!.surprise = true;
    expect(reason(extra)).to.match(/^bad 1 /);
  });

  it('refuses services of two apps in one znode', () => {
    const list = published();
    list[1]!.name = '/other';
    expect(reason(list)).to.match(/another app/);
  });

  it('refuses raw config lines unless marathon.allowRawLabels is on here', () => {
    const list = published();
    list[0]!.raw = { backendHead: 'http-request deny' };
    expect(reason(list)).to.match(/allowRawLabels/);
    expect(reason(list, true)).to.equal('accepted');
  });

  it('refuses what is not JSON', () => {
    expect(checkAppServices('{', false, 'test').kind).to.equal('invalid');
  });
});

describe('fleet: settings', () => {
  const base: MarathonConfig = {
    endpoints: ['http://m1:8080'],
    eventStream: true,
    pollIntervalMs: 30_000,
    user: 'u',
    password: 'p',
    group: ['external'],
    strictMode: false,
    defaultMode: 'http',
    requestTimeoutMs: 15_000,
    streamIdleTimeoutMs: 30_000,
    allowRawLabels: false,
    maxAppListBytes: 256 * 2 ** 20,
    maxAppBytes: 32 * 2 ** 20,
    maxApps: 50_000,
    maxTasksPerApp: 10_000,
    maxPortsPerApp: 1000,
    maxLabelsPerApp: 1000,
    maxLabelBytes: 64 * 1024,
    maxEventLineBytes: 16 * 2 ** 20,
    maxEventBytes: 16 * 2 ** 20,
  };

  it('names each setting that shapes the view and differs', () => {
    const mine = fleetSettings(base);
    expect(differingSettings(mine, fleetSettings({ ...base, group: ['internal'] }))).to.deep.equal(['marathon.group']);
    expect(differingSettings(mine, fleetSettings({ ...base, password: 'q' }))).to.deep.equal(['marathon.credentials']);
    expect(differingSettings(mine, fleetSettings({ ...base, endpoints: ['http://m2:8080'] }))).to.deep.equal([
      'marathon.endpoints',
    ]);
  });

  it('ignores settings that do not change the view (timeouts, poll period)', () => {
    const mine = fleetSettings(base);
    expect(
      differingSettings(mine, fleetSettings({ ...base, pollIntervalMs: 5000, requestTimeoutMs: 100 })),
    ).to.deep.equal([]);
  });

  it('never publishes the password in clear', () => {
    expect(JSON.stringify(fleetSettings(base))).not.to.include('"p"');
  });
});
