import { createServer, type AddressInfo } from 'node:net';
import { expect } from 'chai';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TargetConfig } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import type { Service, Snapshot } from '../../src/state/model.js';
import { conflicts } from '../../src/targets/conflicts.js';
import { loadTemplate } from '../../src/render/template.js';
import { PortProbes, precheck, readsCertificates } from '../../src/targets/prechecks.js';
import { freePort } from '../support/ports.js';
import { shellExec } from '../../src/targets/exec.js';
import { linesNamed, ownersOfLines, Quarantine, RETRY_FIRST_MS, RETRY_MAX_MS } from '../../src/targets/quarantine.js';
import { Target, type ApplyResult } from '../../src/targets/target.js';
import { backend, service } from './fixtures.js';

// One bad service costs only itself: the proxy's refusal is traced to the
// service whose lines it names, that service is left out (or kept at its last
// good rendering), and the rest installs.

/** A validate command that refuses every line holding a BAD file, naming the line and the file as HAProxy does for a certificate. */
const VALIDATE_CERT = `awk '/BAD/ { match($0, /[^ ]*BAD[^ ]*/); printf "[ALERT] config : parsing [%s:%d] : unable to load certificate from file \\047%s\\047.\\n", FILENAME, FNR, substr($0, RSTART, RLENGTH); bad = 1 } END { exit bad }' {{file}}`;

/** A validate command that refuses every line holding BAD, naming it HAProxy's way: `[file:line]`. */
const VALIDATE = `awk '/BAD/ { printf "[ALERT] config : parsing [%s:%d] : bad server\\\\n", FILENAME, FNR; bad = 1 } END { exit bad }' {{file}}`;

function setup(
  template = 'global\n{{#each services}}backend {{id}}\n{{#each backends}}  server {{host}}:{{port}}\n{{/each}}{{/each}}',
  validate = VALIDATE,
  reload = '',
) {
  const dir = mkdtempSync(join(tmpdir(), 'sy-quarantine-'));
  writeFileSync(join(dir, 't.hbs'), template);
  const config: TargetConfig = {
    name: 't',
    template: join(dir, 't.hbs'),
    output: join(dir, 'out', 'proxy.cfg'),
    validate,
    reload,
    runtimeApi: '',
    vars: {},
  };
  const target = new Target(config, { exec: shellExec, log: silentLogger(), commandTimeoutMs: 5000, cwd: dir });
  return { target, dir, installed: () => readFileSync(config.output, 'utf8') };
}

const snap = (version: number, services: Service[]): Snapshot => ({ version, services, rules: [] });
const web = (host: string) => service('web', [backend('w1', 80, { host })]);
const api = (host: string) => service('api', [backend('a1', 81, { host })]);
const kind = (r: ApplyResult) => (r.kind === 'failed' ? `failed: ${r.error.message}` : r.kind);

/** Another process's listener: a server on a free port of `host`. */
async function holding(host: string): Promise<{ port: number; close: () => void }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

