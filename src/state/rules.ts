import type { Rule } from './model.js';
import { describeValue } from './rejection.js';
import { isAclCondition, isBalance, isMode, isPathPrefix, isPort, isServiceId, isVhost } from './validate.js';

// Routing rules as people write them (the HTTP API) and as ZooKeeper stores
// them: one checked, canonical shape for both.

/** A checked rule, or the reason it was refused (safe to show: values are JSON-quoted and cut short). */
export type RuleCheck = { readonly ok: true; readonly rule: Rule } | { readonly ok: false; readonly reason: string };

const FIELDS = ['id', 'vhosts', 'paths', 'port', 'mode', 'balance', 'acl'] as const;
const MAX_ENTRIES = 256;
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * Checks a rule body: an object with only the known fields; `id` a service id
 * equal to `expectedId` when one is given (the URL's, or the znode's);
 * `vhosts` an array of hostnames (one `*.` wildcard allowed), `paths` an
 * array of path prefixes, `port` 1–65535, `mode` http|tcp, `balance` an
 * algorithm, `acl` a one-line HAProxy condition. A null field counts as left
 * out. Vhosts are lower-cased and lists deduplicated, so equal rules are
 * stored alike.
 */
export function validateRule(body: unknown, expectedId?: string): RuleCheck {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return refuse('expected a JSON object');
  const doc = body as Record<string, unknown>;
  for (const key of Object.keys(doc)) {
    if (CONTROL.test(key)) return refuse(`a field name contains a control character: ${describeValue(key)}`);
    if (!(FIELDS as readonly string[]).includes(key))
      return refuse(`unknown field ${describeValue(key)}: expected ${FIELDS.join(', ')}`);
  }
  const id = doc.id;
  if (id === undefined || id === null) return refuse('"id" is required');
  if (!isRuleId(id))
    return refuse(`bad "id" ${describeValue(id)}: expected a service id of [A-Za-z0-9._/-], at most 200 characters`);
  if (expectedId !== undefined && id !== expectedId)
    return refuse(`"id" ${describeValue(id)} differs from the id in the URL, ${describeValue(expectedId)}`);

  const rule: { -readonly [K in keyof Rule]: Rule[K] } = { id };
  const vhosts = list(doc.vhosts, 'vhosts', isVhost, 'a hostname such as "shop.example.com" or "*.example.com"');
  if (typeof vhosts === 'string') return refuse(vhosts);
  if (vhosts) rule.vhosts = [...new Set(vhosts.map((v) => v.toLowerCase()))];
  const paths = list(
    doc.paths,
    'paths',
    isPathPrefix,
    'a path prefix starting with "/" (no spaces, quotes, "#", ";" or braces)',
  );
  if (typeof paths === 'string') return refuse(paths);
  if (paths) rule.paths = [...new Set(paths)];
  if (present(doc.port)) {
    if (!isPort(doc.port)) return refuse(`bad "port" ${describeValue(doc.port)}: expected an integer 1-65535`);
    rule.port = doc.port;
  }
  if (present(doc.mode)) {
    if (!isMode(doc.mode)) return refuse(`bad "mode" ${describeValue(doc.mode)}: expected "http" or "tcp"`);
    rule.mode = doc.mode;
  }
  if (present(doc.balance)) {
    if (!isBalance(doc.balance))
      return refuse(
        `bad "balance" ${describeValue(doc.balance)}: expected roundrobin, static-rr, leastconn, first, source, uri or random`,
      );
    rule.balance = doc.balance;
  }
  if (present(doc.acl)) {
    if (!isAclCondition(doc.acl))
      return refuse(
        `bad "acl" ${describeValue(doc.acl)}: expected an HAProxy ACL criterion such as "hdr(host) -i shop.example.com": one line of printable ASCII, at most 1024 characters, starting with a sample fetch, quotes balanced, no "#", no "$" inside double quotes, no -f pattern files, env fetch or map converters`,
      );
    rule.acl = doc.acl;
  }
  return { ok: true, rule };
}

/** A service id that can also name a znode (ZooKeeper refuses "." as a name). */
export function isRuleId(s: unknown): s is string {
  return isServiceId(s) && s !== '.';
}

/** The znode name a rule is stored under: the id URL-encoded, so `/shop/web` is `%2Fshop%2Fweb`. */
export function ruleZnodeName(id: string): string {
  return encodeURIComponent(id);
}

/** The id a rule znode name stands for; null when it decodes to no service id. */
export function ruleIdFromZnode(name: string): string | null {
  try {
    const id = decodeURIComponent(name);
    return isRuleId(id) ? id : null;
  } catch {
    return null;
  }
}

/** The rule as stored: fields in a fixed order, so the same rule is always the same bytes. */
export function serializeRule(rule: Rule): string {
  const out: Record<string, unknown> = {};
  for (const key of FIELDS) if (rule[key] !== undefined) out[key] = rule[key];
  return JSON.stringify(out);
}

function list(
  value: unknown,
  field: string,
  check: (s: unknown) => s is string,
  expected: string,
): string[] | string | null {
  if (!present(value)) return null;
  if (!Array.isArray(value)) return `"${field}" must be an array, got ${describeValue(value)}`;
  if (value.length > MAX_ENTRIES) return `"${field}" has ${value.length} entries: at most ${MAX_ENTRIES}`;
  for (let i = 0; i < value.length; i++) {
    if (!check(value[i])) return `bad ${field}[${i}] ${describeValue(value[i])}: expected ${expected}`;
  }
  return value as string[];
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

function refuse(reason: string): RuleCheck {
  return { ok: false, reason };
}
