import type { TargetConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { RenderCache, type CacheCounts, type LoopMisses } from '../render/cache.js';
import { templateData } from '../render/data.js';
import { changedFragments } from '../render/fragments.js';
import { allocateSlots, DEFAULT_MIN_SLOTS, type SlotHint, type SlotTable } from '../render/slots.js';
import { loadTemplate, type CompiledTemplate } from '../render/template.js';
import type { Snapshot } from '../state/model.js';
import { shellQuote, type Exec } from './exec.js';
import { HaproxyLive, type LiveUpdater } from './haproxy/live.js';
import { slotHint } from './haproxy/servers.js';
import { installText, readInstalled, writeCandidate } from './install.js';

/** The step of the pipeline a failure happened in. */
export type Stage = 'template' | 'render' | 'validate' | 'install' | 'reload';

/** What one attempt to bring a target up to date did. */
export interface ApplyResult {
  readonly target: string;
  readonly ok: boolean;
  /** The installed file changed. */
  readonly changed: boolean;
  readonly reloaded: boolean;
  readonly stage: Stage | null;
  readonly error: string | null;
  readonly version: number;
  readonly ms: number;
  /** Milliseconds spent in each stage that ran. */
  readonly stages: Readonly<Partial<Record<Stage, number>>>;
  /** Runtime API commands that applied the change without a reload (empty when none did). */
  readonly live: readonly string[];
  /** A reload was due sooner than `reload.minIntervalMs` allows: try again in this many ms. */
  readonly deferredMs: number;
}

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
  /** Replaces the live updater the config implies (tests). */
  readonly live?: LiveUpdater | null;
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
  /** The installed text when it did not come from a render of this process (the file found at start, a restored one). */
  private installed: string | null = null;
  /** The installed text as the fragments of the render that produced it; null when it came from elsewhere (disk at start). */
  private installedFragments: string[] | null = null;
  private last: ApplyResult | null = null;
  private lastSuccessAt: number | null = null;
  private installedVersion: number | null = null;
  private templateError: string | null = null;
  /** Slot placements of the installed config; the next render starts from them. */
  private slots: SlotTable = new Map();
  /** Slot placements read from the file found installed at start, used until a render replaces them. */
  private hint: SlotHint | undefined;
  private readonly minSlots: number;
  private readonly live: LiveUpdater | null;
  private lastReloadAt = -Infinity;
  /** This target's views and fragments, kept between renders; nobody else's renders touch it. */
  private readonly cache = new RenderCache();

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
  }

  /** Loads the template and reads what is installed now. A bad template is recorded, not thrown: the daemon must run on. */
  async init(): Promise<void> {
    try {
      this.template = await loadTemplate(this.config.template);
    } catch (e) {
      this.templateError = (e as Error).message;
      this.deps.log.error('template unusable', { target: this.name, error: this.templateError });
    }
    this.installed = await readInstalled(this.config.output).catch(() => null);
    if (this.installed !== null) this.hint = slotHint(this.installed);
  }

  /** The installed config as the fragments of the render that produced it; null when it came from elsewhere (the file found at start). Read-only: the dashboard diffs installs with it. */
  installedParts(): readonly string[] | null {
    return this.installedFragments;
  }

  /**
   * The proxy does not run what the installed file says (a process killed
   * between install and reload, or in a runtime batch): the next apply
   * compares with `actual`, what it runs, or takes the reload path when that
   * is unknown (null).
   */
  startFrom(actual: string | null): void {
    this.installed = actual;
    this.installedFragments = null;
  }

  /** The template files to watch for edits. */
  templateFiles(): readonly string[] {
    return this.template?.files ?? [this.config.template];
  }

  /** The config text for a snapshot; throws a TemplateError or HelperRefusal. */
  render(snapshot: Snapshot): string {
    return this.renderFragments(snapshot, this.template, this.nextSlots(snapshot)).join('');
  }

  private renderFragments(snapshot: Snapshot, template: CompiledTemplate | null, slots: SlotTable): string[] {
    if (!template) throw new Error(this.templateError ?? `${this.config.template}: template not loaded`);
    return template.renderFragments(templateData(snapshot, this.config.vars, { slots, cache: this.cache }), this.cache);
  }

  private nextSlots(snapshot: Snapshot): SlotTable {
    return allocateSlots(this.slots, snapshot.services, this.minSlots, this.hint);
  }

  /** Brings the installed config in line with the snapshot. */
  async apply(snapshot: Snapshot): Promise<ApplyResult> {
    return this.attempt(snapshot, this.template);
  }

  /**
   * Tries an edited template: it becomes the active one only once it loads,
   * renders, validates and installs. Until then the previous one stays.
   */
  async reloadTemplate(snapshot: Snapshot | null): Promise<ApplyResult> {
    const started = performance.now();
    let candidate: CompiledTemplate;
    try {
      candidate = await loadTemplate(this.config.template);
    } catch (e) {
      return this.refuseTemplate((e as Error).message, 'template', snapshot, started);
    }
    if (!snapshot) {
      this.template = candidate;
      this.templateError = null;
      return this.result(true, false, false, null, null, -1, started);
    }
    const res = await this.attempt(snapshot, candidate);
    if (!res.ok) return this.refuseTemplate(res.error!, res.stage!, snapshot, started);
    this.template = candidate;
    this.templateError = null;
    this.deps.log.info('template edit applied', {
      target: this.name,
      template: this.config.template,
      changed: res.changed,
    });
    return res;
  }

  /** Render cache lookups since start (for /metrics), and the items each cached loop rendered anew last time. */
  cacheStats(): CacheCounts & { readonly lastRender: LoopMisses } {
    return { ...this.cache.counts(), lastRender: this.cache.lastRender() };
  }

  status(): TargetStatus {
    const failed = this.last !== null && !this.last.ok;
    return {
      name: this.name,
      ok: !failed && this.templateError === null && this.template !== null,
      stage: failed ? this.last!.stage : this.templateError ? 'template' : null,
      lastError: failed ? this.last!.error : this.templateError,
      lastSuccessAt: this.lastSuccessAt,
      version: this.installedVersion,
      templateError: this.templateError,
    };
  }

  private refuseTemplate(error: string, stage: Stage, snapshot: Snapshot | null, started: number): ApplyResult {
    this.templateError = error;
    this.deps.log.error('template edit refused; the previous template stays active', {
      target: this.name,
      stage,
      error,
    });
    return this.result(false, false, false, stage, error, snapshot?.version ?? -1, started);
  }

  private async attempt(snapshot: Snapshot, template: CompiledTemplate | null): Promise<ApplyResult> {
    const started = performance.now();
    const stages: Partial<Record<Stage, number>> = {};
    let mark = started;
    const lap = (stage: Stage) => {
      const now = performance.now();
      stages[stage] = now - mark;
      mark = now;
    };
    const fail = (stage: Stage, error: string) => {
      this.deps.log.error(`${stage} failed; the last good config stays installed`, {
        target: this.name,
        stage,
        error,
        version: snapshot.version,
      });
      return (this.last = this.result(false, false, false, stage, error, snapshot.version, started, stages));
    };

    let fragments: string[];
    const slots = this.nextSlots(snapshot);
    try {
      fragments = this.renderFragments(snapshot, template, slots);
    } catch (e) {
      return fail(template ? 'render' : 'template', (e as Error).message);
    }
    let joined: string | null = null;
    const text = () => (joined ??= fragments.join(''));
    // Against the fragments of the installed render, only those that changed are looked at (an unchanged
    // item's fragment is the same string object); against a file read from disk, the whole text.
    const narrow = this.installedFragments && changedFragments(this.installedFragments, fragments);
    const same = narrow ? narrow.before === narrow.after : text() === this.installedText();
    lap('render');
    if (same) {
      this.setInstalled(fragments);
      this.succeeded(snapshot, slots);
      return (this.last = this.result(true, false, false, null, null, snapshot.version, started, stages));
    }

    if (this.live && (this.installedFragments !== null || this.installed !== null)) {
      const update = await this.tryLive(narrow?.before ?? this.installedText()!, narrow?.after ?? text());
      if (update) {
        try {
          await installText(this.config.output, text());
        } catch (e) {
          return fail('install', `${this.config.output}: ${(e as Error).message}`);
        }
        lap('install');
        this.setInstalled(fragments);
        this.succeeded(snapshot, slots);
        return (this.last = this.result(true, true, false, null, null, snapshot.version, started, stages, update));
      }
    }

    const wait = this.lastReloadAt + (this.deps.minReloadIntervalMs ?? 0) - Date.now();
    if (this.config.reload && wait > 0) {
      return { ...this.result(true, false, false, null, null, snapshot.version, started, stages), deferredMs: wait };
    }

    let candidate;
    try {
      candidate = await writeCandidate(this.config.output, text());
    } catch (e) {
      return fail('install', `${this.config.output}: ${(e as Error).message}`);
    }
    try {
      if (this.config.validate) {
        const cmd = this.config.validate.replace(/\{\{\s*file\s*\}\}/g, shellQuote(candidate.path));
        const r = await this.deps.exec(cmd, this.deps.commandTimeoutMs, this.deps.cwd);
        lap('validate');
        if (r.code !== 0) return fail('validate', commandFailure(cmd, r.code, r.output, r.timedOut));
      }
      try {
        await candidate.install();
      } catch (e) {
        return fail('install', `${this.config.output}: ${(e as Error).message}`);
      }
      lap('install');
    } finally {
      await candidate.discard();
    }

    let reloaded = false;
    if (this.config.reload) {
      const previous = { fragments: this.installedFragments, text: this.installed };
      this.setInstalled(fragments);
      await this.live?.beforeReload(text).catch((e: Error) =>
        this.deps.log.warn('could not save the server state before the reload', {
          target: this.name,
          error: e.message,
        }),
      );
      this.lastReloadAt = Date.now();
      const r = await this.deps.exec(this.config.reload, this.deps.commandTimeoutMs, this.deps.cwd);
      lap('reload');
      if (r.code !== 0) {
        await this.restore(previous.fragments?.join('') ?? previous.text);
        return fail('reload', commandFailure(this.config.reload, r.code, r.output, r.timedOut));
      }
      reloaded = true;
    } else this.setInstalled(fragments);
    this.succeeded(snapshot, slots);
    return (this.last = this.result(true, true, reloaded, null, null, snapshot.version, started, stages));
  }

  /**
   * The installed text. What Switchyard rendered itself is kept as fragments
   * only (the render caches hold the same strings) and joined when something
   * needs it whole: a second whole copy of a big config is not worth keeping.
   */
  private installedText(): string | null {
    return this.installedFragments ? this.installedFragments.join('') : this.installed;
  }

  private setInstalled(fragments: string[]): void {
    this.installedFragments = fragments;
    this.installed = null;
  }

  /**
   * After a failed reload the proxy still runs the previous config: put that
   * file back so disk and proxy agree. With no previous file (first install,
   * proxy not started yet) the validated one stays for the proxy to start
   * from, and is marked not installed so the reload is tried again.
   */
  private async restore(previous: string | null): Promise<void> {
    this.installed = previous;
    this.installedFragments = null;
    if (previous === null) return;
    try {
      await installText(this.config.output, previous);
    } catch (e) {
      this.deps.log.error('could not restore the previous config after a failed reload', {
        target: this.name,
        error: (e as Error).message,
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
      this.deps.log.warn('live update refused; reloading instead', { target: this.name, error: (e as Error).message });
      return null;
    }
  }

  private succeeded(snapshot: Snapshot, slots: SlotTable): void {
    this.lastSuccessAt = Date.now();
    this.installedVersion = snapshot.version;
    this.slots = slots;
    this.hint = undefined;
  }

  private result(
    ok: boolean,
    changed: boolean,
    reloaded: boolean,
    stage: Stage | null,
    error: string | null,
    version: number,
    started: number,
    stages: Partial<Record<Stage, number>> = {},
    live: readonly string[] = [],
  ): ApplyResult {
    return {
      target: this.name,
      ok,
      changed,
      reloaded,
      stage,
      error,
      version,
      ms: performance.now() - started,
      stages,
      live,
      deferredMs: 0,
    };
  }
}

function commandFailure(cmd: string, code: number | null, output: string, timedOut: boolean): string {
  const how = timedOut ? 'timed out and was killed' : code === null ? 'could not run' : `exited ${code}`;
  return `\`${cmd}\` ${how}${output ? `: ${output}` : ''}`;
}
