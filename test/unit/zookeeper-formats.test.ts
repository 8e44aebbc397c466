import { expect } from 'chai';
import type { ZkChild } from '../../src/sources/zookeeper/directory.js';
import {
  decodeInstance,
  toService,
  type Decoded,
  type Instance,
  type Member,
  type RegistryFormat,
} from '../../src/sources/zookeeper/formats.js';
import { describeRejection, rejectionReason } from '../../src/state/rejection.js';
import { leaderOf, parseZkUrl } from '../../src/sources/zookeeper/leader.js';

function instance(d: Decoded): Instance {
  if (d.kind !== 'instance') throw new Error(`expected an instance, got ${reason(d)}`);
  return d.instance;
}

function reason(d: Decoded): string {
  if (d.kind === 'instance') throw new Error('expected a refusal');
  return `${d.kind}: ${d.kind === 'invalid' ? rejectionReason(d.rejection) : d.reason}`;
}

const PATH = '/nerve/services/web/i-1';
const decode = (format: RegistryFormat, data: Buffer | string) => decodeInstance(format, data, PATH);

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('zookeeper instance formats', () => {
  describe('nerve', () => {
    it('reads host, port, weight and labels', () => {
      const d = decode(
        'nerve',
        json({ host: '10.0.0.5', port: 8080, name: 'i-1', weight: 7, labels: { HAPROXY_0_VHOST: 'web.example.com' } }),
      );
      expect(instance(d)).to.deep.equal({
        host: '10.0.0.5',
        port: 8080,
        weight: 7,
        labels: { HAPROXY_0_VHOST: 'web.example.com' },
      });
    });

    it('defaults the weight to 1 and has no labels when none are given', () => {
      expect(instance(decode('nerve', json({ host: 'web-1.internal', port: 80 })))).to.deep.equal({
        host: 'web-1.internal',
        port: 80,
        weight: 1,
        labels: null,
      });
    });

    it('takes a port written as a decimal string', () => {
      expect(instance(decode('nerve', '{"host":"10.0.0.5","port":"8080"}')).port).to.equal(8080);
    });

    it('refuses broken JSON, an empty znode and a non-object', () => {
      expect(reason(decode('nerve', '{"host":'))).to.match(/^invalid: bad data "\{\\"host\\":": expected JSON \(/);
      expect(reason(decode('nerve', Buffer.alloc(0)))).to.equal('invalid: bad data "": expected JSON');
      expect(reason(decode('nerve', '[1,2]'))).to.equal('invalid: bad data [1,2]: expected a JSON object');
    });

    it('refuses a missing port and one outside 1-65535', () => {
      expect(reason(decode('nerve', json({ host: '10.0.0.5' })))).to.equal(
        'invalid: missing port: expected a port 1-65535',
      );
      expect(reason(decode('nerve', json({ host: '10.0.0.5', port: 70000 })))).to.match(
        /bad port 70000: expected a port 1-65535/,
      );
      expect(reason(decode('nerve', json({ host: '10.0.0.5', port: 0 })))).to.match(/bad port 0/);
      expect(reason(decode('nerve', json({ host: '10.0.0.5', port: 80.5 })))).to.match(/bad port 80.5/);
    });

    it('refuses a hostile host, showing it escaped', () => {
      const r = reason(decode('nerve', json({ host: 'evil\n  bind :1', port: 80 })));
      expect(r).to.equal('invalid: bad host "evil\\n  bind :1": expected a hostname or IP');
      expect(r).to.not.include('\n');
    });

    it('refuses a weight outside 0-256', () => {
      expect(reason(decode('nerve', json({ host: 'a', port: 1, weight: 300 })))).to.match(/bad weight 300/);
      expect(instance(decode('nerve', json({ host: 'a', port: 1, weight: 0 }))).weight).to.equal(0);
    });

    it('drops labels that are not one-line strings, with a note', () => {
      const d = decode('nerve', json({ host: 'a', port: 1, labels: { good: 'x', bad: 'y\nz', num: 3 } }));
      expect(instance(d).labels).to.deep.equal({ good: 'x' });
      expect(d.kind === 'instance' && d.notes).to.have.lengthOf(2);
      const ignored = decode('nerve', json({ host: 'a', port: 1, labels: 'HAPROXY_0_VHOST=x' }));
      expect(instance(ignored).labels).to.deep.equal({});
      expect(ignored.kind === 'instance' && ignored.notes).to.deep.equal([
        { where: PATH, field: 'labels', value: 'HAPROXY_0_VHOST=x', expected: 'an object of one-line strings' },
      ]);
    });
  });

  describe('curator', () => {
    const doc = {
      name: 'web',
      id: '2f6b1a1e-1d3c-4c1e-9d0a-0c5b4d3e2f1a',
      address: '10.0.0.7',
      port: 31000,
      sslPort: null,
      payload: null,
      registrationTimeUTC: 1,
      serviceType: 'DYNAMIC',
    };

    it('reads address and port', () => {
      expect(instance(decode('curator', json(doc)))).to.deep.equal({
        host: '10.0.0.7',
        port: 31000,
        weight: 1,
        labels: null,
      });
    });

    it('takes an instance with enabled false as not serving', () => {
      expect(reason(decode('curator', json({ ...doc, enabled: false })))).to.equal('inactive: enabled is false');
    });

    it('refuses an instance with only an SSL port, or a bad address', () => {
      expect(reason(decode('curator', json({ ...doc, port: null, sslPort: 443 })))).to.equal(
        'invalid: missing port: expected a port 1-65535',
      );
      expect(reason(decode('curator', json({ ...doc, address: 'a b' })))).to.match(/bad address "a b"/);
    });
  });

  describe('serverset', () => {
    const doc = {
      serviceEndpoint: { host: '10.0.0.9', port: 9000 },
      additionalEndpoints: { admin: { host: '10.0.0.9', port: 9990 } },
      status: 'ALIVE',
      shard: 0,
    };

    it('reads the service endpoint of an ALIVE member', () => {
      expect(instance(decode('serverset', json(doc)))).to.deep.equal({
        host: '10.0.0.9',
        port: 9000,
        weight: 1,
        labels: null,
      });
    });

    it('takes members in other states as not serving', () => {
      expect(reason(decode('serverset', json({ ...doc, status: 'STARTING' })))).to.equal('inactive: status "STARTING"');
      expect(reason(decode('serverset', json({ ...doc, status: 'DEAD' })))).to.equal('inactive: status "DEAD"');
    });

    it('refuses a member without status or service endpoint', () => {
      expect(reason(decode('serverset', json({ serviceEndpoint: doc.serviceEndpoint })))).to.match(
        /^invalid: missing status: expected a string such as "ALIVE"$/,
      );
      expect(reason(decode('serverset', json({ status: 'ALIVE' })))).to.match(/^invalid: missing serviceEndpoint/);
      expect(
        reason(decode('serverset', json({ ...doc, serviceEndpoint: { host: '10.0.0.9', port: 70000 } }))),
      ).to.equal('invalid: bad serviceEndpoint.port 70000: expected a port 1-65535');
    });
  });
});

describe('zookeeper services from instances', () => {
  const member = (znode: string, host: string, port: number, extra: Partial<Instance> = {}): Member => ({
    znode,
    instance: { host, port, weight: 1, labels: null, ...extra },
  });

  it('routes by default over HTTP, round robin, at /<name>, with backends sorted by id', () => {
    const problems: string[] = [];
    const s = toService('web', [member('b', '10.0.0.2', 80), member('a', '10.0.0.1', 80)], (r) =>
      problems.push(describeRejection(r)),
    )!;
    expect(s).to.include({
      id: 'web',
      name: 'web',
      source: 'zookeeper',
      mode: 'http',
      balance: 'roundrobin',
      servicePort: null,
      acl: null,
      sticky: false,
    });
    expect(s.vhosts).to.deep.equal([]);
    expect(s.paths).to.deep.equal([]); // the template data turns "no vhost, no path" into /web
    expect(s.backends.map((b) => b.id)).to.deep.equal(['a', 'b']);
    expect(problems).to.deep.equal([]);
  });

  it('reads marathon-lb labels from the first instance that carries any', () => {
    const s = toService(
      'web',
      [
        member('i-1', '10.0.0.1', 80),
        member('i-2', '10.0.0.2', 80, {
          labels: { HAPROXY_0_VHOST: 'Web.Example.com', HAPROXY_0_BALANCE: 'leastconn', HAPROXY_0_PORT: '10080' },
        }),
        member('i-3', '10.0.0.3', 80, { labels: { HAPROXY_0_VHOST: 'other.example.com' } }),
      ],
      () => undefined,
    )!;
    expect(s.vhosts).to.deep.equal(['web.example.com']);
    expect(s).to.include({ balance: 'leastconn', servicePort: 10080 });
    expect(s.labels).to.deep.equal({
      HAPROXY_0_VHOST: 'Web.Example.com',
      HAPROXY_0_BALANCE: 'leastconn',
      HAPROXY_0_PORT: '10080',
    });
  });

  it('reports label values that fail their check and leaves them out', () => {
    const problems: string[] = [];
    const s = toService(
      'web',
      [member('i-1', '10.0.0.1', 80, { labels: { HAPROXY_0_VHOST: 'bad host', HAPROXY_0_BALANCE: 'magic' } })],
      (r) => problems.push(describeRejection(r)),
    )!;
    expect(s.vhosts).to.deep.equal([]);
    expect(s.balance).to.equal('roundrobin');
    expect(problems).to.deep.equal([
      'i-1: bad labels.HAPROXY_0_VHOST "bad host": expected a hostname',
      'i-1: bad labels.HAPROXY_0_BALANCE "magic": expected a balance algorithm',
    ]);
  });

  it('leaves out a service whose labels disable it', () => {
    expect(
      toService('web', [member('i-1', '10.0.0.1', 80, { labels: { HAPROXY_0_ENABLED: 'false' } })], () => undefined),
    ).to.equal(null);
  });

  it('keeps one backend per host:port and falls back to host:port ids for unusable znode names', () => {
    const problems: string[] = [];
    const s = toService(
      'web',
      [
        member('i-1', '10.0.0.1', 80),
        member('i-1 copy', '10.0.0.1', 80),
        member('weird name', '10.0.0.2', 81),
        member('i-1', '10.0.0.3', 82),
      ],
      (r) => problems.push(describeRejection(r)),
    )!;
    expect(s.backends.map((b) => [b.id, b.host, b.port])).to.deep.equal([
      ['10.0.0.2:81', '10.0.0.2', 81],
      ['10.0.0.3:82', '10.0.0.3', 82],
      ['i-1', '10.0.0.1', 80],
    ]);
    expect(problems).to.deep.equal([]);
  });

  it('carries weights and renders a service with no instance (a 503 frontend, not a missing one)', () => {
    expect(toService('web', [member('i-1', '10.0.0.1', 80, { weight: 0 })], () => undefined)!.backends[0]).to.include({
      weight: 0,
      healthy: true,
      draining: false,
    });
    expect(toService('empty', [], () => undefined)!.backends).to.deep.equal([]);
  });
});

describe('marathon leader in zookeeper', () => {
  const child = (name: string, data: string): ZkChild => ({ name, data: Buffer.from(data), version: 0 });

  it('parses zk:// URLs, with several hosts and credentials', () => {
    expect(parseZkUrl('zk://10.0.0.1:2181,10.0.0.2:2181/marathon')).to.deep.equal({
      connect: '10.0.0.1:2181,10.0.0.2:2181',
      path: '/marathon',
    });
    expect(parseZkUrl('zk://user:secret@zk:2181/mesos/marathon/')).to.deep.equal({
      connect: 'zk:2181',
      path: '/mesos/marathon',
    });
    expect(parseZkUrl('zk://zk:2181')).to.deep.equal({ connect: 'zk:2181', path: '/marathon' });
    expect(() => parseZkUrl('http://zk:2181/marathon')).to.throw(/expected zk:\/\//);
  });

  it('takes the latch member with the lowest sequence number, protected names included', () => {
    const latch = [
      child('_c_1b4e28ba-2fa1-11d2-883f-0016d3cca427-latch-0000000012', 'm2.internal:8080'),
      child('latch-0000000009', 'm1.internal:8080'),
      child('_c_9a0364b9-e99b-4a8e-8a8c-3b1c5a8e1f00-latch-0000000010', 'm3.internal:8080'),
    ];
    expect(leaderOf(latch, [])).to.equal('m1.internal:8080');
  });

  it('falls back to the legacy group election, where the tombstone sorts first', () => {
    const legacy = [child('member_0000000003', '10.0.0.3:8080'), child('member_-00000000', '10.0.0.1:8080')];
    expect(leaderOf([], legacy)).to.equal('10.0.0.1:8080');
    expect(leaderOf([child('latch-0000000001', '10.0.0.9:8080')], legacy)).to.equal('10.0.0.9:8080');
  });

  it('has no leader without members, or when the leader data is not a host:port', () => {
    expect(leaderOf([], [])).to.equal(null);
    expect(leaderOf([child('latch-0000000001', 'evil\n:80')], [])).to.equal(null);
    expect(leaderOf([child('latch-0000000001', '::1:8080')], [])).to.equal('[::1]:8080');
  });
});
