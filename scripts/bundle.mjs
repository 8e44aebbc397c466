// Bundles the command line into one CommonJS file, dist/bundle/switchyard.cjs,
// which bin/switchyard.js loads with V8's code cache (see there): start-up
// then neither resolves hundreds of modules nor compiles megabytes of
// JavaScript. bin/switchyard.js uses it when it is at least as new as dist/src.
//
// Two parts of axios that Switchyard never uses are left out of the bundle,
// because merely loading them costs more than the rest of the start-up: the
// fetch adapter probes `globalThis.fetch` as it loads, which makes Node load
// undici (~50 ms and ~15 MB of RSS), and form-data pulls in mime-db (a
// 200 KB JSON table). For the same reason axios' utils must not look up the
// global FormData as they load (it too is undici's): they only use it to
// recognise a FormData request body, which Switchyard never sends.
// Switchyard's requests are plain GETs through axios' Node http adapter. The
// compiled modules (dist/src), which the unit tests run, keep the whole of axios.
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';

const stubs = {
  // The adapter list still names `fetch`; asked for, it reports itself unavailable, as it would without fetch.
  'axios-fetch-adapter': 'export const getFetch = () => false; export default false;',
  // Only toFormData and multipart bodies use it.
  'form-data': 'export default class FormData { constructor() { throw new Error("form-data is not bundled"); } }',
};

const leaveOut = {
  name: 'leave-out-unused',
  setup(b) {
    b.onResolve({ filter: /^form-data$/ }, () => ({ path: 'form-data', namespace: 'stub' }));
    b.onResolve({ filter: /^\.\/fetch\.js$/ }, (args) =>
      /node_modules\/axios\//.test(args.importer) ? { path: 'axios-fetch-adapter', namespace: 'stub' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'stub' }, (args) => ({ contents: stubs[args.path], loader: 'js' }));
    b.onLoad({ filter: /node_modules\/axios\/lib\/utils\.js$/ }, (args) => {
      const probe = "typeof G.FormData !== 'undefined' ? G.FormData : undefined";
      const source = readFileSync(args.path, 'utf8');
      // An axios that no longer reads it this way must be looked at again, not bundled blindly.
      if (!source.includes(probe))
        throw new Error(`${args.path}: the global FormData probe changed; review scripts/bundle.mjs`);
      return { contents: source.replace(probe, 'undefined'), loader: 'js' };
    });
  },
};

// A new bundle invalidates every code cache made for the old one.
rmSync('dist/bundle', { recursive: true, force: true });
await build({
  entryPoints: ['src/cli.ts'],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  outfile: 'dist/bundle/switchyard.cjs',
  plugins: [leaveOut],
  // The modules find package.json relative to themselves; the bundle sits as deep in dist/ as they do.
  define: { 'import.meta.url': '__importMetaUrl' },
  banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
