import type { TargetConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { RenderCache, type CacheCounts, type LoopMisses } from '../render/cache.js';
import { templateData } from '../render/data.js';
import { changedFragments, type Rendered } from '../render/fragments.js';
import { allocateSlots, DEFAULT_MIN_SLOTS, slotMap, type SlotHint, type SlotTable } from '../render/slots.js';
import { RenderBudgetExceeded } from '../render/budget.js';
import { formatFinding } from '../render/lint.js';
import { loadTemplate, type CompiledTemplate } from '../render/template.js';
import { isShipped } from '../render/shipped.js';
import { trialRender } from '../render/trial.js';
import type { Service, Snapshot } from '../state/model.js';
import { shellQuote, type Exec } from './exec.js';
import { HaproxyLive, type LiveUpdater } from './haproxy/live.js';
import { slotHint } from './haproxy/servers.js';
import { HostAddresses, type HostProblem } from './hosts/addresses.js';
import { readLastAddresses, writeLastAddresses } from './hosts/last-addresses.js';
import type { HostResolver } from './hosts/resolver.js';
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { messageOf, stackOf } from '../errors.js';
import { installText, readInstalled, writeCandidate } from './install.js';
import { templateDigest } from './record.js';
import { describeRefusal } from './refusal.js';
import { Installed } from './installed.js';
import { conflicts } from './conflicts.js';
import { replacedAt } from '../state/replaced.js';
import { systemClock, type Clock } from '../retry.js';
import { listenerPorts, listensOn } from './listeners.js';
import { PortProbes, precheckAll, readsCertificates, reservedPorts, type PrecheckContext } from './prechecks.js';
import {
  linesNamed,
  messageFor,
  ownersOfLines,
  Quarantine,
  type Finding,
  type QuarantineEntry,
  type QuarantineEvents,
} from './quarantine.js';

/** The step of the pipeline a failure happened in; `fault` when something threw past every step's own handling. */
export type Stage = 'template' | 'render' | 'validate' | 'install' | 'reload' | 'fault';

/** A failure of one stage of a target, with what caused it; `limit` is the config key of a limit that stopped it. */
export class TargetError extends Error {
  override name = 'TargetError';
  readonly limit: string | null;
  constructor(
    readonly stage: Stage,
    message: string,
    options?: { cause?: unknown; limit?: string },
  ) {
    super(message, options);
    this.limit = options?.limit ?? null;
  }
}

/** How an installed config reached the proxy: the runtime API, a reload, or only the file (no reload command). */
export type InstallHow = 'live' | 'reload' | 'file';

/** What every attempt reports, whatever it did. */
interface Attempt {
  readonly target: string;
  /** The snapshot version attempted; -1 when there was none (a template edit before the first sync). */
  readonly version: number;
  readonly ms: number;
  /** Milliseconds spent in each stage that ran. */
  readonly stages: Readonly<Partial<Record<Stage, number>>>;
}

/** What one attempt to bring a target up to date did. */
export type ApplyResult =
  /** The proxy already runs this config: nothing written, nothing reloaded. */
  | (Attempt & { readonly kind: 'unchanged' })
  /** The config is installed; `commands` are the runtime API commands of a live update (empty otherwise). */
  | (Attempt & { readonly kind: 'installed'; readonly how: InstallHow; readonly commands: readonly string[] })
  /** A reload was due sooner than `reload.minIntervalMs` allows: try again in `retryInMs`. */
  | (Attempt & { readonly kind: 'deferred'; readonly retryInMs: number })
  /** A stage failed; the last good config stays installed. */
  | (Attempt & { readonly kind: 'failed'; readonly error: TargetError });

/** A target's account of itself, for /health and /metrics. */
export interface TargetStatus {
  readonly name: string;
  readonly ok: boolean;
  readonly stage: Stage | null;
  readonly lastError: string | null;
  /** Epoch ms of the last attempt that succeeded, or null. */
  readonly lastSuccessAt: number | null;
  /** The snapshot version the installed file was rendered from, or null. */
  readonly version: number | null;
  /** A template edit that was refused; the previous template is still the active one. */
  readonly templateError: string | null;
  /** Host names that cost backends their place or serve an old address (targets that resolve hosts); not a failure. */
  readonly hosts: readonly HostProblem[];
}

export interface TargetDeps {
  readonly exec: Exec;
  readonly log: Logger;
  /** Limit for validate and reload commands. */
  readonly commandTimeoutMs: number;
  /** Where validate and reload commands run: the config file's directory. */
  readonly cwd: string;
  /** The least time between two reloads; live updates are not held back by it. */
  readonly minReloadIntervalMs?: number;
  /** What reload intervals and success times are read from; the system clock when left out. */
  readonly clock?: Clock;
  /** Replaces the live updater the config implies (tests). */
  readonly live?: LiveUpdater | null;
  /** A render running longer is stopped (render.budgetMs); none when left out. */
  readonly renderBudgetMs?: number;
  /**
   * Each new template version first renders in a worker thread with this
   * heap limit (render.trialHeapMb) and the budget as its deadline; only a
   * version that passed renders on the main thread. No trials when left out.
   */
  readonly trialHeapMb?: number;
  /** The daemon's host name cache, used when the target resolves hosts (see `resolvesHosts`). */
  readonly hosts?: HostResolver;
  /** Port probes of the pre-checks, shared by the daemon's targets so that theirs never collide; the target's own when left out. */
  readonly ports?: PortProbes;
}

/**
 * Whether a target hands its proxy addresses instead of host names: as its
 * config says, else when its validate or reload command runs nginx, which
 * refuses a whole config over one name it cannot resolve. HAProxy resolves
 * by itself (`init-addr libc,last,none` in the default template).
 */
export function resolvesHosts(config: Pick<TargetConfig, 'resolveHosts' | 'validate' | 'reload'>): boolean {
  return config.resolveHosts ?? /\bnginx\b/.test(`${config.validate}\n${config.reload}`);
}

/** Validations one attempt may run to isolate refused services: enough for several bisections over thousands. */
const MAX_VALIDATIONS = 40;

function quarantineEvents(target: string, deps: TargetDeps): QuarantineEvents {
  return {
    entered(entry) {
      deps.log.warn('service quarantined; the rest of the config installs without it', { ...entry });
    },
    released(service) {
      deps.log.info('service out of quarantine', { target, service });
    },
  };
}

/**
 * One proxy config: render → compare with what is installed → validate a
 * candidate beside the output → rename it into place → reload. With a
 * runtime API, a change of membership only is applied live and the file
 * installed without validate or reload; anything else, or a refused live
 * update, takes the reload path. Any failure leaves the last good file
 * installed and is remembered until an attempt succeeds. Calls must not
 * overlap; the runner sees to that.
 */
export class Target {
  readonly name: string;
  private template: CompiledTemplate | null = null;
  /** An edited template not yet installed: the next attempt tries it, and it replaces `template` once one succeeds. */
  private candidate: CompiledTemplate | null = null;
  /** What is installed: the one owner of the installed bytes and the fragments they came from. */
  private installed: Installed | null = null;
  private last: ApplyResult | null = null;
  private lastSuccessAt: number | null = null;
  private installedVersion: number | null = null;
  private templateError: string | null = null;
  /** The lint findings last warned of, one per line: a re-read finding the same warns no more. */
  private lintWarned = '';
  /** Slot placements of the installed config; the next render starts from them. */
  private slots: SlotTable = new Map();
  /** Slot placements read from the file found installed at start, used until a render replaces them. */
  private hint: SlotHint | undefined;
  private readonly minSlots: number;
  private readonly live: LiveUpdater | null;
  private lastReloadAt = -Infinity;
  /** This target's views and fragments, kept between renders; nobody else's renders touch it. */
  private readonly cache = new RenderCache();
  /** The snapshot the installed config was rendered from (quarantined services at their last good version). */
  private installedSnapshot: Snapshot | null = null;
  /** Listener ports of the file found installed at start: the proxy's own until this target installs one. */
  private startPorts = new Set<number>();
  /**
   * A config placed with no previous one to restore whose reload failed (the
   * proxy was not running yet): the proxy may since have started on it.
   */
  private unconfirmed: Snapshot | null = null;
  private runningPortsIndex: { of: readonly (Snapshot | null)[]; ports: ReadonlySet<number> } | null = null;
  private lastGoodIndex: { of: Snapshot | null; byId: ReadonlyMap<string, Service> } | null = null;
  private readonly quarantine: Quarantine;
  /** Template versions that passed their render trial (or could not have one): these render on the main thread. */
  private readonly tried = new WeakSet<CompiledTemplate>();
  /** Backend host names as addresses, when this target resolves them; null: the proxy is given the names. */
  private readonly addresses: HostAddresses | null;
  private hostProblems: readonly HostProblem[] = [];
  /** The resolver's generation when the addresses were last written beside the output; -1: not yet. */
  private addressesKept = -1;
  private readonly ports: PortProbes;
  private readonly clock: Clock;

  constructor(
    readonly config: TargetConfig,
    private readonly deps: TargetDeps,
  ) {
    this.name = config.name;
    const min = Number(config.vars.serverSlots);
    this.minSlots = Number.isInteger(min) && min >= 1 && min <= 1024 ? min : DEFAULT_MIN_SLOTS;
    const stateFile = typeof config.vars.serverStateFile === 'string' ? config.vars.serverStateFile : null;
    this.live =
      deps.live !== undefined ? deps.live : config.runtimeApi ? new HaproxyLive(config.runtimeApi, stateFile) : null;
    this.clock = deps.clock ?? systemClock;
    this.quarantine = new Quarantine(config.name, quarantineEvents(config.name, deps), () => this.clock.now());
    this.addresses = deps.hosts && resolvesHosts(config) ? new HostAddresses(deps.hosts) : null;
    this.ports = deps.ports ?? new PortProbes();
  }

  /**
   * Looks up the host names of `snapshot` this target has not seen (waiting
   * at most the resolver's timeout), so that a render of it finds their
   * addresses; nothing to do for a target that does not resolve hosts.
   */
  async prepare(snapshot: Snapshot): Promise<void> {
    if (this.addresses) await this.deps.hosts!.prepare(this.addresses.names(snapshot));
  }

  /** Prepares `snapshot` for an apply: its names are the ones this target wants kept from now on. */
  private async prepareToApply(snapshot: Snapshot): Promise<void> {
    this.addresses?.remember(snapshot);
    await this.prepare(snapshot);
  }

  /** The snapshot as this target's proxy is to see it: host names replaced by addresses when it resolves them. */
  private resolved(snapshot: Snapshot): ReturnType<HostAddresses['apply']> {
    return this.addresses ? this.addresses.apply(snapshot) : { snapshot, problems: [] };
  }

  /**
   * Keeps the addresses an install of `snapshot` used beside the output, for
   * the next run to start from — when an answer changed since the last time
   * (a new name's first answer included): a name gone stays in the file
   * until then, harmless (the next run forgets it at its first refresh).
   */
  private async keepAddresses(snapshot: Snapshot): Promise<void> {
    if (!this.addresses) return;
    const generation = this.deps.hosts!.generation;
    if (generation === this.addressesKept) return;
    try {
      await writeLastAddresses(this.config.output, this.addresses.used(snapshot));
      this.addressesKept = generation;
    } catch (e) {
      this.deps.log.warn('could not keep the addresses of the install for the next run', {
        target: this.name,
        error: messageOf(e),
      });
    }
  }

  /** The services left out of (or held at their last good version in) this target's config, and why. */
  quarantined(): QuarantineEntry[] {
    return this.quarantine.entries();
  }

  /** When a quarantined service is next due to be tried again; null when none is held. */
  quarantineRetryInMs(): number | null {
    return this.quarantine.nextRetryInMs();
  }

  /** Loads the template and reads what is installed now. A bad template is recorded, not thrown: the daemon must run on. */
  async init(): Promise<void> {
    try {
      this.template = this.linted(await loadTemplate(this.config.template, { budgetMs: this.deps.renderBudgetMs }));
    } catch (e) {
      this.templateError = messageOf(e);
      this.deps.log.error('template unusable', { target: this.name, error: this.templateError });
    }
    if (this.addresses) this.deps.hosts!.seed(await readLastAddresses(this.config.output));
    const text = await readInstalled(this.config.output).catch(() => null);
    if (text !== null) {
      this.installed = Installed.fromText(text);
      this.hint = slotHint(text);
      this.startPorts = listenerPorts(text);
    }
  }

  /** The installed config as the fragments of the render that produced it; null when it came from elsewhere (the file found at start). Read-only: the dashboard diffs installs with it. */
  installedParts(): readonly string[] | null {
    return this.installed?.fragments ?? null;
  }
  /** The bytes of the installed config as this process wrote them; null when it has installed nothing. */
  installedBytes(): Buffer | null {
    return this.installed?.bytes ?? null;
  }

  /**
   * The proxy does not run what the installed file says (a process killed
   * between install and reload, or in a runtime batch): the next apply
   * compares with `actual`, what it runs, or takes the reload path when that
   * is unknown (null).
   */
  startFrom(actual: string | null): void {
    this.installed = actual === null ? null : Installed.fromText(actual);
  }

  /**
   * Warns, once per template version, of fields it reads that the data does
   * not have: they render as nothing. A warning, not a refusal, so a template
   * that ran before the lint existed keeps running; `check` fails on them. A
   * re-read that finds the same (SIGHUP re-reads every template) says nothing new.
   */
  private linted(template: CompiledTemplate): CompiledTemplate {
    const findings = template.findings.map(formatFinding);
    const said = findings.join('\n');
    if (findings.length > 0 && said !== this.lintWarned)
      this.deps.log.warn('template reads what the template data does not have; it renders as nothing', {
        target: this.name,
        template: this.config.template,
        findings,
      });
    this.lintWarned = said;
    return template;
  }

  /** What the loaded template reads that the data does not have (`check` reports these as errors). */
  templateFindings(): readonly string[] {
    return (this.candidate ?? this.template)?.findings.map(formatFinding) ?? [];
  }

  /**
   * At start: the install record says the template version of this digest
   * rendered a config the proxy took on this host. If it is the version just
   * loaded, it needs no render trial (the budget still guards its renders).
   */
  proven(templateSha256: string): void {
    if (!this.template || templateDigest(this.template.texts) !== templateSha256) return;
    this.tried.add(this.template);
    this.deps.log.debug('template proven by the last install; no render trial', { target: this.name });
  }

  /** The digest of the active template version once it has passed its render trial (for the install record); null before. */
  provenTemplate(): string | null {
    return this.template && this.tried.has(this.template) ? templateDigest(this.template.texts) : null;
  }

  /** The template files to watch for edits. */
  templateFiles(): readonly string[] {
    return (this.candidate ?? this.template)?.files ?? [this.config.template];
  }

  /** The config text for a snapshot; throws a TemplateError or HelperRefusal. */
  render(snapshot: Snapshot): string {
    const { snapshot: input, problems } = this.resolved(snapshot);
    this.hostProblems = problems;
    return this.renderFragments(input, this.template, this.nextSlots(input)).fragments.join('');
  }

  /**
   * The config text for a snapshot with this target's template, vars and
   * slot placements, but a render cache of its own: what the dashboard shows
   * of one service. A one-service render through the target's cache would end
   * its generation of derived views, and the next apply would build them again.
   */
  renderApart(snapshot: Snapshot): string {
    if (!this.template) throw new Error(this.templateError ?? `${this.config.template}: template not loaded`);
    const cache = new RenderCache();
    const input = this.resolved(snapshot).snapshot;
    const data = templateData(input, this.config.vars, { slots: this.nextSlots(input), cache });
    return this.template.renderFragments(data, cache).fragments.join('');
  }

  private renderFragments(snapshot: Snapshot, template: CompiledTemplate | null, slots: SlotTable): Rendered {
    if (!template) throw new Error(this.templateError ?? `${this.config.template}: template not loaded`);
    return template.renderFragments(templateData(snapshot, this.config.vars, { slots, cache: this.cache }), this.cache);
  }

  private nextSlots(snapshot: Snapshot): SlotTable {
    return allocateSlots(this.slots, snapshot.services, this.minSlots, this.hint, this.installedSnapshot?.services);
  }

  /** Brings the installed config in line with the snapshot (with an edited template, if one is waiting). */
  async apply(snapshot: Snapshot): Promise<ApplyResult> {
    const started = performance.now();
    const trying = this.candidate;
    const template = trying ?? this.template;
    let res: ApplyResult;
    try {
      await this.prepareToApply(snapshot);
      const input = this.resolved(snapshot);
      this.hostProblems = input.problems;
      const refused = template ? await this.trial(template, input.snapshot, started) : null;
      res = refused ?? (await this.attempt(input.snapshot, template, started));
      if (res.kind === 'installed') await this.keepAddresses(snapshot);
    } catch (e) {
      res = this.fault(e, snapshot.version, started);
    }
    if (trying) this.settleCandidate(trying, res);
    return (this.last = res);
  }

  /**
   * Whatever escaped an attempt (a bug, or a command runner or live updater
   * that threw) fails this target alone, as any stage's failure does. What
   * the proxy runs is then unknown: the next attempt takes the reload path.
   */
  private fault(e: unknown, version: number, started: number): ApplyResult {
    this.installed = null;
    this.quarantine.keepTrying();
    const error = new TargetError('fault', `unexpected fault: ${messageOf(e)}`, { cause: e });
    this.deps.log.error('unexpected fault; the last good config stays installed', {
      target: this.name,
      error: error.message,
      stack: stackOf(e),
      version,
    });
    return this.failed(error, version, started, {});
  }

  /**
   * A template version's first render, in a worker thread against this
   * snapshot: null once it passed (it renders here from now on), else the
   * failed attempt. An active template refused is set aside until edited, as
   * the budget does; the main thread's budget stays the guard for a snapshot
   * that grows past what the trial saw.
   */
  private async trial(template: CompiledTemplate, snapshot: Snapshot, started: number): Promise<ApplyResult | null> {
    const { renderBudgetMs, trialHeapMb } = this.deps;
    if (this.tried.has(template) || renderBudgetMs === undefined || trialHeapMb === undefined) return null;
    if (await isShipped(template.file, template.texts)) {
      this.tried.add(template);
      this.deps.log.debug('template as the package ships it; no render trial', { target: this.name });
      return null;
    }
    const request = {
      file: template.file,
      texts: template.texts,
      budgetMs: renderBudgetMs,
      snapshot,
      vars: this.config.vars,
      slots: slotMap(this.nextSlots(snapshot)),
    };
    const outcome = await trialRender(request, trialHeapMb);
    if (outcome.kind === 'passed') {
      this.tried.add(template);
      this.deps.log.debug('render trial passed', { target: this.name, ms: Math.round(outcome.ms) });
      return null;
    }
    if (outcome.kind === 'unavailable') {
      this.tried.add(template);
      this.deps.log.error('render trial could not run; the render budget alone guards this template', {
        target: this.name,
        error: messageOf(outcome.error),
        cause: messageOf(outcome.error.cause),
      });
      return null;
    }
    if (template === this.template) {
      this.template = null;
      this.templateError = outcome.message;
    }
    this.deps.log.error('render trial stopped; the last good config stays installed', {
      target: this.name,
      limit: outcome.limit,
      error: outcome.message,
    });
    const error = new TargetError('render', outcome.message, { limit: outcome.limit });
    return this.failed(error, snapshot.version, started, { render: outcome.ms });
  }

  /**
   * Tries an edited template: it becomes the active one only once it loads,
   * renders, validates and installs. Until then the previous one stays.
   */
  async reloadTemplate(snapshot: Snapshot | null): Promise<ApplyResult> {
    const started = performance.now();
    let loaded: CompiledTemplate;
    try {
      loaded = this.linted(await loadTemplate(this.config.template, { budgetMs: this.deps.renderBudgetMs }));
    } catch (e) {
      const error = new TargetError('template', messageOf(e), { cause: e });
      this.refuseTemplate(error);
      return (this.last = this.failed(error, snapshot?.version ?? -1, started, {}));
    }
    if (!snapshot) {
      this.template = loaded;
      this.candidate = null;
      this.templateError = null;
      return { kind: 'unchanged', target: this.name, version: -1, ms: performance.now() - started, stages: {} };
    }
    this.candidate = loaded;
    return this.apply(snapshot);
  }

  /** Validates a config text the way installs do, without installing it: null when it passes (`check`). */
  async validateText(text: string): Promise<TargetError | null> {
    if (!this.config.validate) return null;
    return this.validateCandidate(text);
  }

  /** Render cache lookups since start (for /metrics), and the items each cached loop rendered anew last time. */
  cacheStats(): CacheCounts & { readonly lastRender: LoopMisses } {
    return { ...this.cache.counts(), lastRender: this.cache.lastRender() };
  }

  status(): TargetStatus {
    const failed = this.last?.kind === 'failed' ? this.last : null;
    return {
      name: this.name,
      ok: !failed && this.templateError === null && this.template !== null,
      stage: failed ? failed.error.stage : this.templateError ? 'template' : null,
      lastError: failed ? failed.error.message : this.templateError,
      lastSuccessAt: this.lastSuccessAt,
      version: this.installedVersion,
      templateError: this.templateError,
      hosts: this.hostProblems,
    };
  }

  /** After an attempt with an edited template: promote it, keep it waiting (deferred), or refuse it. */
  private settleCandidate(candidate: CompiledTemplate, res: ApplyResult): void {
    if (res.kind === 'deferred') return;
    this.candidate = null;
    if (res.kind === 'failed') return this.refuseTemplate(res.error);
    this.template = candidate;
    this.templateError = null;
    this.deps.log.info('template edit applied', {
      target: this.name,
      template: this.config.template,
      changed: res.kind === 'installed',
    });
  }

  private refuseTemplate(error: TargetError): void {
    this.templateError = error.message;
    this.deps.log.error('template edit refused; the previous template stays active', {
      target: this.name,
      stage: error.stage,
      error: error.message,
    });
  }

  private async attempt(
    snapshot: Snapshot,
    template: CompiledTemplate | null,
    started: number,
    afterReloadFailure = false,
  ): Promise<ApplyResult> {
    const stages: Partial<Record<Stage, number>> = {};
    let mark = started;
    const lap = (stage: Stage) => {
      const now = performance.now();
      stages[stage] = (stages[stage] ?? 0) + now - mark;
      mark = now;
    };
    // An edited template on trial is refused in one line by settleCandidate, which names the edit.
    const onTrial = template !== null && template === this.candidate;
    const fail = (stage: Stage, message: string, cause?: unknown) => {
      this.quarantine.keepTrying();
      const limit = cause instanceof RenderBudgetExceeded ? 'render.budgetMs' : undefined;
      const error = new TargetError(stage, message, cause === undefined ? undefined : { cause, limit });
      if (!onTrial)
        this.deps.log.error(`${stage} failed; the last good config stays installed`, {
          target: this.name,
          stage,
          error: message,
          version: snapshot.version,
        });
      if (cause instanceof Error && cause.stack)
        this.deps.log.debug('failure cause', { target: this.name, stack: cause.stack });
      return this.failed(error, snapshot.version, started, stages);
    };
    let effective = await this.screen(snapshot, template);
    let slots = this.nextSlots(effective);
    const done = (kind: 'unchanged' | InstallHow, commands: readonly string[] = []): ApplyResult => {
      this.quarantine.settle();
      this.succeeded(effective, slots);
      const base = { target: this.name, version: snapshot.version, ms: performance.now() - started, stages };
      return kind === 'unchanged' ? { ...base, kind } : { ...base, kind: 'installed', how: kind, commands };
    };

    let rendered: Rendered;
    try {
      rendered = this.renderFragments(effective, template, slots);
    } catch (e) {
      // An active template past its budget would hold the loop again on every retry: it is refused until edited.
      if (e instanceof RenderBudgetExceeded && template === this.template) {
        this.template = null;
        this.templateError = e.message;
      }
      return fail(template ? 'render' : 'template', messageOf(e), e);
    }
    const previous = this.installed;
    // Against the fragments of the installed render, only those that changed are looked at (an unchanged
    // item's fragment is the same string object); against a file read from disk, the whole text.
    const narrow = previous?.fragments ? changedFragments(previous.fragments, rendered.fragments) : null;
    const same = narrow
      ? narrow.before === narrow.after
      : previous !== null && rendered.fragments.join('') === previous.text();
    lap('render');
    if (same) {
      this.installed = Installed.fromFragments(rendered.fragments, previous);
      return done('unchanged');
    }
    let next = Installed.fromFragments(rendered.fragments, previous);

    if (this.live && previous) {
      const commands = await this.tryLive(narrow?.before ?? previous.text(), narrow?.after ?? next.text());
      if (commands) {
        try {
          await installText(this.config.output, next.bytes);
        } catch (e) {
          return fail('install', `${this.config.output}: ${messageOf(e)}`, e);
        }
        lap('install');
        this.installed = next;
        return done('live', commands);
      }
    }

    const wait = this.lastReloadAt + (this.deps.minReloadIntervalMs ?? 0) - this.clock.now();
    if (this.config.reload && wait > 0) {
      this.quarantine.keepTrying();
      return {
        kind: 'deferred',
        retryInMs: wait,
        target: this.name,
        version: snapshot.version,
        ms: performance.now() - started,
        stages,
      };
    }

    if (this.config.validate) {
      let validated: Awaited<ReturnType<Target['validateIsolating']>>;
      try {
        // An edited template on trial answers for its own refusal: no service is blamed for it.
        validated =
          template === this.template
            ? await this.validateIsolating(snapshot, effective, template, rendered, next)
            : await this.validateBytes(next.bytes).then((r) =>
                r === null ? { kind: 'passed' as const } : { kind: 'refused' as const, error: r.shown },
              );
      } catch (e) {
        return fail('install', `${this.config.output}: ${messageOf(e)}`, e);
      }
      lap('validate');
      if (validated.kind === 'refused') return fail('validate', validated.error);
      if (validated.kind === 'isolated') {
        ({ effective, rendered, installed: next } = validated);
        slots = this.nextSlots(effective);
        if (previous?.fragments && rendered.fragments.length === previous.fragments.length) {
          const left = changedFragments(previous.fragments, rendered.fragments);
          if (left && left.before === left.after) {
            this.installed = next;
            return done('unchanged');
          }
        }
      }
    }
    try {
      await installText(this.config.output, next.bytes);
    } catch (e) {
      return fail('install', `${this.config.output}: ${messageOf(e)}`, e);
    }
    lap('install');

    this.installed = next;
    if (!this.config.reload) return done('file');
    await this.live
      ?.beforeReload(() => next.text())
      .catch((e: unknown) =>
        this.deps.log.warn('could not save the server state before the reload', {
          target: this.name,
          error: messageOf(e),
        }),
      );
    this.lastReloadAt = this.clock.now();
    const r = await this.deps.exec(this.config.reload, this.deps.commandTimeoutMs, this.deps.cwd);
    lap('reload');
    if (r.code !== 0) {
      await this.restore(previous);
      if (previous === null) this.unconfirmed = effective;
      const message = commandFailure(this.config.reload, r.code, r.output, r.timedOut);
      // The proxy's startup messages name lines of the file it loaded: blame those services, and try once more without them.
      if (!afterReloadFailure && this.blame(r.output, this.config.output, rendered, effective, 'reload') > 0) {
        this.quarantine.keepTrying();
        return this.attempt(snapshot, template, started, true);
      }
      return fail('reload', message);
    }
    return done('reload');
  }

  /**
   * The snapshot a candidate is rendered from: quarantined services at their
   * last good version (or left out), and new or changed services that fail a
   * pre-check or lose a conflict quarantined first.
   */
  private async screen(snapshot: Snapshot, template: CompiledTemplate | null): Promise<Snapshot> {
    const lastGood = this.lastGood();
    let effective = this.quarantine.apply(snapshot, lastGood);
    const changed = this.changedSince(effective, lastGood);
    if (changed.length === 0) return effective;
    const ctx: PrecheckContext = {
      reservedPorts: reservedPorts(this.config.vars),
      binds: this.config.reload !== '',
      // A service on the port its installed version has (every scale event) needs no table of all ports.
      proxyHolds: (id, port) => lastGood.get(id)?.servicePort === port || this.runningPorts().has(port),
      // Once this process installed a config, a port it binds that no service has is a listener the template writes.
      templateListens: (port) =>
        this.installedSnapshot !== null && !!this.installed && listensOn(this.installed.bytes, port),
      defaultBind: String(this.config.vars.bind ?? '0.0.0.0'),
      ports: this.ports,
      certificates: template === null || readsCertificates(template.texts.values()),
    };
    let found = 0;
    const reasons = await precheckAll(changed, ctx);
    changed.forEach((s, i) => {
      if (reasons[i] === null) return;
      this.quarantine.add(s, reasons[i]!, 'precheck');
      found++;
    });
    const lost = conflicts(changed, effective.services, lastGood);
    const byId = lost.size > 0 ? new Map(effective.services.map((s) => [s.id, s] as const)) : null;
    for (const [id, reason] of lost) {
      const s = byId!.get(id);
      if (s && !this.quarantine.has(id)) {
        this.quarantine.add(s, reason, 'conflict');
        found++;
      }
    }
    if (found > 0) effective = this.quarantine.substitute(snapshot, lastGood);
    return effective;
  }

  /**
   * Validates the candidate; when the proxy refuses it, finds the services at
   * fault — from the lines it names, else by bisection over the services that
   * changed since the last good install — quarantines them and validates the
   * rest, until it passes or nothing more can be isolated.
   */
  private async validateIsolating(
    snapshot: Snapshot,
    effective: Snapshot,
    template: CompiledTemplate | null,
    rendered: Rendered,
    candidate: Installed,
  ): Promise<
    | { kind: 'passed' }
    | { kind: 'isolated'; effective: Snapshot; rendered: Rendered; installed: Installed }
    | { kind: 'refused'; error: string }
  > {
    let isolated = false;
    let budget = MAX_VALIDATIONS;
    for (;;) {
      const refused = await this.validateBytes(candidate.bytes);
      budget--;
      if (refused === null)
        return isolated ? { kind: 'isolated', effective, rendered, installed: candidate } : { kind: 'passed' };
      let blamed = this.blame(refused.message, refused.file, rendered, effective, 'line');
      if (blamed === 0) blamed = this.blameFiles(refused.message, refused.file, effective);
      if (blamed === 0) {
        const found = await this.bisect(effective, template, refused.shown, budget);
        budget -= found.validations;
        if (!found.service && (await this.sweep(effective, template)) === 0)
          return { kind: 'refused', error: refused.shown };
      }
      if (budget <= 0) return { kind: 'refused', error: refused.shown };
      isolated = true;
      effective = this.quarantine.substitute(snapshot, this.lastGood());
      try {
        rendered = this.renderFragments(effective, template, this.nextSlots(effective));
      } catch (e) {
        return { kind: 'refused', error: messageOf(e) };
      }
      candidate = Installed.fromFragments(rendered.fragments, this.installed);
    }
  }

  /** Writes a candidate beside the output and validates it: null when it passes, else the proxy's message (and the message as shown, naming the output). */
  private async validateBytes(bytes: Buffer): Promise<{ message: string; shown: string; file: string } | null> {
    const candidate = await writeCandidate(this.config.output, bytes);
    try {
      const refused = await this.runValidate(candidate.path);
      if (refused === null) return null;
      return {
        message: refused,
        shown: describeRefusal(refused, candidate.path, this.config.output, bytes),
        file: candidate.path,
      };
    } finally {
      await candidate.discard();
    }
  }

  /**
   * Quarantines the services whose fragments hold the lines `message` names
   * in `file`, each with the message lines naming its own; returns how many.
   * None when no line is named or only lines of the template's own (a shared
   * listener built from every service). A frame line named beside a
   * service's (a bad certificate loads on both) is left to the next
   * validation: once the service is out, it passes or names the frame alone.
   */
  private blame(message: string, file: string, rendered: Rendered, effective: Snapshot, finding: Finding): number {
    const lines = linesNamed(message, file);
    if (lines.length === 0) return 0;
    const owners = ownersOfLines(
      rendered.fragments,
      rendered.items.map((item) => (typeof item === 'object' && item !== null ? this.cache.ownersOf(item) : null)),
      lines,
    );
    // owners[i] is the owner of lines[i] (lines past the end are left off).
    const linesOf = new Map<string, number[]>();
    owners.forEach((o, i) => {
      for (const id of o ?? []) linesOf.set(id, [...(linesOf.get(id) ?? []), lines[i]!]);
    });
    const byId = new Map(effective.services.map((s) => [s.id, s] as const));
    let blamed = 0;
    for (const [id, own] of linesOf) {
      const s = byId.get(id);
      if (!s) continue;
      this.quarantine.add(
        s,
        messageFor(message, file, own, this.config.output),
        finding,
        this.lastGood().get(id) === s,
      );
      blamed++;
    }
    return blamed;
  }

  /**
   * Quarantines the services whose certificate file the proxy's message
   * names (HAProxy: `unable to load certificate from file '…'`), when it
   * names only a line of the frame: the shared TLS listener loads every
   * service's certificate. Returns how many; bisection would find the same
   * in O(log n) validations.
   */
  private blameFiles(message: string, file: string, effective: Snapshot): number {
    let blamed = 0;
    for (const s of effective.services) {
      if (s.sslCert === null || !message.includes(`'${s.sslCert}'`)) continue;
      const reason = message
        .split('\n')
        .filter((l) => l.includes(`'${s.sslCert}'`))
        .map((l) => l.replaceAll(file, this.config.output).trim())
        .join(' | ')
        .slice(0, 500);
      this.quarantine.add(s, reason, 'file', this.lastGood().get(s.id) === s);
      blamed++;
    }
    return blamed;
  }

  /**
   * Finds one service at fault when the proxy names no line of a service:
   * the shortest prefix of the changed services (in id order) whose changes
   * the proxy refuses ends with one — O(log n) validations. Null when the
   * last good services alone are refused (nothing a service changed did it).
   */
  private async bisect(
    effective: Snapshot,
    template: CompiledTemplate | null,
    message: string,
    budget: number,
  ): Promise<{ service: Service | null; validations: number }> {
    const lastGood = this.lastGood();
    const changed = this.changedSince(effective, lastGood);
    let validations = 0;
    const refusedWith = async (prefix: number): Promise<boolean> => {
      validations++;
      const applied = new Set(changed.slice(0, prefix).map((s) => s.id));
      const services: Service[] = [];
      for (const s of effective.services) {
        if (applied.has(s.id) || lastGood.get(s.id) === s) services.push(s);
        else if (lastGood.has(s.id)) services.push(lastGood.get(s.id)!);
      }
      const trial = { ...effective, services };
      let trialRender: Rendered;
      try {
        trialRender = this.renderFragments(trial, template, this.nextSlots(trial));
      } catch {
        return true;
      }
      // A candidate that cannot be written is the install's failure, not a service's: it propagates.
      return (await this.validateBytes(Installed.fromFragments(trialRender.fragments, this.installed).bytes)) !== null;
    };
    if (changed.length === 0 || budget < 2 || (await refusedWith(0))) return { service: null, validations };
    let lo = 0; // refusedWith(lo) is false
    let hi = changed.length; // refusedWith(hi) is true: the whole candidate was refused
    while (hi - lo > 1 && validations < budget) {
      const mid = (lo + hi) >> 1;
      if (await refusedWith(mid)) hi = mid;
      else lo = mid;
    }
    if (hi - lo > 1) return { service: null, validations };
    const culprit = changed[hi - 1]!;
    // The proxy's words without its banner (HAProxy's NOTICE lines name its version and path).
    const words = message
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.includes('[NOTICE]'))
      .join(' | ');
    this.quarantine.add(culprit, `${words.slice(0, 400)} (found by bisection)`, 'bisection');
    return { service: culprit, validations };
  }

  /**
   * The last resort when neither a line nor a change explains a refusal: an
   * outside cause (a certificate deleted under a served service). The file
   * checks run over every service; those failing are left out.
   */
  private async sweep(effective: Snapshot, template: CompiledTemplate | null): Promise<number> {
    const ctx: PrecheckContext = {
      reservedPorts: new Map(),
      binds: false,
      proxyHolds: () => false,
      templateListens: () => false,
      defaultBind: '',
      ports: this.ports,
      certificates: template === null || readsCertificates(template.texts.values()),
    };
    const suspects = effective.services.filter((s) => s.sslCert !== null);
    const reasons = await precheckAll(suspects, ctx);
    let found = 0;
    suspects.forEach((s, i) => {
      if (reasons[i] === null) return;
      this.quarantine.add(s, reasons[i]!, 'precheck', true);
      found++;
    });
    return found;
  }

  /** The services of the last installed config, by id: a quarantined service is rendered from these. */
  private lastGood(): ReadonlyMap<string, Service> {
    const index = this.lastGoodIndex;
    const now = this.installedSnapshot;
    if (index && index.of === now) return index.byId;
    // An install after an event replaced a few services: the index is updated at those, not built again.
    const at = index?.of && now ? replacedAt(index.of.services, now.services) : null;
    if (at && index) {
      const byId = index.byId as Map<string, Service>;
      for (const i of at) byId.set(now!.services[i]!.id, now!.services[i]!);
      this.lastGoodIndex = { of: now, byId };
    } else this.lastGoodIndex = { of: now, byId: new Map((now?.services ?? []).map((s) => [s.id, s] as const)) };
    return this.lastGoodIndex.byId;
  }

  /** The services of `effective` that differ from their last good version (or have none). */
  private changedSince(effective: Snapshot, lastGood: ReadonlyMap<string, Service>): Service[] {
    const at = this.installedSnapshot ? replacedAt(this.installedSnapshot.services, effective.services) : null;
    return at ? at.map((i) => effective.services[i]!) : effective.services.filter((s) => lastGood.get(s.id) !== s);
  }

  private failed(error: TargetError, version: number, started: number, stages: Partial<Record<Stage, number>>) {
    return {
      kind: 'failed',
      error,
      target: this.name,
      version,
      ms: performance.now() - started,
      stages,
    } as const;
  }

  /** The validate command on a file: null when it passes, else why not. */
  private async runValidate(path: string): Promise<string | null> {
    const cmd = this.config.validate.replace(/\{\{\s*file\s*\}\}/g, shellQuote(path));
    const r = await this.deps.exec(cmd, this.deps.commandTimeoutMs, this.deps.cwd);
    return r.code === 0 ? null : commandFailure(cmd, r.code, r.output, r.timedOut);
  }

  /** Writes `text` beside the output (or into a scratch directory when that is not writable) and validates it there. */
  private async validateCandidate(text: string): Promise<TargetError | null> {
    let scratch: string | null = null;
    let output = this.config.output;
    try {
      await mkdir(dirname(output), { recursive: true });
      await access(dirname(output), constants.W_OK);
    } catch {
      scratch = await mkdtemp(join(tmpdir(), 'switchyard-check-'));
      output = join(scratch, basename(output));
    }
    try {
      const candidate = await writeCandidate(output, text);
      try {
        const refused = await this.runValidate(candidate.path);
        return refused === null
          ? null
          : new TargetError('validate', describeRefusal(refused, candidate.path, this.config.output, text));
      } finally {
        await candidate.discard();
      }
    } finally {
      if (scratch) await rm(scratch, { recursive: true, force: true });
    }
  }

  /**
   * After a failed reload, put the previous file back: a proxy that refused
   * to load the candidate still runs it. One that loaded the candidate but
   * could not serve it all (bin/haproxy-reload: a frontend stayed paused)
   * runs the candidate, so what runs is not known: the next attempt reloads
   * whatever it installs, even the previous config again. With no previous
   * file (first install, proxy not started yet) the validated one stays for
   * the proxy to start from.
   */
  private async restore(previous: Installed | null): Promise<void> {
    this.installed = null;
    if (previous === null) return;
    try {
      await installText(this.config.output, previous.bytes);
    } catch (e) {
      this.deps.log.error('could not restore the previous config after a failed reload', {
        target: this.name,
        error: messageOf(e),
      });
    }
  }

  /** A live update if the change is membership only and the proxy takes it; null sends the caller down the reload path. */
  private async tryLive(before: string, after: string): Promise<readonly string[] | null> {
    try {
      const update = await this.live!.apply(before, after);
      if (update === null || update.commands.length === 0) return null;
      return update.commands;
    } catch (e) {
      this.deps.log.warn('live update refused; reloading instead', { target: this.name, error: messageOf(e) });
      return null;
    }
  }

  /**
   * Ports the proxy holds by the config it runs — the last install that
   * succeeded (else the file found at start), and one placed for a proxy not
   * yet running: busy because of the proxy itself. A port that only an older
   * config had is another process's once taken.
   */
  private runningPorts(): ReadonlySet<number> {
    const of = [this.installedSnapshot, this.unconfirmed];
    const index = this.runningPortsIndex;
    if (index && index.of[0] === of[0] && index.of[1] === of[1]) return index.ports;
    const ports = new Set<number>(this.installedSnapshot ? [] : this.startPorts);
    for (const snapshot of of)
      for (const s of snapshot?.services ?? []) if (s.servicePort !== null) ports.add(s.servicePort);
    this.runningPortsIndex = { of, ports };
    return ports;
  }

  private succeeded(snapshot: Snapshot, slots: SlotTable): void {
    this.unconfirmed = null;
    this.installedSnapshot = snapshot;
    this.lastSuccessAt = this.clock.now();
    this.installedVersion = snapshot.version;
    this.slots = slots;
    this.hint = undefined;
  }
}

function commandFailure(cmd: string, code: number | null, output: string, timedOut: boolean): string {
  const how = timedOut ? 'timed out and was killed' : code === null ? 'could not run' : `exited ${code}`;
  return `\`${cmd}\` ${how}${output ? `: ${output}` : ''}`;
}
