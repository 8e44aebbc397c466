import type { z } from 'zod';

// Reading the config schema's own structure, so that environment overrides
// and error hints never drift from it.

export type Schema = z.ZodType;

/** The schema under optional/default/prefault/nullable wrappers. */
export function unwrap(s: Schema): Schema {
  let cur = s;
  for (;;) {
    const def = cur._zod.def as { type: string; innerType?: Schema; in?: Schema };
    if (
      (def.type === 'optional' || def.type === 'default' || def.type === 'prefault' || def.type === 'nullable') &&
      def.innerType
    )
      cur = def.innerType;
    else if (def.type === 'pipe' && def.in) cur = def.in;
    else return cur;
  }
}

export function kindOf(s: Schema): string {
  return unwrap(s)._zod.def.type;
}

/** The schema one step down: an object's key, an array's element or a record's value. */
export function childOf(s: Schema, key: string | number): Schema | null {
  const u = unwrap(s);
  const def = u._zod.def as { type: string; element?: Schema; valueType?: Schema };
  if (def.type === 'object') return ((u as z.ZodObject).shape[String(key)] as Schema | undefined) ?? null;
  if (def.type === 'array') return def.element ?? null;
  if (def.type === 'record') return def.valueType ?? null;
  return null;
}

/** The keys an object allows at a path; empty where the path is not an object. */
export function keysAt(s: Schema, path: readonly (string | number)[]): string[] {
  let cur: Schema | null = s;
  for (const seg of path) {
    cur = cur && childOf(cur, seg);
    if (!cur) return [];
  }
  return cur && kindOf(cur) === 'object' ? Object.keys((unwrap(cur) as z.ZodObject).shape) : [];
}
