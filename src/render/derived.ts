import type { RenderCache } from './cache.js';
import { escapedId, mesosDnsId } from './names.js';
import type { BambooApp, BambooTask, PathRoute, TemplateService, Vars, VirtualHost } from './data.js';

// The views templates read that are built from every service at once: route
// order, the route table per host, listeners, certificates, Bamboo's apps.
// Built whole they cost O(services) per render. Most events (a task scaled,
// a health check turned) replace services without changing how any of them
// is routed; then each view is the previous one with those services' objects
// swapped in at the places they held, O(changed). Anything else — a service
// added or gone, a vhost, path, port or weight changed — builds the view
// anew, interned so that unchanged routes and apps keep their objects.

/** How routing-wise the services of this render differ from those a view was built from. */
type Delta = { readonly kind: 'swapped'; readonly at: readonly number[] } | { readonly kind: 'rebuilt' };

/** Above this share of swapped services, building anew is as cheap as patching. */
const MAX_SWAPPED_SHARE = 0.25;

/** A view as last built, with the services and vars it was built from. */
interface Built<V> {
  readonly services: readonly TemplateService[];
  readonly vars: Vars;
  readonly value: V;
}

/** A list view with where each service sits in it. */
interface Placed {
  readonly list: readonly TemplateService[];
  readonly at: ReadonlyMap<string, number>;
}

/** Where a route of a service sits: in virtual host `host` (−1: the path routes), at `route`. */
interface RouteAt {
  readonly host: number;
  readonly route: number;
}

/** The route table: virtual hosts and host-less path routes, with each service's routes located. */
export interface RouteTable {
  readonly virtualHosts: readonly VirtualHost[];
  readonly pathRoutes: readonly PathRoute[];
}
interface LocatedTable extends RouteTable {
  readonly at: ReadonlyMap<string, readonly RouteAt[]>;
}

interface AppList {
  readonly list: readonly BambooApp[];
  /** Per app, its services in port order, and where each app sits by its id. */
  readonly ports: readonly (readonly TemplateService[])[];
  readonly at: ReadonlyMap<string, number>;
}

/** One target's derived views, kept from render to render; its RenderCache owns it. */
export class DerivedViews {
  private routes: Built<Placed> | null = null;
  private table: Built<LocatedTable> | null = null;
  private listening: Built<Placed> | null = null;
  private certs: Built<readonly string[]> | null = null;
  private bamboo: Built<AppList> | null = null;
  /** Views reused or patched, and views built anew. */
  hits = 0;
  misses = 0;

  constructor(private readonly cache: RenderCache) {}

  /** HTTP services in the order their routes must be tried (see `httpRoutes`). */
  httpRoutes(services: readonly TemplateService[], vars: Vars): readonly TemplateService[] {
    return (this.routes = this.update(this.routes, services, vars, () => placed(httpRoutes(services)), swapPlaced))
      .value.list;
  }

  routeTable(services: readonly TemplateService[], vars: Vars): RouteTable {
    const routes = this.httpRoutes(services, vars);
    return (this.table = this.update(
      this.table,
      services,
      vars,
      () => routeTable(routes, this.cache),
      (t, swaps) => swapRoutes(t, swaps, this.cache),
    )).value;
  }

  listeners(services: readonly TemplateService[], vars: Vars): readonly TemplateService[] {
    return (this.listening = this.update(
      this.listening,
      services,
      vars,
      () => placed(listeners(services, vars)),
      swapPlaced,
    )).value.list;
  }

  certificates(services: readonly TemplateService[], vars: Vars): readonly string[] {
    return (this.certs = this.update(
      this.certs,
      services,
      vars,
      () => [...new Set(services.flatMap((s) => (s.sslCert ? [s.sslCert] : [])))].sort(),
      (kept) => kept,
    )).value;
  }

  apps(services: readonly TemplateService[], vars: Vars): readonly BambooApp[] {
    return (this.bamboo = this.update(
      this.bamboo,
      services,
      vars,
      () => bambooApps(services, this.cache),
      (a, swaps) => swapApps(a, swaps, this.cache),
    )).value.list;
  }

  private update<V>(
    built: Built<V> | null,
    services: readonly TemplateService[],
    vars: Vars,
    build: () => V,
    swap: (kept: V, swaps: ReadonlyArray<readonly [TemplateService, TemplateService]>) => V,
  ): Built<V> {
    if (built !== null && built.services === services) return built;
    const delta: Delta =
      built === null || built.vars !== vars ? { kind: 'rebuilt' } : compare(built.services, services);
    if (delta.kind === 'rebuilt') {
      this.misses++;
      return { services, vars, value: build() };
    }
    this.hits++;
    const swaps = delta.at.map((i) => [built!.services[i]!, services[i]!] as const);
    return { services, vars, value: swaps.length === 0 ? built!.value : swap(built!.value, swaps) };
  }
}

