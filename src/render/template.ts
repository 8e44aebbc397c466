import Handlebars from 'handlebars';
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { RenderBudget, RenderBudgetExceeded } from './budget.js';
import { RenderCache } from './cache.js';
import type { TemplateData } from './data.js';
import {
  assemble,
  CACHED_EACH,
  cachedEach,
  markCachedBlocks,
  type FragmentCollector,
  type Rendered,
} from './fragments.js';
import { helpers } from './helpers.js';
import { lintTemplate, type LintFinding, type LintSource } from './lint.js';
import { locatedHelper, locatedPartial, RenderFault } from './positions.js';
import { messageOf } from '../errors.js';

/** A template that cannot be used, or a render of it that failed: the file, and where in it when known. */
export class TemplateError extends Error {
  override name = 'TemplateError';
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly column: number | null,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}${line !== null ? `:${line}${column !== null ? `:${column}` : ''}` : ''}: ${detail}`, options);
  }
}

/** A compiled template with its partials; rendering is a pure function of the data. */
export interface CompiledTemplate {
  readonly file: string;
  /** The template and partial files it was built from, to watch for edits. */
  readonly files: readonly string[];
  /** The text of each of those files as compiled: a render trial compiles this very version, not what is on disk by then. */
  readonly texts: ReadonlyMap<string, string>;
  /** The whole text; with the target's cache, unchanged loop items are reused. */
  render(data: TemplateData, cache?: RenderCache): string;
  /**
   * The same text cut into fragments: one per item of each cached loop, and
   * the text between loops; joined, they are `render`'s text. The same item
   * gives the same fragment object, so two renders compare fragment by
   * fragment. `cache` is the target's: the data must come from it too.
   */
  renderFragments(data: TemplateData, cache: RenderCache): Rendered;
  /** How many loops render per item from a cache. */
  readonly cachedBlocks: number;
  /** What the template reads that the data does not have (lint.ts), found once when it was loaded. */
  readonly findings: readonly LintFinding[];
}

const COMPILE = { noEscape: true, strict: false, preventIndent: true } as const;

/**
 * How every template and partial of an environment compiles. Told which
 * helpers exist, the compiler calls them directly instead of testing at every
 * mustache whether its name is a helper (~20 % of a first render); which name
 * is a helper is the same either way.
 */
export function compileOptions(hbs: typeof Handlebars) {
  return { ...COMPILE, knownHelpers: Object.fromEntries(Object.keys(hbs.helpers).map((h) => [h, true])) };
}

/**
 * Loads a template and the partials in `partials/` beside it (each by its
 * file name without `.hbs`), checks every one parses, and compiles them with
 * Handlebars into an environment of their own, so two targets never share
 * partials. Loops that qualify render per item once (fragments.ts);
 * `cachedLoops: false` leaves every loop to Handlebars' own `each`, the
 * reference the cached path is tested against.
 */
export async function loadTemplate(
  file: string,
  options: { cachedLoops?: boolean; budgetMs?: number; texts?: ReadonlyMap<string, string> } = {},
): Promise<CompiledTemplate> {
  const given = options.texts;
  const texts = new Map<string, string>();
  const text = async (path: string) => {
    const t = given ? given.get(path) : await read(path);
    if (t === undefined) throw new TemplateError(path, null, null, 'not among the given texts');
    texts.set(path, t);
    return t;
  };
  const hbs = Handlebars.create();
  hbs.registerHelper(helpers);
  const budget = new RenderBudget(file, options.budgetMs ?? Infinity);
  hbs.registerHelper('each', budget.each(hbs.helpers.each!));
  let collector: FragmentCollector | null = null;
  hbs.registerHelper(
    CACHED_EACH,
    cachedEach(hbs, hbs.helpers.each!, () => collector),
  );
  // Last, so that every helper (the budget's `each` and the cached one too) says where it failed.
  for (const [name, helper] of Object.entries(hbs.helpers)) hbs.registerHelper(name, locatedHelper(helper));
  const compile = compileOptions(hbs);
  const partialDir = join(dirname(file), 'partials');
  const files = [file];
  const partials = new Map<string, hbs.AST.Program>();
  const sources = new Map<string, LintSource>();
  const names = given
    ? [...given.keys()].filter((p) => dirname(p) === partialDir).map((p) => basename(p))
    : await listPartials(partialDir);
  for (const name of names) {
    const path = join(partialDir, name);
    const ast = parse(hbs, path, await text(path));
    partials.set(basename(name, '.hbs'), ast);
    sources.set(basename(name, '.hbs'), { file: path, program: ast });
    hbs.registerPartial(basename(name, '.hbs'), locatedPartial(path, hbs.compile(ast, compile)));
    files.push(path);
  }
  const ast = parse(hbs, file, await text(file));
  // Before the cached loops rewrite the tree: the lint reads the template as written.
  const findings = lintTemplate(
    { file, program: ast },
    { partials: sources, helpers: new Set(Object.keys(hbs.helpers)) },
  );
  const cachedBlocks = options.cachedLoops === false ? 0 : markCachedBlocks(ast, partials);
  const template = hbs.compile(ast, compile);
  const self: CompiledTemplate = {
    file,
    files,
    texts,
    cachedBlocks,
    findings,
    renderFragments(data, cache) {
      const into: FragmentCollector = { loops: [], items: [], cache, template: self };
      collector = into;
      cache.beginRender(cachedBlocks);
      try {
        return assemble(
          budget.run(() => template(data, { allowProtoPropertiesByDefault: false })),
          into,
        );
      } catch (e) {
        if (e instanceof RenderBudgetExceeded) throw e;
        throw asTemplateError(file, e);
      } finally {
        collector = null;
        cache.endRender();
      }
    },
    render: (data, cache) => self.renderFragments(data, cache ?? new RenderCache()).fragments.join(''),
  };
  return self;
}

async function listPartials(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => n.endsWith('.hbs')).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

async function read(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new TemplateError(file, null, null, `cannot read: ${(e as NodeJS.ErrnoException).code ?? messageOf(e)}`);
  }
}

/** Parses eagerly: Handlebars compiles lazily, and a syntax error must surface at load, not at the first render. */
function parse(hbs: typeof Handlebars, file: string, source: string): hbs.AST.Program {
  try {
    return hbs.parse(source);
  } catch (e) {
    throw asTemplateError(file, e, source);
  }
}

function asTemplateError(file: string, e: unknown, source = ''): TemplateError {
  if (e instanceof TemplateError) return e;
  if (e instanceof RenderFault)
    return new TemplateError(e.file ?? file, e.line, e.column, e.message, { cause: e.cause });
  // Anything may be thrown in a render, null included: only an object has these.
  const err = (typeof e === 'object' && e !== null ? e : {}) as {
    message?: string;
    lineNumber?: number;
    column?: number;
  };
  const message = String(err.message ?? e);
  const parseLine = /Parse error on line (\d+):/.exec(message);
  const line = err.lineNumber ?? (parseLine ? Number(parseLine[1]) : null);
  const column =
    err.column !== undefined
      ? err.column + 1
      : line !== null && parseLine
        ? caretColumn(message, source.split('\n')[line - 1] ?? '')
        : null;
  // A parse error keeps Handlebars' layout: the excerpt, the caret under it, what was expected.
  const detail = message
    .replace(/^Parse error on line \d+:\n/, 'syntax error:\n')
    .replace(/ - \d+:\d+$/, '')
    .trimEnd();
  return new TemplateError(file, line, column, detail, { cause: e });
}

/**
 * Handlebars marks a parse error with a caret under an excerpt whose text
 * before the caret is the input just consumed, line breaks removed. The
 * column is where the longest tail of that text ends on the error's line.
 */
function caretColumn(message: string, sourceLine: string): number | null {
  const lines = message.split('\n');
  const caret = lines.findIndex((l) => /^-*\^$/.test(l));
  if (caret < 1) return null;
  const consumed = lines[caret - 1]!.slice(0, lines[caret]!.length - 1);
  for (let k = Math.min(consumed.length, sourceLine.length); k > 0; k--) {
    const i = sourceLine.lastIndexOf(consumed.slice(-k));
    if (i >= 0) return i + k + 1;
  }
  return 1;
}