describe('quarantine in a target', () => {
  it('leaves out the new service whose line the proxy refuses, and installs the rest', async () => {
    const { target, installed } = setup();
    await target.init();
    expect(kind(await target.apply(snap(1, [api('BAD'), web('10.0.0.1')])))).to.equal('installed');
    expect(installed()).to.equal('global\nbackend web\n  server 10.0.0.1:80\n');
    expect(target.quarantined().map((q) => [q.service, q.finding])).to.deep.equal([['api', 'line']]);
    expect(target.quarantined()[0]!.reason).to.contain('bad server').and.contain('proxy.cfg:');
  });

  it('keeps a served service that turns bad at its last good rendering while another service changes', async () => {
    const { target, installed } = setup();
    await target.init();
    await target.apply(snap(1, [api('10.0.0.9'), web('10.0.0.1')]));
    expect(kind(await target.apply(snap(2, [api('BAD'), web('10.0.0.2')])))).to.equal('installed');
    expect(installed()).to.equal('global\nbackend api\n  server 10.0.0.9:81\nbackend web\n  server 10.0.0.2:80\n');
  });

  it('takes a quarantined service back as soon as its input changes and passes', async () => {
    const { target, installed } = setup();
    await target.init();
    await target.apply(snap(1, [api('BAD'), web('10.0.0.1')]));
    await target.apply(snap(2, [api('10.0.0.7'), web('10.0.0.1')]));
    expect(target.quarantined()).to.deep.equal([]);
    expect(installed()).to.contain('backend api\n  server 10.0.0.7:81\n');
  });

  // Without a reload command nothing is bound; with one, the port is also probed for another holder.
  for (const reload of ['', 'true'])
    it(`quarantines a new service on the port of a listener written in the template, naming it (reload ${JSON.stringify(reload)})`, async () => {
      const { target, installed } = setup(
        'frontend stats\n    bind 127.0.0.1:9000\n{{#each services}}frontend {{id}}\n    bind 127.0.0.1:{{servicePort}}\n{{/each}}',
        VALIDATE,
        reload,
      );
      await target.init();
      await target.apply(snap(1, [service('web', [backend('w', 1)], { servicePort: 21000 })]));
      const clash = service('clash', [backend('c', 2)], { servicePort: 9000 });
      await target.apply(snap(2, [clash, service('web', [backend('w', 1)], { servicePort: 21000 })]));
      expect(target.quarantined().map((q) => [q.service, q.finding, q.reason])).to.deep.equal([
        ['clash', 'precheck', 'service port 9000 is the port of a listener the template writes itself'],
      ]);
      expect(installed()).to.not.contain('frontend clash');
    });

  it('quarantines a service that claims a vhost another service held first, naming the holder', async () => {
    const { target } = setup();
    await target.init();
    const holder = service('zz-holder', [backend('h', 1)], { vhosts: ['shop.example.com'] });
    await target.apply(snap(1, [holder]));
    const newcomer = service('aa-newcomer', [backend('n', 2)], { vhosts: ['shop.example.com'] });
    await target.apply(snap(2, [newcomer, holder]));
    expect(target.quarantined().map((q) => [q.service, q.finding, q.reason])).to.deep.equal([
      ['aa-newcomer', 'conflict', 'host shop.example.com path / is already claimed by zz-holder'],
    ]);
  });

  it('blames the service whose own line is refused beside a line of the template’s frame, by that line', async () => {
    // A shared listener loads every certificate, as the default HAProxy template's does: a bad one is named twice.
    const { target, dir, installed } = setup(
      'global\nshared{{#each certificates}} crt {{this}}{{/each}}\n' +
        '{{#each services}}backend {{id}}{{#if sslCert}} crt {{sslCert}}{{/if}}\n{{/each}}',
    );
    await target.init();
    const pem = join(dir, 'BAD.pem');
    writeFileSync(pem, 'not a certificate\n');
    const tls = service('tls', [backend('t', 3)], { sslCert: pem });
    expect(kind(await target.apply(snap(1, [tls, web('10.0.0.1')])))).to.equal('installed');
    expect(installed()).to.equal('global\nshared\nbackend web\n');
    expect(target.quarantined().map((q) => [q.service, q.finding])).to.deep.equal([['tls', 'line']]);
    expect(target.quarantined()[0]!.reason).to.contain('proxy.cfg:3');
  });

  it('blames the service whose certificate file the proxy names on a line of the frame alone', async () => {
    const { target, dir, installed } = setup(
      'global\nshared{{#each certificates}} crt {{this}}{{/each}}\n{{#each services}}backend {{id}}\n{{/each}}',
      VALIDATE_CERT,
    );
    await target.init();
    const pem = join(dir, 'BAD.pem');
    writeFileSync(pem, 'not a certificate\n');
    const good = join(dir, 'good.pem');
    writeFileSync(good, 'a certificate\n');
    const tls = service('tls', [backend('t', 3)], { sslCert: pem });
    const other = service('other', [backend('o', 4)], { sslCert: good });
    expect(kind(await target.apply(snap(1, [other, tls, web('10.0.0.1')])))).to.equal('installed');
    expect(installed()).to.equal(`global\nshared crt ${good}\nbackend other\nbackend web\n`);
    expect(target.quarantined().map((q) => [q.service, q.finding])).to.deep.equal([['tls', 'file']]);
    expect(target.quarantined()[0]!.reason).to.contain(`unable to load certificate from file '${pem}'`);
  });

  it('takes a service whose certificate cannot be read into a template that loads no certificates', async () => {
    const { target, installed } = setup();
    await target.init();
    const tls = service('tls', [backend('t', 3)], { sslCert: '/nonexistent/cert.pem' });
    expect(kind(await target.apply(snap(1, [tls])))).to.equal('installed');
    expect(target.quarantined()).to.deep.equal([]);
    expect(installed()).to.contain('backend tls');
  });

  it('knows the default HAProxy template loads certificates and the nginx one does not', async () => {
    const texts = async (file: string) => (await loadTemplate(file)).texts.values();
    expect(readsCertificates(await texts('templates/haproxy.cfg.hbs'))).to.equal(true);
    expect(readsCertificates(await texts('templates/nginx.conf.hbs'))).to.equal(false);
  });

  it('quarantines a service whose certificate cannot be read before the proxy sees it', async () => {
    const { target, installed } = setup(
      'global\n{{#each services}}backend {{id}}{{#if sslCert}} crt {{sslCert}}{{/if}}\n{{/each}}',
    );
    await target.init();
    const tls = service('tls', [backend('t', 3)], { sslCert: '/nonexistent/cert.pem' });
    await target.apply(snap(1, [tls, web('10.0.0.1')]));
    expect(target.quarantined().map((q) => [q.service, q.finding])).to.deep.equal([['tls', 'precheck']]);
    expect(target.quarantined()[0]!.reason).to.contain('/nonexistent/cert.pem').and.contain('ENOENT');
    expect(installed()).to.not.contain('backend tls');
  });
});

