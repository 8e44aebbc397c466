import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger, type LogEntry } from '../../src/log.js';
import { formatFinding } from '../../src/render/lint.js';
import { loadTemplate } from '../../src/render/template.js';
import type { Snapshot } from '../../src/state/model.js';
import { shellExec } from '../../src/targets/exec.js';
import { Target } from '../../src/targets/target.js';
import { backend, service } from './fixtures.js';

// The template lint: what a template reads is checked against the shape of
// the template data (src/render/data-shape.ts), following the context
// through loops, `with`, partials and `../`, once per loaded template.

function tempTemplate(text: string, partials: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'sy-lint-'));
  mkdirSync(join(dir, 'partials'));
  for (const [name, body] of Object.entries(partials)) writeFileSync(join(dir, 'partials', `${name}.hbs`), body);
  writeFileSync(join(dir, 't.hbs'), text);
  return join(dir, 't.hbs');
}

/** The findings of a template, each as `file:line:column: message`. */
async function lint(text: string, partials: Record<string, string> = {}): Promise<string[]> {
  const file = tempTemplate(text, partials);
  return (await loadTemplate(file)).findings.map(formatFinding).map((f) => f.replace(`${file}:`, 't.hbs:'));
}

describe('template lint', () => {
  it('reports a typo’d field with line, column and the field meant', async () => {
    expect(await lint('global\n{{#each listeners}}\n  bind :{{servicePrt}}\n{{/each}}\n')).to.deep.equal([
      't.hbs:3:11: unknown field "servicePrt" of a service (did you mean "servicePort"?)',
    ]);
  });

  it('reads a field under {{#each services}} as the service’s, and the same name at the root as unknown', async () => {
    expect(await lint('{{#each services}}{{servicePort}}{{/each}}')).to.deep.equal([]);
    expect(await lint('{{servicePort}}'))
      .to.have.length(1)
      .and.to.match(/unknown field "servicePort" of the template data/);
  });

  it('follows nested loops and climbs back out with ../', async () => {
    const text =
      '{{#each services}}{{#each backends}}{{host}}:{{port}} {{../safeName}} {{../../vars.x}} {{prot}}{{/each}}{{/each}}';
    expect(await lint(text)).to.deep.equal(['t.hbs:1:90: unknown field "prot" of a backend (did you mean "port"?)']);
  });

  it('suggests ../ or @root when a loop reads a field of an outer context', async () => {
    expect(
      await lint('{{#each services}}{{#each backends}}{{escapedId}}{{/each}} {{vars.bind}}{{/each}}'),
    ).to.deep.equal([
      't.hbs:1:39: unknown field "escapedId" of a backend (did you mean "../escapedId"?)',
      't.hbs:1:62: unknown field "vars" of a service (did you mean "@root.vars"?)',
    ]);
  });

  it('accepts optional fields tested with if and unless', async () => {
    const text = [
      '{{#each services}}',
      '{{#if healthCheck}}{{#if healthCheck.path}}{{healthCheck.path}}{{/if}}{{/if}}',
      '{{#unless sslCert}}plain{{/unless}}{{#if acl}}{{acl}}{{else}}{{escapedId}}{{/if}}',
      '{{#each slots}}{{#if backend}}{{backend.host}}{{else}}parked{{/if}}{{/each}}',
      '{{/each}}',
    ].join('\n');
    expect(await lint(text)).to.deep.equal([]);
  });

  it('reports an unknown field tested by if: the branch would silently never render', async () => {
    expect(await lint('{{#each services}}\n{{#if stiky}}cookie{{/if}}\n{{/each}}')).to.deep.equal([
      't.hbs:2:7: unknown field "stiky" of a service (did you mean "sticky"?)',
    ]);
  });

  it('never reports what is under vars, labels, env or raw: they are free-form', async () => {
    const text =
      '{{#if vars.x}}{{vars.x}}{{/if}}{{vars.anything.below}}{{#each services}}{{labels.HAPROXY_0_VHOST}}{{env.PORT0}}{{raw.frontendHead}}{{/each}}{{#each apps}}{{env.BAMBOO_TCP_PORT}}{{/each}}';
    expect(await lint(text)).to.deep.equal([]);
  });

  it('knows @root, @index, @key, @first, @last and this, and reports @index outside a loop', async () => {
    const ok =
      '{{@root.vars.bind}}{{#each services}}{{@index}}{{@first}}{{@last}}{{this.id}}{{#each labels}}{{@key}}={{this}}{{/each}}{{/each}}';
    expect(await lint(ok)).to.deep.equal([]);
    expect(await lint('{{@index}} {{@roots.vars}}')).to.deep.equal([
      't.hbs:1:3: @index is only set inside {{#each}}',
      't.hbs:1:14: unknown data variable "@roots" (did you mean "@root"?)',
    ]);
  });

  it('reports ../ that climbs above the template data', async () => {
    expect(await lint('{{../vars}}'))
      .to.have.length(1)
      .and.to.match(/"\.\.\/vars" climbs above/);
  });

  it('takes helpers and their hash arguments for what they are, not fields', async () => {
    const text =
      '{{#each services}}{{#if (eq mode "http")}}{{default servicePort 80}}{{asHostPort host=id port=servicePort}}{{/if}}{{/each}}';
    expect(await lint(text)).to.deep.equal([]);
  });

  it('reports an unknown helper with the helper meant', async () => {
    expect(await lint('{{asPrt vars.port}}')).to.deep.equal([
      't.hbs:1:3: unknown helper "asPrt" (did you mean "asPort"?)',
    ]);
  });

  it('reads what helpers hand back: getService, find and sortBy give services, groupBy groups', async () => {
    const text =
      '{{#with (getService services "x")}}{{escapedId}}{{/with}}{{#with (find services "id" "x")}}{{mode}}{{/with}}' +
      '{{#each (sortBy services "id")}}{{idd}}{{/each}}{{#each (groupBy services "mode")}}{{key}}{{#each items}}{{id}}{{/each}}{{/each}}';
    expect(await lint(text)).to.deep.equal(['t.hbs:1:143: unknown field "idd" of a service (did you mean "id"?)']);
  });

  it('resolves block params to the loop’s item and index', async () => {
    expect(await lint('{{#each services as |s i|}}{{i}} {{s.id}} {{s.portt}}{{/each}}')).to.deep.equal([
      't.hbs:1:47: unknown field "portt" of a service',
    ]);
  });

  it('reads a partial in the context it is included in, with its hash arguments, and names the partial’s file', async () => {
    const file = tempTemplate('{{#each pathRoutes}}\n{{> location route=this}}\n{{/each}}\n', {
      location: 'location {{route.path}} {{route.service.safeName}} {{route.servce.id}} {{@root.vars.bind}}\n',
    });
    const findings = (await loadTemplate(file)).findings.map(formatFinding);
    expect(findings).to.deep.equal([
      `${join(file, '..', 'partials', 'location.hbs')}:1:60: unknown field "servce" of a path route (did you mean "service"?)`,
    ]);
  });

  it('reads an inline partial where it is included, as it does a file in partials/', async () => {
    const text =
      '{{#*inline "server"}}server {{host}}:{{prot}}{{/inline}}{{#each services}}{{#each backends}}{{> server}}{{/each}}{{/each}}';
    expect(await lint(text)).to.deep.equal(['t.hbs:1:40: unknown field "prot" of a backend (did you mean "port"?)']);
  });

  it('reports a partial that does not exist', async () => {
    expect(await lint('{{> nginx-locaton}}', { 'nginx-location': '' })).to.deep.equal([
      't.hbs:1:5: no partial named "nginx-locaton" in partials/ (did you mean "nginx-location"?)',
    ]);
  });

  it('reports a list read as an object and a field of a plain value', async () => {
    expect(
      await lint('{{#each services}}{{paths.first}} {{paths.length}} {{paths.[0]}} {{id.name}}{{/each}}'),
    ).to.deep.equal([
      't.hbs:1:27: "first" of a list: a list has only items and length (loop over it with {{#each}})',
      't.hbs:1:71: "name" of a plain value: it has no fields',
    ]);
  });

  it('finds nothing in the templates the repository ships', async () => {
    const root = process.cwd();
    const shipped = [
      ...readdirSync(join(root, 'templates')).map((n) => join(root, 'templates', n)),
      ...readdirSync(join(root, 'examples', 'templates')).map((n) => join(root, 'examples', 'templates', n)),
    ].filter((f) => f.endsWith('.hbs'));
    expect(shipped).to.have.length.greaterThan(3);
    for (const file of shipped) expect((await loadTemplate(file)).findings.map(formatFinding), file).to.deep.equal([]);
  });
});

