import type { Backend, Service } from '../../state/model.js';
import { describeValue, type Reject, type Rejection } from '../../state/rejection.js';
import { isBackendId, isHost, isWeight, parsePort, safeStringMap } from '../../state/validate.js';
import { labelledService, routingFromLabels } from '../labels.js';
import { rejectIgnoredLabels } from '../raw-labels.js';
import { messageOf } from '../../errors.js';

// What the instance znodes of each registry format say, decoded and checked:
// nothing here has been trusted yet, so every value passes validate.ts before
// it can reach a Service.

/** The instance formats a registry may hold, as `zookeeper.registries[].format` names them. */
export type RegistryFormat = 'nerve' | 'curator' | 'serverset';

/** One registered instance that passed every check. */
export interface Instance {
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  /** marathon-lb vocabulary labels (nerve only); null when the instance carries none. */
  readonly labels: Readonly<Record<string, string>> | null;
}

/**
 * An instance znode's verdict: a backend (with the values that were left out
 * of it), a well-formed instance that does not take traffic now (serverset
 * status other than ALIVE, curator `enabled: false`), or malformed data and
 * the value that made it so.
 */
export type Decoded =
  | { readonly kind: 'instance'; readonly instance: Instance; readonly notes: readonly Rejection[] }
  | { readonly kind: 'inactive'; readonly reason: string }
  | { readonly kind: 'invalid'; readonly rejection: Rejection };

/** Decodes the data of the instance znode at `path` in its registry's format. */
export function decodeInstance(format: RegistryFormat, data: Buffer | string, path: string): Decoded {
  const invalid = (field: string, value: unknown, expected: string): Decoded => ({
    kind: 'invalid',
    rejection: { where: path, field, value, expected },
  });
  let text: string;
  try {
    // JSON is UTF-8 (RFC 8259): bytes that are not are malformed data, not U+FFFD to pass on.
    text = typeof data === 'string' ? data : new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    // Shown as text, the bad bytes as U+FFFD: the operator recognizes the document, not its byte values.
    return invalid('data', new TextDecoder('utf-8').decode(data as Buffer), 'UTF-8 JSON');
  }
  if (text.trim() === '') return invalid('data', text, 'JSON');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return invalid('data', text, `JSON (${messageOf(e)})`);
  }
  if (!isObject(doc)) return invalid('data', doc, 'a JSON object');
  const check: Check = { path, invalid, notes: [] };
  switch (format) {
    case 'nerve':
      return nerve(doc, check);
    case 'curator':
      return curator(doc, check);
    case 'serverset':
      return serverset(doc, check);
  }
}

/** The znode being decoded: where its rejections point, and the values left out so far. */
interface Check {
  readonly path: string;
  readonly invalid: (field: string, value: unknown, expected: string) => Decoded;
  readonly notes: Rejection[];
}

/** Airbnb Nerve: `{"host","port","name"?,"weight"?,"labels"?}`. */
function nerve(doc: Record<string, unknown>, check: Check): Decoded {
  let weight = 1;
  if (doc.weight !== undefined && doc.weight !== null) {
    if (!isWeight(doc.weight)) return check.invalid('weight', doc.weight, 'an integer 0-256');
    weight = doc.weight;
  }
  const labels =
    doc.labels === undefined || doc.labels === null
      ? null
      : safeStringMap(doc.labels, check.path, 'labels', (r) => check.notes.push(r));
  return endpoint(['host', doc.host], ['port', doc.port], weight, labels, check);
}

/** Apache Curator service discovery: `{"name","id","address","port","sslPort"?,"payload"?,"enabled"?,...}`. */
function curator(doc: Record<string, unknown>, check: Check): Decoded {
  if (doc.enabled === false) return { kind: 'inactive', reason: 'enabled is false' };
  return endpoint(['address', doc.address], ['port', doc.port], 1, null, check);
}

/** Finagle/Aurora serverset: `{"serviceEndpoint":{"host","port"},"additionalEndpoints"?,"status"}`; only ALIVE takes traffic. */
function serverset(doc: Record<string, unknown>, check: Check): Decoded {
  const endpointDoc = doc.serviceEndpoint;
  if (!isObject(endpointDoc)) return check.invalid('serviceEndpoint', endpointDoc, '{"host","port"}');
  if (typeof doc.status !== 'string') return check.invalid('status', doc.status, 'a string such as "ALIVE"');
  if (doc.status !== 'ALIVE') return { kind: 'inactive', reason: `status ${describeValue(doc.status)}` };
  return endpoint(
    ['serviceEndpoint.host', endpointDoc.host],
    ['serviceEndpoint.port', endpointDoc.port],
    1,
    null,
    check,
  );
}

/** The instance at a host and port, each given with the field it was read from. */
function endpoint(
  [hostField, host]: [string, unknown],
  [portField, rawPort]: [string, unknown],
  weight: number,
  labels: Record<string, string> | null,
  check: Check,
): Decoded {
  if (!isHost(host)) return check.invalid(hostField, host, 'a hostname or IP');
  const port = rawPort === null ? null : parsePort(rawPort);
  if (port === null) return check.invalid(portField, rawPort ?? undefined, 'a port 1-65535');
  return { kind: 'instance', instance: { host, port, weight, labels }, notes: check.notes };
}

/** An instance with the znode it came from, in the order the service should consider them. */
export interface Member {
  readonly znode: string;
  readonly instance: Instance;
  /** The instance znode's full path, to name it when its labels are refused. */
  readonly path?: string;
}

/**
 * A ZooKeeper service from its instances (the union over every registry that
 * has a znode of that name, in config order, each sorted by znode name).
 * Routing defaults to HTTP, round robin, at `/<name>`; labels, read from the
 * first instance that carries any, may say otherwise. Null when the labels
 * disable the service. `reject` hears of labels and backends left out, each
 * at the instance znode it came from.
 */
export function toService(name: string, members: readonly Member[], reject: Reject): Service | null {
  const labelled = members.find((m) => m.instance.labels !== null && Object.keys(m.instance.labels).length > 0);
  const labels = labelled?.instance.labels ?? {};
  const labelsAt = labelled ? (labelled.path ?? labelled.znode) : name;
  const routing = routingFromLabels(labels, {}, 0, labelsAt, reject);
  rejectIgnoredLabels(routing.refusedRaw, routing.unsupported, labelsAt, reject);
  if (!routing.enabled) return null;
  const backends: Backend[] = [];
  const addresses = new Set<string>();
  const ids = new Set<string>();
  for (const { znode, instance, path } of members) {
    const address = `${instance.host}:${instance.port}`;
    if (addresses.has(address)) continue;
    const id = isBackendId(znode) && !ids.has(znode) ? znode : address;
    if (ids.has(id) || !isBackendId(id)) {
      reject({ where: path ?? znode, field: 'backend id', value: id, expected: 'an id no other instance has' });
      continue;
    }
    addresses.add(address);
    ids.add(id);
    backends.push({
      id,
      host: instance.host,
      port: instance.port,
      weight: instance.weight,
      healthy: true,
      draining: false,
      checkPort: null,
    });
  }
  return labelledService({ id: name, source: 'zookeeper', servicePort: null, labels, backends }, routing);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
