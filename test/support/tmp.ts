import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const created: string[] = [];

process.on('exit', () => {
  if (created.length === 0) return;
  if (process.env.KEEP_TMP) {
    process.stderr.write(`KEEP_TMP: kept ${created.join(' ')}\n`);
    return;
  }
  for (const dir of created) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
    } catch {
      // A server killed a moment ago may still be writing; a leftover temp dir is harmless.
    }
  }
});

/** Creates a fresh directory under os.tmpdir() that is removed when the process exits, unless KEEP_TMP is set. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `switchyard-${prefix}`));
  created.push(dir);
  return dir;
}
