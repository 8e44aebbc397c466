import type { z } from 'zod';
import { childOf, kindOf, unwrap, type Schema } from './introspect.js';
import { messageOf } from '../errors.js';

// SWITCHYARD_<PATH> overrides. A path segment may be written as the key
// uppercased (POLLINTERVALMS) or in snake case (POLL_INTERVAL_MS); array
// elements are addressed by index (TARGETS_0_OUTPUT). The schema itself tells
// which keys exist and what type a value must become, so this never drifts
// from it.

export const ENV_PREFIX = 'SWITCHYARD_';
/** Environment variables with the prefix that are not config paths. */
const NOT_CONFIG = new Set(['SWITCHYARD_CONFIG']);

export class EnvOverrideError extends Error {}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A SWITCHYARD_* variable that was not taken as a config override, and who must have set it. */
export interface IgnoredVariable {
  readonly name: string;
  readonly setBy: string;
}

/** What applying the environment did: the dotted paths it set (for error messages) and the variables it left alone. */
export interface EnvOverrides {
  readonly origins: Map<string, string>;
  readonly ignored: readonly IgnoredVariable[];
}

const URL_VALUE = /^(?:tcp|udp|sctp):\/\/\S+:\d{1,5}$/;
const IP_VALUE = /^[0-9A-Fa-f.:]+$/;
const K8S_OR_LINK = 'Kubernetes service or Docker link';

// What Kubernetes injects for a Service named "switchyard", and Docker for a
// container linked as "switchyard", matched by name *and* value, so that
// SWITCHYARD_PORT=8000 (someone guessing at a key) still fails as a typo.
// https://kubernetes.io/docs/concepts/services-networking/service/#environment-variables
// https://docs.docker.com/network/links/#environment-variables
const ORCHESTRATOR: readonly { name: RegExp; value: RegExp; setBy: string }[] = [
  { name: /^PORT$/, value: URL_VALUE, setBy: K8S_OR_LINK },
  { name: /^PORT_\d{1,5}_(?:TCP|UDP|SCTP)$/, value: URL_VALUE, setBy: K8S_OR_LINK },
  { name: /^PORT_\d{1,5}_(?:TCP|UDP|SCTP)_PROTO$/, value: /^(?:tcp|udp|sctp)$/, setBy: K8S_OR_LINK },
  { name: /^PORT_\d{1,5}_(?:TCP|UDP|SCTP)_PORT$/, value: /^\d{1,5}$/, setBy: K8S_OR_LINK },
  { name: /^PORT_\d{1,5}_(?:TCP|UDP|SCTP)_ADDR$/, value: IP_VALUE, setBy: K8S_OR_LINK },
  { name: /^SERVICE_HOST$/, value: IP_VALUE, setBy: 'Kubernetes service' },
  { name: /^SERVICE_PORT(?:_[A-Z0-9_]+)?$/, value: /^\d{1,5}$/, setBy: 'Kubernetes service' },
  { name: /^NAME$/, value: /^\/\S+\/\S+$/, setBy: 'Docker link' },
  // The linked container's own environment, whatever it holds.
  { name: /^ENV_[A-Za-z0-9_]+$/, value: /[\s\S]*/, setBy: 'Docker link' },
];

/** Who set this variable, when its name and value have the shape an orchestrator gives and it names no config key. */
function orchestratorVariable(rest: string, value: string, schema: Schema): string | null {
  const topKeys = Object.keys((unwrap(schema) as z.ZodObject).shape);
  const tokens = rest.split('_').filter((t) => t !== '');
  if (matchKey(topKeys, tokens)) return null;
  return ORCHESTRATOR.find((o) => o.name.test(rest) && o.value.test(value))?.setBy ?? null;
}

/** Applies every SWITCHYARD_* variable to the raw config, except those an orchestrator injected. */
export function applyEnvOverrides(raw: Record<string, Json>, env: NodeJS.ProcessEnv, schema: Schema): EnvOverrides {
  const origins = new Map<string, string>();
  const ignored: IgnoredVariable[] = [];
  for (const [name, value] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (!name.startsWith(ENV_PREFIX) || NOT_CONFIG.has(name) || value === undefined) continue;
    const rest = name.slice(ENV_PREFIX.length);
    const setBy = orchestratorVariable(rest, value, schema);
    if (setBy) {
      ignored.push({ name, setBy });
      continue;
    }
    const tokens = rest.split('_').filter((t) => t !== '');
    const path = setPath(raw, tokens, value, schema, name);
    origins.set(path.join('.'), name);
  }
  return { origins, ignored };
}

