import { existsSync, readFileSync } from 'node:fs';

// From dist/src/ (and the bundle in dist/bundle/) the package file is two levels up; from src/, when the
// specs run the TypeScript sources directly, one. The name tells ours from whatever lies above a checkout.
const ours = ['../../package.json', '../package.json']
  .map((rel) => new URL(rel, import.meta.url))
  .filter((url) => existsSync(url))
  .map((url) => JSON.parse(readFileSync(url, 'utf8')) as { name?: string; version: string })
  .find((pkg) => pkg.name === 'switchyard');

/** The package's version, from package.json. */
export const VERSION = ours?.version ?? '0.0.0';
