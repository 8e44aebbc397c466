import type { RawConfig } from '../state/model.js';
import type { Reject } from '../state/rejection.js';
import { isSingleLine } from '../state/validate.js';

// marathon-lb lets an app override any of its config templates for one
// service port with a label, HAPROXY_{n}_<TEMPLATE>, whose value it pastes
// into haproxy.cfg as it is: config injection by design. Switchyard refuses
// them unless the operator allows them (`marathon.allowRawLabels`); even then
// each is one checked line, handed to templates as `raw.<camelCaseName>`.

/** marathon-lb's per-port labels that carry values rather than config, and that Switchyard does not honour. */
const UNSUPPORTED = new Set([
  'AUTH',
  'USE_HSTS',
  'HTTP_BACKEND_PROXYPASS_PATH',
  'HTTP_BACKEND_REVPROXY_PATH',
  'HTTP_BACKEND_REDIR',
  'BACKEND_NETWORK_ALLOWED_ACL',
]);
const TEMPLATE_NAME = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/;

/** A port's HAPROXY_{n}_* labels outside the routing vocabulary, sorted out. */
export interface OtherLabels {
  /** Raw config lines taken (only when allowed), by camelCase template name. */
  readonly raw: RawConfig;
  /** Label keys carrying raw config that were refused: not allowed, or not one line. */
  readonly refused: readonly string[];
  /** Label keys marathon-lb knows that Switchyard does not support. */
  readonly unsupported: readonly string[];
}

/**
 * Sorts out port `n`'s labels whose suffix is not in `known` (the routing
 * vocabulary): marathon-lb value labels Switchyard does not support, and
 * template overrides, taken as `raw` only when `allowRaw` and one line.
 */
export function otherPortLabels(
  labels: Readonly<Record<string, string>>,
  n: number,
  known: ReadonlySet<string>,
  allowRaw: boolean,
): OtherLabels {
  const prefix = `HAPROXY_${n}_`;
  const raw: Record<string, string> = {};
  const refused: string[] = [];
  const unsupported: string[] = [];
  for (const key of Object.keys(labels)
    .filter((k) => k.startsWith(prefix))
    .sort()) {
    const name = key.slice(prefix.length);
    if (known.has(name)) continue;
    if (UNSUPPORTED.has(name)) {
      unsupported.push(key);
      continue;
    }
    const line = labels[key]!.trim();
    const field = camelCase(name);
    // `in` also sees Object.prototype: a name like CONSTRUCTOR must not shadow it, nor two names collide.
    if (allowRaw && TEMPLATE_NAME.test(name) && !(field in raw) && line !== '' && isSingleLine(line)) raw[field] = line;
    else refused.push(key);
  }
  return { raw, refused, unsupported };
}

/** `BACKEND_HEAD` → `backendHead`. */
function camelCase(name: string): string {
  return name.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * Rejects, for `where`, each label key left out: raw config not allowed (or
 * not one line), and marathon-lb labels Switchyard does not support. The key
 * is the value refused; the label's own value is never shown (an AUTH label
 * carries a password hash).
 */
export function rejectIgnoredLabels(
  refused: readonly string[],
  unsupported: readonly string[],
  where: string,
  reject: Reject,
): void {
  for (const key of refused)
    reject({
      where,
      field: 'labels',
      value: key,
      expected: 'no raw HAProxy config label (marathon.allowRawLabels allows them, one line each)',
    });
  for (const key of unsupported)
    reject({ where, field: 'labels', value: key, expected: 'a marathon-lb label Switchyard supports' });
}
