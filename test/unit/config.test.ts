import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.js';

const minimal = () => ({
  file: { path: 'registry.json' },
  targets: [{ name: 'haproxy', template: 't.hbs', output: 'out.cfg' }],
});
const parse = (raw: object, env: NodeJS.ProcessEnv = {}) =>
  parseConfig(raw as Record<string, unknown>, '/etc/switchyard', env);
const error = (raw: object, env: NodeJS.ProcessEnv = {}) => {
  try {
    parse(raw, env);
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('config', () => {
  it('fills in the documented defaults', () => {
    const c = parse(minimal());
    expect(c.reload).to.deep.equal({ quietMs: 100, maxDelayMs: 1000, minIntervalMs: 0, timeoutMs: 30000 });
    expect(c.http).to.deep.equal({
      listen: '127.0.0.1:8000',
      token: '',
      maxBodyBytes: 65536,
      maxBodyDepth: 32,
      protectReads: false,
      exposeEnv: false,
      maxHeaderBytes: 16384,
      clientTimeoutMs: 30000,
      maxPipelined: 16,
      maxStateReaders: 128,
    });
    expect(c.targets[0]!.vars).to.deep.equal({});
  });

  it('resolves template, output and file paths against the config file directory', () => {
    const c = parse(minimal());
    expect(c.file!.path).to.equal('/etc/switchyard/registry.json');
    expect(c.targets[0]!.template).to.equal('/etc/switchyard/t.hbs');
    expect(c.targets[0]!.output).to.equal('/etc/switchyard/out.cfg');
    expect(c.configDir).to.equal('/etc/switchyard');
  });

  it('rejects an unknown key, naming it and suggesting the likely one', () => {
    const msg = error({ ...minimal(), marathon: { endpoint: ['http://m:8080'] } });
    expect(msg).to.contain('unknown key "marathon.endpoint"').and.contain('did you mean "endpoints"');
  });

  it('rejects an unknown key inside a target', () => {
    expect(error({ ...minimal(), targets: [{ ...minimal().targets[0], relaod: 'x' }] }))
      .to.contain('"targets.0.relaod"')
      .and.contain('did you mean "reload"');
  });

  it('names the key and the expectation for a value out of range', () => {
    const msg = error({ ...minimal(), marathon: { endpoints: ['http://m:8080'], pollIntervalMs: 10 } });
    expect(msg)
      .to.contain('"marathon.pollIntervalMs"')
      .and.match(/>=\s*1000/);
  });

  it('names a missing required key', () => {
    expect(error({ file: { path: 'r.json' } })).to.contain('"targets"');
  });

  it('refuses a config with no source', () => {
    expect(error({ targets: minimal().targets })).to.contain('no source configured');
  });

  it('refuses two targets with one name', () => {
    const t = minimal().targets[0]!;
    expect(error({ ...minimal(), targets: [t, t] })).to.contain('duplicate target name');
  });

  describe('marathon.group', () => {
    const withGroup = (group: unknown, env: NodeJS.ProcessEnv = {}) =>
      parse({ ...minimal(), marathon: { endpoints: ['http://m:1'], ...(group === undefined ? {} : { group }) } }, env)
        .marathon!.group;

    it('takes every app by default', () => expect(withGroup(undefined)).to.deep.equal(['*']));
    it('takes a list of groups', () =>
      expect(withGroup(['external', 'internal'])).to.deep.equal(['external', 'internal']));
    it('still takes one group as a string', () => expect(withGroup('external')).to.deep.equal(['external']));
    it('takes a comma-separated list from the environment', () =>
      expect(withGroup(undefined, { SWITCHYARD_MARATHON_GROUP: 'external, internal' })).to.deep.equal([
        'external',
        'internal',
      ]));
    it('refuses an empty list', () =>
      expect(error({ ...minimal(), marathon: { endpoints: ['http://m:1'], group: [] } })).to.contain('marathon.group'));
  });

  describe('environment overrides', () => {
    it('splits a comma-separated list into an array', () => {
      const c = parse(minimal(), { SWITCHYARD_MARATHON_ENDPOINTS: 'http://a:8080,http://b:8080' });
      expect(c.marathon!.endpoints).to.deep.equal(['http://a:8080', 'http://b:8080']);
    });

    it('accepts a camelCase key spelled in upper case or in snake case', () => {
      const a = parse(
        { ...minimal(), marathon: { endpoints: ['http://m:1'] } },
        { SWITCHYARD_MARATHON_POLLINTERVALMS: '5000' },
      );
      const b = parse(
        { ...minimal(), marathon: { endpoints: ['http://m:1'] } },
        { SWITCHYARD_MARATHON_POLL_INTERVAL_MS: '6000' },
      );
      expect(a.marathon!.pollIntervalMs).to.equal(5000);
      expect(b.marathon!.pollIntervalMs).to.equal(6000);
    });

    it('converts booleans', () => {
      const c = parse(
        { ...minimal(), marathon: { endpoints: ['http://m:1'] } },
        { SWITCHYARD_MARATHON_EVENTSTREAM: 'false' },
      );
      expect(c.marathon!.eventStream).to.equal(false);
    });

    it('addresses array elements by index and target vars by name', () => {
      const c = parse(minimal(), {
        SWITCHYARD_TARGETS_0_OUTPUT: '/tmp/x.cfg',
        SWITCHYARD_TARGETS_0_VARS_HTTP_PORT: '8081',
      });
      expect(c.targets[0]!.output).to.equal('/tmp/x.cfg');
      expect(c.targets[0]!.vars).to.deep.equal({ httpPort: 8081 });
    });

    it('takes JSON for structured values', () => {
      const c = parse(minimal(), { SWITCHYARD_ZOOKEEPER: '{"connect":"127.0.0.1:2181"}' });
      expect(c.zookeeper!.connect).to.equal('127.0.0.1:2181');
    });

    it('refuses a variable that names no key', () => {
      expect(error(minimal(), { SWITCHYARD_MARATHON_ENDPIONTS: 'http://a:1' })).to.contain(
        'SWITCHYARD_MARATHON_ENDPIONTS',
      );
    });

    describe('variables an orchestrator injects', () => {
      // What Kubernetes sets in every pod of a namespace with a Service named "switchyard" (port 8000, named "http").
      const kubernetes = {
        SWITCHYARD_PORT: 'tcp://10.96.0.12:8000',
        SWITCHYARD_PORT_8000_TCP: 'tcp://10.96.0.12:8000',
        SWITCHYARD_PORT_8000_TCP_PROTO: 'tcp',
        SWITCHYARD_PORT_8000_TCP_PORT: '8000',
        SWITCHYARD_PORT_8000_TCP_ADDR: '10.96.0.12',
        SWITCHYARD_SERVICE_HOST: '10.96.0.12',
        SWITCHYARD_SERVICE_PORT: '8000',
        SWITCHYARD_SERVICE_PORT_HTTP: '8000',
      };

      it("ignores a Kubernetes service's variables, listing each as ignored", () => {
        const c = parse(minimal(), kubernetes);
        expect(c.ignoredEnv.map((v) => v.name)).to.have.members(Object.keys(kubernetes));
        expect(c.ignoredEnv[0]!.setBy).to.contain('Kubernetes');
      });

      it("ignores a Docker link's variables, the linked container's environment too", () => {
        const c = parse(minimal(), {
          SWITCHYARD_NAME: '/edge/switchyard',
          SWITCHYARD_PORT_8000_TCP: 'tcp://172.17.0.5:8000',
          SWITCHYARD_ENV_SWITCHYARD_CONFIG: '/opt/switchyard/config/switchyard.json',
        });
        expect(c.ignoredEnv.map((v) => v.setBy)).to.deep.equal([
          'Docker link',
          'Docker link',
          'Kubernetes service or Docker link',
        ]);
      });

      it('still applies the real overrides beside them', () => {
        const c = parse(minimal(), { ...kubernetes, SWITCHYARD_HTTP_LISTEN: '0.0.0.0:8000' });
        expect(c.http.listen).to.equal('0.0.0.0:8000');
      });

      it('still refuses a variable of that name whose value is not what an orchestrator gives', () => {
        expect(error(minimal(), { SWITCHYARD_PORT: '8000' }))
          .to.contain('SWITCHYARD_PORT')
          .and.contain('no config key');
        expect(error(minimal(), { SWITCHYARD_SERVICE_HOST: 'not an address' })).to.contain('SWITCHYARD_SERVICE_HOST');
      });

      it('still refuses a typo of a config key', () => {
        expect(error(minimal(), { ...kubernetes, SWITCHYARD_HTTP_LISTNE: '0.0.0.0:8000' })).to.contain(
          'SWITCHYARD_HTTP_LISTNE',
        );
      });
    });

    it('names the variable when its value is bad', () => {
      const msg = error(
        { ...minimal(), marathon: { endpoints: ['http://m:1'] } },
        { SWITCHYARD_MARATHON_POLLINTERVALMS: 'soon' },
      );
      expect(msg).to.contain('SWITCHYARD_MARATHON_POLLINTERVALMS').and.contain('marathon.pollIntervalMs');
    });
  });

  it('reports a file that is not JSON with its name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-config-'));
    writeFileSync(join(dir, 'c.json'), '{ "targets": [ ');
    expect(() => loadConfig(join(dir, 'c.json'), {})).to.throw(ConfigError, /c\.json: not valid JSON/);
  });
});
