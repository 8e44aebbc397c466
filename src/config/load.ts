import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { z } from 'zod';
import { applyEnvOverrides, EnvOverrideError, type EnvOverrides } from './env.js';
import { keysAt } from './introspect.js';
import { configSchema, type Config } from './schema.js';
import { messageOf } from '../errors.js';

/** A config that cannot be used; the message is one line naming the key and what was expected. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads, overrides from the environment, validates and resolves a config file. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`config file ${file}: ${(e as NodeJS.ErrnoException).code ?? messageOf(e)}`, { cause: e });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`config file ${file}: not valid JSON: ${messageOf(e)}`, { cause: e });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError(`config file ${file}: expected a JSON object`);
  return parseConfig(raw as Record<string, unknown>, dirname(resolve(file)), env, file);
}

/** Validates an already-parsed config object; relative paths resolve against `baseDir`. */
export function parseConfig(
  raw: Record<string, unknown>,
  baseDir: string,
  env: NodeJS.ProcessEnv = {},
  label = 'config',
): Config {
  let overrides: EnvOverrides;
  try {
    overrides = applyEnvOverrides(raw as Parameters<typeof applyEnvOverrides>[0], env, configSchema);
  } catch (e) {
    if (e instanceof EnvOverrideError) throw new ConfigError(`${label}: ${e.message}`);
    throw e;
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    // A mistyped key explains the "missing" one it was meant to be: report it first.
    const issues = [...result.error.issues].sort(
      (a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'),
    );
    throw new ConfigError(`${label}: ${describe(issues[0]!, overrides.origins)}`);
  }
  return { ...resolvePaths(result.data, baseDir), ignoredEnv: overrides.ignored };
}

function describe(issue: z.core.$ZodIssue, origins: Map<string, string>): string {
  const path = issue.path.map(String).join('.');
  const from = origins.has(path) ? ` (from ${origins.get(path)})` : '';
  if (issue.code === 'unrecognized_keys') {
    const where = path ? `"${path}"` : 'the top level';
    return `unknown key "${[path, issue.keys[0]].filter(Boolean).join('.')}" in ${where}${hint(issue.keys[0]!, issue.path)}`;
  }
  if (issue.code === 'invalid_type' && issue.message.includes('received undefined')) {
    return `missing key "${path}": ${issue.message.replace(/^Invalid input: /, '').replace(/, received undefined$/, '')}`;
  }
  return `key "${path || '(top level)'}"${from}: ${issue.message.replace(/^Invalid input: /, '')}`;
}

/** "did you mean" for a mistyped key: the known key closest in spelling, if close enough. */
function hint(key: string, path: readonly PropertyKey[]): string {
  const known = keysAt(
    configSchema,
    path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
  );
  let best = '';
  let bestDistance = Infinity;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean "${best}"?)` : '';
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

function resolvePaths(c: z.output<typeof configSchema>, baseDir: string): Omit<Config, 'ignoredEnv'> {
  const abs = (p: string) => resolve(baseDir, p);
  return {
    ...c,
    configDir: baseDir,
    file: c.file ? { ...c.file, path: abs(c.file.path) } : undefined,
    targets: c.targets.map((t) => ({ ...t, template: abs(t.template), output: abs(t.output) })),
  };
}
