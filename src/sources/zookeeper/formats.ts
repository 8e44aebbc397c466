import type { Backend, Service } from '../../state/model.js';
import { isBackendId, isHost, isWeight, parsePort, safeStringMap } from '../../state/validate.js';
import { show } from '../file-registry.js';
import { labelledService, routingFromLabels } from '../labels.js';
import { ignoredLabelsNote } from '../raw-labels.js';

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
 * An instance znode's verdict: a backend (with notes on parts that were
 * dropped), a well-formed instance that does not take traffic now (serverset
 * status other than ALIVE, curator `enabled: false`), or malformed data and why.
 */
export type Decoded =
  | { readonly kind: 'instance'; readonly instance: Instance; readonly notes: readonly string[] }
  | { readonly kind: 'inactive'; readonly reason: string }
  | { readonly kind: 'invalid'; readonly reason: string };

/** Decodes an instance znode's data in its registry's format. */
export function decodeInstance(format: RegistryFormat, data: Buffer | string): Decoded {
  let text: string;
  try {
    // JSON is UTF-8 (RFC 8259): bytes that are not are malformed data, not U+FFFD to pass on.
    text = typeof data === 'string' ? data : new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return invalid('not UTF-8: expected JSON');
  }
  if (text.trim() === '') return invalid('empty znode: expected JSON');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return invalid(`not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) return invalid('expected a JSON object');
  switch (format) {
    case 'nerve':
      return nerve(doc);
    case 'curator':
      return curator(doc);
    case 'serverset':
      return serverset(doc);
  }
}

/** Airbnb Nerve: `{"host","port","name"?,"weight"?,"labels"?}`. */
function nerve(doc: Record<string, unknown>): Decoded {
  const notes: string[] = [];
  let weight = 1;
  if (doc.weight !== undefined && doc.weight !== null) {
    if (!isWeight(doc.weight)) return invalid(`bad weight ${show(doc.weight)}: expected an integer 0-256`);
    weight = doc.weight;
  }
  let labels: Record<string, string> | null = null;
  if (doc.labels !== undefined && doc.labels !== null) {
    if (!isObject(doc.labels)) notes.push(`labels ignored: expected an object of strings, got ${show(doc.labels)}`);
    else labels = safeStringMap(doc.labels, (k) => notes.push(`label ${show(k)} dropped: not a single-line string`));
  }
  return endpoint(doc.host, doc.port, weight, labels, notes);
}

/** Apache Curator service discovery: `{"name","id","address","port","sslPort"?,"payload"?,"enabled"?,...}`. */
function curator(doc: Record<string, unknown>): Decoded {
  if (doc.enabled === false) return { kind: 'inactive', reason: 'enabled is false' };
  return endpoint(doc.address, doc.port, 1, null, []);
}

/** Finagle/Aurora serverset: `{"serviceEndpoint":{"host","port"},"additionalEndpoints"?,"status"}`; only ALIVE takes traffic. */
function serverset(doc: Record<string, unknown>): Decoded {
  if (!isObject(doc.serviceEndpoint))
    return invalid(`bad serviceEndpoint ${show(doc.serviceEndpoint)}: expected {"host","port"}`);
  if (typeof doc.status !== 'string')
    return invalid(`bad status ${show(doc.status)}: expected a string such as "ALIVE"`);
  if (doc.status !== 'ALIVE') return { kind: 'inactive', reason: `status ${show(doc.status)}` };
  return endpoint(doc.serviceEndpoint.host, doc.serviceEndpoint.port, 1, null, []);
}

function endpoint(
  host: unknown,
  rawPort: unknown,
  weight: number,
  labels: Record<string, string> | null,
  notes: string[],
): Decoded {
  if (!isHost(host)) return invalid(`bad host ${show(host)}: expected a hostname or IP`);
  if (rawPort === undefined || rawPort === null) return invalid('no port');
  const port = parsePort(rawPort);
  if (port === null) return invalid(`bad port ${show(rawPort)}: expected 1-65535`);
  return { kind: 'instance', instance: { host, port, weight, labels }, notes };
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
 * disable the service. `problem` hears of labels and backends left out.
 */
export function toService(
  name: string,
  members: readonly Member[],
  problem: (reason: string, znode?: string) => void,
): Service | null {
  const labelled = members.find((m) => m.instance.labels !== null && Object.keys(m.instance.labels).length > 0);
  const labels = labelled?.instance.labels ?? {};
  const routing = routingFromLabels(labels, {}, 0, (key, value, expected) =>
    problem(`label ${key}=${show(value)} ignored: expected ${expected}`, labelled?.path),
  );
  const note = ignoredLabelsNote(routing.refusedRaw, routing.unsupported);
  if (note) problem(note);
  if (!routing.enabled) return null;
  const backends: Backend[] = [];
  const addresses = new Set<string>();
  const ids = new Set<string>();
  for (const { znode, instance } of members) {
    const address = `${instance.host}:${instance.port}`;
    if (addresses.has(address)) continue;
    const id = isBackendId(znode) && !ids.has(znode) ? znode : address;
    if (ids.has(id) || !isBackendId(id)) {
      problem(`instance ${show(znode)} skipped: its backend id ${show(id)} is taken or invalid`);
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

function invalid(reason: string): Decoded {
  return { kind: 'invalid', reason };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