function setPath(
  root: Record<string, Json>,
  tokens: string[],
  value: string,
  schema: Schema,
  envName: string,
): (string | number)[] {
  let node: Json = root;
  let shape: Schema = schema;
  const path: (string | number)[] = [];
  let i = 0;
  for (;;) {
    const s = unwrap(shape);
    const kind = s._zod.def.type;
    if (i === tokens.length || !(kind === 'object' || kind === 'array' || kind === 'record')) break;
    let key: string | number;
    let child: Schema;
    let taken: number;
    if (kind === 'object') {
      const match = matchKey(Object.keys((s as z.ZodObject).shape), tokens.slice(i));
      if (!match)
        throw new EnvOverrideError(
          `${envName}: no config key "${tokens.slice(i).join('_')}" under "${path.join('.') || '(top level)'}"`,
        );
      [key, taken] = match;
      child = childOf(s, key)!;
    } else if (kind === 'array') {
      if (!/^\d+$/.test(tokens[i]!)) break;
      key = Number(tokens[i]);
      taken = 1;
      child = childOf(s, key)!;
    } else {
      const existing = node && typeof node === 'object' && !Array.isArray(node) ? Object.keys(node) : [];
      const rest = tokens.slice(i);
      key = existing.find((k) => squash(k) === rest.join('').toUpperCase()) ?? camel(rest);
      taken = rest.length;
      child = childOf(s, key)!;
    }
    path.push(key);
    i += taken;
    const container = node as Record<string, Json> & Json[];
    if (i === tokens.length) {
      container[key as never] = convert(value, child, envName) as never;
      return path;
    }
    const next: Json | undefined = container[key as never];
    if (next === undefined || next === null || typeof next !== 'object') {
      container[key as never] = (kindOf(child) === 'array' ? [] : {}) as never;
    }
    node = container[key as never] as Json;
    shape = child;
  }
  if (i !== tokens.length)
    throw new EnvOverrideError(`${envName}: "${path.join('.')}" has no key "${tokens.slice(i).join('_')}"`);
  return path;
}

/** Longest run of tokens that spells one of the keys, in either spelling. */
function matchKey(keys: string[], tokens: string[]): [string, number] | null {
  for (let n = tokens.length; n >= 1; n--) {
    const candidate = tokens.slice(0, n).join('').toUpperCase();
    const key = keys.find((k) => squash(k) === candidate);
    if (key) return [key, n];
  }
  return null;
}

const squash = (k: string) => k.replace(/_/g, '').toUpperCase();
const camel = (tokens: string[]) =>
  tokens.map((t, i) => (i === 0 ? t.toLowerCase() : t[0]!.toUpperCase() + t.slice(1).toLowerCase())).join('');

/** Turns the variable's text into the type the schema wants there; JSON is accepted for anything. */
function convert(value: string, schema: Schema, envName: string): Json {
  const kind = kindOf(schema);
  const trimmed = value.trim();
  if (/^[[{]/.test(trimmed) && (kind === 'array' || kind === 'object' || kind === 'record')) {
    try {
      return JSON.parse(trimmed) as Json;
    } catch (e) {
      throw new EnvOverrideError(`${envName}: not valid JSON (${messageOf(e)})`, { cause: e });
    }
  }
  switch (kind) {
    case 'number':
      return trimmed !== '' && Number.isFinite(Number(trimmed)) ? Number(trimmed) : value;
    case 'boolean':
      return trimmed === 'true' ? true : trimmed === 'false' ? false : value;
    case 'array':
      return trimmed === '' ? [] : trimmed.split(',').map((v) => v.trim());
    case 'union':
      // A list or a single value (marathon.group): commas make it the list.
      if (trimmed.includes(',') && unionOptions(schema).some((o) => kindOf(o) === 'array'))
        return trimmed.split(',').map((v) => v.trim());
      if (/^-?\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
      if (trimmed === 'true' || trimmed === 'false') return trimmed === 'true';
      return value;
    default:
      return value;
  }
}

function unionOptions(schema: Schema): readonly Schema[] {
  return (unwrap(schema)._zod.def as { options?: readonly Schema[] }).options ?? [];
}
