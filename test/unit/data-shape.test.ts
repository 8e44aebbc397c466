import { expect } from 'chai';
import { RenderCache } from '../../src/render/cache.js';
import { templateData } from '../../src/render/data.js';
import { templateDataShape, type Shape } from '../../src/render/data-shape.js';
import { sampleSnapshot } from '../../src/render/sample.js';
import { allocateSlots } from '../../src/render/slots.js';

// The lint's schema (src/render/data-shape.ts) is typed by data.ts's view
// types; these specs hold it to the objects templateData actually builds,
// which a spread or a field added at run time could make differ from the types.

/** Walks the data beside its shape: fields the schema lacks go to `problems`, fields seen to `seen`. */
function compare(value: unknown, shape: Shape, path: string, seen: Map<Shape, Set<string>>, problems: string[]): void {
  if (shape.kind === 'any') return;
  if (value === null || value === undefined) return;
  switch (shape.kind) {
    case 'value':
      if (typeof value === 'object') problems.push(`${path}: an object where the schema has a plain value`);
      return;
    case 'list':
      if (!Array.isArray(value)) return void problems.push(`${path}: not a list`);
      value.forEach((item, i) => compare(item, shape.item, `${path}[${i}]`, seen, problems));
      return;
    case 'map':
      if (typeof value !== 'object') return void problems.push(`${path}: not an object`);
      for (const [k, v] of Object.entries(value)) compare(v, shape.value, `${path}.${k}`, seen, problems);
      return;
    case 'record': {
      if (typeof value !== 'object') return void problems.push(`${path}: not an object`);
      const keys = seen.get(shape) ?? seen.set(shape, new Set()).get(shape)!;
      for (const [k, v] of Object.entries(value)) {
        keys.add(k);
        const field = shape.fields[k];
        if (!field) problems.push(`${path}.${k}: in the data, not in the schema of ${shape.name}`);
        else compare(v, field, `${path}.${k}`, seen, problems);
      }
    }
  }
}

/** The template data as a target builds it for the sample state: slots (some parked) and a render cache. */
function sampleData() {
  const snapshot = sampleSnapshot();
  return templateData(
    snapshot,
    { bind: '127.0.0.1' },
    { slots: allocateSlots(new Map(), snapshot.services), cache: new RenderCache() },
  );
}

describe('template data shape', () => {
  it('has every field the template data carries', () => {
    const problems: string[] = [];
    compare(sampleData(), templateDataShape, 'data', new Map(), problems);
    expect(problems).to.deep.equal([]);
  });

  it('has no field the template data lacks', () => {
    const seen = new Map<Shape, Set<string>>();
    compare(sampleData(), templateDataShape, 'data', seen, []);
    const missing = [...seen].flatMap(([shape, keys]) =>
      shape.kind === 'record'
        ? Object.keys(shape.fields)
            .filter((k) => !keys.has(k))
            .map((k) => `${shape.name}: ${k}`)
        : [],
    );
    expect(missing).to.deep.equal([]);
    // Every record the schema describes was met, so the comparison above covered them all.
    expect([...seen.keys()].map((s) => (s.kind === 'record' ? s.name : s.kind)).sort()).to.deep.equal([
      'a backend',
      'a health check',
      'a path route',
      'a server slot',
      'a service',
      'a task',
      'a virtual host',
      'an app',
      'the template data',
    ]);
  });
});
