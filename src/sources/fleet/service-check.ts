import { z } from 'zod';
import type { Service } from '../../state/model.js';
import type { Rejection } from '../../state/rejection.js';
import {
  isAclCondition,
  isBackendId,
  isBalance,
  isBindAddress,
  isCertPath,
  isHost,
  isIntegerIn,
  isMode,
  isPathPrefix,
  isPort,
  isServiceId,
  isSingleLine,
  isVhost,
  isWeight,
} from '../../state/validate.js';
import { isCheckPath } from '../marathon/apps.js';
import { messageOf } from '../../errors.js';

// A published view is read from ZooKeeper, which anyone with write access
// there can change: every service a follower takes from it passes the same
// allowlists a source applies to its registry, field by field, or not at all.

const check = <T>(test: (v: unknown) => v is T, expected: string) => z.custom<T>(test, { message: expected });
const port = check(isPort, 'a port 1-65535');
const line = check((v): v is string => isSingleLine(v), 'one line of at most 4096 characters');
const key = check((v): v is string => isSingleLine(v, 256), 'one line of at most 256 characters');
const int = (min: number, max: number) =>
  check((v): v is number => isIntegerIn(v, min, max), `an integer ${min}-${max}`);
const map = z.record(key, line).refine((m) => !Object.hasOwn(m, '__proto__'), 'no __proto__ key');

const backend = z.strictObject({
  id: check(isBackendId, 'a backend id'),
  host: check(isHost, 'a host name or IP address'),
  port,
  weight: check(isWeight, 'a weight 0-256'),
  healthy: z.boolean(),
  draining: z.boolean(),
  checkPort: port.nullable(),
});

const healthCheck = z.strictObject({
  protocol: z.enum(['HTTP', 'HTTPS', 'TCP']),
  path: check(isCheckPath, 'a health check path').optional(),
  intervalSeconds: int(1, 86_400).optional(),
  timeoutSeconds: int(1, 86_400).optional(),
  maxConsecutiveFailures: int(0, 1000).optional(),
});

const service = z.strictObject({
  id: check(isServiceId, 'a service id'),
  name: check(isServiceId, 'a Marathon app id'),
  source: z.literal('marathon'),
  portIndex: int(0, 1000),
  servicePort: port.nullable(),
  mode: check(isMode, 'http or tcp'),
  vhosts: z.array(check(isVhost, 'a virtual host')).max(1000),
  paths: z.array(check(isPathPrefix, 'a path prefix')).max(1000),
  acl: check(isAclCondition, 'an ACL condition').nullable(),
  balance: check(isBalance, 'a balance algorithm'),
  sticky: z.boolean(),
  healthCheck: healthCheck.nullable(),
  bindAddress: check(isBindAddress, 'an IP address').nullable(),
  sslCert: check(isCertPath, 'an absolute certificate path').nullable(),
  redirectToHttps: z.boolean(),
  backendWeight: int(-1_000_000, 1_000_000),
  raw: map,
  labels: map,
  env: map,
  backends: z.array(backend).max(100_000),
});

/** One app's services as published: all of one app (`name`), in port order, backends sorted by id. */
const appServices = z
  .array(service)
  .max(1000)
  .superRefine((list, ctx) => {
    for (let i = 0; i < list.length; i++) {
      const s = list[i]!;
      if (s.name !== list[0]!.name) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: 'another app' });
      if (i > 0 && !(list[i - 1]!.portIndex < s.portIndex))
        ctx.addIssue({ code: 'custom', path: [i, 'portIndex'], message: 'not in port order' });
      for (let j = 1; j < s.backends.length; j++)
        if (!(s.backends[j - 1]!.id < s.backends[j]!.id))
          ctx.addIssue({ code: 'custom', path: [i, 'backends', j], message: 'backends not sorted by id' });
    }
  });

/** The outcome of reading one app's published services. */
export type CheckedApp =
  | { readonly kind: 'ok'; readonly services: readonly Service[] }
  | { readonly kind: 'invalid'; readonly rejection: Rejection };

/**
 * Parses and checks one app's published services (`where`: its znode);
 * `allowRaw` false refuses raw config lines, as the Marathon source would.
 */
export function checkAppServices(json: string, allowRaw: boolean, where: string): CheckedApp {
  const invalid = (field: string, value: unknown, expected: string): CheckedApp => ({
    kind: 'invalid',
    rejection: { where, field, value, expected },
  });
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (e) {
    return invalid('(data)', json.slice(0, 40), `JSON (${messageOf(e)})`);
  }
  const parsed = appServices.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    let at: unknown = value;
    for (const k of issue.path)
      at = at !== null && typeof at === 'object' ? (at as Record<PropertyKey, unknown>)[k] : undefined;
    return invalid(issue.path.join('.') || '(top)', at, issue.message);
  }
  const services = parsed.data as Service[];
  const raw = services.findIndex((s) => Object.keys(s.raw).length > 0);
  if (!allowRaw && raw >= 0)
    return invalid(`${raw}.raw`, services[raw]!.raw, 'no raw config lines: marathon.allowRawLabels is off here');
  return { kind: 'ok', services };
}
