// The boundary fixes of issue 6, one by one, and the structural comparison
// the hostile-input spec relies on, shown to catch what it is meant to catch.

import { expect } from 'chai';
import { templateData } from '../../src/render/data.js';
import { safeName } from '../../src/render/names.js';
import { parseFileRegistry } from '../../src/sources/file-registry.js';
import { appServices, toAppRecord } from '../../src/sources/marathon/apps.js';
import type { MarathonApp } from '../../src/sources/marathon/types.js';
import { decodeInstance } from '../../src/sources/zookeeper/formats.js';
import { validateRule } from '../../src/state/rules.js';
import { describeRejection, describeValue, rejectionReason, type Rejection } from '../../src/state/rejection.js';
import {
  haproxyWords,
  isAclCondition,
  isHost,
  isPathPrefix,
  isVhost,
  safeStringMap,
} from '../../src/state/validate.js';
import { compareSkeletons, parseHaproxy, parseNginx } from '../support/config-structure.js';
import { service } from './fixtures.js';

const DEEP = '['.repeat(10_000) + ']'.repeat(10_000);

describe('boundary checks against hostile values', () => {
  it('takes only real IPv6 addresses: a:b or ::: would read as host:port', () => {
    for (const ok of ['::1', '::ffff:127.0.0.1', '2001:db8::1', '::']) expect(isHost(ok), ok).to.equal(true);
    for (const bad of ['a:b', ':::', '1::2::3', 'fe80::1%eth0', '[::1]', '::1 ::2', '1:2:3:4:5:6:7:8:9'])
      expect(isHost(bad), bad).to.equal(false);
  });

  it('takes host names spelled in hex digits as vhosts, and no IP address', () => {
    for (const ok of ['cafe.be', 'dead.beef.example', '*.face.example']) expect(isVhost(ok), ok).to.equal(true);
    for (const bad of ['127.0.0.1', '::1', '*.10.0.0.1', '*', '*.', '.example.com'])
      expect(isVhost(bad), bad).to.equal(false);
  });

  it('refuses path prefixes with . or .. segments', () => {
    for (const bad of ['/../', '/./x', '/x/..', '/x/../y']) expect(isPathPrefix(bad), bad).to.equal(false);
    for (const ok of ['/', '/x/', '/x..y', '/.well-known']) expect(isPathPrefix(ok), ok).to.equal(true);
  });

  it('takes an ACL criterion only when HAProxy would read it as one line of words, without files or the environment', () => {
    for (const ok of [
      'hdr(host) -i shop.example.com',
      'path_beg /api /v1',
      'req.hdr(host),field(1,:) -m end .example.com',
      'hdr(host) -i "a b"',
      'path_reg ^/api/v\\d+$',
    ])
      expect(isAclCondition(ok), ok).to.equal(true);
    for (const bad of [
      'hdr(host) -i "open',
      "hdr(host) -i 'open",
      'hdr(host) -i x\\',
      'hdr(x) -m str "${HOME}"',
      'hdr(host) -f /etc/passwd',
      'env(HOME) -m found',
      'req.hdr(host),map(/etc/passwd) -m found',
      '{ always_true }',
      '; x',
      '"hdr(host)" -i x',
      'hdr(host) -i x # y',
      'hdr(host)\n-i x',
      '   ',
    ])
      expect(isAclCondition(bad), JSON.stringify(bad)).to.equal(false);
    expect(haproxyWords(`a "b c" 'd e' f\\ g`)).to.deep.equal(['a', 'b c', 'd e', 'f g']);
  });

  it('describes any value without throwing, deep JSON and data named toString included', () => {
    expect(describeValue(JSON.parse(DEEP))).to.equal('(an array nested too deep to show)');
    expect(describeValue(JSON.parse('{"toString":1}'))).to.equal('{"toString":1}');
    expect(describeValue('a\nb')).to.equal('"a\\nb"');
    expect(describeValue('x'.repeat(200))).to.have.length(80);
  });

  it('drops a label named __proto__, saying so, and leaves the prototype alone', () => {
    const dropped: Rejection[] = [];
    const out = safeStringMap(JSON.parse('{"__proto__":"x","constructor":"y","ok":"z"}'), 'app', 'labels', (r) =>
      dropped.push(r),
    );
    expect(dropped.map((r) => r.field)).to.deep.equal(['labels.__proto__']);
    expect(Object.getPrototypeOf(out)).to.equal(Object.prototype);
    expect({ ...out }).to.deep.equal({ constructor: 'y', ok: 'z' });
  });

  it('reports a rule with a deep or oddly typed value instead of throwing', () => {
    const r = validateRule(JSON.parse(`{"id":"x","vhosts":[${DEEP}]}`));
    expect(r.ok).to.equal(false);
    expect(!r.ok && r.reason).to.match(/bad vhosts\[0\] \(an array nested too deep to show\)/);
  });
});

