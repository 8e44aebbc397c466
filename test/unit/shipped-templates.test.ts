import { expect } from 'chai';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isShipped } from '../../src/render/shipped.js';
import { loadTemplate } from '../../src/render/template.js';
import { tempDir } from '../support/tmp.js';

// A template as the package ships it needs no render trial; any edit makes it a version of the operator's own.

const shipped = join(process.cwd(), 'templates');

async function shippedness(file: string): Promise<boolean> {
  const t = await loadTemplate(file);
  return isShipped(t.file, t.texts);
}

describe('templates the package ships', () => {
  it('are the repository’s own templates, read where they lie', async () => {
    expect(await shippedness(join(shipped, 'haproxy.cfg.hbs'))).to.equal(true);
    expect(await shippedness(join(shipped, 'nginx.conf.hbs'))).to.equal(true);
  });

  it('include an unedited copy elsewhere, with its partials', async () => {
    const dir = tempDir('shipped-copy-');
    cpSync(shipped, dir, { recursive: true });
    expect(await shippedness(join(dir, 'haproxy.cfg.hbs'))).to.equal(true);
  });

  it('exclude a copy whose template was edited', async () => {
    const dir = tempDir('shipped-edit-');
    cpSync(shipped, dir, { recursive: true });
    const file = join(dir, 'haproxy.cfg.hbs');
    writeFileSync(file, readFileSync(file, 'utf8') + '\n# edited\n');
    expect(await shippedness(file)).to.equal(false);
  });

  it('exclude a copy whose partial was edited', async () => {
    const dir = tempDir('shipped-partial-');
    cpSync(shipped, dir, { recursive: true });
    const partial = join(dir, 'partials', 'nginx-location.hbs');
    writeFileSync(partial, readFileSync(partial, 'utf8') + '\n');
    expect(await shippedness(join(dir, 'nginx.conf.hbs'))).to.equal(false);
  });
});