// Port checks bind each port, or — for a big batch — read the kernel's socket table: one spec for both.
for (const [how, ports] of [
  ['binding each port', () => new PortProbes({ listingFrom: Infinity })],
  ['reading the socket table', () => new PortProbes({ listingFrom: 1 })],
  ['binding where no socket table can be read', () => new PortProbes({ listingFrom: 1, tables: ['/nonexistent'] })],
] as const)
  describe(`pre-checks, ${how}`, () => {
    const ctx = {
      reservedPorts: new Map([[8080, 'the shared listener (vars.httpPort)']]),
      binds: true,
      proxyHolds: () => false,
      templateListens: (port: number) => port === 9000,
      defaultBind: '127.0.0.1',
      ports: ports(),
      certificates: true,
    };

    it('finds a free port free when two services (or two targets) probe it at once', async () => {
      const port = await freePort();
      const checks = [service('a', [], { servicePort: port }), service('b', [], { servicePort: port })].map((s) =>
        precheck(s, ctx),
      );
      const other = precheck(service('c', [], { servicePort: port }), { ...ctx, defaultBind: '0.0.0.0' });
      expect(await Promise.all([...checks, other])).to.deep.equal([null, null, null]);
    });

    it('refuses a bind address this host does not have, and takes any of 127/8', async () => {
      expect(await precheck(service('x', [], { bindAddress: '203.0.113.9' }), ctx)).to.equal(
        'bind address 203.0.113.9 is not an address of this host',
      );
      expect(await precheck(service('x', [], { bindAddress: '127.0.0.2' }), ctx)).to.equal(null);
    });

    it('finds a port another process holds on the address the service binds', async () => {
      const held = await holding('127.0.0.1');
      try {
        expect(await precheck(service('x', [], { servicePort: held.port }), ctx)).to.equal(
          `port ${held.port} is held by another process`,
        );
      } finally {
        held.close();
      }
    });

    it('finds a port held on every address, whatever address the service binds', async () => {
      const held = await holding('0.0.0.0');
      try {
        expect(await precheck(service('x', [], { servicePort: held.port, bindAddress: '127.0.0.3' }), ctx)).to.equal(
          `port ${held.port} is held by another process`,
        );
      } finally {
        held.close();
      }
    });

    it('takes a port held on another address of this host as free', async () => {
      const held = await holding('127.0.0.2');
      try {
        expect(await precheck(service('x', [], { servicePort: held.port, bindAddress: '127.0.0.3' }), ctx)).to.equal(
          null,
        );
      } finally {
        held.close();
      }
    });

    it('refuses the port of the template’s own listener', async () => {
      expect(await precheck(service('x', [], { servicePort: 8080 }), ctx)).to.equal(
        'service port 8080 is the port of the shared listener (vars.httpPort)',
      );
    });

    it('refuses the port of a listener the template writes itself, not blaming another process', async () => {
      expect(await precheck(service('x', [], { servicePort: 9000 }), ctx)).to.equal(
        'service port 9000 is the port of a listener the template writes itself',
      );
    });
  });

