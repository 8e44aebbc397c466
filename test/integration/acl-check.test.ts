import { expect } from 'chai';
import { haproxyRefusesAcl } from '../../src/http/acl-check.js';

// The rules API asks a real HAProxy whether it can parse a rule's ACL, in a
// scratch config of its own. Nothing of that scratch config may be visible to
// the ACL, or one that passes there fails every sidecar's real config.

describe('rule ACLs checked by HAProxy', () => {
  it('takes an ACL HAProxy parses', async () => {
    expect(await haproxyRefusesAcl('hdr(host) -i shop.example.com')).to.equal(null);
  });

  it('refuses an ACL naming a backend that only the scratch config could have had', async () => {
    expect(await haproxyRefusesAcl('nbsrv(check) gt 0'))
      .to.be.a('string')
      .and.contain('check');
  });

  it('refuses an ACL with an unknown fetch, in HAProxy’s words', async () => {
    expect(await haproxyRefusesAcl('no_such_fetch(x) -m found'))
      .to.be.a('string')
      .and.match(/no_such_fetch/);
  });
});
