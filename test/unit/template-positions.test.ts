import { expect } from 'chai';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { templateData, type Vars } from '../../src/render/data.js';
import { HelperRefusal } from '../../src/render/helpers.js';
import { loadTemplate, TemplateError } from '../../src/render/template.js';
import type { Snapshot } from '../../src/state/model.js';
import { backend, service } from './fixtures.js';

// A template that fails names where: a helper's refusal or a render error
// carries the file, line and column of the mustache that threw, a parse
// error Handlebars' own excerpt and caret.

function tempTemplate(text: string, partials: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'sy-pos-'));
  mkdirSync(join(dir, 'partials'));
  for (const [name, body] of Object.entries(partials)) writeFileSync(join(dir, 'partials', `${name}.hbs`), body);
  writeFileSync(join(dir, 't.hbs'), text);
  return join(dir, 't.hbs');
}

const snap: Snapshot = { version: 1, services: [service('web', [backend('a', 8080)])], rules: [] };

/** What rendering `file` with `vars` threw. */
async function failure(file: string, vars: Vars, cachedLoops = true): Promise<TemplateError> {
  const t = await loadTemplate(file, { cachedLoops });
  try {
    t.render(templateData(snap, vars));
  } catch (e) {
    expect(e).to.be.instanceOf(TemplateError);
    return e as TemplateError;
  }
  throw new Error('expected the render to fail');
}

describe('template error positions', () => {
  it('name the file, line and column of the helper that refused, keeping its refusal as the cause', async () => {
    const file = tempTemplate('global\n{{#each services}}\n    bind :{{asPort @root.vars.port}}\n{{/each}}\n');
    const e = await failure(file, { port: 'http' });
    expect(e.message).to.equal(`${file}:3:11: asPort: refused "http": expected a port 1-65535`);
    expect([e.line, e.column]).to.deep.equal([3, 11]);
    expect(e.cause).to.be.instanceOf(HelperRefusal);
  });

  it('are the same through the cached loops and through Handlebars’ own each', async () => {
    const file = tempTemplate('{{#each services}}\n{{id}} {{haproxyToken @root.vars.word}}\n{{/each}}');
    const cached = await failure(file, { word: 'two words' });
    const plain = await failure(file, { word: 'two words' }, false);
    expect(cached.message)
      .to.equal(plain.message)
      .and.to.match(new RegExp(`^${file}:2:8: haproxyToken: refused`));
  });

  it('name the partial’s file and its line when the helper that refused is in a partial', async () => {
    const file = tempTemplate('{{#each services}}{{#each backends}}{{> server}}{{/each}}{{/each}}', {
      server: '# a server\n    server {{asHostPort host port}} {{asLine @root.vars.note}}\n',
    });
    const e = await failure(file, { note: 'x'.repeat(3000) });
    expect(e.message).to.match(new RegExp(`^${join(file, '..', 'partials', 'server.hbs')}:2:37: asLine: refused`));
  });

  it('name the line of a helper the template calls that does not exist', async () => {
    const e = await failure(tempTemplate('a\nb {{frobnicate vars.x}}\n'), { x: 1 });
    expect([e.line, e.column]).to.deep.equal([2, 3]);
    expect(e.message).to.contain('Missing helper: "frobnicate"');
  });

  it('keep a parse error’s layout: Handlebars’ excerpt and caret on lines of their own', async () => {
    const file = tempTemplate('global\n  maxconn 1\n{{#each services}}\n  server {{name}\n{{/each}}\n');
    const e = await loadTemplate(file).then(
      () => null,
      (err: TemplateError) => err,
    );
    const lines = e!.message.split('\n');
    expect(lines[0]).to.match(new RegExp(`^${file}:4:\\d+: syntax error:$`));
    expect(lines[1]).to.contain('server {{name}');
    expect(lines[2]).to.match(/^-+\^$/);
    expect(lines[3]).to.match(/^Expecting /);
  });
});