describe('quarantine bookkeeping', () => {
  const events = () => {
    const log: string[] = [];
    return {
      log,
      events: {
        entered: (e: { service: string }) => log.push(`in ${e.service}`),
        released: (s: string) => log.push(`out ${s}`),
      },
    };
  };

  it('lets a quarantined service through again after a back-off that doubles up to its limit', () => {
    let now = 0;
    const { events: ev } = events();
    const q = new Quarantine('t', ev, () => now);
    const bad = service('bad');
    const s = snap(1, [bad]);
    q.add(bad, 'refused', 'line');
    expect(q.apply(s, new Map()).services).to.deep.equal([]);
    expect(q.nextRetryInMs()).to.equal(RETRY_FIRST_MS);
    now = RETRY_FIRST_MS;
    expect(q.apply(s, new Map()).services).to.deep.equal([bad]);
    q.add(bad, 'refused', 'line');
    expect(q.nextRetryInMs()).to.equal(RETRY_FIRST_MS * 2);
    for (let i = 0; i < 10; i++) {
      q.apply(s, new Map());
      q.add(bad, 'refused', 'line');
    }
    expect(q.nextRetryInMs()).to.equal(RETRY_MAX_MS);
  });

  it('logs a change of state once, not once per cycle', () => {
    const { log, events: ev } = events();
    let now = 0;
    const q = new Quarantine('t', ev, () => now);
    const bad = service('bad');
    for (let i = 0; i < 3; i++) {
      now += RETRY_MAX_MS;
      q.apply(snap(i, [bad]), new Map());
      q.add(bad, 'refused', 'line');
    }
    q.apply(snap(9, [service('bad', [backend('x', 1)])]), new Map());
    q.settle();
    expect(log).to.deep.equal(['in bad', 'out bad']);
  });

  it('keeps listing a service while it is being tried again, until the attempt settles it', () => {
    let now = 0;
    const q = new Quarantine('t', events().events, () => now);
    const bad = service('bad');
    q.add(bad, 'refused', 'line');
    now = RETRY_FIRST_MS;
    q.apply(snap(1, [bad]), new Map());
    expect(q.entries().map((e) => e.service)).to.deep.equal(['bad']);
    q.settle();
    expect(q.entries()).to.deep.equal([]);
  });

  it('forgets a service that left the registry', () => {
    const { log, events: ev } = events();
    const q = new Quarantine('t', ev);
    q.add(service('gone'), 'refused', 'line');
    q.apply(snap(2, []), new Map());
    expect(q.entries()).to.deep.equal([]);
    expect(log).to.deep.equal(['in gone', 'out gone']);
  });
});

describe('tracing a refusal to services', () => {
  it('reads the lines HAProxy and nginx name in the candidate, and no other file’s', () => {
    const msg =
      '[ALERT] (1) : config : parsing [/c/x.cfg:12] : bad\n' +
      'nginx: [emerg] host not found in upstream "a:1" in /c/x.cfg:40\n' +
      '[ALERT] parsing [/c/other.cfg:3] : bad';
    expect(linesNamed(msg, '/c/x.cfg')).to.deep.equal([12, 40]);
  });

  it('finds the fragment holding a line, and null for the template’s own lines', () => {
    const fragments = ['global\n', 'backend a\n  server x\n', 'backend b\n', 'tail\n'];
    const owners = [null, ['a'], ['b'], null];
    expect(ownersOfLines(fragments, owners, [1, 3, 4, 5])).to.deep.equal([null, ['a'], ['b'], null]);
  });

  it('gives a contested port to the service that held it, whatever its id', () => {
    const holder = service('zz', [], { servicePort: 10001 });
    const rival = service('aa', [], { servicePort: 10001 });
    expect(conflicts([rival], [rival, holder], new Map([['zz', holder]]))).to.deep.equal(
      new Map([['aa', 'port 10001 is already claimed by zz']]),
    );
  });

  it('sees no conflict in one vhost claimed at two route weights: that is an order the operator asked for', () => {
    const light = service('a-light', [], { vhosts: ['shared.example.com'] });
    const heavy = service('b-heavy', [], { vhosts: ['shared.example.com'], backendWeight: 5 });
    expect(conflicts([light, heavy], [light, heavy], new Map()).size).to.equal(0);
  });

  it('breaks a tie between two new claims by id', () => {
    const a = service('a', [], { servicePort: 10001 });
    const b = service('b', [], { servicePort: 10001 });
    expect([...conflicts([a, b], [a, b], new Map()).keys()]).to.deep.equal(['b']);
  });
});
