import type { Config, TargetConfig } from './config/schema.js';

/**
 * What a new config changes against the running one, by the parts of the
 * daemon that can be swapped one at a time: a source or target whose
 * settings are the same keeps running (its connection, its state, its
 * installed config); only what differs is rebuilt.
 */
export interface ConfigPlan {
  /** Source names whose settings differ (rebuilt) or that the new config no longer has (stopped). */
  readonly sourcesChanged: readonly string[];
  readonly sourcesRemoved: readonly string[];
  readonly sourcesAdded: readonly string[];
  readonly sourcesKept: readonly string[];
  readonly targetsChanged: readonly string[];
  readonly targetsRemoved: readonly string[];
  readonly targetsAdded: readonly string[];
  readonly targetsKept: readonly string[];
  /** Runner and guard settings (reload timings, drop guard) differ: applied in place. */
  readonly settingsChanged: readonly string[];
  /** Keys that changed but only take effect at the next start (the listener, the logger). */
  readonly needRestart: readonly string[];
}

/**
 * The config each source is built from, by source name: equal settings mean
 * the running source is the one the new config would build. A source this
 * does not know is rebuilt on any change outside targets and the runner's
 * settings, which is wasteful at worst.
 */
function sourceSettings(config: Config, name: string): string {
  const { marathon, zookeeper, file } = config;
  switch (name) {
    case 'marathon': {
      // A fleet member's Marathon view comes through ZooKeeper too.
      const viaZk = marathon?.endpoints.some((e) => e.startsWith('zk://')) || config.fleet !== undefined;
      return JSON.stringify({ marathon, zookeeper: viaZk ? zookeeper : undefined, fleet: config.fleet });
    }
    case 'file':
      return JSON.stringify(file);
    case 'zookeeper':
    case 'rules':
      return JSON.stringify(zookeeper);
    default:
      return JSON.stringify({
        ...config,
        targets: 0,
        reload: 0,
        render: 0,
        guard: 0,
        http: 0,
        log: 0,
        resolve: 0,
        ignoredEnv: 0,
      });
  }
}

/** A target is built from its own config and these: a change of any of them builds it anew. */
const targetSettings = (c: Config, t: TargetConfig) =>
  JSON.stringify({
    t,
    dir: c.configDir,
    timeoutMs: c.reload.timeoutMs,
    minIntervalMs: c.reload.minIntervalMs,
    budgetMs: c.render.budgetMs,
    trialHeapMb: c.render.trialHeapMb,
  });

/** Compares two configs; `before` and `after` name the sources each one builds. */
export function planReconfigure(
  current: Config,
  next: Config,
  sources: { readonly before: readonly string[]; readonly after: readonly string[] },
): ConfigPlan {
  const sourcesChanged: string[] = [];
  const sourcesKept: string[] = [];
  for (const name of sources.before.filter((n) => sources.after.includes(n))) {
    (sourceSettings(current, name) === sourceSettings(next, name) ? sourcesKept : sourcesChanged).push(name);
  }
  const oldTargets = new Map(current.targets.map((t) => [t.name, t]));
  const newTargets = new Map(next.targets.map((t) => [t.name, t]));
  const targetsChanged: string[] = [];
  const targetsKept: string[] = [];
  for (const [name, t] of newTargets) {
    const old = oldTargets.get(name);
    if (old) (targetSettings(current, old) === targetSettings(next, t) ? targetsKept : targetsChanged).push(name);
  }
  const differs = (key: 'reload' | 'guard' | 'http' | 'log' | 'resolve') =>
    JSON.stringify(current[key]) !== JSON.stringify(next[key]);
  return {
    sourcesChanged,
    sourcesRemoved: sources.before.filter((n) => !sources.after.includes(n)),
    sourcesAdded: sources.after.filter((n) => !sources.before.includes(n)),
    sourcesKept,
    targetsChanged,
    targetsRemoved: [...oldTargets.keys()].filter((n) => !newTargets.has(n)),
    targetsAdded: [...newTargets.keys()].filter((n) => !oldTargets.has(n)),
    targetsKept,
    settingsChanged: (['reload', 'guard'] as const).filter(differs),
    needRestart: [
      ...(['listen', 'maxHeaderBytes', 'clientTimeoutMs'] as const)
        .filter((k) => current.http[k] !== next.http[k])
        .map((k) => `http.${k}`),
      ...(differs('log') ? ['log'] : []),
      ...(differs('resolve') ? ['resolve'] : []),
    ],
  };
}
