import type Handlebars from 'handlebars';
import type { HelperOptions } from 'handlebars';
import type { RenderCache } from './cache.js';

// Per-item fragment caching for `{{#each}}` blocks. The state keeps an
// unchanged service's object, and the target's render cache the template view
// of it too, so a block whose output depends on nothing but its item (and the
// target's `vars`) renders the same text for the same object: that text is
// kept in the render cache and reused, and an event re-renders only the
// services it touched. Whether a block
// qualifies is decided on the template's syntax tree, before compiling, so a
// template that reads `@index`, a parent context or an unknown partial inside
// its loop simply renders in full, as it would without this.

type Node = hbs.AST.Node;
type Program = hbs.AST.Program;
type Block = hbs.AST.BlockStatement;
type Path = hbs.AST.PathExpression;

/** The helper the qualifying blocks are rewritten to call. */
export const CACHED_EACH = 'switchyardCachedEach';

/**
 * Stands in the template's own output for a cached loop's items, which go to
 * the render's collector instead: `MARK<index>MARK`. NUL, because no checked
 * value can contain it. The template's output thus stays as small as the
 * parts outside loops, and each item's fragment keeps its identity.
 */
export const FRAGMENT_MARK = '\u0000';

/** Where a render's cached loops put their items' fragments, and where they keep them; set around each (synchronous) render. */
export interface FragmentCollector {
  readonly loops: string[][];
  /** Per loop, the items themselves: whose services a fragment renders is looked up only when asked. */
  readonly items: unknown[][];
  readonly cache: RenderCache;
  /** The compiled template rendering: its loops' caches are its own, so an edited template starts afresh. */
  readonly template: object;
}
const BLOCK_ID = 'switchyardBlock';

/** Blocks that give their content a new context: inside them `../` climbs one more level before leaving the item. */
const CONTEXT_BLOCKS = new Set(['each', 'with', CACHED_EACH]);

/**
 * Rewrites, in place, every `{{#each}}` at the top of `program` (directly or
 * inside `if`/`unless`) whose body qualifies. `partials` are the parsed
 * partials the body may call. Returns how many blocks were rewritten.
 */
export function markCachedBlocks(program: Program, partials: ReadonlyMap<string, Program>): number {
  let next = 0;
  const visit = (body: readonly hbs.AST.Statement[]) => {
    for (const stmt of body) {
      if (stmt.type !== 'BlockStatement') continue;
      const block = stmt as Block;
      const name = helperName(block);
      if (name === 'if' || name === 'unless') {
        visit(block.program.body);
        if (block.inverse) visit(block.inverse.body);
      } else if (
        name === 'each' &&
        block.params.length === 1 &&
        !block.inverse &&
        !block.program.blockParams?.length &&
        qualifies(block.program, 1, partials, new Set())
      ) {
        (block.path as Path).original = CACHED_EACH;
        (block.path as Path).parts = [CACHED_EACH];
        (block.path as { head?: string }).head = CACHED_EACH;
        const id = {
          type: 'NumberLiteral',
          value: next,
          original: next,
          loc: block.loc,
        } as unknown as hbs.AST.Expression;
        block.hash = {
          type: 'Hash',
          loc: block.loc,
          pairs: [{ type: 'HashPair', key: BLOCK_ID, value: id, loc: block.loc }],
        } as hbs.AST.Hash;
        next++;
      }
    }
  };
  visit(program.body);
  return next;
}

function helperName(block: Block): string | null {
  return block.path.type === 'PathExpression' ? (block.path as Path).original : null;
}

/** Does everything in `node` depend only on the item (`depth` context levels up is the item's parent) and on `vars`? */
function qualifies(
  node: Node | null | undefined,
  depth: number,
  partials: ReadonlyMap<string, Program>,
  seen: Set<string>,
): boolean {
  if (!node) return true;
  const all = (nodes: readonly (Node | null | undefined)[], d = depth) =>
    nodes.every((n) => qualifies(n, d, partials, seen));
  switch (node.type) {
    case 'Program':
      return all((node as Program).body);
    case 'ContentStatement':
    case 'CommentStatement':
    case 'StringLiteral':
    case 'NumberLiteral':
    case 'BooleanLiteral':
    case 'UndefinedLiteral':
    case 'NullLiteral':
      return true;
    case 'PathExpression': {
      const p = node as Path;
      if (p.data) return p.parts[0] === 'root' && p.parts[1] === 'vars';
      // Climbing out of the item lands on the template's root data: only its vars are the same from render to render.
      return p.depth < depth || (p.depth === depth && p.parts[0] === 'vars');
    }
    case 'MustacheStatement':
    case 'SubExpression': {
      const m = node as hbs.AST.MustacheStatement;
      return all([m.path, ...m.params, ...(m.hash?.pairs.map((h) => h.value) ?? [])]);
    }
    case 'BlockStatement': {
      const b = node as Block;
      const inner = CONTEXT_BLOCKS.has(helperName(b) ?? '') ? depth + 1 : depth;
      return (
        all([b.path, ...b.params, ...(b.hash?.pairs.map((h) => h.value) ?? [])]) && all([b.program, b.inverse], inner)
      );
    }
    case 'PartialStatement': {
      const ps = node as hbs.AST.PartialStatement;
      const name = ps.name.type === 'PathExpression' ? (ps.name as Path).original : null;
      const body = name ? partials.get(name) : undefined;
      if (!body || ps.params.length > 0 || seen.has(name!)) return false;
      seen.add(name!);
      const ok = all(ps.hash?.pairs.map((h) => h.value) ?? []) && qualifies(body, depth, partials, seen);
      seen.delete(name!);
      return ok;
    }
    default:
      // Decorators, partial blocks and anything newer: not worth the risk.
      return false;
  }
}