describe('Marathon apps of the wrong shape', () => {
  const problems: string[] = [];
  const problem = (r: Rejection) => problems.push(describeRejection(r));
  beforeEach(() => (problems.length = 0));
  const app = (json: string) => JSON.parse(json) as MarathonApp;

  it('skips what is not an app and names ids that are not strings by their value', () => {
    for (const bad of ['null', '5', '"x"', '[]']) expect(toAppRecord(app(bad), problem), bad).to.equal(null);
    expect(toAppRecord(app(`{"id":${DEEP}}`), problem)).to.equal(null);
    expect(toAppRecord(app('{"id":{"toString":1}}'), problem)).to.equal(null);
    expect(toAppRecord(app('{"id":"/a\\nuse_backend evil"}'), problem)).to.equal(null);
    expect(problems).to.include('/v2/apps: bad id "/a\\nuse_backend evil": expected [A-Za-z0-9._/-]');
    expect(problems).to.include('/v2/apps: bad id (an array nested too deep to show): expected [A-Za-z0-9._/-]');
  });

  it('keeps the app, leaving out and reporting each field of the wrong type', () => {
    const rec = toAppRecord(
      app(`{"id":"/x","labels":[1],"env":"E=1","tasks":[null,{"id":${DEEP},"host":"h"},{"id":"t1","host":"127.0.0.1","ports":[80],"state":"TASK_RUNNING"}],
        "healthChecks":[null,{"protocol":{"toString":1},"path":"/h\\"x"}],"portDefinitions":{"a":1},"ports":"abc","container":{"docker":{"portMappings":"x"}}}`),
      problem,
    );
    expect(rec).to.not.equal(null);
    expect([...rec!.tasks.keys()]).to.deep.equal(['t1']);
    expect(rec!.servicePorts).to.deep.equal([]);
    for (const field of [
      'labels',
      'env',
      'tasks[]',
      'tasks[].id',
      'healthChecks[0]',
      'healthChecks[1].path',
      'portDefinitions',
      'ports',
      'container.docker.portMappings',
    ]) {
      expect(
        problems.some((p) => p.startsWith(`/x: bad ${field} `)),
        `${field} in ${JSON.stringify(problems)}`,
      ).to.equal(true);
    }
    // Two health checks are declared: a task needs their verdicts, whatever their shape.
    expect(appServices(rec!, '*', problem)[0]!.backends[0]!.healthy).to.equal(false);
  });
});

describe('registry data of the wrong shape', () => {
  it('skips only the file entry whose value is too deep to show, not the file', () => {
    const problems: string[] = [];
    const services = parseFileRegistry(
      `{"services":[{"id":${DEEP}},{"id":"ok","labels":[1],"backends":[{"host":"127.0.0.1","port":80}]}]}`,
      (r) => problems.push(describeRejection(r)),
    );
    expect(services.map((s) => s.id)).to.deep.equal(['ok']);
    expect(problems[0]).to.match(/^services\[0\]: bad id \(an array nested too deep to show\)/);
    expect(problems[1]).to.equal('services[1] (ok): bad labels [1]: expected an object of one-line strings');
  });

  it('refuses a znode whose bytes are not UTF-8, and one too deep to show', () => {
    const bytes = Buffer.concat([
      Buffer.from('{"host":"127.0.0.1","port":80,"labels":{"X":"'),
      Buffer.from([0xc0, 0x8a]),
      Buffer.from('"}}'),
    ]);
    const reason = (d: ReturnType<typeof decodeInstance>) =>
      d.kind === 'invalid' ? rejectionReason(d.rejection) : d.kind;
    expect(reason(decodeInstance('nerve', bytes, '/s/web/i-1'))).to.equal(
      'bad data "{\\"host\\":\\"127.0.0.1\\",\\"port\\":80,\\"labels\\":{\\"X\\":\\"\uFFFD\uFFFD\\"}}": expected UTF-8 JSON',
    );
    expect(reason(decodeInstance('nerve', `{"host":"127.0.0.1","port":80,"labels":${DEEP}}`, '/s/web/i-1'))).to.equal(
      'instance',
    );
    expect(reason(decodeInstance('serverset', `{"serviceEndpoint":${DEEP},"status":"ALIVE"}`, '/s/web/i-1'))).to.equal(
      'bad serviceEndpoint (an array nested too deep to show): expected {"host","port"}',
    );
  });
});