/** Which services were replaced by ones routed the same way; rebuilt when anything else changed. */
function compare(before: readonly TemplateService[], after: readonly TemplateService[]): Delta {
  if (before.length !== after.length) return { kind: 'rebuilt' };
  const at: number[] = [];
  const limit = Math.max(16, after.length * MAX_SWAPPED_SHARE);
  for (let i = 0; i < after.length; i++) {
    const a = before[i]!;
    const b = after[i]!;
    if (a === b) continue;
    if (!routedAlike(a, b) || at.push(i) > limit) return { kind: 'rebuilt' };
  }
  return { kind: 'swapped', at };
}

/** Everything a derived view's structure depends on is the same: only what a route leads to changed. */
function routedAlike(a: TemplateService, b: TemplateService): boolean {
  return (
    a.id === b.id &&
    a.name === b.name &&
    a.source === b.source &&
    a.portIndex === b.portIndex &&
    a.mode === b.mode &&
    a.acl === b.acl &&
    a.backendWeight === b.backendWeight &&
    a.servicePort === b.servicePort &&
    a.sslCert === b.sslCert &&
    sameItems(a.vhosts, b.vhosts) &&
    sameItems(a.paths, b.paths)
  );
}

function placed(list: readonly TemplateService[]): Placed {
  return { list, at: new Map(list.map((s, i) => [s.id, i] as const)) };
}

function swapPlaced(kept: Placed, swaps: ReadonlyArray<readonly [TemplateService, TemplateService]>): Placed {
  let list: TemplateService[] | null = null;
  for (const [, s] of swaps) {
    const i = kept.at.get(s.id);
    if (i === undefined) continue;
    (list ??= kept.list.slice())[i] = s;
  }
  return list ? { list, at: kept.at } : kept;
}

/**
 * Route order on the shared HTTP listener: explicit ACLs, then host and path,
 * then host only, then path only; within a kind, higher backend weight first
 * (marathon-lb's HAPROXY_{n}_BACKEND_WEIGHT), then longer paths; ties by id,
 * so the order is stable.
 */
