// Bundles the command line into one CommonJS file, dist/bundle/switchyard.cjs,
// which bin/switchyard.js loads with V8's code cache (see there): start-up
// then neither resolves hundreds of modules nor compiles them one by one.
// bin/switchyard.js uses it when it is at least as new as dist/src. The
// render trial's worker thread loads an entry of its own beside it,
// dist/bundle/trial-worker.cjs (src/render/trial.ts finds it there). The
// libraries are bundled as they are published: nothing is rewritten or left out.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

// A new bundle invalidates every code cache made for the old one.
rmSync('dist/bundle', { recursive: true, force: true });
await build({
  entryPoints: { switchyard: 'src/cli.ts', 'trial-worker': 'src/render/trial-worker.ts' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  outdir: 'dist/bundle',
  outExtension: { '.js': '.cjs' },
  // The modules find package.json relative to themselves; the bundle sits as deep in dist/ as they do.
  define: { 'import.meta.url': '__importMetaUrl' },
  banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
