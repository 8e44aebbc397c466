import { describeJsonError, parseJsonDocument } from '../json-document.js';
import type { Backend, Service } from '../state/model.js';
import type { Reject } from '../state/rejection.js';
import { isBackendId, isHost, isPort, isServiceId, isWeight, parsePort, safeStringMap } from '../state/validate.js';
import { labelledService, routingFromLabels } from './labels.js';
import { rejectIgnoredLabels } from './raw-labels.js';

/**
/**
 * Bounds the scan of a file of nothing but brackets. An entry nested deeper
 * than its fields allow, yet within this, is skipped by the entry's own
 * checks, costing only that entry.
 */
const MAX_DEPTH = 16_384;

/**
 * Parses the file registry's JSON into services. Values that fail a check
 * are rejected with their position (`services[3] (web)`) and left out, or the
 * entry or backend holding them skipped; the rest still count.
 * Throws only when the file as a whole is unusable, with a message that
 * quotes none of its text (the file may not be what it should be: a secret).
 */
export function parseFileRegistry(text: string, reject: Reject): Service[] {
  const parsed = parseJsonDocument(text, MAX_DEPTH);
  if (!parsed.ok) throw new Error(`not valid JSON ${describeJsonError(parsed)}`);
  const doc = parsed.value;
  if (!isObject(doc) || !Array.isArray(doc.services)) throw new Error('expected {"services": [...]}');
  const services = new Map<string, Service>();
  doc.services.forEach((entry: unknown, i: number) => {
    const where = `services[${i}]`;
    const s = parseEntry(entry, where, reject);
    if (!s) return;
    if (services.has(s.id)) reject({ where, field: 'id', value: s.id, expected: 'an id no earlier entry has' });
    else services.set(s.id, s);
  });
  return [...services.values()];
}

function parseEntry(entry: unknown, where: string, reject: Reject): Service | null {
  if (!isObject(entry)) return (reject({ where, field: 'entry', value: entry, expected: 'an object' }), null);
  if (!isServiceId(entry.id)) {
    reject({ where, field: 'id', value: entry.id, expected: '[A-Za-z0-9._/-], at most 200 characters' });
    return null;
  }
  const at = `${where} (${entry.id})`;
  let servicePort: number | null = null;
  if (entry.servicePort !== undefined && entry.servicePort !== null) {
    servicePort = parsePort(entry.servicePort);
    if (servicePort === null)
      return (reject({ where: at, field: 'servicePort', value: entry.servicePort, expected: 'a port 1-65535' }), null);
  }
  const labels = safeStringMap(entry.labels, at, 'labels', reject);
  const routing = routingFromLabels(labels, {}, 0, at, reject);
  rejectIgnoredLabels(routing.refusedRaw, routing.unsupported, at, reject);
  if (!routing.enabled) return null;
  const backends: Backend[] = [];
  const seen = new Set<string>();
  (Array.isArray(entry.backends) ? entry.backends : []).forEach((b: unknown, j: number) => {
    const field = `backends[${j}]`;
    const refuse = (name: string, value: unknown, expected: string) =>
      reject({ where: at, field: name === '' ? field : `${field}.${name}`, value, expected });
    if (!isObject(b)) return refuse('', b, 'an object');
    if (!isHost(b.host)) return refuse('host', b.host, 'a hostname or IP');
    if (!isPort(b.port)) return refuse('port', b.port, 'a port 1-65535');
    const weight = b.weight === undefined ? 1 : b.weight;
    if (!isWeight(weight)) return refuse('weight', b.weight, 'an integer 0-256');
    const id = b.id === undefined ? `${b.host}:${b.port}` : b.id;
    if (!isBackendId(id)) return refuse('id', b.id, '[A-Za-z0-9._:@-], at most 200 characters');
    if (seen.has(id)) return refuse('id', id, 'an id no earlier backend of the service has');
    seen.add(id);
    backends.push({
      id,
      host: b.host,
      port: b.port,
      weight,
      healthy: b.healthy !== false,
      draining: b.draining === true,
      checkPort: null,
    });
  });
  if (!Array.isArray(entry.backends))
    reject({ where: at, field: 'backends', value: entry.backends, expected: 'an array (rendered with none)' });
  return labelledService({ id: entry.id, source: 'file', servicePort, labels, backends }, routing);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
