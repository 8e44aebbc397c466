import { expect } from 'chai';
import { ruleIdFromZnode, ruleZnodeName, serializeRule, validateRule, type RuleCheck } from '../../src/state/rules.js';

function refused(check: RuleCheck): string {
  if (check.ok) throw new Error(`expected a refusal, got ${JSON.stringify(check.rule)}`);
  return check.reason;
}

describe('routing rule validation', () => {
  it('accepts a full rule and gives it in canonical form', () => {
    const check = validateRule(
      {
        id: '/shop/web',
        vhosts: ['Shop.Example.com', '*.shop.example.com', 'shop.example.com'],
        paths: ['/api', '/api'],
        port: 10080,
        mode: 'http',
        balance: 'leastconn',
        acl: 'hdr(host) -i shop.example.com',
      },
      '/shop/web',
    );
    expect(check).to.deep.equal({
      ok: true,
      rule: {
        id: '/shop/web',
        vhosts: ['shop.example.com', '*.shop.example.com'],
        paths: ['/api'],
        port: 10080,
        mode: 'http',
        balance: 'leastconn',
        acl: 'hdr(host) -i shop.example.com',
      },
    });
  });

  it('accepts a bare id, empty lists, and null as "left out"', () => {
    expect(validateRule({ id: 'web' })).to.deep.equal({ ok: true, rule: { id: 'web' } });
    expect(validateRule({ id: 'web', vhosts: [], paths: [] })).to.deep.equal({
      ok: true,
      rule: { id: 'web', vhosts: [], paths: [] },
    });
    expect(validateRule({ id: 'web', port: null, acl: null })).to.deep.equal({ ok: true, rule: { id: 'web' } });
  });

  it('refuses what is not an object', () => {
    for (const body of [null, [], 'web', 3]) expect(refused(validateRule(body))).to.equal('expected a JSON object');
  });

  it('refuses unknown fields, naming them', () => {
    expect(refused(validateRule({ id: 'web', vhost: ['a.example.com'] }))).to.match(
      /^unknown field "vhost": expected id, vhosts, paths/,
    );
    expect(refused(validateRule({ id: 'web', 'x\ny': 1 }))).to.match(/control character: "x\\ny"/);
  });

  it('refuses a missing or bad id, and one that differs from the URL', () => {
    expect(refused(validateRule({}))).to.equal('"id" is required');
    expect(refused(validateRule({ id: 'a b' }))).to.match(/^bad "id" "a b"/);
    expect(refused(validateRule({ id: '../etc' }))).to.match(/^bad "id"/);
    expect(refused(validateRule({ id: '.' }))).to.match(/^bad "id"/);
    expect(refused(validateRule({ id: 7 }))).to.match(/^bad "id" 7/);
    expect(refused(validateRule({ id: 'web' }, 'api'))).to.equal('"id" "web" differs from the id in the URL, "api"');
  });

  it('wants arrays where the contract says arrays', () => {
    expect(refused(validateRule({ id: 'web', vhosts: 'a.example.com' }))).to.equal(
      '"vhosts" must be an array, got "a.example.com"',
    );
    expect(refused(validateRule({ id: 'web', paths: '/api' }))).to.equal('"paths" must be an array, got "/api"');
    expect(refused(validateRule({ id: 'web', vhosts: new Array(300).fill('a.example.com') }))).to.match(/at most 256/);
  });

  it('checks every vhost and path, naming the bad one', () => {
    expect(refused(validateRule({ id: 'web', vhosts: ['ok.example.com', 'bad host'] }))).to.match(
      /^bad vhosts\[1\] "bad host": expected a hostname/,
    );
    expect(refused(validateRule({ id: 'web', vhosts: ['x.example.com\n  bind :1'] }))).to.match(
      /^bad vhosts\[0\] "x.example.com\\n {2}bind :1"/,
    );
    expect(refused(validateRule({ id: 'web', paths: ['api'] }))).to.match(/^bad paths\[0\] "api"/);
    expect(refused(validateRule({ id: 'web', paths: ['/a b'] }))).to.match(/^bad paths\[0\]/);
    expect(refused(validateRule({ id: 'web', paths: ['/a;b'] }))).to.match(/^bad paths\[0\]/);
    expect(refused(validateRule({ id: 'web', paths: [3] }))).to.match(/^bad paths\[0\] 3/);
  });

  it('checks port, mode, balance and acl', () => {
    expect(refused(validateRule({ id: 'web', port: 70000 }))).to.equal('bad "port" 70000: expected an integer 1-65535');
    expect(refused(validateRule({ id: 'web', port: '8080' }))).to.match(/^bad "port" "8080"/);
    expect(refused(validateRule({ id: 'web', mode: 'udp' }))).to.match(/^bad "mode" "udp"/);
    expect(refused(validateRule({ id: 'web', balance: 'fastest' }))).to.match(/^bad "balance" "fastest"/);
    expect(refused(validateRule({ id: 'web', acl: 'path_beg /a\n  bind :1' }))).to.match(/^bad "acl"/);
    expect(refused(validateRule({ id: 'web', acl: 'path_beg /a # comment' }))).to.match(/^bad "acl"/);
    expect(refused(validateRule({ id: 'web', acl: '' }))).to.match(/^bad "acl"/);
  });

  it('cuts long values short in reasons', () => {
    expect(refused(validateRule({ id: 'x'.repeat(500) })).length).to.be.below(200);
  });
});

describe('routing rule znodes', () => {
  it('stores a rule under its URL-encoded id and reads the id back', () => {
    expect(ruleZnodeName('/shop/web')).to.equal('%2Fshop%2Fweb');
    expect(ruleZnodeName('web')).to.equal('web');
    expect(ruleIdFromZnode('%2Fshop%2Fweb')).to.equal('/shop/web');
  });

  it('refuses znode names that are no service id', () => {
    expect(ruleIdFromZnode('%E0%A4%A')).to.equal(null);
    expect(ruleIdFromZnode('a%20b')).to.equal(null);
    expect(ruleIdFromZnode('%2E%2E')).to.equal(null);
  });

  it('serializes fields in a fixed order', () => {
    expect(serializeRule({ acl: 'path_beg /x', id: 'web', port: 81, vhosts: ['a.example.com'] })).to.equal(
      '{"id":"web","vhosts":["a.example.com"],"port":81,"acl":"path_beg /x"}',
    );
  });
});
