import { expect } from 'chai';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RenderCache } from '../../src/render/cache.js';
import { templateData } from '../../src/render/data.js';
import { changedFragments } from '../../src/render/fragments.js';
import { allocateSlots } from '../../src/render/slots.js';
import { loadTemplate } from '../../src/render/template.js';
import type { Service, Snapshot } from '../../src/state/model.js';
import { backend, service } from './fixtures.js';

const templates = join(process.cwd(), 'templates');

function tempTemplate(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sy-frag-'));
  mkdirSync(join(dir, 'partials'));
  writeFileSync(join(dir, 't.hbs'), text);
  return join(dir, 't.hbs');
}

const cluster = (n: number, shift = 0): Service[] =>
  Array.from({ length: n }, (_, i) =>
    service(`/app-${String(i).padStart(3, '0')}`, [backend(`t${i}`, 20000 + i + shift)], {
      vhosts: [`app-${i}.example.com`],
      servicePort: 10000 + i,
    }),
  );

describe('fragment cache', () => {
  it('caches the per-service loops of the default templates', async () => {
    expect((await loadTemplate(join(templates, 'haproxy.cfg.hbs'))).cachedBlocks).to.be.at.least(3);
    expect((await loadTemplate(join(templates, 'nginx.conf.hbs'))).cachedBlocks).to.be.at.least(1);
  });

  it('leaves a loop alone that reads @index', async () => {
    expect((await loadTemplate(tempTemplate('{{#each services}}{{@index}}{{/each}}'))).cachedBlocks).to.equal(0);
  });

  it('leaves a loop alone that reads its parent context, except for vars', async () => {
    expect((await loadTemplate(tempTemplate('{{#each services}}{{../apps.length}}{{/each}}'))).cachedBlocks).to.equal(
      0,
    );
    expect(
      (await loadTemplate(tempTemplate('{{#each services}}{{../vars.x}}{{@root.vars.y}}{{/each}}'))).cachedBlocks,
    ).to.equal(1);
  });

  it('caches a loop whose body is a single value that is not a string', async () => {
    const t = await loadTemplate(tempTemplate('{{#each services}}{{servicePort}}{{/each}}'));
    const snapshot: Snapshot = { version: 1, services: cluster(3), rules: [] };
    expect(t.cachedBlocks).to.equal(1);
    expect(t.render(templateData(snapshot, {}))).to.equal('100001000110002');
  });

  // The cached loops are a fast path; Handlebars' own `each` is the reference they must match byte for byte.
  it('renders, after any sequence of changes, exactly what Handlebars renders without the cache', async () => {
    for (const name of ['haproxy.cfg.hbs', 'nginx.conf.hbs']) {
      const cached = await loadTemplate(join(templates, name));
      const plain = await loadTemplate(join(templates, name), { cachedLoops: false });
      const cache = new RenderCache();
      let services = cluster(30);
      let slots = allocateSlots(new Map(), services);
      const snap = (v: number): Snapshot => ({ version: v, services, rules: [] });
      cached.render(templateData(snap(1), { httpPort: 80 }, { slots, cache }), cache);
      for (let step = 2; step < 12; step++) {
        services = services.map((s, i) =>
          i % step === 0 ? { ...s, backends: [backend(`t${i}-${step}`, 30000 + step + i)] } : s,
        );
        if (step % 3 === 0) services = services.filter((_, i) => i !== step);
        slots = allocateSlots(slots, services);
        expect(
          cached.render(templateData(snap(step), { httpPort: 80 }, { slots, cache }), cache),
          `${name} step ${step}`,
        ).to.equal(plain.render(templateData(snap(step), { httpPort: 80 }, { slots })));
      }
    }
  });
});

describe('fragments of a render', () => {
  it('join into the rendered text, with no boundary mark left in it', async () => {
    const t = await loadTemplate(join(templates, 'haproxy.cfg.hbs'));
    const data = templateData({ version: 1, services: cluster(5), rules: [] }, {});
    expect(t.renderFragments(data, new RenderCache()).fragments.join('')).to.equal(t.render(data));
    expect(t.render(data)).to.not.contain('\u0000');
  });

  it('tell which parts changed: the backend of the one service that moved, nothing else', async () => {
    const t = await loadTemplate(join(templates, 'haproxy.cfg.hbs'));
    const before = cluster(5);
    const after = before.map((s, i) => (i === 2 ? { ...s, backends: [backend('t2', 29999)] } : s));
    const cache = new RenderCache();
    const a = t.renderFragments(
      templateData({ version: 1, services: before, rules: [] }, {}, { cache }),
      cache,
    ).fragments;
    const b = t.renderFragments(
      templateData({ version: 2, services: after, rules: [] }, {}, { cache }),
      cache,
    ).fragments;
    const changed = changedFragments(a, b)!;
    expect(changed.after.trim().split('\n')[0]).to.equal('backend ::app-002');
    expect(changed.after).to.contain(':29999').and.not.contain('app-003');
  });
});
