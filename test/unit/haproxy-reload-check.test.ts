import { expect } from 'chai';
import {
  configBinds,
  frontendStatuses,
  listenersOf,
  parseShowProc,
  unservedListeners,
} from '../../src/targets/haproxy/reload-check.js';
import { reloadOptions } from '../../src/targets/haproxy/reload-command.js';
import { linesNamed } from '../../src/targets/quarantine.js';

const CONFIG = [
  'global', //                                   1
  '    stats socket /run/admin.sock', //         2
  'frontend http', //                            3
  '    bind 0.0.0.0:80', //                      4
  '    bind [::]:80 v4v6 # both families', //    5
  'frontend svc_web', //                         6
  '    bind 127.0.0.1:10001,ipv4@10.0.0.1:10002', // 7
  'listen ranges', //                            8
  '    bind :9000-9002', //                      9
  '    bind unix@/run/x.sock', //                10
  'frontend off', //                             11
  '    disabled', //                             12
  '    bind *:81', //                            13
  'backend be', //                               14
  '    server s1 10.0.0.9:80', //                15
  '# bind :1 in a comment', //                   16
].join('\n');

describe('haproxy reload check: what the config binds', () => {
  it('reads each bind line of frontend and listen sections with its line number and addresses', () => {
    const { binds } = configBinds(CONFIG);
    expect(binds.map((b) => [b.line, b.section, b.addresses.map((a) => `${a.host}:${a.port}`)])).to.deep.equal([
      [4, 'http', ['0.0.0.0:80']],
      [5, 'http', [':::80']],
      [7, 'svc_web', ['127.0.0.1:10001', '10.0.0.1:10002']],
      [9, 'ranges', [':9000', ':9001', ':9002']],
      [13, 'off', [':81']],
    ]);
  });

  it('knows the frontends the config disables on purpose', () => {
    expect([...configBinds(CONFIG).disabled]).to.deep.equal(['off']);
  });
});

describe('haproxy reload check: what the master says', () => {
  it('reads the reload counters and the current workers, not the old ones', () => {
    const answer = [
      '#<PID>          <type>          <reloads>       <uptime>        <version>',
      '17439           master          3 [failed: 1]   0d00h20m16s     2.6.12-1+deb12u4',
      '# workers',
      '13260           worker          0               0d00h00m01s     2.6.12-1+deb12u4',
      '# old workers',
      '13252           worker          1               0d00h00m11s     2.6.12-1+deb12u4',
      '# programs',
      '',
    ].join('\n');
    expect(parseShowProc(answer)).to.deep.equal({ masterPid: 17439, reloads: 3, failed: 1, workers: [13260] });
  });

  it('takes an answer without a master line for none (the master was re-executing)', () => {
    expect(parseShowProc('')).to.equal(null);
  });

  it("reads each frontend's status from show stat and each listener's state from show fd", () => {
    expect([...frontendStatuses('# pxname,svname,x,status\nfe,FRONTEND,1,PAUSED\nbe,BACKEND,1,UP\n')]).to.deep.equal([
      ['fe', 'PAUSED'],
    ]);
    const fd = '  8 : st=0x12 l.st=PAU fe=fe fam=ipv4 lport=38080\n  9 : st=0x12 l.st=RDY fe=svc fam=ipv4 lport=38080';
    expect(listenersOf(fd)).to.deep.equal([
      { state: 'PAU', frontend: 'fe', port: 38080 },
      { state: 'RDY', frontend: 'svc', port: 38080 },
    ]);
  });
});

describe('haproxy reload check: the verdict on a new worker', () => {
  const file = '/etc/haproxy/haproxy.cfg';
  const twoOnOnePort = ['frontend http', '    bind :80', 'frontend svc_web', '    bind 127.0.0.1:80', ''].join('\n');

  it('passes a worker whose frontends are all open (or full)', () => {
    const statuses = new Map([
      ['http', 'OPEN'],
      ['svc_web', 'FULL'],
    ]);
    expect(unservedListeners(file, configBinds(twoOnOnePort), statuses, [])).to.equal(null);
  });

  it('names the bind that took the port of a paused frontend, by file:line, and not the paused one', () => {
    const statuses = new Map([
      ['http', 'PAUSED'],
      ['svc_web', 'OPEN'],
    ]);
    const listeners = [
      { frontend: 'http', state: 'PAU', port: 80 },
      { frontend: 'svc_web', state: 'RDY', port: 80 },
    ];
    const reason = unservedListeners(file, configBinds(twoOnOnePort), statuses, listeners)!;
    expect(reason).to.equal(
      `frontend http is PAUSED in the new worker: its port 80 is bound by frontend svc_web [${file}:4] too`,
    );
    expect(linesNamed(reason, file)).to.deep.equal([4]);
  });

  it("names a paused frontend's own binds when no other section binds its port", () => {
    const text = ['frontend svc_web', '    bind 127.0.0.1:10001', ''].join('\n');
    const reason = unservedListeners(file, configBinds(text), new Map([['svc_web', 'STOP']]), [])!;
    expect(linesNamed(reason, file)).to.deep.equal([2]);
  });

  it('does not count a frontend the config disables', () => {
    const text = ['frontend off', '    disabled', '    bind :81', ''].join('\n');
    expect(unservedListeners(file, configBinds(text), new Map([['off', 'STOP']]), [])).to.equal(null);
  });
});

describe('haproxy-reload command line', () => {
  it('takes the master socket, a timeout in seconds and an optional --config', () => {
    expect(reloadOptions(['/run/m.sock'])).to.deep.equal({ socket: '/run/m.sock', timeoutMs: 10_000, config: null });
    expect(reloadOptions(['/run/m.sock', '5', '--config', '/etc/h.cfg'])).to.deep.equal({
      socket: '/run/m.sock',
      timeoutMs: 5000,
      config: '/etc/h.cfg',
    });
  });

  it('refuses a missing socket or a timeout that is not a positive number, with the usage', () => {
    expect(() => reloadOptions([])).to.throw(/usage: haproxy-reload/);
    expect(() => reloadOptions(['/run/m.sock', 'soon'])).to.throw(/usage: haproxy-reload/);
  });
});
