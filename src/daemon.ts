import type { AddressInfo } from 'node:net';
import type { Config } from './config/schema.js';
import { guardRoutes } from './http/guard.js';
import { rulesRoutes } from './http/rules.js';
import { HttpServer, type Route } from './http/server.js';
import { RecentEvents } from './http/views/recent-events.js';
import { viewRoutes } from './http/views/routes.js';
import type { Logger } from './log.js';
import { Metrics } from './metrics.js';
import { watchTemplates } from './render/watch.js';
import { Runner } from './runner.js';
import { FileSource } from './sources/file.js';
import { MarathonSource } from './sources/marathon/source.js';
import type { Source } from './sources/source.js';
import { ZkSession } from './sources/zookeeper/client.js';
import { withLeaderDiscovery, zkEndpointList } from './sources/zookeeper/leader.js';
import { ZookeeperSource } from './sources/zookeeper/registry.js';
import { RulesSource } from './sources/zookeeper/rules.js';
import type { RuleStore } from './state/rule-store.js';
import { StateStore } from './state/store.js';
import { shellExec, type Exec } from './targets/exec.js';
import { Target } from './targets/target.js';

/** Things a caller may replace: tests and benchmarks count commands or add sources. */
export interface DaemonOptions {
  readonly exec?: Exec;
  readonly watchTemplates?: boolean;
  readonly extraRoutes?: readonly Route[];
}

/** The sources a config names, and the store the rules API writes to (null without ZooKeeper). */
export interface Wiring {
  readonly sources: Source[];
  readonly rules: RuleStore | null;
}

/** Builds the sources a config names; the ZooKeeper ones share one session, and the rules source is also the rule store. */
export function createSources(config: Config, log: Logger): Wiring {
  const sources: Source[] = [];
  let rules: RulesSource | null = null;
  const zk = config.zookeeper;
  const session = zk
    ? new ZkSession(zk.connect, { sessionTimeoutMs: zk.sessionTimeoutMs }, log.child({ component: 'zookeeper' }))
    : undefined;
  if (config.marathon) {
    const mlog = log.child({ component: 'marathon' });
    const zkUrl = config.marathon.endpoints[0]!.startsWith('zk://') ? config.marathon.endpoints[0]! : null;
    const leader = zkUrl ? zkEndpointList(zkUrl, mlog, session) : null;
    const marathon = new MarathonSource(config.marathon, mlog, leader ?? undefined);
    sources.push(leader ? withLeaderDiscovery(marathon, leader) : marathon);
  }
  if (config.file) sources.push(new FileSource(config.file.path, log.child({ component: 'file' })));
  if (zk && session) {
    if (zk.registries.length > 0) sources.push(new ZookeeperSource(zk, session, log.child({ component: 'zookeeper' })));
    rules = new RulesSource(session, zk.rulesPath, log.child({ component: 'rules' }));
    sources.push(rules);
  }
  return { sources, rules };
}

export function createTargets(config: Config, log: Logger, exec: Exec = shellExec): Target[] {
  return config.targets.map(
    (t) =>
      new Target(t, {
        exec,
        log: log.child({ component: 'target' }),
        commandTimeoutMs: config.reload.timeoutMs,
        cwd: config.configDir,
        minReloadIntervalMs: config.reload.minIntervalMs,
      }),
  );
}

/** The whole daemon wired from a config: sources → state → runner → targets, with the HTTP face beside. */
export class Daemon {
  readonly metrics = new Metrics();
  readonly runner: Runner;
  readonly http: HttpServer;
  /** The last installs and refusals, for the dashboard. */
  readonly events = new RecentEvents();
  private unwatch: (() => Promise<void>) | null = null;
  address: AddressInfo | null = null;

  constructor(
    readonly config: Config,
    private readonly log: Logger,
    private readonly opts: DaemonOptions = {},
  ) {
    const targets = createTargets(config, log, opts.exec);
    const { sources, rules } = createSources(config, log);
    this.runner = new Runner(
      config,
      new StateStore(config.guard.enabled ? config.guard : null),
      sources,
      targets,
      log.child({ component: 'runner' }),
      this.metrics,
    );
    const routes = [
      ...(opts.extraRoutes ?? []),
      ...rulesRoutes(rules, config.http.token, log.child({ component: 'http' })),
      ...guardRoutes(this.runner, config.http.token),
      ...viewRoutes({ runner: this.runner, events: this.events, showEnv: false }),
    ];
    this.runner.onCycle((results, changed) => this.events.record(results, changed, targets));
    this.http = new HttpServer(this.runner, this.metrics, log.child({ component: 'http' }), routes);
  }

  /** The HTTP listener comes first, so /health answers "starting" while sources sync. */
  async start(): Promise<void> {
    this.address = await this.http.listen(this.config.http.listen);
    this.log.info('http listening', { address: `${this.address.address}:${this.address.port}` });
    await this.runner.start();
    if (this.opts.watchTemplates !== false) {
      const byName = new Map(this.runner.targets.map((t) => [t.name, t]));
      this.unwatch = await watchTemplates(this.config.targets, (name) => this.runner.templateEdited(byName.get(name)!));
    }
  }

  async stop(): Promise<void> {
    await this.unwatch?.();
    await this.runner.stop();
    await this.http.close();
  }
}
