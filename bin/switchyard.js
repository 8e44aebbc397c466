#!/usr/bin/env node
// The `switchyard` command. Runs from a checkout as `node bin/switchyard.js`
// once `npm ci` (or `npm run build`) has built dist/: the bundle when it is
// current, else the compiled modules.
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const modules = new URL('../dist/src/cli.js', import.meta.url);
const bundle = fileURLToPath(new URL('../dist/bundle/switchyard.cjs', import.meta.url));
if (!existsSync(modules) && !existsSync(bundle)) {
  process.stderr.write('switchyard: dist/ is missing; run `npm ci` (or `npm run build`) first\n');
  process.exit(1);
}

/**
 * Runs the bundle as CommonJS from V8's code cache: the bytecode of every
 * function that a previous daemon compiled on its way to its first config,
 * so this start skips compiling them (~70 ms). The cache sits beside the
 * bundle, named for its size and time, so a rebuilt bundle never meets an
 * old cache (V8 itself only checks its version, its flags and the source's
 * length). Without one, or with one V8 rejects, the daemon writes a new one
 * once it has installed its first config; where the directory is read-only
 * it runs without.
 */
function loadBundle(file) {
  const stat = statSync(file);
  const cacheFile = `${file}.${stat.size}-${Math.trunc(stat.mtimeMs)}.cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const source = readFileSync(file, 'utf8');
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    cachedData,
  });
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  let wanted = cachedData === undefined || script.cachedDataRejected === true;
  const warm = () => {
    if (!wanted) return;
    wanted = false;
    try {
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(tmp, script.createCachedData());
      renameSync(tmp, cacheFile);
    } catch {
      // A read-only install: every start compiles, as without a cache.
    }
  };
  return { main: module.exports.main, warm };
}

// A bundle older than the compiled modules is left from an earlier build.
const current = existsSync(bundle) && (!existsSync(modules) || statSync(bundle).mtimeMs >= statSync(modules).mtimeMs);
const { main, warm } = current
  ? loadBundle(bundle)
  : { main: (await import(modules.href)).main, warm: () => undefined };
const code = await main(process.argv.slice(2), { warm });
process.exitCode = code;
// Exit even if a library left a handle open; unref'd, so a clean exit is not delayed.
setTimeout(() => process.exit(code), 3000).unref();
