import { expect } from 'chai';
import { Logger, type LogEntry } from '../../src/log.js';
import type { Snapshot } from '../../src/state/model.js';
import { HostAddresses } from '../../src/targets/hosts/addresses.js';
import { HostResolver, type ResolverSettings } from '../../src/targets/hosts/resolver.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shellExec } from '../../src/targets/exec.js';
import { resolvesHosts, Target } from '../../src/targets/target.js';
import { FakeClock, settle } from '../support/fake-clock.js';
import { backend, service } from './fixtures.js';

/** A resolver the spec answers by hand: each lookup waits until `answer` or `fail` names its host. */
function fakeDns() {
  const asked: string[] = [];
  const waiting = new Map<string, Array<{ resolve: (a: string) => void; reject: (e: Error) => void }>>();
  let inFlight = 0;
  let mostInFlight = 0;
  const lookup = (host: string) =>
    new Promise<string>((resolve, reject) => {
      asked.push(host);
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      const done = { resolve: (a: string) => (inFlight--, resolve(a)), reject: (e: Error) => (inFlight--, reject(e)) };
      waiting.set(host, [...(waiting.get(host) ?? []), done]);
    });
  const take = (host: string) => {
    const queue = waiting.get(host) ?? [];
    const first = queue.shift();
    if (!first) throw new Error(`no lookup of ${host} is waiting`);
    return first;
  };
  return {
    lookup,
    asked,
    mostInFlight: () => mostInFlight,
    answer: async (host: string, address: string) => (take(host).resolve(address), await settle()),
    fail: async (host: string, error = `getaddrinfo ENOTFOUND ${host}`) => (
      take(host).reject(new Error(error)),
      await settle()
    ),
  };
}

const SETTINGS: ResolverSettings = { refreshMs: 30_000, timeoutMs: 5000, maxHosts: 100, maxConcurrent: 8 };

function setup(settings: Partial<ResolverSettings> = {}) {
  const clock = new FakeClock();
  const dns = fakeDns();
  const logs: LogEntry[] = [];
  const resolver = new HostResolver(
    { ...SETTINGS, ...settings },
    clock,
    new Logger('debug', (e) => logs.push(e)),
    dns.lookup,
  );
  let changes = 0;
  resolver.onChange(() => changes++);
  return { clock, dns, resolver, logs, changes: () => changes };
}

const warnings = (logs: LogEntry[]) => logs.filter((e) => e.level === 'warn').map((e) => e.message);

const snapshotOf = (...hosts: Array<[id: string, host: string]>): Snapshot => ({
  version: 1,
  services: hosts.map(([id, host]) => service(id, [backend(`${id}-1`, 8080, { host })])),
  rules: [],
});

