import type { AddressInfo } from 'node:net';
import type { Config } from './config/schema.js';
import { EventLoopWatch } from './event-loop.js';
import { guardRoutes } from './http/guard.js';
import type { BodyLimits } from './http/request.js';
import { rulesRoutes } from './http/rules.js';
import { HttpServer, type Route } from './http/server.js';
import { dashboardRoutes } from './http/dashboard/routes.js';
import { RecentEvents } from './http/views/recent-events.js';
import { viewRoutes } from './http/views/routes.js';
import type { Logger } from './log.js';
import { Metrics } from './metrics.js';
import { watchTemplates } from './render/watch.js';
import { planReconfigure, type ConfigPlan } from './reconfigure.js';
import { Runner } from './runner.js';
import { FileSource } from './sources/file.js';
import { registerFleetMetrics } from './sources/fleet/metrics.js';
import { FleetSource, selfDescription } from './sources/fleet/source.js';
import { MarathonSource } from './sources/marathon/source.js';
import type { Source } from './sources/source.js';
import { ZkSession } from './sources/zookeeper/client.js';
import { withLeaderDiscovery, zkEndpointList } from './sources/zookeeper/leader.js';
import { ZookeeperSource } from './sources/zookeeper/registry.js';
import { RulesSource } from './sources/zookeeper/rules.js';
import type { RuleStore } from './state/rule-store.js';
import { StateStore } from './state/store.js';
import { shellExec, type Exec } from './targets/exec.js';
import { HostResolver } from './targets/hosts/resolver.js';
import { registerHostMetrics } from './targets/hosts/metrics.js';
import { PortProbes } from './targets/prechecks.js';
import { Target } from './targets/target.js';
import { systemClock } from './retry.js';
import { messageOf } from './errors.js';

/** Things a caller may replace: tests and benchmarks count commands or add sources. */
export interface DaemonOptions {
  readonly exec?: Exec;
  readonly watchTemplates?: boolean;
  readonly extraRoutes?: readonly Route[];
}

/** How createSources builds a fleet member: a daemon stands for election, a one-off render reads Marathon itself. */
export interface SourceOptions {
  readonly fleet: false | { readonly self: () => string };
}

/** The sources a config names, and the one of them the rules API writes to (null without ZooKeeper). */
export interface Wiring {
  readonly sources: Source[];
  readonly rules: (Source & RuleStore) | null;
}

/** Builds the sources a config names; the ZooKeeper ones share one session, and the rules source is also the rule store. */
export function createSources(config: Config, log: Logger, opts: SourceOptions = { fleet: false }): Wiring {
  const sources: Source[] = [];
  let rules: RulesSource | null = null;
  const zk = config.zookeeper;
  const session = zk
    ? new ZkSession(zk.connect, { sessionTimeoutMs: zk.sessionTimeoutMs }, log.child({ component: 'zookeeper' }))
    : undefined;
  if (config.marathon) {
    const m = config.marathon;
    const mlog = log.child({ component: 'marathon' });
    const marathon = (): Source => {
      const zkUrl = m.endpoints[0]!.startsWith('zk://') ? m.endpoints[0]! : null;
      const leader = zkUrl ? zkEndpointList(zkUrl, mlog, session) : null;
      const source = new MarathonSource(m, mlog, leader ?? undefined);
      return leader ? withLeaderDiscovery(source, leader) : source;
    };
    if (config.fleet && session && opts.fleet) {
      const flog = log.child({ component: 'fleet' });
      sources.push(new FleetSource(config.fleet, m, session, marathon, flog, { elect: true, self: opts.fleet.self }));
    } else sources.push(marathon());
  }
  if (config.file)
    sources.push(new FileSource(config.file.path, log.child({ component: 'file' }), config.file.maxBytes));
  if (zk && session) {
    if (zk.registries.length > 0) sources.push(new ZookeeperSource(zk, session, log.child({ component: 'zookeeper' })));
    rules = new RulesSource(session, zk.rulesPath, log.child({ component: 'rules' }));
    sources.push(rules);
  }
  return { sources, rules };
}

/**
 * Builds the targets a config names. `ports`: the port probes they share (a
 * daemon keeps one across re-reads of its config); `hosts`: the host name
 * cache of those that resolve hosts (without it, their proxies get the names).
 */
