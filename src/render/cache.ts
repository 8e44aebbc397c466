// What one target's renders keep from one render to the next. The state keeps
// an unchanged service's object from version to version; this cache carries
// that identity through every view a template reads — the service's template
// view, the routes and virtual hosts built from it, the Bamboo app it belongs
// to — so a cached loop (fragments.ts) finds the same item object and reuses
// its text. Each target owns one: its slot table shapes the views, and two
// targets sharing one would evict each other's entries on every render.

import { DerivedViews } from './derived.js';

/** Lookups since the cache was made: a hit reused a kept view or fragment, a miss built it. */
export interface CacheCounts {
  readonly viewHits: number;
  readonly viewMisses: number;
  readonly fragmentHits: number;
  readonly fragmentMisses: number;
  /** Derived views (routes, listeners, apps…) reused or patched, and built anew. */
  readonly derivedHits: number;
  readonly derivedMisses: number;
}

/** What the last render did per cached loop, in the template's loop order: items rendered anew. */
export type LoopMisses = readonly number[];

/**
 * A keyed memo for derived views that lives one build: entries a build reads
 * are carried into the next generation, the rest are dropped, so the memo
 * never holds more than one build's worth of views. A render that patched
 * the views instead of building them (derived.ts) reads nothing and keeps
 * the generation as it is, with the patched entries replaced.
 */
class Generations<K, V> {
  private current = new Map<K, V>();
  private next = new Map<K, V>();
  private read = false;

  get(key: K): V | undefined {
    this.read = true;
    const v = this.current.get(key) ?? this.next.get(key);
    if (v !== undefined) this.next.set(key, v);
    return v;
  }

  set(key: K, value: V): void {
    this.next.set(key, value);
  }

  /** A patched entry: it stands for the key in whichever generation holds it. */
  replace(key: K, value: V): void {
    if (this.read) this.next.set(key, value);
    else this.current.set(key, value);
  }

  /** Ends a render: what a build in it did not read is forgotten. */
  turn(): void {
    if (!this.read) return;
    this.current = this.next;
    this.next = new Map();
    this.read = false;
  }
}

/** One target's render cache; pass it to `templateData` and to the template's `renderFragments`. */
export class RenderCache {
  private viewHits = 0;
  private viewMisses = 0;
  private fragmentHits = 0;
  private fragmentMisses = 0;
  /** Template views by the model's service object, with the slot list they were built for. */
  private readonly views = new WeakMap<object, { slots: unknown; value: unknown }>();
  /** Interned derived views per family (route, vhost, app), by a key naming what they hold (a route's host and path, an app's id). */
  private readonly interned = new Map<string, Generations<string, unknown>>();
  /** The views built from every service at once, patched from render to render where they can be. */
  readonly derived = new DerivedViews(this);
  /** Per compiled template, per loop, the text of each item object. */
  private readonly loops = new WeakMap<object, Map<number, WeakMap<object, string>>>();
  private missesByLoop: number[] = [];
  /** The services each view renders: what a line of a config the proxy refuses is blamed on. */
  private readonly owners = new WeakMap<object, readonly string[]>();

  /** The view of `source` built for `slots`, or a new one from `build(source, slots, arg)`. */
  view<S extends object, L, A, T>(source: S, slots: L, build: (source: S, slots: L, arg: A) => T, arg: A): T {
    const hit = this.views.get(source);
    if (hit && hit.slots === slots) {
      this.viewHits++;
      return hit.value as T;
    }
    this.viewMisses++;
    const value = build(source, slots, arg);
    this.views.set(source, { slots, value });
    return value;
  }

  /**
   * The kept view under `key` when `same` says it still holds what `fresh`
   * holds, else `fresh`, kept for next time and recorded as rendering
   * `owners` (when it is itself a loop item). Routes and virtual hosts are rebuilt on each render; interning
   * gives an unchanged one its old object.
   */
  intern<T extends object>(
    family: string,
    key: string,
    fresh: T,
    same: (kept: T, fresh: T) => boolean,
    owners?: (fresh: T) => readonly string[],
  ): T {
    const generations = this.family(family);
    const kept = generations.get(key) as T | undefined;
    if (kept !== undefined && same(kept, fresh)) return kept;
    generations.set(key, fresh);
    return owners ? this.own(fresh, owners(fresh)) : fresh;
  }

  /** Puts a patched view under `key` in place of the one interned there. */
  reintern<T extends object>(family: string, key: string, view: T): T {
    this.family(family).replace(key, view);
    return view;
  }

  private family(name: string): Generations<string, unknown> {
    let g = this.interned.get(name);
    if (!g) this.interned.set(name, (g = new Generations()));
    return g;
  }

  /** Records which services a view renders. */
  own<T extends object>(view: T, ids: readonly string[]): T {
    this.owners.set(view, ids);
    return view;
  }

  /** The services a view renders; null for anything not built as a view of services. */
  ownersOf(view: object): readonly string[] | null {
    return this.owners.get(view) ?? null;
  }

  /** The item-text cache of one loop of one compiled template. */
  loop(template: object, block: number): WeakMap<object, string> {
    let byBlock = this.loops.get(template);
    if (!byBlock) this.loops.set(template, (byBlock = new Map()));
    let items = byBlock.get(block);
    if (!items) byBlock.set(block, (items = new WeakMap()));
    return items;
  }

  /** Counts one item of loop `block`: reused (hit) or rendered (miss). */
  countFragment(block: number, hit: boolean): void {
    if (hit) this.fragmentHits++;
    else {
      this.fragmentMisses++;
      this.missesByLoop[block] = (this.missesByLoop[block] ?? 0) + 1;
    }
  }

  /** Starts a render: per-loop counts start at zero. */
  beginRender(loops: number): void {
    this.missesByLoop = new Array<number>(loops).fill(0);
  }

  /** Ends a render: derived views it did not read are let go. */
  endRender(): void {
    for (const g of this.interned.values()) g.turn();
  }

  /** Items each cached loop rendered anew in the last render. */
  lastRender(): LoopMisses {
    return this.missesByLoop;
  }

  counts(): CacheCounts {
    return {
      viewHits: this.viewHits,
      viewMisses: this.viewMisses,
      fragmentHits: this.fragmentHits,
      fragmentMisses: this.fragmentMisses,
      derivedHits: this.derived.hits,
      derivedMisses: this.derived.misses,
    };
  }
}