describe('host resolver', () => {
  it('looks a name up once and answers later reads from the cache', async () => {
    const { dns, resolver } = setup();
    const first = resolver.prepare(['agent-1']);
    await dns.answer('agent-1', '10.1.0.1');
    await first;
    await resolver.prepare(['agent-1']);
    expect(dns.asked).to.deep.equal(['agent-1']);
    expect(resolver.address('agent-1')).to.equal('10.1.0.1');
    expect(resolver.stats()).to.include({ resolved: 1, hits: 1, misses: 0 });
  });

  it('looks every name up again each refresh period and tells listeners of a new address', async () => {
    const { clock, dns, resolver, changes } = setup();
    const first = resolver.prepare(['agent-1']);
    await dns.answer('agent-1', '10.1.0.1');
    await first;
    const before = changes();
    await clock.advance(29_999);
    expect(dns.asked).to.have.length(1);
    await clock.advance(1);
    expect(dns.asked).to.have.length(2);
    await dns.answer('agent-1', '10.1.0.2');
    expect(resolver.address('agent-1')).to.equal('10.1.0.2');
    expect(changes()).to.equal(before + 1);
  });

  it('keeps the last good address when a later lookup fails', async () => {
    const { clock, dns, resolver } = setup();
    const first = resolver.prepare(['agent-1']);
    await dns.answer('agent-1', '10.1.0.1');
    await first;
    await clock.advance(30_000);
    await dns.fail('agent-1', 'getaddrinfo EAI_AGAIN agent-1');
    expect(resolver.address('agent-1')).to.equal('10.1.0.1');
    expect(resolver.state('agent-1')).to.deep.include({ kind: 'stale', error: 'getaddrinfo EAI_AGAIN agent-1' });
  });

  it('counts a lookup that does not answer within the timeout as failed', async () => {
    const { clock, resolver } = setup({ timeoutMs: 2000 });
    const prepared = resolver.prepare(['slow-agent']);
    await clock.advance(2000);
    await prepared;
    expect(resolver.state('slow-agent')).to.deep.include({ kind: 'unresolved', error: 'no answer within 2000 ms' });
  });

  it('lets a render go on without a name that has not answered within the timeout, and tells listeners when it does', async () => {
    const { clock, dns, resolver, changes } = setup({ timeoutMs: 2000 });
    let prepared = false;
    void resolver.prepare(['agent-1']).then(() => (prepared = true));
    await clock.advance(1999);
    expect(prepared).to.equal(false);
    expect(resolver.state('agent-1')?.kind).to.equal('pending');
    await dns.answer('agent-1', '10.1.0.1');
    expect(prepared).to.equal(true);
    expect(changes()).to.equal(1);
  });

  it('logs one line when a name stops resolving, not one per failed lookup', async () => {
    const { clock, dns, resolver, logs } = setup();
    const first = resolver.prepare(['agent-1']);
    await dns.answer('agent-1', '10.1.0.1');
    await first;
    for (let i = 0; i < 3; i++) {
      await clock.advance(30_000);
      await dns.fail('agent-1');
    }
    expect(warnings(logs)).to.deep.equal(['host lookup failed; its last address is kept']);
  });

  it('keeps at most maxHosts names: a new one takes the place of the longest-known name no render uses', async () => {
    const { dns, resolver } = setup({ maxHosts: 2 });
    const view = new HostAddresses(resolver);
    const first = resolver.prepare(['agent-1', 'agent-2']);
    await dns.answer('agent-1', '10.1.0.1');
    await dns.answer('agent-2', '10.1.0.2');
    await first;
    view.remember(snapshotOf(['web', 'agent-1']));
    const third = resolver.prepare(['agent-3']);
    await dns.answer('agent-3', '10.1.0.3');
    await third;
    expect(resolver.stats().cached).to.equal(2);
    expect(resolver.state('agent-2')).to.equal(null);
    expect(resolver.state('agent-1')?.kind).to.equal('resolved');
  });

  it('gives no address to a name past maxHosts while every name is in use, and says why', async () => {
    const { dns, resolver } = setup({ maxHosts: 1 });
    const view = new HostAddresses(resolver);
    const snap = snapshotOf(['web', 'agent-1'], ['api', 'agent-2']);
    view.remember(snap);
    const prepared = resolver.prepare(view.names(snap));
    await dns.answer('agent-1', '10.1.0.1');
    await prepared;
    expect(view.apply(snap).problems.map((p) => [p.host, p.reason])).to.deep.equal([
      ['agent-2', 'too many host names to keep (resolve.maxHosts)'],
    ]);
  });

  it('runs at most maxConcurrent lookups at once', async () => {
    const { dns, resolver } = setup({ maxConcurrent: 2 });
    const hosts = ['a-1', 'a-2', 'a-3', 'a-4', 'a-5'];
    const prepared = resolver.prepare(hosts);
    await settle();
    expect(dns.asked).to.have.length(2);
    for (const h of hosts) await dns.answer(h, '10.1.0.1');
    await prepared;
    expect(dns.asked).to.have.length(5);
    expect(dns.mostInFlight()).to.equal(2);
  });

  it('counts a lookup past its timeout against maxConcurrent until it ends', async () => {
    const { clock, dns, resolver } = setup({ maxConcurrent: 1, timeoutMs: 2000 });
    const prepared = resolver.prepare(['slow-agent', 'agent-2']);
    await clock.advance(2000);
    expect(resolver.state('slow-agent')?.kind).to.equal('unresolved');
    expect(dns.asked).to.deep.equal(['slow-agent']);
    await dns.answer('slow-agent', '10.1.0.1');
    expect(dns.asked).to.deep.equal(['slow-agent', 'agent-2']);
    await dns.answer('agent-2', '10.1.0.2');
    await prepared;
    expect(dns.mostInFlight()).to.equal(1);
  });

  it('forgets at the next refresh the names no target rendered last, and only those', async () => {
    const { clock, dns, resolver } = setup();
    const view = new HostAddresses(resolver);
    const first = resolver.prepare(['gone-agent', 'agent-1']);
    await dns.answer('gone-agent', '10.1.0.1');
    await dns.answer('agent-1', '10.1.0.2');
    await first;
    view.remember(snapshotOf(['web', 'agent-1']));
    await clock.advance(30_000);
    expect(resolver.state('gone-agent')).to.equal(null);
    expect(resolver.state('agent-1')?.kind).to.equal('resolved');
  });

  it('prepares the names of a service seen before again once the resolver forgot names', async () => {
    const { clock, dns, resolver } = setup();
    const view = new HostAddresses(resolver);
    const web = snapshotOf(['web', 'agent-1']);
    expect(view.names(web)).to.deep.equal(['agent-1']);
    expect(view.names(web)).to.deep.equal([]);
    const first = resolver.prepare(['agent-1']);
    await dns.answer('agent-1', '10.1.0.1');
    await first;
    view.remember(snapshotOf(['api', '10.0.0.1']));
    await clock.advance(30_000);
    expect(view.names(web)).to.deep.equal(['agent-1']);
  });

  it('keeps every name across refreshes while nothing is rendered', async () => {
    const { clock, dns, resolver } = setup();
    const first = resolver.prepare(['agent-1']);
    await dns.answer('agent-1', '10.1.0.1');
    await first;
    for (let i = 0; i < 3; i++) {
      await clock.advance(30_000);
      await dns.answer('agent-1', '10.1.0.1');
    }
    expect(resolver.address('agent-1')).to.equal('10.1.0.1');
  });
});