describe('template lint at run time', () => {
  const snap = (version: number, port: number): Snapshot => ({
    version,
    services: [service('web', [backend('a', port)])],
    rules: [],
  });

  it('warns once per template version, not per render, and the template still renders', async () => {
    const file = tempTemplate('{{#each services}}{{id}} {{servicePrt}}{{#each backends}} {{port}}{{/each}}\n{{/each}}');
    const entries: LogEntry[] = [];
    const target = new Target(
      {
        name: 't',
        template: file,
        output: join(file, '..', 'out.cfg'),
        validate: '',
        reload: '',
        runtimeApi: '',
        vars: {},
      },
      {
        exec: shellExec,
        log: new Logger('debug', (e) => entries.push(e)),
        commandTimeoutMs: 2000,
        cwd: join(file, '..'),
      },
    );
    const warnings = () => entries.filter((e) => e.level === 'warn' && /template reads what/.test(e.message));
    await target.init();
    for (let v = 1; v <= 3; v++) expect((await target.apply(snap(v, 8000 + v))).kind).to.equal('installed');
    expect(warnings()).to.have.length(1);
    expect(warnings()[0]!.findings).to.deep.equal([
      `${file}:1:28: unknown field "servicePrt" of a service (did you mean "servicePort"?)`,
    ]);
    writeFileSync(
      file,
      '{{#each services}}{{id}} {{servicePrt}} {{prot}}{{#each backends}} {{port}}{{/each}}\n{{/each}}',
    );
    expect((await target.reloadTemplate(snap(4, 8004))).kind).to.equal('installed');
    await target.apply(snap(5, 8005));
    expect(warnings()).to.have.length(2);
    expect(warnings()[1]!.findings).to.have.length(2);
    // SIGHUP re-reads every template: the same version read again is not a new warning.
    await target.reloadTemplate(snap(6, 8006));
    expect(warnings()).to.have.length(2);
  });
});
