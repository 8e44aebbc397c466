import type { AddressInfo } from 'node:net';
import type { Config } from './config/schema.js';
import { HttpServer, type Route } from './http/server.js';
import type { Logger } from './log.js';
import { Metrics } from './metrics.js';
import { watchTemplates } from './render/watch.js';
import { Runner } from './runner.js';
import { FileSource } from './sources/file.js';
import { MarathonSource } from './sources/marathon/source.js';
import type { Source } from './sources/source.js';
import { StateStore } from './state/store.js';
import { shellExec, type Exec } from './targets/exec.js';
import { Target } from './targets/target.js';

/** Things a caller may replace: tests and benchmarks count commands or add sources. */
export interface DaemonOptions {
  readonly exec?: Exec;
  readonly watchTemplates?: boolean;
  readonly extraRoutes?: readonly Route[];
}

/** Builds the sources a config names. */
export function createSources(config: Config, log: Logger): Source[] {
  const sources: Source[] = [];
  if (config.marathon) sources.push(new MarathonSource(config.marathon, log.child({ component: 'marathon' })));
  if (config.file) sources.push(new FileSource(config.file.path, log.child({ component: 'file' })));
  return sources;
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
  private unwatch: (() => Promise<void>) | null = null;
  address: AddressInfo | null = null;

  constructor(readonly config: Config, private readonly log: Logger, private readonly opts: DaemonOptions = {}) {
    const targets = createTargets(config, log, opts.exec);
    this.runner = new Runner(config, new StateStore(config.guard.enabled ? config.guard : null), createSources(config, log), targets, log.child({ component: 'runner' }), this.metrics);
    this.http = new HttpServer(this.runner, this.metrics, log.child({ component: 'http' }), opts.extraRoutes);
  }

  /** The HTTP listener comes first, so /health answers "starting" while sources sync. */
  async start(): Promise<void> {
    this.address = await this.http.listen(this.config.http.listen);
    this.log.info('http listening', { address: `${this.address.address}:${this.address.port}` });
    await this.runner.start();
    if (this.opts.watchTemplates !== false) {
      const byName = new Map(this.runner.targets.map((t) => [t.name, t]));
      this.unwatch = watchTemplates(this.config.targets, (name) => this.runner.templateEdited(byName.get(name)!));
    }
  }

  async stop(): Promise<void> {
    await this.unwatch?.();
    await this.runner.stop();
    await this.http.close();
  }
}