/**
 * The caching `each`: for an array, each object item's output is computed
 * once per item object and block, kept in the render's cache, then reused.
 * Everything else, and a render without a collector, falls back to the
 * built-in `each`.
 */
export function cachedEach(
  hbs: typeof Handlebars,
  builtinEach: Handlebars.HelperDelegate,
  collector: () => FragmentCollector | null,
): Handlebars.HelperDelegate {
  return function (this: unknown, context: unknown, options: HelperOptions) {
    const id = Number(options.hash?.[BLOCK_ID]);
    const into = collector();
    if (!Array.isArray(context) || !into) return builtinEach.call(this, context, options);
    const cache = into.cache.loop(into.template, id);
    const out = new Array<string>(context.length);
    for (let i = 0; i < context.length; i++) {
      const item: unknown = context[i];
      const cacheable = typeof item === 'object' && item !== null;
      let text = cacheable ? cache.get(item) : undefined;
      if (cacheable) into.cache.countFragment(id, text !== undefined);
      if (text === undefined) {
        const data = hbs.createFrame(options.data);
        data.index = i;
        data.key = i;
        data.first = i === 0;
        data.last = i === context.length - 1;
        text = flatten('' + options.fn(item, { data, blockParams: [item, i] }));
        if (cacheable) cache.set(item, text);
      }
      out[i] = text;
    }
    into.loops.push(out);
    into.items.push(context);
    return `${FRAGMENT_MARK}${into.loops.length - 1}${FRAGMENT_MARK}`;
  };
}

/**
 * The same string as one flat copy. A template's output is built by
 * concatenation, which V8 keeps as a tree of the pieces (tens of bytes per
 * piece: at 5000 services the cached fragments took 21 MB of tree nodes for
 * a 4.8 MB config). Reading a character makes V8 flatten the string in place.
 */
function flatten(s: string): string {
  s.charCodeAt(0);
  return s;
}

/** A render cut into fragments, each with the item it was rendered from (null: the template's own text). */
export interface Rendered {
  readonly fragments: string[];
  /** Parallel to `fragments`; the render cache's `ownersOf` names an item's services. */
  readonly items: readonly unknown[];
}

/**
 * A render's output with its loops spliced back in: the pieces between loops
 * and every item's fragment, in order, each with its item.
 */
export function assemble(raw: string, into: FragmentCollector): Rendered {
  const parts = raw.split(FRAGMENT_MARK);
  let count = 0;
  for (let i = 0; i < parts.length; i++) count += i % 2 === 0 ? 1 : into.loops[Number(parts[i])]!.length;
  // Sized once: grown by push, the two arrays of a 5000-service render were copied over and over (~1 MB per render).
  const fragments = new Array<string>(count);
  const items = new Array<unknown>(count);
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 0) {
      fragments[at] = parts[i]!;
      items[at++] = null;
    } else {
      const loop = Number(parts[i]);
      const texts = into.loops[loop]!;
      const of = into.items[loop]!;
      for (let k = 0; k < texts.length; k++) {
        fragments[at] = texts[k]!;
        items[at++] = of[k];
      }
    }
  }
  return { fragments, items };
}

/**
 * The fragments that differ between two renders of the same template, each
 * list joined: all a line-by-line comparison needs to look at. Null when the
 * renders do not line up fragment for fragment (the whole texts must be
 * compared then). An unchanged item's fragment is the same string object, so
 * most comparisons end at the pointer.
 */
export function changedFragments(
  before: readonly string[],
  after: readonly string[],
): { before: string; after: string } | null {
  if (before.length !== after.length) return null;
  let a = '';
  let b = '';
  for (let i = 0; i < after.length; i++) {
    if (before[i] === after[i]) continue;
    a += before[i];
    b += after[i];
  }
  return { before: a, after: b };
}
