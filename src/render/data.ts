import type { Backend, Service, Snapshot } from '../state/model.js';
import { RenderCache } from './cache.js';
import { defaultPath, escapedId, safeName } from './names.js';
import type { SlotTable } from './slots.js';

// The data handed to templates. Deterministic: the same snapshot and vars
// always give the same data, so an unchanged registry renders the same bytes.

export type Vars = Readonly<Record<string, string | number | boolean>>;

/** A backend as templates see it: the model's fields, and `name`, the proxy's server name: stable for the same backend. */
export interface TemplateBackend extends Backend {
  readonly name: string;
}

/** A named proxy server slot: a backend's for as long as it lives, or parked (backend null). */
export interface TemplateSlot {
  readonly name: string;
  readonly backend: TemplateBackend | null;
}

/** A service as templates see it: the model's fields plus names and routing worked out once. */
export interface TemplateService extends Omit<Service, 'backends'> {
  readonly escapedId: string;
  readonly safeName: string;
  /** The path prefixes it is reachable at; `/<id>` when it has neither vhost, path nor acl. */
  readonly paths: readonly string[];
  /** Backends to send traffic to: healthy and not draining. */
  readonly backends: readonly TemplateBackend[];
  /** Every known backend, with its health and drain state. */
  readonly allBackends: readonly TemplateBackend[];
  /** Server slots (see slots.ts): stable names, every known backend in one, the rest parked. */
  readonly slots: readonly TemplateSlot[];
}

/** A task as Bamboo templates see it. */
export interface BambooTask {
  readonly id: string;
  readonly host: string;
  /** The port of the app's first routed port. */
  readonly port: number;
  readonly ports: readonly number[];
  /** Passes every Marathon health check (or the app has none). */
  readonly alive: boolean;
  /** Takes new traffic: running, not being killed. */
  readonly ready: boolean;
  /** TASK_RUNNING or TASK_KILLING: Switchyard keeps no task in another state. */
  readonly state: string;
}

/** A Marathon app as Bamboo templates see it. */
export interface BambooApp {
  readonly id: string;
  readonly escapedId: string;
  readonly mesosDnsId: string;
  /** Bamboo's: the id split at `/`, so `/shop/web` is `["", "shop", "web"]`. */
  readonly splitId: readonly string[];
  readonly healthCheckPath: string;
  readonly healthCheckProtocol: string;
  readonly servicePort: number | null;
  readonly servicePorts: readonly (number | null)[];
  readonly env: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly tasks: readonly BambooTask[];
}

/** One path on a virtual host (or on any host) and the service it goes to. */
export interface PathRoute {
  readonly path: string;
  readonly service: TemplateService;
  /**
   * The path alone, not what lies under it: `path/` is another route's (a
   * service routed at `/x/` before this one's `/x`). A route at `/x` otherwise
   * also takes `/x/…`, and nginx refuses two `location ^~ /x/`.
   */
  readonly exactOnly: boolean;
}

/** A Host header value and the paths served under it, longest first; each path goes to exactly one service. */
export interface VirtualHost {
  readonly host: string;
  readonly routes: readonly PathRoute[];
}

/** Everything a template receives. */
export interface TemplateData {
  readonly services: readonly TemplateService[];
  /** HTTP services in the order their routes must be tried: most specific first. */
  readonly httpRoutes: readonly TemplateService[];
  /** The HTTP routes grouped by host, for proxies that route per server block (nginx); hosts sorted. */
  readonly virtualHosts: readonly VirtualHost[];
  /** Routes of services with no vhost, on any host; longest path first. */
  readonly pathRoutes: readonly PathRoute[];
  /** Services with a listener of their own, one per port (the first by id wins a contested port). */
  readonly listeners: readonly TemplateService[];
  /** The distinct certificate files of all services, sorted: what a TLS listener on the shared port serves. */
  readonly certificates: readonly string[];
  readonly apps: readonly BambooApp[];
  readonly vars: Vars;
}

/**
 * The template view of one service: built once per service object (which the
 * state keeps while it is unchanged) and slot assignment, and kept in `cache`.
 */
