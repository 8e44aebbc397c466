import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';

// What an operator copies out of the README must load as it is.
const readme = readFileSync(join(process.cwd(), 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/^```(json\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({
  lang: m[1]!,
  text: m[2]!,
  line: readme.slice(0, m.index).split('\n').length,
}));

describe("the README's config examples", () => {
  it('are there to check', () => {
    expect(blocks.filter((b) => /"targets"|"template"/.test(b.text))).to.have.length.greaterThanOrEqual(2);
  });

  for (const b of blocks) {
    describe(`the ${b.lang} block at README.md:${b.line}`, () => {
      it('is plain JSON, as the config loader reads it', () => {
        expect(b.lang).to.equal('json');
        expect(() => JSON.parse(b.text)).not.to.throw();
      });

      const raw = (() => {
        try {
          return JSON.parse(b.text) as Record<string, unknown>;
        } catch {
          return null;
        }
      })();
      if (raw && 'targets' in raw)
        it('loads as a config', () => {
          expect(() => parseConfig(raw, '/etc/switchyard')).not.to.throw();
        });
      else if (raw && 'template' in raw)
        it('loads as a target of a config', () => {
          expect(() =>
            parseConfig({ file: { path: 'registry.json' }, targets: [raw] }, '/etc/switchyard'),
          ).not.to.throw();
        });
    });
  }
});
