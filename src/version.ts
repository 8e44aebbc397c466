import { readFileSync } from 'node:fs';

/**
 * The package's version, from the nearest package.json above this module:
 * the same file whether the module runs built (dist/src, or the bundle beside
 * it) or from the sources (the unit specs, through tsx).
 */
function packageVersion(): string {
  let dir = new URL('.', import.meta.url);
  for (;;) {
    try {
      return (JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { version: string }).version;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const up = new URL('..', dir);
    if (up.href === dir.href) throw new Error(`no package.json above ${import.meta.url}`);
    dir = up;
  }
}

export const VERSION = packageVersion();