describe('names and routes a proxy could not take', () => {
  it('gives ids that differ only in case different nginx upstream names', () => {
    expect(safeName('Web')).to.not.equal(safeName('web'));
    expect(safeName('Web').toLowerCase()).to.equal(safeName('Web'));
    expect(safeName('/shop/web')).to.equal('_2fshop_2fweb');
  });

  it('gives each nginx location to one service when one routes /x and another /x/', () => {
    const d = templateData(
      { version: 1, services: [service('a', [], { paths: ['/x'] }), service('b', [], { paths: ['/x/'] })], rules: [] },
      {},
    );
    expect(d.pathRoutes.map((r) => [r.path, r.service.id, r.exactOnly])).to.deep.equal([
      ['/x/', 'b', false],
      ['/x', 'a', true],
    ]);
    const e = templateData(
      {
        version: 1,
        services: [
          service('a', [], { paths: ['/x'], vhosts: ['h.example.com'] }),
          service('b', [], { paths: ['/x/'] }),
        ],
        rules: [],
      },
      {},
    );
    expect(e.virtualHosts[0]!.routes.map((r) => [r.path, r.service.id, r.exactOnly])).to.deep.equal([
      ['/x', 'a', false],
    ]);
  });
});

describe('the structural comparison of the hostile-input spec', () => {
  const consts = new Set([
    'backend',
    'server',
    'mode',
    'http',
    'weight',
    'global',
    'defaults',
    'frontend',
    'http-in',
    'bind',
    'acl',
    'use_backend',
    'if',
    'req.hdr(host),field(1,:)',
    '-i',
    '-m',
    'str',
  ]);
  const haproxy = (vhost: string, host = '10.0.0.1') =>
    [
      'global',
      '    maxconn 10',
      'frontend http-in',
      '    bind 127.0.0.1:80',
      `    acl host_a req.hdr(host),field(1,:) -i -m str ${vhost}`,
      '    use_backend a if host_a',
      'backend a',
      '    mode http',
      `    server s1 ${host}:80 weight 1`,
      '',
    ].join('\n');
  const violations = (candidate: string) => {
    const base = parseHaproxy(haproxy('a.example.com'), consts).directives;
    const cand = parseHaproxy(candidate, consts);
    return [
      ...cand.violations,
      ...compareSkeletons(base, cand.directives, consts, {
        identical: ['global', { context: 'frontend http-in', except: ['acl', 'use_backend'] }],
      }),
    ];
  };

  it('finds nothing when only values changed, legitimately', () => {
    expect(violations(haproxy('b.example.com', '::1'))).to.deep.equal([]);
  });

  it('finds a smuggled directive, a second word, a comment and an open quote in HAProxy', () => {
    expect(violations(haproxy('b.example.com\n    bind :1'))).to.have.length.greaterThan(0);
    expect(violations(haproxy('b.example.com\nbackend evil'))).to.have.length.greaterThan(0);
    expect(violations(haproxy('b.example.com evil.example.com'))).to.have.length.greaterThan(0);
    expect(violations(haproxy('b.example.com #'))).to.have.length.greaterThan(0);
    expect(violations(haproxy('b.example.com"'))).to.have.length.greaterThan(0);
    expect(
      violations(haproxy('a.example.com', '10.0.0.1:80 backup\n    server s2 10.6.6.6')),
    ).to.have.length.greaterThan(0);
  });

  it('finds a smuggled block, directive or variable in nginx', () => {
    const conf = (name: string) =>
      `events {\n}\nhttp {\n    server {\n        listen 127.0.0.1:80;\n        server_name ${name};\n        location = /x {\n            return 503;\n        }\n    }\n}\n`;
    const nconsts = new Set([
      'events',
      'http',
      'server',
      'listen',
      'server_name',
      'location',
      '=',
      '/x',
      'return',
      '503',
    ]);
    const check = (name: string) => {
      const cand = parseNginx(conf(name));
      return [
        ...cand.violations,
        ...compareSkeletons(parseNginx(conf('a.example.com')).directives, cand.directives, nconsts, {
          identical: ['events'],
        }),
      ];
    };
    expect(check('b.example.com')).to.deep.equal([]);
    expect(check('b.example.com; return 200 pwned')).to.have.length.greaterThan(0);
    expect(check('b.example.com; } server { listen 1')).to.have.length.greaterThan(0);
    expect(check('$host')).to.have.length.greaterThan(0);
    expect(check('b.example.com #')).to.have.length.greaterThan(0);
    expect(check('"b.example.com')).to.have.length.greaterThan(0);
  });
});
