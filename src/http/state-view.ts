import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Counter } from 'prom-client';
import { RenderCache } from '../render/cache.js';
import { templateData, templateService } from '../render/data.js';
import type { Snapshot } from '../state/model.js';

/** What a reader without the token sees in place of each env value. */
export const HIDDEN_ENV_VALUE = '<hidden>';

/** Services or apps serialized anew between two turns of the event loop: a few milliseconds' work at most. */
const SLICE = 200;

/** What the view shows: the current snapshot and each target's vars (the runner). */
export interface StateSource {
  snapshot(): Snapshot;
  readonly targets: readonly { readonly name: string; readonly config: { readonly vars: object } }[];
}

/** One serialized /api/state: the bytes and the snapshot version they show. */
export interface StateBody {
  readonly version: number;
  /** The body in pieces of CHUNK_PIECES pieces, written one after the other: joining them all would be one long copy. */
  readonly chunks: readonly Buffer[];
  readonly length: number;
  /** Quoted entity tag: the version and whether env values are shown. */
  readonly etag: string;
}

/** A body being built or built, for one snapshot version and the target vars of then. */
interface Entry {
  readonly version: number;
  readonly vars: readonly unknown[];
  readonly body: Promise<StateBody>;
}

/**
 * `/api/state` serialized once per snapshot version (and target vars), in
 * two shapes — env values shown or hidden — and shared by every reader: a
 * hundred readers of one version cost one serialization and one Buffer, not a
 * hundred copies. A new version re-serializes only the services and apps
 * that changed, in slices that yield to the event loop, so a large state never
 * holds /health or a ZooKeeper heartbeat; readers that come meanwhile wait
 * for the same build. Hits and misses go to `lookups`.
 */
export class StateView {
  private readonly entries = new Map<boolean, Entry>();
  /** Template views of unchanged services (and their Bamboo apps) keep their objects from version to version… */
  private readonly cache = new RenderCache();
  /** …and so their serialized bytes, per shape. */
  private readonly shownJson = new WeakMap<object, Buffer>();
  private readonly hiddenJson = new WeakMap<object, Buffer>();
  /** …and the chunks of the last body per shape, taken over where they hold the same bytes. */
  private readonly lastChunks = new Map<boolean, readonly Chunk[]>();

  constructor(
    private readonly runner: StateSource,
    private readonly lookups: Counter<'view' | 'result'>,
  ) {}

  body(showEnv: boolean): Promise<StateBody> {
    const snapshot = this.runner.snapshot();
    const vars = this.runner.targets.map((t) => t.config.vars);
    const e = this.entries.get(showEnv);
    const current =
      e !== undefined &&
      e.version === snapshot.version &&
      e.vars.length === vars.length &&
      e.vars.every((v, i) => v === vars[i]);
    this.lookups.inc({ view: 'state', result: current ? 'hit' : 'miss' });
    if (current) return e.body;
    const body = this.build(snapshot, showEnv);
    this.entries.set(showEnv, { version: snapshot.version, vars, body });
    // A failed build is not kept: the next reader tries again.
    body.catch(() => {
      if (this.entries.get(showEnv)?.body === body) this.entries.delete(showEnv);
    });
    return body;
  }

  private async build(snapshot: Snapshot, showEnv: boolean): Promise<StateBody> {
    // Views of new or changed services built ahead, in slices: templateData then finds every one in the cache.
    for (let i = 0; i < snapshot.services.length; i += SLICE) {
      for (const service of snapshot.services.slice(i, i + SLICE)) templateService(service, this.cache);
      await yieldToLoop();
    }
    const data = templateData(snapshot, NO_VARS, { cache: this.cache });
    const { services, apps } = data;
    this.cache.endRender();
    const vars = Object.fromEntries(this.runner.targets.map((t) => [t.name, t.config.vars]));
    const pieces: Piece[] = [{ bytes: Buffer.from(`{"version":${snapshot.version},"services":[`), item: null }];
    await this.items(pieces, services, showEnv);
    pieces.push({ bytes: APPS_START, item: null });
    await this.items(pieces, apps, showEnv);
    pieces.push({
      bytes: Buffer.from(`],"rules":${JSON.stringify(snapshot.rules)},"vars":${JSON.stringify(vars)}}\n`),
      item: null,
    });
    const last = this.lastChunks.get(showEnv) ?? [];
    const built = await chunked(pieces, showEnv ? this.shownJson : this.hiddenJson, last);
    this.lastChunks.set(showEnv, built);
    const kept = built.filter((c, i) => c === last[i]).length;
    if (kept > 0) this.lookups.inc({ view: 'state-chunk', result: 'hit' }, kept);
    if (built.length > kept) this.lookups.inc({ view: 'state-chunk', result: 'miss' }, built.length - kept);
    return {
      version: snapshot.version,
      chunks: built.map((c) => c.bytes),
      length: built.reduce((n, c) => n + c.bytes.length, 0),
      etag: `"${snapshot.version}-${showEnv ? 'env' : 'noenv'}"`,
    };
  }

