import { expect } from 'chai';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TargetConfig } from '../../src/config/schema.js';
import { Logger, type LogEntry } from '../../src/log.js';
import type { Snapshot } from '../../src/state/model.js';
import { shellExec } from '../../src/targets/exec.js';
import { Target, type ApplyResult } from '../../src/targets/target.js';
import { tempDir } from '../support/tmp.js';
import { backend, service } from '../unit/fixtures.js';

// A proxy's refusal as the operator reads it: `haproxy -c` and `nginx -t`
// check a temporary candidate that is gone by then, so the message names the
// output file and quotes the candidate's lines the proxy pointed at — and
// it is logged once.

const snap = (version: number): Snapshot => ({
  version,
  services: [service('web', [backend('a', 31001)])],
  rules: [],
});

const HAPROXY = `global
    log stderr local0
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend f
    bind 127.0.0.1:{{vars.port}}
{{#each services}}
backend {{escapedId}}
{{#each backends}}
    server {{name}} {{host}}:{{port}}
{{/each}}
{{/each}}
`;

const NGINX = `events {}
pid nginx.pid;
error_log stderr;
http {
    access_log off;
    client_body_temp_path tmp;
    proxy_temp_path tmp;
    fastcgi_temp_path tmp;
    uwsgi_temp_path tmp;
    scgi_temp_path tmp;
{{#each services}}
    upstream {{safeName}} {
{{#each backends}}
        server {{host}}:{{port}};
{{/each}}
    }
{{/each}}
    server { listen 127.0.0.1:{{vars.port}}; }
}
`;

function setup(kind: 'haproxy' | 'nginx') {
  const dir = tempDir(`validate-errors-${kind}-`);
  mkdirSync(join(dir, 'tmp'));
  const template = join(dir, 't.hbs');
  writeFileSync(template, kind === 'haproxy' ? HAPROXY : NGINX);
  const output = join(dir, 'out', kind === 'haproxy' ? 'haproxy.cfg' : 'nginx.conf');
  const config: TargetConfig = {
    name: kind,
    template,
    output,
    validate: kind === 'haproxy' ? 'haproxy -c -f {{file}}' : `nginx -t -q -p ${dir} -c {{file}}`,
    reload: '',
    runtimeApi: '',
    vars: { port: 18089 },
  };
  const entries: LogEntry[] = [];
  const log = new Logger('debug', (e) => entries.push(e));
  const target = new Target(config, { exec: shellExec, log, commandTimeoutMs: 10_000, cwd: dir });
  /** Edits the template so that the line after `after` is `line`. */
  const insert = (after: string, line: string) =>
    writeFileSync(template, readFileSync(template, 'utf8').replace(after, `${after}\n${line}`));
  const errors = () => entries.filter((e) => e.level === 'error');
  return { dir, output, target, insert, errors };
}

const errorOf = (r: ApplyResult) => (r.kind === 'failed' ? r.error.message : '');

/** The 1-based line of the first line of `text` containing `needle`. */
const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('validation errors', function () {
  this.timeout(30_000);

  for (const kind of ['haproxy', 'nginx'] as const) {
    describe(kind, () => {
      it('name the output file and line, quoting the candidate’s offending line, not the temporary file', async () => {
        const { output, target, insert } = setup(kind);
        await target.init();
        expect((await target.apply(snap(1))).kind).to.equal('installed');
        const installed = readFileSync(output, 'utf8');
        insert(kind === 'haproxy' ? 'log stderr local0' : 'access_log off;', '    bogus_directive on;');
        const message = errorOf(await target.reloadTemplate(snap(2)));
        // Nothing before the edited line is Handlebars', so it is the same line in the candidate.
        const line = lineOf(readFileSync(join(output, '..', '..', 't.hbs'), 'utf8'), 'bogus_directive');
        expect(message).to.contain(`${output}:${line}`);
        expect(message).to.contain(
          `the candidate (not installed) at those lines:\n  ${output}:${line}:     bogus_directive on;`,
        );
        expect(message).not.to.match(/\.tmp\b/);
        expect(readFileSync(output, 'utf8')).to.equal(installed);
      });

      it('are logged once', async () => {
        const { target, insert, errors } = setup(kind);
        await target.init();
        await target.apply(snap(1));
        insert(kind === 'haproxy' ? 'log stderr local0' : 'access_log off;', '    bogus_directive on;');
        await target.reloadTemplate(snap(2));
        expect(errors().map((e) => e.message)).to.deep.equal([
          'template edit refused; the previous template stays active',
        ]);
        expect(String(errors()[0]!.error)).to.contain('bogus_directive');
      });

      it('name the output file in a check, quoting the line', async () => {
        const { output, target } = setup(kind);
        await target.init();
        const text = target
          .render(snap(1))
          .replace(
            kind === 'haproxy' ? 'log stderr local0' : 'access_log off;',
            (l) => `${l}\n    bogus_directive on;`,
          );
        const refused = await target.validateText(text);
        expect(refused?.message).to.contain(`${output}:`).and.contain(`bogus_directive on`);
        expect(refused?.message).to.match(
          new RegExp(`\\n  ${output.replace(/[.]/g, '\\.')}:\\d+: +bogus_directive on`),
        );
        expect(refused?.message).not.to.match(/\.tmp\b/);
      });
    });
  }

  it('log a refusal of the active template once, with the proxy’s message', async () => {
    const { target, errors, insert } = setup('haproxy');
    insert('log stderr local0', '    bogus_directive on');
    await target.init();
    const r = await target.apply(snap(1));
    expect(r.kind).to.equal('failed');
    expect(errors().map((e) => e.message)).to.deep.equal(['validate failed; the last good config stays installed']);
  });
});