describe('host resolver after a restart', () => {
  it("renders the last run's address at once while it looks the name up", async () => {
    const { dns, resolver, logs } = setup();
    resolver.seed(new Map([['agent-1', '10.1.0.1']]));
    expect(resolver.address('agent-1')).to.equal('10.1.0.1');
    expect(dns.asked).to.deep.equal(['agent-1']);
    await dns.answer('agent-1', '10.1.0.1');
    expect(resolver.state('agent-1')?.kind).to.equal('resolved');
    expect(logs.filter((e) => e.level !== 'debug')).to.deep.equal([]);
  });

  it("keeps the last run's address when the resolver fails, saying so once", async () => {
    const { clock, dns, resolver, logs } = setup();
    resolver.seed(new Map([['agent-1', '10.1.0.1']]));
    await dns.fail('agent-1', 'getaddrinfo EAI_AGAIN agent-1');
    await clock.advance(30_000);
    await dns.fail('agent-1', 'getaddrinfo EAI_AGAIN agent-1');
    expect(resolver.address('agent-1')).to.equal('10.1.0.1');
    expect(warnings(logs)).to.deep.equal(["host lookup failed; the last run's address is kept"]);
  });
});

describe('host addresses of a target', () => {
  it('hands the proxy addresses in place of host names, IP addresses as they are', async () => {
    const { dns, resolver } = setup();
    const view = new HostAddresses(resolver);
    const snap: Snapshot = {
      version: 1,
      services: [service('web', [backend('w1', 8080, { host: 'agent-1' }), backend('w2', 8081, { host: '10.2.0.2' })])],
      rules: [],
    };
    const prepared = resolver.prepare(view.names(snap));
    await dns.answer('agent-1', '10.1.0.1');
    await prepared;
    const hosts = view.apply(snap).snapshot.services[0]!.backends.map((b) => `${b.host}:${b.port}`);
    expect(hosts).to.deep.equal(['10.1.0.1:8080', '10.2.0.2:8081']);
    expect(dns.asked).to.deep.equal(['agent-1']);
  });

  it('leaves out only the backends of a name that never resolved, and names it with the reason', async () => {
    const { dns, resolver } = setup();
    const view = new HostAddresses(resolver);
    const snap: Snapshot = {
      version: 1,
      services: [
        service('web', [
          backend('w1', 8080, { host: 'no-such-agent.invalid' }),
          backend('w2', 8081, { host: 'agent-1' }),
        ]),
      ],
      rules: [],
    };
    const prepared = resolver.prepare(view.names(snap));
    await dns.fail('no-such-agent.invalid');
    await dns.answer('agent-1', '10.1.0.1');
    await prepared;
    const { snapshot, problems } = view.apply(snap);
    expect(snapshot.services[0]!.backends.map((b) => b.id)).to.deep.equal(['w2']);
    expect(problems).to.deep.equal([
      {
        host: 'no-such-agent.invalid',
        state: 'unresolved',
        address: null,
        reason: 'getaddrinfo ENOTFOUND no-such-agent.invalid',
        since: 0,
        services: ['web'],
      },
    ]);
  });

  it('gives a service the same object while its addresses stay, a new one when one moves', async () => {
    const { clock, dns, resolver } = setup();
    const view = new HostAddresses(resolver);
    const snap = snapshotOf(['web', 'agent-1'], ['api', 'agent-2']);
    const prepared = resolver.prepare(view.names(snap));
    await dns.answer('agent-1', '10.1.0.1');
    await dns.answer('agent-2', '10.1.0.2');
    await prepared;
    const [web1, api1] = view.apply(snap).snapshot.services;
    await clock.advance(30_000);
    await dns.answer('agent-1', '10.1.0.1');
    await dns.answer('agent-2', '10.1.0.22');
    const [web2, api2] = view.apply(snap).snapshot.services;
    expect(web2).to.equal(web1);
    expect(api2).to.not.equal(api1);
    expect(api2!.backends[0]!.host).to.equal('10.1.0.22');
  });

  it('returns the snapshot itself when no backend has a host name', () => {
    const { resolver } = setup();
    const snap = snapshotOf(['web', '10.0.0.1'], ['api', '::1']);
    expect(new HostAddresses(resolver).apply(snap).snapshot).to.equal(snap);
  });
});

