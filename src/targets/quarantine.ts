import type { Service, Snapshot } from '../state/model.js';

// Per-service quarantine of one target. A service the proxy refuses (or that a
// pre-check shows it would refuse) is left out of the candidate — or, when it
// was served before, rendered from its last good version — and the rest
// installs. It is tried again at once when its input changes, and after a
// back-off for causes outside its input (a certificate that appears, a port
// that is freed).

/** How a service was found at fault; `file`: the proxy's message named its certificate file. */
export type Finding = 'precheck' | 'conflict' | 'line' | 'file' | 'bisection' | 'reload';

/** One quarantined service, as /health lists it. */
export interface QuarantineEntry {
  readonly service: string;
  readonly target: string;
  /** The proxy's own words, or the pre-check's. */
  readonly reason: string;
  readonly finding: Finding;
  /** Epoch ms when it was first quarantined. */
  readonly since: number;
}

interface Held {
  entry: QuarantineEntry;
  /** The service object that was refused: another object means its input changed. */
  input: Service;
  retryAt: number;
  backoffMs: number;
  /** Its last good version is at fault too (an outside cause): leave it out rather than render that. */
  omit: boolean;
}

/** The first retry of an outside cause, and the longest wait between retries. */
export const RETRY_FIRST_MS = 5_000;
export const RETRY_MAX_MS = 30_000;

/** A service left out of (or held at its last good version in) a candidate, and why; the log and metrics follow its changes. */
export interface QuarantineEvents {
  entered(entry: QuarantineEntry): void;
  released(service: string, target: string): void;
}

/** The quarantined services of one target; `apply` gives the snapshot a candidate is rendered from. */
export class Quarantine {
  private readonly held = new Map<string, Held>();
  /** Entries let through for this attempt (input changed, or retry due): quarantined again if they still fail. */
  private trying = new Map<string, Held>();

  constructor(
    private readonly target: string,
    private readonly events: QuarantineEvents,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The snapshot to render: every quarantined service replaced by its last
   * good version (from `lastGood`), or left out when it has none. A
   * quarantined service whose input changed, or whose retry is due, is let
   * through to be tried again.
   */
  apply(snapshot: Snapshot, lastGood: ReadonlyMap<string, Service>): Snapshot {
    this.trying = new Map();
    if (this.held.size === 0) return snapshot;
    const now = this.now();
    const byId = new Map<string, Service>();
    for (const s of snapshot.services) if (this.held.has(s.id)) byId.set(s.id, s);
    for (const [id, h] of this.held) {
      const current = byId.get(id);
      if (current === undefined) {
        // Gone from the registry: nothing left to hold back.
        this.release(id);
      } else if (current !== h.input || now >= h.retryAt) {
        this.trying.set(id, h);
        this.held.delete(id);
      }
    }
    if (this.held.size === 0) return snapshot;
    return this.substitute(snapshot, lastGood);
  }

  /** The snapshot with the held services at their last good version, or left out. */
  substitute(snapshot: Snapshot, lastGood: ReadonlyMap<string, Service>): Snapshot {
    const services: Service[] = [];
    for (const s of snapshot.services) {
      if (!this.held.has(s.id)) services.push(s);
      else {
        const good = this.held.get(s.id)!.omit ? undefined : lastGood.get(s.id);
        if (good) services.push(good);
      }
    }
    return { ...snapshot, services };
  }

  /**
   * Quarantines `service` (the object refused) with the reason; a retried one
   * waits twice as long next time. `omit`: its last good version is refused
   * too, so it is left out instead.
   */
  add(service: Service, reason: string, finding: Finding, omit = false): void {
    const was = this.trying.get(service.id) ?? this.held.get(service.id);
    this.trying.delete(service.id);
    const backoffMs = was && was.input === service ? Math.min(was.backoffMs * 2, RETRY_MAX_MS) : RETRY_FIRST_MS;
    const entry: QuarantineEntry = {
      service: service.id,
      target: this.target,
      reason,
      finding,
      since: was?.entry.since ?? this.now(),
    };
    this.held.set(service.id, {
      entry,
      input: service,
      retryAt: this.now() + backoffMs,
      backoffMs,
      omit: omit || (was?.omit ?? false),
    });
    if (!was || was.entry.reason !== reason) this.events.entered(entry);
  }

  /** Ends an attempt that installed: what was tried and not quarantined again is healthy now. */
  settle(): void {
    for (const id of this.trying.keys()) this.events.released(id, this.target);
    this.trying = new Map();
  }

  /** Ends an attempt that did not install: what was tried stays quarantined, as it was. */
  keepTrying(): void {
    for (const [id, h] of this.trying) this.held.set(id, h);
    this.trying = new Map();
  }

  has(id: string): boolean {
    return this.held.has(id);
  }

  /** What is quarantined, including services being tried again right now: they stay listed until an attempt settles them. */
  entries(): QuarantineEntry[] {
    return [...this.held.values(), ...this.trying.values()]
      .map((h) => h.entry)
      .sort((a, b) => (a.service < b.service ? -1 : 1));
  }

  /** Milliseconds until the next retry is due; null when nothing is held. */
  nextRetryInMs(): number | null {
    let next: number | null = null;
    for (const h of this.held.values()) next = next === null ? h.retryAt : Math.min(next, h.retryAt);
    return next === null ? null : Math.max(0, next - this.now());
  }

  private release(id: string): void {
    this.held.delete(id);
    this.events.released(id, this.target);
  }
}

/**
 * The line numbers a proxy's message names in `file`: HAProxy writes
 * `[file:line]`, nginx `in file:line`. Lines of other files (an include,
 * another config) are not the candidate's.
 */
export function linesNamed(message: string, file: string): number[] {
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const lines = new Set<number>();
  for (const m of message.matchAll(new RegExp(`${escaped}:(\\d+)`, 'g'))) lines.add(Number(m[1]));
  return [...lines].sort((a, b) => a - b);
}

/** The owners of the fragments holding the given 1-based lines; null entries are lines of the template's frame. */
export function ownersOfLines(
  fragments: readonly string[],
  owners: readonly (readonly string[] | null)[],
  lines: readonly number[],
): Array<readonly string[] | null> {
  const found: Array<readonly string[] | null> = [];
  let line = 1;
  let next = 0;
  for (let i = 0; i < fragments.length && next < lines.length; i++) {
    const f = fragments[i]!;
    let breaks = 0;
    for (let at = f.indexOf('\n'); at !== -1; at = f.indexOf('\n', at + 1)) breaks++;
    // A fragment spans its first line through the line its last character is on.
    const last = line + breaks - (f.endsWith('\n') ? 1 : 0);
    while (next < lines.length && lines[next]! <= last) {
      if (lines[next]! >= line) found.push(owners[i] ?? null);
      next++;
    }
    line += breaks;
  }
  return found;
}

/** The message lines that name one of the given lines of `file` (shown as `shownAs`): the proxy's own words for one fault. */
export function messageFor(message: string, file: string, lines: readonly number[], shownAs: string): string {
  const wanted = new Set(lines.map((l) => `${file}:${l}`));
  const picked = message
    .split('\n')
    .filter((l) => [...wanted].some((w) => l.includes(w)))
    .map((l) => l.replaceAll(file, shownAs).trim());
  return (picked.length > 0 ? picked.join(' | ') : message.replaceAll(file, shownAs).trim()).slice(0, 500);
}