  /**
   * Appends the JSON of each item, comma-separated. An item object the
   * render cache kept from the last version (an unchanged service or app)
   * keeps its bytes too; the rest are serialized SLICE per turn of the loop.
   */
  private async items(
    pieces: Piece[],
    items: readonly { readonly env: Readonly<Record<string, string>> }[],
    showEnv: boolean,
  ): Promise<void> {
    const memo = showEnv ? this.shownJson : this.hiddenJson;
    let fresh = 0;
    for (let i = 0; i < items.length; i++) {
      if (i > 0) pieces.push({ bytes: COMMA, item: null });
      const item = items[i]!;
      let bytes = memo.get(item);
      if (!bytes) {
        bytes = Buffer.from(JSON.stringify(showEnv ? item : withEnvHidden(item)));
        memo.set(item, bytes);
        if (++fresh % SLICE === 0) await yieldToLoop();
      }
      pieces.push({ bytes, item });
    }
    if (items.length > fresh) this.lookups.inc({ view: 'state-item', result: 'hit' }, items.length - fresh);
    if (fresh > 0) this.lookups.inc({ view: 'state-item', result: 'miss' }, fresh);
  }
}

const COMMA = Buffer.from(',');
/** Shared, as COMMA is, so that the chunk holding it is taken over too. */
const APPS_START = Buffer.from('],"apps":[');
/** One vars object for every build: the derived views (apps) are patched from version to version only for the same vars. */
const NO_VARS = Object.freeze({});

/**
 * Pieces per chunk. Boundaries fall at fixed piece counts, not sizes, so a
 * service that changes size moves no boundary: the chunks around it stay
 * the same. A few hundred services' JSON, under a megabyte here.
 */
const CHUNK_PIECES = 512;

/** A piece of a body: its bytes, and the item they serialize (null: punctuation). */
interface Piece {
  readonly bytes: Buffer;
  readonly item: object | null;
}

/** A chunk of a body, and the piece bytes it was joined from (an item's as its view into the chunk). */
interface Chunk {
  readonly bytes: Buffer;
  readonly parts: readonly Buffer[];
}

/**
 * The pieces joined into chunks of CHUNK_PIECES, one chunk per turn of the
 * loop. Each item's bytes are then kept in `memo` as a view into its chunk,
 * not as a copy of their own: the serialized state is held once. A chunk of
 * `last` whose parts are the very same buffers, in order, is taken over as
 * it is: an event that changed one service copies one chunk, not the whole
 * state.
 */
async function chunked(
  pieces: readonly Piece[],
  memo: WeakMap<object, Buffer>,
  last: readonly Chunk[],
): Promise<Chunk[]> {
  const chunks: Chunk[] = [];
  for (let from = 0; from < pieces.length; from += CHUNK_PIECES) {
    const group = pieces.slice(from, from + CHUNK_PIECES);
    const before = last[chunks.length];
    if (before && sameParts(before.parts, group)) {
      chunks.push(before);
      continue;
    }
    const bytes = Buffer.concat(group.map((p) => p.bytes));
    const parts: Buffer[] = [];
    let at = 0;
    for (const p of group) {
      const view = bytes.subarray(at, at + p.bytes.length);
      if (p.item) memo.set(p.item, view);
      parts.push(p.item ? view : p.bytes);
      at += p.bytes.length;
    }
    chunks.push({ bytes, parts });
    await yieldToLoop();
  }
  return chunks;
}

function sameParts(parts: readonly Buffer[], group: readonly Piece[]): boolean {
  return parts.length === group.length && group.every((p, i) => p.bytes === parts[i]);
}

/** The same object with every env value replaced: the keys stay, so a reader still sees what is set. */
function withEnvHidden<T extends { readonly env: Readonly<Record<string, string>> }>(o: T): T {
  return { ...o, env: Object.fromEntries(Object.keys(o.env).map((k) => [k, HIDDEN_ENV_VALUE])) };
}
