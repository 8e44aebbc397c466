import { ConfigError, loadConfig } from './config/load.js';
import { containFaults } from './containment.js';
import type { Config, TargetConfig } from './config/schema.js';
import { createSources, createTargets, Daemon } from './daemon.js';
import { systemClock } from './retry.js';
import { HostResolver } from './targets/hosts/resolver.js';
import { createLogger, type Logger } from './log.js';
import { unifiedDiff } from './render/diff.js';
import { sampleSnapshot } from './render/sample.js';
import type { Change, Snapshot } from './state/model.js';
import { StateStore } from './state/store.js';
import { readInstalled } from './targets/install.js';
import { VERSION } from './version.js';
import { messageOf } from './errors.js';

/** Options of `render`. */
export interface CommandOptions {
  readonly target?: string;
  readonly diff: boolean;
  readonly timeoutMs: number;
  /** Called once the daemon has installed its first config (see LaunchHooks in cli.ts). */
  readonly warm?: () => void;
}

/** Loads the config and runs one command; resolves with the exit code. */
export async function runCommand(
  command: 'serve' | 'render' | 'check',
  file: string,
  opts: CommandOptions,
): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(file);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`switchyard: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const log = createLogger(config.log.level, config.log.format);
  for (const v of config.ignoredEnv)
    log.debug('environment variable ignored: not a config key, set by an orchestrator', {
      variable: v.name,
      setBy: v.setBy,
    });
  switch (command) {
    case 'serve':
      return serve(file, config, log, opts.warm);
    case 'render':
      return render(config, log, opts.target, opts.diff, opts.timeoutMs);
    default:
      return check(config, log);
  }
}

async function serve(file: string, config: Config, log: Logger, warm?: () => void): Promise<number> {
  const daemon = new Daemon(config, log);
  const uncontain = containFaults(log, daemon.metrics);
  if (warm) {
    // Off the first config's path: making the cache takes a few milliseconds.
    const off = daemon.runner.onCycle(() => {
      off();
      setTimeout(warm, 500).unref();
    });
  }
  // Taken before start-up: a SIGTERM while sources connect still ends in an orderly stop.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  // Node's default for SIGHUP is to exit (129): a systemd ExecReload=kill -HUP would take the edge down.
  const hangup = () => {
    log.info('SIGHUP: re-reading the config and the templates', { file });
    void daemon.reconfigure(() => loadConfig(file));
  };
  process.on('SIGHUP', hangup);
  try {
    await daemon.start();
  } catch (e) {
    log.error('cannot start', { error: e });
    await daemon.stop().catch(() => undefined);
    uncontain();
    return 1;
  }
  log.info('switchyard running', { version: VERSION, targets: config.targets.map((t) => t.name) });
  const signal = await stopSignal;
  process.off('SIGHUP', hangup);
  log.info('stopping', { signal });
  try {
    await daemon.stop();
    return 0;
  } catch (e) {
    log.error('stop failed', { error: e });
    return 1;
  } finally {
    uncontain();
  }
}

function pickTarget(config: Config, name: string | undefined): TargetConfig | null {
  return name === undefined ? config.targets[0]! : (config.targets.find((t) => t.name === name) ?? null);
}

function print(text: string): number {
  process.stdout.write(text);
  return 0;
}

async function render(
  config: Config,
  log: Logger,
  name: string | undefined,
  diff: boolean,
  timeoutMs: number,
): Promise<number> {
  const targetConfig = pickTarget(config, name);
  if (!targetConfig) {
    process.stderr.write(
      `switchyard render: no target named "${name}" (targets: ${config.targets.map((t) => t.name).join(', ')})\n`,
    );
    return 1;
  }
  let snapshot: Snapshot;
  try {
    snapshot = await fetchOnce(config, log, timeoutMs);
  } catch (e) {
    process.stderr.write(`switchyard render: ${messageOf(e)}\n`);
    return 1;
  }
  const hosts = new HostResolver(config.resolve, systemClock, log.child({ component: 'hosts' }));
  const [target] = createTargets({ ...config, targets: [targetConfig] }, log, undefined, undefined, hosts);
  await target!.init();
  let text: string;
  try {
    await target!.prepare(snapshot);
    text = target!.render(snapshot);
  } catch (e) {
    process.stderr.write(`switchyard render: ${messageOf(e)}\n`);
    return 1;
  } finally {
    hosts.close();
  }
  for (const p of target!.status().hosts)
    process.stderr.write(
      `switchyard render: host ${p.host} (${p.state}): ${p.reason}; services ${p.services.join(', ')}\n`,
    );
  if (!diff) return print(text);
  const installed = (await readInstalled(targetConfig.output)) ?? '';
  const patch = unifiedDiff(installed, text, targetConfig.output, `${targetConfig.output} (rendered)`);
  process.stdout.write(patch);
  // As diff(1) does, so that a drift check can be `switchyard render --diff || alert`.
  return patch === '' ? 0 : 1;
}

/** Starts every source, waits until each has delivered a complete view, stops them, and returns the state. */
async function fetchOnce(config: Config, log: Logger, timeoutMs: number): Promise<Snapshot> {
  const store = new StateStore();
  const { sources } = createSources(config, log);
  const pending = new Set(sources.map((s) => s.name));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const why = sources
          .filter((s) => pending.has(s.name))
          .map((s) => `${s.name}: ${s.status().lastError ?? 'no answer yet'}`);
        reject(new Error(`sources not synced after ${timeoutMs} ms (${why.join('; ')})`));
      }, timeoutMs);
      const sink = (name: string) => (c: Change) => {
        store.apply(c);
        if (c.kind === 'sync') pending.delete(name);
        if (pending.size === 0) {
          clearTimeout(timer);
          resolve();
        }
      };
      for (const s of sources) s.start(sink(s.name)).catch(reject);
    });
  } finally {
    await Promise.all(sources.map((s) => s.stop()));
  }
  return store.snapshot();
}

async function check(config: Config, log: Logger): Promise<number> {
  const snapshot = sampleSnapshot();
  let failed = 0;
  for (const targetConfig of config.targets) {
    const [target] = createTargets({ ...config, targets: [targetConfig] }, log);
    await target!.init();
    const problem = target!.status().templateError;
    if (problem) {
      process.stderr.write(`${targetConfig.name}: template: ${problem}\n`);
      failed++;
      continue;
    }
    const findings = target!.templateFindings();
    for (const f of findings) process.stderr.write(`${targetConfig.name}: template: ${f}\n`);
    if (findings.length > 0) failed++;
    let text: string;
    try {
      text = target!.render(snapshot);
    } catch (e) {
      process.stderr.write(`${targetConfig.name}: render: ${messageOf(e)}\n`);
      failed++;
      continue;
    }
    const refused = await target!.validateText(text);
    if (refused) {
      process.stderr.write(`${targetConfig.name}: validate: ${refused.message}\n`);
      failed++;
    } else if (findings.length === 0) process.stderr.write(`${targetConfig.name}: ok\n`);
  }
  return failed === 0 ? 0 : 1;
}