export function templateService(s: Service, cache: RenderCache, slotIds?: readonly (string | null)[]): TemplateService {
  // A named builder and its arguments, not a closure: a render looks up every service, and a closure each
  // was 5000 allocations per render at 5000 services.
  return cache.view(s, slotIds, ownedTemplateService, cache);
}

/** The path prefixes a service is reachable at: its own, or `/<id>` when it has neither vhost, path nor acl. */
export function routedPaths(s: Service): readonly string[] {
  return s.paths.length > 0 || s.vhosts.length > 0 || s.acl ? s.paths : [defaultPath(s.id)];
}

function ownedTemplateService(s: Service, slotIds: readonly (string | null)[] | undefined, cache: RenderCache) {
  return cache.own(buildTemplateService(s, slotIds), [s.id]);
}

function buildTemplateService(s: Service, slotIds: readonly (string | null)[] | undefined): TemplateService {
  const all = s.backends.map(templateBackend);
  const byId = new Map(all.map((b) => [b.id, b] as const));
  return {
    id: s.id,
    name: s.name,
    source: s.source,
    portIndex: s.portIndex,
    escapedId: escapedId(s.id),
    safeName: safeName(s.id),
    servicePort: s.servicePort,
    mode: s.mode,
    vhosts: s.vhosts,
    paths: routedPaths(s),
    acl: s.acl,
    balance: s.balance,
    sticky: s.sticky,
    healthCheck: s.healthCheck,
    bindAddress: s.bindAddress,
    sslCert: s.sslCert,
    redirectToHttps: s.redirectToHttps,
    backendWeight: s.backendWeight,
    raw: s.raw,
    labels: s.labels,
    env: s.env,
    backends: all.filter((b) => b.healthy && !b.draining),
    allBackends: all,
    slots: (slotIds ?? all.map((b) => b.id)).map((id, i) => ({
      name: `s${i + 1}`,
      backend: id === null ? null : (byId.get(id) ?? null),
    })),
  };
}

function templateBackend(b: Backend): TemplateBackend {
  // Spelled out rather than spread: one object shape for every backend, so the template's lookups stay monomorphic.
  return {
    id: b.id,
    host: b.host,
    port: b.port,
    weight: b.weight,
    healthy: b.healthy,
    draining: b.draining,
    checkPort: b.checkPort,
    name: b.id,
  };
}

/** How a render builds its data: the target's slot placements and its cache. */
export interface DataOptions {
  /** Without one every backend gets a slot of its own and none is parked. */
  readonly slots?: SlotTable;
  /** Without one nothing is kept: a one-off view (`/api/state`) touches no target's cache. */
  readonly cache?: RenderCache;
}

/**
 * Builds the template data for a snapshot. The derived views (routes,
 * listeners, the Bamboo apps) are computed on first use, so a template pays
 * only for what it reads, and interned in the cache, so an unchanged route or
 * app is the object the previous render saw.
 */
export function templateData(snapshot: Snapshot, vars: Vars, options: DataOptions = {}): TemplateData {
  const { slots } = options;
  const cache = options.cache ?? new RenderCache();
  const services = snapshot.services.map((s) => templateService(s, cache, slots?.get(s.id)?.slots));
  const derived = cache.derived;
  const data = { services, vars } as unknown as TemplateData;
  const lazy = <K extends keyof TemplateData>(key: K, get: () => TemplateData[K]) => {
    let value: TemplateData[K] | undefined;
    Object.defineProperty(data, key, { enumerable: true, get: () => (value ??= get()) });
  };
  lazy('httpRoutes', () => derived.httpRoutes(services, vars));
  lazy('virtualHosts', () => derived.routeTable(services, vars).virtualHosts);
  lazy('pathRoutes', () => derived.routeTable(services, vars).pathRoutes);
  lazy('listeners', () => derived.listeners(services, vars));
  lazy('certificates', () => derived.certificates(services, vars));
  lazy('apps', () => derived.apps(services, vars));
  return data;
}
