// Imports run one way (sources → state → render → targets, http/ beside):
// the joints issue 14 untangled stay untangled.

import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const SRC = resolve('src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every relative import of `file`, as a path under src/ (`sources/zookeeper/client.ts`). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(?:import|export)\b[^;]*?from '(\.[^']+)'/gms)].map((m) =>
    relative(SRC, resolve(file, '..', m[1]!.replace(/\.js$/, '.ts'))),
  );
}

function importing(under: string, target: string): string[] {
  return tsFiles(join(SRC, under)).flatMap((f) =>
    importsOf(f)
      .filter((i) => i.startsWith(target))
      .map((i) => `${relative(SRC, f)} → ${i}`),
  );
}

describe('layers', () => {
  it('http/ knows the rule store by its interface in state/, nothing of a source', () => {
    expect(importing('http', 'sources/')).to.deep.equal([]);
  });

  it('the ZooKeeper and Marathon sources take nothing from the file source', () => {
    expect([
      ...importing('sources/zookeeper', 'sources/file'),
      ...importing('sources/marathon', 'sources/file'),
    ]).to.deep.equal([]);
  });

  it('state/ imports nothing outside state/', () => {
    expect(importing('state', '').filter((line) => !line.split(' → ')[1]!.startsWith('state/'))).to.deep.equal([]);
  });
});
