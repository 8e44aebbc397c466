import { routedPaths } from '../../render/data.js';
import type { Backend, Mode, Rule, Service, Snapshot } from '../../state/model.js';
import type { HeldChange } from '../../state/store.js';

// What the dashboard and `curl` see of services: summaries for a searchable,
// paged list, and one service in full. Built from the snapshot on request;
// nothing here is kept.

/** A backend as the views show it. */
export interface BackendView {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  readonly healthy: boolean;
  readonly draining: boolean;
}

/** One line of the services list: routes, backends and whether something holds it back. */
export interface ServiceSummary {
  readonly id: string;
  readonly name: string;
  readonly source: string;
  readonly servicePort: number | null;
  readonly mode: Mode;
  readonly vhosts: readonly string[];
  /** Where it is reachable on the shared listener: its paths, or `/<id>` when it has neither vhost, path nor acl. */
  readonly paths: readonly string[];
  readonly acl: string | null;
  /** The first MAX_SUMMARY_BACKENDS backends. */
  readonly backends: readonly BackendView[];
  readonly backendCount: number;
  /** Backends taking traffic: healthy and not draining. */
  readonly serving: number;
  /** The drop guard holds a change of it back. */
  readonly held: boolean;
  /** Some target left it out of its config (quarantine). */
  readonly quarantined: boolean;
}

/** A page of the services list. */
export interface ServicePage {
  readonly version: number;
  /** Services matching the query. */
  readonly total: number;
  readonly offset: number;
  readonly limit: number;
  readonly services: readonly ServiceSummary[];
}

/** A quarantine entry as /health lists it. */
export interface Quarantined {
  readonly service: string;
  readonly target: string;
  readonly reason: string;
  readonly since: number | string;
}

/** App env as shown: the values only where the config allows them, else the names alone. */
export type EnvView =
  | { readonly shown: true; readonly values: Readonly<Record<string, string>> }
  | { readonly shown: false; readonly keys: readonly string[] };

/** One service in full, as the state has it (env as shown, backends as views), with what holds it back. */
export interface ServiceDetail extends Omit<Service, 'env' | 'backends'> {
  readonly env: EnvView;
  readonly backends: readonly BackendView[];
  /** The routing rule that overrides its labels, if any. */
  readonly rule: Rule | null;
  readonly held: HeldChange | null;
  readonly quarantined: readonly Quarantined[];
}

/** What a summary or detail needs beside the service: holds and quarantine, by service id. */
export interface ServiceContext {
  readonly held: ReadonlyMap<string, HeldChange>;
  readonly quarantined: ReadonlyMap<string, readonly Quarantined[]>;
}

export const MAX_SUMMARY_BACKENDS = 50;
export const MAX_LIMIT = 500;
export const DEFAULT_LIMIT = 50;
export const MAX_QUERY = 200;

/**
 * The page of services matching `query` (case-insensitive, in id, name,
 * vhosts, paths or a backend's host:port; empty matches all), in id order.
 */
export function servicePage(
  snapshot: Snapshot,
  query: string,
  offset: number,
  limit: number,
  ctx: ServiceContext,
): ServicePage {
  const q = query.trim().toLowerCase();
  const matching = q === '' ? snapshot.services : snapshot.services.filter((s) => matches(s, q));
  return {
    version: snapshot.version,
    total: matching.length,
    offset,
    limit,
    services: matching.slice(offset, offset + limit).map((s) => summary(s, ctx)),
  };
}

function matches(s: Service, q: string): boolean {
  if (s.id.toLowerCase().includes(q) || s.name.toLowerCase().includes(q)) return true;
  if (s.vhosts.some((v) => v.toLowerCase().includes(q)) || s.paths.some((p) => p.toLowerCase().includes(q)))
    return true;
  return s.backends.some((b) => `${b.host}:${b.port}`.toLowerCase().includes(q));
}

export function summary(s: Service, ctx: ServiceContext): ServiceSummary {
  return {
    id: s.id,
    name: s.name,
    source: s.source,
    servicePort: s.servicePort,
    mode: s.mode,
    vhosts: s.vhosts,
    paths: routedPaths(s),
    acl: s.acl,
    backends: s.backends.slice(0, MAX_SUMMARY_BACKENDS).map(backendView),
    backendCount: s.backends.length,
    serving: s.backends.filter((b) => b.healthy && !b.draining).length,
    held: ctx.held.has(s.id),
    quarantined: (ctx.quarantined.get(s.id)?.length ?? 0) > 0,
  };
}

export function detail(s: Service, snapshot: Snapshot, ctx: ServiceContext, showEnv: boolean): ServiceDetail {
  return {
    ...s,
    paths: routedPaths(s),
    env: showEnv ? { shown: true, values: s.env } : { shown: false, keys: Object.keys(s.env).sort() },
    backends: s.backends.map(backendView),
    rule: snapshot.rules.find((r) => r.id === s.id) ?? null,
    held: ctx.held.get(s.id) ?? null,
    quarantined: ctx.quarantined.get(s.id) ?? [],
  };
}

/** The service with this id, by binary search (the snapshot is sorted by id); null when there is none. */
export function findService(snapshot: Snapshot, id: string): Service | null {
  const list = snapshot.services;
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const at = list[mid]!.id;
    if (at === id) return list[mid]!;
    if (at < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return null;
}

/** As the default templates route it (render/data.ts's rule): its paths, or `/<id>` with neither vhost, path nor acl. */

function backendView(b: Backend): BackendView {
  return { id: b.id, host: b.host, port: b.port, weight: b.weight, healthy: b.healthy, draining: b.draining };
}
