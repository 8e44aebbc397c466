#!/usr/bin/env node
// The `switchyard` command. Runs from a checkout as `node bin/switchyard.js`
// once `npm ci` (or `npm run build`) has built dist/: the bundle when it is
// current, else the compiled modules.
import { existsSync, statSync } from 'node:fs';

const modules = new URL('../dist/src/cli.js', import.meta.url);
const bundle = new URL('../dist/bundle/cli.mjs', import.meta.url);
if (!existsSync(modules) && !existsSync(bundle)) {
  process.stderr.write('switchyard: dist/ is missing; run `npm ci` (or `npm run build`) first\n');
  process.exit(1);
}
// A bundle older than the compiled modules is left from an earlier build.
const current = existsSync(bundle) && (!existsSync(modules) || statSync(bundle).mtimeMs >= statSync(modules).mtimeMs);
const { main } = await import((current ? bundle : modules).href);
const code = await main(process.argv.slice(2));
process.exitCode = code;
// Exit even if a library left a handle open; unref'd, so a clean exit is not delayed.
setTimeout(() => process.exit(code), 3000).unref();