export function createTargets(
  config: Config,
  log: Logger,
  exec: Exec = shellExec,
  ports: PortProbes = new PortProbes(),
  hosts?: HostResolver,
): Target[] {
  return config.targets.map(
    (t) =>
      new Target(t, {
        exec,
        log: log.child({ component: 'target' }),
        commandTimeoutMs: config.reload.timeoutMs,
        cwd: config.configDir,
        minReloadIntervalMs: config.reload.minIntervalMs,
        renderBudgetMs: config.render.budgetMs,
        trialHeapMb: config.render.trialHeapMb,
        ports,
        hosts,
      }),
  );
}

function bodyLimits(config: Config, metrics: Metrics): BodyLimits {
  return {
    maxBytes: config.http.maxBodyBytes,
    maxDepth: config.http.maxBodyDepth,
    exceeded: (limit) => metrics.limitExceeded.inc({ source: 'http', limit }),
  };
}

/** What a re-read config did: applied (with the plan), or refused with the reason, the running config kept. */
export type ReconfigureOutcome =
  { readonly kind: 'applied'; readonly plan: ConfigPlan } | { readonly kind: 'refused'; readonly error: string };

/** The whole daemon wired from a config: sources → state → runner → targets, with the HTTP face beside. */
export class Daemon {
  readonly metrics = new Metrics();
  readonly runner: Runner;
  readonly http: HttpServer;
  private readonly store: StateStore;
  private sources: readonly Source[];
  /** The store the rules API writes to: the running rules source, null without ZooKeeper. */
  private rules: RuleStore | null;
  /** The last installs and refusals, for the dashboard. */
  readonly events = new RecentEvents();
  /** Host names → addresses for the targets that resolve hosts; kept across re-read configs (its settings need a restart). */
  readonly hosts: HostResolver;
  private readonly loop: EventLoopWatch;
  private unwatch: (() => Promise<void>) | null = null;
  /** Re-reads run one after another, in the order the signals came. */
  private reconfiguring: Promise<unknown> = Promise.resolve();
  address: AddressInfo | null = null;
  /** The targets' port probes, kept across re-reads: a rebuilt target's never collide with a kept one's. */
  private readonly ports = new PortProbes();

  constructor(
    private current: Config,
    private readonly log: Logger,
    private readonly opts: DaemonOptions = {},
  ) {
    this.hosts = new HostResolver(current.resolve, systemClock, log.child({ component: 'hosts' }));
    registerHostMetrics(this.metrics.registry, this.hosts);
    const targets = createTargets(current, log, opts.exec, this.ports, this.hosts);
    ({ sources: this.sources, rules: this.rules } = createSources(current, log, this.sourceOptions));
    this.store = new StateStore(current.guard.enabled ? current.guard : null);
    if (current.fleet) registerFleetMetrics(this.metrics.registry, () => this.fleet());
    this.runner = new Runner(
      current,
      this.store,
      this.sources,
      targets,
      log.child({ component: 'runner' }),
      this.metrics,
    );
    this.runner.onCycle((results, changed) => this.events.record(results, changed, this.runner.targets));
    this.hosts.onChange(() => this.runner.inputChanged());
    this.http = new HttpServer(
      this.runner,
      this.metrics,
      log.child({ component: 'http' }),
      this.routes(),
      () => this.current.http,
      () => {
        const fleet = this.fleet();
        return fleet ? { fleet: fleet.fleetStatus() } : {};
      },
    );
    this.loop = new EventLoopWatch(
      this.metrics,
      log.child({ component: 'event-loop' }),
      () => this.current.log.eventLoopWarnMs,
    );
  }

  /** The config running now (the last one a re-read applied). */
  get config(): Config {
    return this.current;
  }

  /** The HTTP listener comes first, so /health answers "starting" while sources sync. */
  async start(): Promise<void> {
    this.loop.start();
    this.address = await this.http.listen(this.current.http.listen);
    this.log.info('http listening', { address: `${this.address.address}:${this.address.port}` });
    await this.runner.start();
    await this.watch();
  }

  async stop(): Promise<void> {
    await this.reconfiguring;
    await this.unwatch?.();
    this.unwatch = null;
    await this.runner.stop();
    this.hosts.close();
    await this.http.close();
    this.loop.stop();
  }