describe('a target that resolves hosts', () => {
  /** The default nginx template on services `web-0`…`web-4`, each on agent `agent-<i>`, answered `10.1.0.<i>`. */
  async function nginxTarget(dir = mkdtempSync(join(tmpdir(), 'sy-hosts-'))) {
    const env = setup();
    const target = new Target(
      {
        name: 'nginx',
        template: join(process.cwd(), 'templates', 'nginx.conf.hbs'),
        output: join(dir, 'nginx.conf'),
        validate: '',
        reload: '',
        runtimeApi: '',
        resolveHosts: true,
        vars: { bind: '127.0.0.1', httpPort: 8080 },
      },
      { exec: shellExec, log: new Logger('error', () => {}), commandTimeoutMs: 5000, cwd: dir, hosts: env.resolver },
    );
    await target.init();
    const snap = snapshotOf(...Array.from({ length: 5 }, (_, i): [string, string] => [`web-${i}`, `agent-${i}`]));
    const applied = target.apply(snap);
    for (let i = 0; i < 5; i++) await env.dns.answer(`agent-${i}`, `10.1.0.${i}`);
    expect((await applied).kind).to.equal('installed');
    return { ...env, target, snap, dir };
  }

  it('renders again only the service on the host whose address moved', async () => {
    const { clock, dns, target, snap } = await nginxTarget();
    const before = target.cacheStats().viewMisses;
    await clock.advance(30_000);
    for (let i = 0; i < 5; i++) await dns.answer(`agent-${i}`, i === 3 ? '10.1.0.33' : `10.1.0.${i}`);
    expect((await target.apply(snap)).kind).to.equal('installed');
    expect(target.cacheStats().viewMisses - before).to.equal(1);
    expect(target.render(snap)).to.contain('10.1.0.33:8080').and.not.contain('agent-3');
  });

  it('starts from the addresses of the last install after a restart, while the resolver fails', async () => {
    const { dir } = await nginxTarget();
    const env = setup();
    const restarted = new Target(
      {
        name: 'nginx',
        template: join(process.cwd(), 'templates', 'nginx.conf.hbs'),
        output: join(dir, 'nginx.conf'),
        validate: '',
        reload: '',
        runtimeApi: '',
        resolveHosts: true,
        vars: { bind: '127.0.0.1', httpPort: 8080 },
      },
      { exec: shellExec, log: new Logger('error', () => {}), commandTimeoutMs: 5000, cwd: dir, hosts: env.resolver },
    );
    await restarted.init();
    for (let i = 0; i < 5; i++) await env.dns.fail(`agent-${i}`, 'getaddrinfo EAI_AGAIN');
    const snap = snapshotOf(...Array.from({ length: 5 }, (_, i): [string, string] => [`web-${i}`, `agent-${i}`]));
    expect((await restarted.apply(snap)).kind).to.equal('unchanged');
    expect(restarted.render(snap)).to.contain('10.1.0.4:8080');
  });

  it('renders nothing again when a refresh finds the same addresses', async () => {
    const { clock, dns, target, snap } = await nginxTarget();
    await clock.advance(30_000);
    for (let i = 0; i < 5; i++) await dns.answer(`agent-${i}`, `10.1.0.${i}`);
    expect((await target.apply(snap)).kind).to.equal('unchanged');
    expect(target.cacheStats().lastRender.every((m) => m === 0)).to.equal(true);
  });
});

describe('which targets resolve hosts', () => {
  it('those whose validate or reload runs nginx, unless their config says otherwise', () => {
    expect(resolvesHosts({ validate: 'nginx -t -c {{file}}', reload: '' })).to.equal(true);
    expect(resolvesHosts({ validate: 'haproxy -c -f {{file}}', reload: 'haproxy-reload m.sock' })).to.equal(false);
    expect(resolvesHosts({ validate: 'nginx -t -c {{file}}', reload: '', resolveHosts: false })).to.equal(false);
    expect(resolvesHosts({ validate: 'haproxy -c -f {{file}}', reload: '', resolveHosts: true })).to.equal(true);
  });
});
