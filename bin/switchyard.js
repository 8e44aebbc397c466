#!/usr/bin/env node
// The `switchyard` command. Runs from a checkout as `node bin/switchyard.js`
// once `npm ci` has built dist/.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('switchyard: dist/ is missing; run `npm ci` (or `npm run build`) first\n');
  process.exit(1);
}
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2));
process.exitCode = code;
// Exit even if a library left a handle open; unref'd, so a clean exit is not delayed.
setTimeout(() => process.exit(code), 3000).unref();