  /**
   * SIGHUP: takes a new config from `load`, and the templates afresh. Sources
   * and targets whose settings did not change keep running; the others are
   * rebuilt; reload and guard settings apply in place. A config that does not
   * load, or names a template that does not compile, is refused whole: the
   * running one stays, and /health says so until a re-read succeeds.
   */
  reconfigure(load: () => Config): Promise<ReconfigureOutcome> {
    const next = this.reconfiguring.then(() => this.applyConfig(load));
    this.reconfiguring = next;
    return next;
  }

  private async applyConfig(load: () => Config): Promise<ReconfigureOutcome> {
    let next: Config;
    try {
      next = load();
    } catch (e) {
      return this.refuse(messageOf(e));
    }
    const built = createSources(next, this.log, this.sourceOptions);
    const plan = planReconfigure(this.current, next, {
      before: this.sources.map((s) => s.name),
      after: built.sources.map((s) => s.name),
    });
    const rebuild = new Set([...plan.targetsChanged, ...plan.targetsAdded]);
    const fresh = new Map(
      createTargets(
        { ...next, targets: next.targets.filter((t) => rebuild.has(t.name)) },
        this.log,
        this.opts.exec,
        this.ports,
        this.hosts,
      ).map((t) => [t.name, t]),
    );
    await Promise.all([...fresh.values()].map((t) => t.init()));
    const unusable = [...fresh.values()].find((t) => t.status().templateError !== null);
    if (unusable) return this.refuse(`target "${unusable.name}": ${unusable.status().templateError}`);

    const oldTargets = new Map(this.runner.targets.map((t) => [t.name, t]));
    const targets = next.targets.map((t) => fresh.get(t.name) ?? oldTargets.get(t.name)!);
    const keptSources = new Set(plan.sourcesKept);
    const sources = built.sources.map((s) =>
      keptSources.has(s.name) ? this.sources.find((o) => o.name === s.name)! : s,
    );
    this.sources = sources;
    // The rules source, kept or rebuilt like any source, is the store the API writes to.
    this.rules = built.rules && keptSources.has(built.rules.name) ? this.rules : built.rules;
    this.current = next;
    this.store.setGuard(next.guard.enabled ? next.guard : null);
    await this.runner.reconfigure({ sources, targets, reload: next.reload, guard: next.guard });
    this.http.setRoutes(this.routes());
    await this.unwatch?.();
    await this.watch();
    // A SIGHUP re-reads the templates too; a kept target tries its template afresh, keeping the old one if it fails.
    for (const t of targets) if (!fresh.has(t.name)) this.runner.templateEdited(t);
    this.runner.setConfigProblem(null);
    this.log.info('config re-read and applied', { ...plan });
    if (plan.needRestart.length > 0)
      this.log.warn('config keys changed that take effect only at the next start', { keys: plan.needRestart });
    return { kind: 'applied', plan };
  }

  private refuse(error: string): ReconfigureOutcome {
    this.runner.setConfigProblem(error);
    this.log.error('new config refused; the running config stays', { error });
    return { kind: 'refused', error };
  }

  /** A daemon stands for its fleet's election, and names itself by its HTTP address. */
  private readonly sourceOptions: SourceOptions = {
    fleet: {
      self: () =>
        selfDescription(this.address ? `${this.address.address}:${this.address.port}` : this.current.http.listen),
    },
  };

  private fleet(): FleetSource | null {
    return this.sources.find((s): s is FleetSource => s instanceof FleetSource) ?? null;
  }

  private routes(): Route[] {
    return [
      ...(this.opts.extraRoutes ?? []),
      ...rulesRoutes(
        this.rules,
        this.current.http.token,
        this.log.child({ component: 'http' }),
        bodyLimits(this.current, this.metrics),
      ),
      ...guardRoutes(this.runner, this.current.http.token, bodyLimits(this.current, this.metrics)),
      ...viewRoutes({
        runner: this.runner,
        events: this.events,
        showEnv: this.current.http.exposeEnv,
        rules: this.rules !== null,
      }),
      ...dashboardRoutes(),
    ];
  }

  private async watch(): Promise<void> {
    if (this.opts.watchTemplates === false) return;
    const byName = new Map(this.runner.targets.map((t) => [t.name, t]));
    this.unwatch = await watchTemplates(this.current.targets, (name) => {
      const target = byName.get(name);
      if (target && this.runner.targets.includes(target)) this.runner.templateEdited(target);
    });
  }
}