export function httpRoutes(services: readonly TemplateService[]): TemplateService[] {
  const rank = (s: TemplateService) =>
    s.acl ? 0 : s.vhosts.length > 0 && s.paths.length > 0 ? 1 : s.vhosts.length > 0 ? 2 : 3;
  const longest = (s: TemplateService) => Math.max(0, ...s.paths.map((p) => p.length));
  return services
    .filter((s) => s.mode === 'http')
    .sort(
      (a, b) =>
        rank(a) - rank(b) ||
        b.backendWeight - a.backendWeight ||
        longest(b) - longest(a) ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
}

/**
 * Host and path routes with every (host, path) pair given to one service: the
 * first in route order. A service with a vhost and no path takes `/` there.
 */
function routeTable(routes: readonly TemplateService[], cache: RenderCache): LocatedTable {
  const hosts = new Map<string, Map<string, TemplateService>>();
  const any = new Map<string, TemplateService>();
  for (const s of routes) {
    if (s.acl) continue;
    const paths = s.paths.length > 0 ? s.paths : ['/'];
    for (const host of s.vhosts.length > 0 ? s.vhosts : [null]) {
      const table = host === null ? any : (hosts.get(host) ?? hosts.set(host, new Map()).get(host)!);
      // `/x` also claims `/x/`: an `/x/` after it in route order goes where `/x` does.
      for (const p of paths)
        if (!table.has(p) && !(p.length > 1 && p.endsWith('/') && table.has(p.slice(0, -1)))) table.set(p, s);
    }
  }
  // NUL cannot occur in a checked host or path, so the keys cannot collide.
  const ordered = (host: string, table: Map<string, TemplateService>): PathRoute[] =>
    [...table]
      .map(([path, service]) =>
        cache.intern(
          'route',
          `${host}\u0000${path}`,
          { path, service, exactOnly: !path.endsWith('/') && table.has(`${path}/`) },
          sameRoute,
          (r) => [r.service.id],
        ),
      )
      .sort((a, b) => b.path.length - a.path.length || (a.path < b.path ? -1 : 1));
  const virtualHosts = [...hosts.keys()]
    .sort()
    .map((host) =>
      cache.intern(
        'vhost',
        host,
        { host, routes: ordered(host, hosts.get(host)!) },
        (a, b) => sameItems(a.routes, b.routes),
        vhostOwners,
      ),
    );
  const pathRoutes = ordered('', any);
  const at = new Map<string, RouteAt[]>();
  const locate = (routes: readonly PathRoute[], host: number) =>
    routes.forEach((r, route) => {
      const list = at.get(r.service.id);
      if (list) list.push({ host, route });
      else at.set(r.service.id, [{ host, route }]);
    });
  virtualHosts.forEach((v, i) => locate(v.routes, i));
  locate(pathRoutes, -1);
  return { virtualHosts, pathRoutes, at };
}

const sameRoute = (a: PathRoute, b: PathRoute) => a.service === b.service && a.exactOnly === b.exactOnly;
const vhostOwners = (v: VirtualHost) => [...new Set(v.routes.map((r) => r.service.id))];

function swapRoutes(
  kept: LocatedTable,
  swaps: ReadonlyArray<readonly [TemplateService, TemplateService]>,
  cache: RenderCache,
): LocatedTable {
  let virtualHosts: VirtualHost[] | null = null;
  let pathRoutes: PathRoute[] | null = null;
  for (const [, s] of swaps) {
    for (const { host, route } of kept.at.get(s.id) ?? []) {
      const routes =
        host < 0
          ? (pathRoutes ??= kept.pathRoutes.slice())
          : (virtualHosts ??= kept.virtualHosts.slice())[host]!.routes.slice();
      const old = routes[route]!;
      const name = host < 0 ? '' : virtualHosts![host]!.host;
      routes[route] = cache.reintern('route', `${name}\u0000${old.path}`, cache.own({ ...old, service: s }, [s.id]));
      if (host >= 0) {
        const vhost = { host: name, routes };
        virtualHosts![host] = cache.reintern('vhost', name, cache.own(vhost, vhostOwners(vhost)));
      }
    }
  }
  return virtualHosts || pathRoutes
    ? { virtualHosts: virtualHosts ?? kept.virtualHosts, pathRoutes: pathRoutes ?? kept.pathRoutes, at: kept.at }
    : kept;
}

function listeners(services: readonly TemplateService[], vars: Vars): TemplateService[] {
  const taken = new Set<number>([Number(vars.httpPort)]);
  const out: TemplateService[] = [];
  for (const s of services) {
    if (s.servicePort === null || taken.has(s.servicePort)) continue;
    taken.add(s.servicePort);
    out.push(s);
  }
  return out;
}

function bambooApps(services: readonly TemplateService[], cache: RenderCache): AppList {
  const byApp = new Map<string, TemplateService[]>();
  for (const s of services) {
    if (s.source !== 'marathon') continue;
    const list = byApp.get(s.name);
    if (list) list.push(s);
    else byApp.set(s.name, [s]);
  }
  const list: BambooApp[] = [];
  const portLists: TemplateService[][] = [];
  const at = new Map<string, number>();
  for (const [id, ports] of byApp) {
    ports.sort((a, b) => a.portIndex - b.portIndex);
    // An app whose port views are the ones the previous render saw is the same app: keep its object.
    const kept = cache.intern('app', id, { ports, app: null as BambooApp | null }, (a, b) =>
      sameItems(a.ports, b.ports),
    );
    at.set(id, list.length);
    portLists.push(ports);
    list.push(
      (kept.app ??= cache.own(
        bambooApp(id, ports),
        ports.map((p) => p.id),
      )),
    );
  }
  return { list, ports: portLists, at };
}

function swapApps(
  kept: AppList,
  swaps: ReadonlyArray<readonly [TemplateService, TemplateService]>,
  cache: RenderCache,
): AppList {
  let list: BambooApp[] | null = null;
  let portLists: (readonly TemplateService[])[] | null = null;
  for (const [, s] of swaps) {
    const i = kept.at.get(s.name);
    if (i === undefined || s.source !== 'marathon') continue;
    const ports = (portLists ??= kept.ports.slice())[i]!.map((p) => (p.id === s.id ? s : p));
    portLists[i] = ports;
    const app = cache.own(
      bambooApp(s.name, ports),
      ports.map((p) => p.id),
    );
    (list ??= kept.list.slice())[i] = app;
    cache.reintern('app', s.name, { ports, app });
  }
  return list ? { list, ports: portLists!, at: kept.at } : kept;
}

/** A Bamboo task while its app's ports are gathered: the ports filled in as each port's backends are seen. */
type BambooTaskDraft = Omit<BambooTask, 'ports'> & { port: number; ports: number[] };

function bambooApp(id: string, ports: readonly TemplateService[]): BambooApp {
  const first = ports[0]!;
  // Bamboo's tasks include unhealthy ones, marked by `alive`; templates choose. Each task's object is built
  // once, in place: at 5000 apps an intermediate entry and a copy per task cost about a third of the first build.
  const tasks = new Map<string, BambooTaskDraft>();
  for (const p of ports) {
    for (const b of p.allBackends) {
      let t = tasks.get(b.id);
      if (!t) {
        const state = b.draining ? 'TASK_KILLING' : 'TASK_RUNNING';
        t = { id: b.id, host: b.host, port: 0, ports: [], alive: b.healthy, ready: !b.draining, state };
        tasks.set(b.id, t);
      }
      // A port Switchyard does not route (disabled, another group) reads 0.
      while (t.ports.length < p.portIndex) t.ports.push(0);
      t.ports[p.portIndex] = b.port;
      if (p === first) t.port = b.port;
    }
  }
  const httpCheck = ports.find((p) => p.healthCheck && p.healthCheck.protocol !== 'TCP')?.healthCheck;
  return {
    id,
    escapedId: escapedId(id),
    mesosDnsId: mesosDnsId(id),
    splitId: id.split('/'),
    healthCheckPath: httpCheck?.path ?? '',
    healthCheckProtocol: httpCheck?.protocol ?? '',
    servicePort: first.servicePort,
    servicePorts: ports.map((p) => p.servicePort),
    env: first.env,
    labels: first.labels,
    tasks: [...tasks.values()],
  };
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
