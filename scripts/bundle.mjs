// Bundles the command line into dist/bundle/ (one file per load phase), so
// start-up reads and compiles a few files instead of hundreds of modules:
// about half the import time. bin/switchyard.js uses it when it is at least
// as new as dist/src.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/cli.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  splitting: true,
  outdir: 'dist/bundle',
  outExtension: { '.js': '.mjs' },
  // Bundled CommonJS dependencies still call require() for Node's built-ins.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
});
