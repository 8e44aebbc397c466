import { describeJsonError, parseJsonDocument } from '../json-document.js';
import type { Backend, Service } from '../state/model.js';
import {
  describeValue,
  isBackendId,
  isHost,
  isPort,
  isServiceId,
  isWeight,
  parsePort,
  safeStringMap,
} from '../state/validate.js';
import { labelledService, routingFromLabels } from './labels.js';
import { ignoredLabelsNote } from './raw-labels.js';

/** Something in a registry file that was skipped: where, and why. */
export type FileProblem = (where: string, why: string) => void;

/**
 * Bounds the scan of a file of nothing but brackets. An entry nested deeper
 * than its fields allow, yet within this, is skipped by the entry's own
 * checks, costing only that entry.
 */
const MAX_DEPTH = 16_384;

/**
 * Parses the file registry's JSON into services. Entries that fail a check
 * are skipped and reported with their position; the rest still count.
 * Throws only when the file as a whole is unusable, with a message that
 * quotes none of its text (the file may not be what it should be: a secret).
 */
export function parseFileRegistry(text: string, problem: FileProblem): Service[] {
  const parsed = parseJsonDocument(text, MAX_DEPTH);
  if (!parsed.ok) throw new Error(`not valid JSON ${describeJsonError(parsed)}`);
  const doc = parsed.value;
  if (!isObject(doc) || !Array.isArray(doc.services)) throw new Error('expected {"services": [...]}');
  const services = new Map<string, Service>();
  doc.services.forEach((entry: unknown, i: number) => {
    const where = `services[${i}]`;
    const s = parseEntry(entry, where, problem);
    if (!s) return;
    if (services.has(s.id)) problem(where, `duplicate id "${s.id}"`);
    else services.set(s.id, s);
  });
  return [...services.values()];
}

function parseEntry(entry: unknown, where: string, problem: FileProblem): Service | null {
  if (!isObject(entry)) return (problem(where, 'expected an object'), null);
  if (!isServiceId(entry.id))
    return (problem(where, `bad id ${show(entry.id)}: expected [A-Za-z0-9._/-], at most 200 characters`), null);
  const at = `${where} (${entry.id})`;
  let servicePort: number | null = null;
  if (entry.servicePort !== undefined && entry.servicePort !== null) {
    servicePort = parsePort(entry.servicePort);
    if (servicePort === null)
      return (problem(at, `bad servicePort ${show(entry.servicePort)}: expected 1-65535`), null);
  }
  if (entry.labels !== undefined && entry.labels !== null && !isObject(entry.labels))
    problem(at, `labels ignored: expected an object of strings, got ${show(entry.labels)}`);
  const labels = safeStringMap(entry.labels, (k) => problem(at, `label ${show(k)} dropped: not a single-line string`));
  const routing = routingFromLabels(labels, {}, 0, (key, value, expected) =>
    problem(at, `label ${key}=${show(value)} ignored: expected ${expected}`),
  );
  const note = ignoredLabelsNote(routing.refusedRaw, routing.unsupported);
  if (note) problem(at, note);
  if (!routing.enabled) return null;
  const backends: Backend[] = [];
  const seen = new Set<string>();
  (Array.isArray(entry.backends) ? entry.backends : []).forEach((b: unknown, j: number) => {
    const bw = `${at}.backends[${j}]`;
    if (!isObject(b)) return problem(bw, 'expected an object');
    if (!isHost(b.host)) return problem(bw, `bad host ${show(b.host)}: expected a hostname or IP`);
    if (!isPort(b.port)) return problem(bw, `bad port ${show(b.port)}: expected 1-65535`);
    const weight = b.weight === undefined ? 1 : b.weight;
    if (!isWeight(weight)) return problem(bw, `bad weight ${show(b.weight)}: expected 0-256`);
    const id = b.id === undefined ? `${b.host}:${b.port}` : b.id;
    if (!isBackendId(id)) return problem(bw, `bad id ${show(b.id)}`);
    if (seen.has(id)) return problem(bw, `duplicate backend ${id}`);
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
  if (!Array.isArray(entry.backends)) problem(at, 'no "backends" array: rendering it with none');
  return labelledService({ id: entry.id, source: 'file', servicePort, labels, backends }, routing);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A value shown in an error: JSON, cut short so hostile input cannot flood a log line; never throws (see describeValue). */
export function show(v: unknown): string {
  return describeValue(v);
}
