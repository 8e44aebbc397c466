import { expect } from 'chai';
import { commandsFor } from '../../src/targets/haproxy/live.js';
import { membershipChanges, parseServer } from '../../src/targets/haproxy/servers.js';
import { parseServersState } from '../../src/targets/haproxy/runtime.js';

const cfg = (...servers: string[]) =>
  ['global', '    maxconn 10', '', 'backend web', '    mode http', ...servers.map((s) => `    ${s}`), ''].join('\n');

describe('HAProxy server lines', () => {
  it('parses name, address, weight, disabled and the rest', () => {
    expect(parseServer('    server s1 10.0.0.1:31000 weight 3 disabled check inter 2s', 'web')).to.deep.equal({
      backend: 'web',
      name: 's1',
      host: '10.0.0.1',
      port: 31000,
      weight: 3,
      disabled: true,
      rest: 'check inter 2s',
    });
  });

  it('finds a membership change when only server addresses, weights or states differ', () => {
    const changes = membershipChanges(
      cfg('server s1 10.0.0.1:1 weight 1', 'server s2 127.0.0.1:1 weight 0 disabled'),
      cfg('server s1 10.0.0.1:1 weight 1', 'server s2 10.0.0.2:2 weight 1'),
    );
    expect(changes).to.have.length(1);
    expect(changes![0]!.to).to.include({ name: 's2', host: '10.0.0.2', port: 2, disabled: false });
  });

  it('calls a new server structural', () => {
    expect(
      membershipChanges(cfg('server s1 10.0.0.1:1'), cfg('server s1 10.0.0.1:1', 'server s2 10.0.0.1:2')),
    ).to.equal(null);
  });

  it('calls a changed server option structural', () => {
    expect(
      membershipChanges(cfg('server s1 10.0.0.1:1 weight 1'), cfg('server s1 10.0.0.1:1 weight 1 check')),
    ).to.equal(null);
  });

  it('calls any other changed line structural', () => {
    expect(
      membershipChanges(cfg('server s1 10.0.0.1:1'), cfg('server s1 10.0.0.1:1').replace('maxconn 10', 'maxconn 20')),
    ).to.equal(null);
  });
});

describe('HAProxy runtime commands for a server change', () => {
  const change = (from: string, to: string) => ({
    from: parseServer(`  server s1 ${from}`, 'web')!,
    to: parseServer(`  server s1 ${to}`, 'web')!,
  });

  it('fills a parked slot: address, weight, then ready', () => {
    expect(commandsFor(change('127.0.0.1:1 weight 0 disabled', '10.0.0.2:80 weight 1'), '10.0.0.2')).to.deep.equal([
      'set server web/s1 addr 10.0.0.2 port 80',
      'set weight web/s1 1',
      'set server web/s1 state ready',
    ]);
  });

  it('parks a slot: maintenance first', () => {
    expect(commandsFor(change('10.0.0.2:80 weight 1', '127.0.0.1:1 weight 0 disabled'), '127.0.0.1')[0]).to.equal(
      'set server web/s1 state maint',
    );
  });

  it('takes a live slot out while it moves', () => {
    expect(commandsFor(change('10.0.0.2:80 weight 1', '10.0.0.3:80 weight 1'), '10.0.0.3')).to.deep.equal([
      'set server web/s1 state maint',
      'set server web/s1 addr 10.0.0.3 port 80',
      'set server web/s1 state ready',
    ]);
  });

  it('drains with weight 0 and nothing else', () => {
    expect(commandsFor(change('10.0.0.2:80 weight 1', '10.0.0.2:80 weight 0'), '10.0.0.2')).to.deep.equal([
      'set weight web/s1 0',
    ]);
  });
});

describe('show servers state', () => {
  it('reads address, port, operational state, maintenance and weight', () => {
    const answer =
      '1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight ...\n3 be 2 s2 127.0.0.1 2 4 3 1 0 1 0 0 8 0 0 0 - 9002 - 0 0 - - 0\n3 be 1 s1 127.0.0.1 0 5 0 1 0 1 0 0 0 0 0 0 - 1 - 0 0 - - 0\n';
    expect(parseServersState(answer)).to.deep.equal([
      { backend: 'be', name: 's2', addr: '127.0.0.1', port: 9002, op: 2, maint: false, weight: 3 },
      { backend: 'be', name: 's1', addr: '127.0.0.1', port: 1, op: 0, maint: true, weight: 0 },
    ]);
  });
});
