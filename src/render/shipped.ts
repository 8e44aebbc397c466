import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The templates the package ships have been rendered by its specs against
// every kind of registry data, and their loops are bounded by the limits on
// apps and tasks: a render trial of them would only cost the start its time.
// A copy an operator edited is another template version and gets its trial.

/** The package's templates/ directory: two levels above dist/src/render/ (or dist/bundle/), one above src/render/. */
function packageTemplates(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  return (
    ['../../../templates', '../../templates']
      .map((rel) => join(here, rel))
      .find((dir) => existsSync(join(dir, 'haproxy.cfg.hbs')) && existsSync(join(dir, '..', 'package.json'))) ?? null
  );
}

/**
 * Whether a template version (`file` and the texts of it and its partials,
 * as compiled) is one the package ships, unedited: every text equal to the
 * package's file of that name.
 */
export async function isShipped(file: string, texts: ReadonlyMap<string, string>): Promise<boolean> {
  const dir = packageTemplates();
  if (dir === null || texts.size === 0) return false;
  for (const [path, text] of texts) {
    const shipped = path === file ? join(dir, basename(path)) : join(dir, 'partials', basename(path));
    const theirs = await readFile(shipped, 'utf8').catch(() => null);
    if (theirs !== text) return false;
  }
  return true;
}
