import { anyShape, templateDataShape, valueShape, type AnyRecordShape, type Shape } from './data-shape.js';

// Finds what a template reads that the template data does not have: a typo
// (`{{servicePrt}}`) renders as nothing and the proxy may well accept the
// result, so only reading the template against the data's shape catches it.
// It walks the parsed template once per loaded version, following the
// context through `each`, `with`, block params, `../`, `@root` and partials;
// nothing of it runs per render.

type Node = hbs.AST.Node;
type Program = hbs.AST.Program;
type Path = hbs.AST.PathExpression;
type Expression = hbs.AST.Expression;
type Hash = hbs.AST.Hash | undefined;

/** One parsed template file: the template or a partial. */
export interface LintSource {
  readonly file: string;
  readonly program: Program;
}

/** Something a template reads that cannot be there, with its file, 1-based line and column. */
export interface LintFinding {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** `file:line:column: message`, as compilers print it. */
export function formatFinding(f: LintFinding): string {
  return `${f.file}:${f.line}:${f.column}: ${f.message}`;
}

/** What the lint needs to know besides the template: its partials by name and the helpers registered. */
export interface LintContext {
  readonly partials: ReadonlyMap<string, LintSource>;
  readonly helpers: ReadonlySet<string>;
}

/** Where a node of the template is read: the contexts `../` climbs through, block params, and whether a loop's `@index` is set. */
interface Scope {
  readonly file: string;
  /** The current context first, then each enclosing one `../` reaches (a partial starts afresh: Handlebars passes it no depths). */
  readonly frames: readonly Shape[];
  readonly root: Shape;
  readonly blockParams: ReadonlyMap<string, Shape>;
  readonly inLoop: boolean;
  /** Partials being read, so one that includes itself is read once. */
  readonly partials: readonly string[];
}

/** Data variables Handlebars sets: `@root` always, the rest inside `each`. */
const LOOP_DATA = new Set(['index', 'key', 'first', 'last']);

/** Helpers whose result has fields a template reads further; the rest give a plain value. */
const RESULTS: Readonly<Record<string, (args: readonly Shape[]) => Shape>> = {
  getService: ([list]) => itemOf(list),
  find: ([list]) => itemOf(list),
  sortBy: ([list]) => list ?? anyShape,
  split: () => ({ kind: 'list', item: valueShape }),
  groupBy: ([list]) => ({
    kind: 'list',
    item: { kind: 'record', name: 'a group', fields: { key: anyShape, items: list ?? anyShape } },
  }),
  default: ([first]) => first ?? anyShape,
};

/**
 * Reads `main` (and every partial it includes, in the context it includes
 * it in) against the template data's shape. Unknown fields, helpers,
 * partials and data variables are reported once per place, in file order.
 * `vars`, labels and env are free-form: nothing under them is reported.
 */
export function lintTemplate(main: LintSource, context: LintContext): LintFinding[] {
  const found = new Map<string, LintFinding>();
  // Inline partials (`{{#*inline "name"}}`), read where they are included, like the files in partials/.
  const inline = new Map<string, LintSource>();
  for (const source of [main, ...context.partials.values()]) inlinePartials(source, inline);
  const report = (scope: Scope, node: Node, column: number, message: string) => {
    const f: LintFinding = { file: scope.file, line: node.loc?.start.line ?? 0, column, message };
    found.set(formatFinding(f), f);
  };
  const columnOf = (node: Node) => (node.loc?.start.column ?? 0) + 1;

  const program = (p: Program | undefined, scope: Scope) => {
    for (const stmt of p?.body ?? []) statement(stmt, scope);
  };

  const statement = (node: Node, scope: Scope): void => {
    switch (node.type) {
      case 'MustacheStatement': {
        const m = node as hbs.AST.MustacheStatement;
        call(m.path as Expression, m.params, m.hash, scope);
        return;
      }
      case 'BlockStatement':
        return block(node as hbs.AST.BlockStatement, scope);
      case 'PartialStatement':
      case 'PartialBlockStatement':
        return partial(node as hbs.AST.PartialStatement & { program?: Program }, scope);
      default:
        // Text, comments, and decorators (which read nothing of the data).
        return;
    }
  };

  const block = (b: hbs.AST.BlockStatement, scope: Scope) => {
    const called = helperName(b.path, scope);
    // `{{#name}}` without arguments and no such helper is a section on the field `name`.
    const name =
      called !== null && !context.helpers.has(called) && b.params.length === 0 && !b.hash?.pairs.length ? null : called;
    const args = b.params.map((p) => expression(p, scope));
    hash(b.hash, scope);
    const params = b.program?.blockParams ?? [];
    const enter = (item: Shape, index: Shape, loop: boolean): Scope => ({
      ...scope,
      frames: [item, ...scope.frames],
      blockParams: withParams(scope.blockParams, params, [item, index]),
      inLoop: scope.inLoop || loop,
    });
    if (name === 'each') {
      program(b.program, enter(itemOf(args[0]), valueShape, true));
    } else if (name === 'with') {
      program(b.program, enter(args[0] ?? anyShape, anyShape, false));
    } else if (name !== null) {
      if (!context.helpers.has(name)) unknownHelper(b.path, name, scope);
      // `if`, `unless` and other helpers render their block in the same context.
      program(b.program, scope);
    } else {
      // A section on a field (`{{#backends}}`): a list loops, an object becomes the context, a flag keeps it.
      const shape = expression(b.path, scope);
      if (shape.kind === 'list') program(b.program, enter(shape.item, valueShape, true));
      else if (shape.kind === 'record' || shape.kind === 'map') program(b.program, enter(shape, anyShape, false));
      else program(b.program, scope);
    }
    program(b.inverse, scope);
  };

  const partial = (ps: hbs.AST.PartialStatement & { program?: Program }, scope: Scope) => {
    const nameNode = ps.name as Node;
    const name =
      nameNode.type === 'PathExpression'
        ? (nameNode as Path).original
        : nameNode.type === 'StringLiteral'
          ? (nameNode as hbs.AST.StringLiteral).value
          : null;
    const param = ps.params[0] ? expression(ps.params[0], scope) : null;
    const pairs = (ps.hash?.pairs ?? []).map((pair) => [pair.key, expression(pair.value, scope)] as const);
    // The block of `{{#> p}}…{{/p}}` is `@partial-block`, rendered where the partial puts it, in the caller's context.
    program(ps.program, scope);
    if (name === null) {
      expression(nameNode as Expression, scope);
      return;
    }
    // `{{> @partial-block}}` renders the caller's block, read where the caller is.
    if (nameNode.type === 'PathExpression' && (nameNode as Path).data) return;
    const source = context.partials.get(name) ?? inline.get(name);
    if (!source) {
      if (!ps.program) {
        const known = suggestion(name, [...context.partials.keys(), ...inline.keys()]);
        report(scope, nameNode, columnOf(nameNode), `no partial named "${name}" in partials/${known}`);
      }
      return;
    }
    if (scope.partials.includes(name)) return;
    let own = param ?? scope.frames[0]!;
    if (pairs.length > 0) own = withFields(own, pairs);
    program(source.program, {
      file: source.file,
      frames: [own],
      root: scope.root,
      blockParams: new Map(),
      inLoop: scope.inLoop,
      partials: [...scope.partials, name],
    });
  };

  const hash = (h: Hash, scope: Scope) => {
    for (const pair of h?.pairs ?? []) expression(pair.value, scope);
  };

  /** A mustache or sub-expression: a helper call, or a path to print. */
  const call = (path: Expression, params: readonly Expression[], h: Hash, scope: Scope): Shape => {
    const name = path.type === 'PathExpression' ? helperName(path as Path, scope) : null;
    const args = params.map((p) => expression(p, scope));
    hash(h, scope);
    if (name !== null && (context.helpers.has(name) || params.length > 0 || (h?.pairs.length ?? 0) > 0)) {
      if (!context.helpers.has(name)) {
        unknownHelper(path as Path, name, scope);
        return anyShape;
      }
      if (name === 'lookup') return lookup(args, params, scope);
      return RESULTS[name]?.(args) ?? valueShape;
    }
    return expression(path, scope);
  };

  const expression = (node: Expression, scope: Scope): Shape => {
    switch (node.type) {
      case 'PathExpression':
        return resolve(node as Path, scope);
      case 'SubExpression': {
        const s = node as hbs.AST.SubExpression;
        return call(s.path, s.params, s.hash, scope);
      }
      default:
        return valueShape;
    }
  };

  /** `lookup obj key`: a literal key is a field like any other; a computed one can be any of a map's or list's. */
  const lookup = (args: readonly Shape[], params: readonly Expression[], scope: Scope): Shape => {
    const [of, key] = [args[0] ?? anyShape, params[1]];
    if (key && (key.type === 'StringLiteral' || key.type === 'NumberLiteral')) {
      const segment = String((key as hbs.AST.StringLiteral).value);
      return step(of, segment, { node: key, column: columnOf(key), path: segment, scope });
    }
    return of.kind === 'list' ? of.item : of.kind === 'map' ? of.value : anyShape;
  };

  const resolve = (p: Path, scope: Scope): Shape => {
    const columns = segmentColumns(p);
    const at = (i: number) => ({ node: p as Node, column: columns[i] ?? columnOf(p), path: p.original, scope });
    if (p.data) {
      const [head, ...rest] = p.parts;
      if (head === 'root') return walk(scope.root, rest, 1, at);
      if (head !== undefined && LOOP_DATA.has(head)) {
        if (!scope.inLoop) report(scope, p, columnOf(p), `@${head} is only set inside {{#each}}`);
        return valueShape;
      }
      report(
        scope,
        p,
        columnOf(p),
        `unknown data variable "@${head}"${suggestion(head ?? '', ['root', ...LOOP_DATA], '@')}`,
      );
      return anyShape;
    }
    const [head, ...rest] = p.parts;
    if (p.depth === 0 && head !== undefined && scope.blockParams.has(head) && !p.original.startsWith('this'))
      return walk(scope.blockParams.get(head)!, rest, 1, at);
    const frame = scope.frames[p.depth];
    if (!frame) {
      const top = scope.frames.length - 1;
      report(
        scope,
        p,
        columnOf(p),
        `"${p.original}" climbs above the outermost context here (${top} level${top === 1 ? '' : 's'} up at most; @root is the template data)`,
      );
      return anyShape;
    }
    return walk(frame, p.parts, 0, at, scope.frames.slice(p.depth + 1));
  };

  type At = (i: number) => { node: Node; column: number; path: string; scope: Scope };

  const walk = (from: Shape, parts: readonly string[], offset: number, at: At, outer: readonly Shape[] = []): Shape => {
    let shape = from;
    for (let i = 0; i < parts.length; i++) {
      const where = at(i + offset);
      // A field the context lacks but an enclosing context has is the usual slip inside a loop.
      const climb = i === 0 ? outerPath(parts[0]!, outer, where.scope.root) : '';
      shape = step(shape, parts[i]!, where, climb);
      if (shape.kind === 'any') return shape;
    }
    return shape;
  };

  const step = (
    shape: Shape,
    segment: string,
    where: { node: Node; column: number; path: string; scope: Scope },
    climb = '',
  ): Shape => {
    const fail = (message: string) => {
      report(where.scope, where.node, where.column, message);
      return anyShape;
    };
    switch (shape.kind) {
      case 'any':
        return shape;
      case 'map':
        return shape.value;
      case 'record': {
        const next = Object.hasOwn(shape.fields, segment) ? shape.fields[segment] : undefined;
        if (next) return next;
        const hint = climb ? ` (did you mean "${climb}"?)` : suggestion(segment, Object.keys(shape.fields));
        return fail(`unknown field "${segment}" of ${shape.name}${hint}`);
      }
      case 'list':
        if (segment === 'length') return valueShape;
        if (/^\d+$/.test(segment)) return shape.item;
        return fail(`"${segment}" of a list: a list has only items and length (loop over it with {{#each}})`);
      default:
        if (segment === 'length') return valueShape;
        return fail(`"${segment}" of a plain value: it has no fields`);
    }
  };

  const unknownHelper = (path: Path, name: string, scope: Scope) =>
    report(scope, path, columnOf(path), `unknown helper "${name}"${suggestion(name, [...context.helpers])}`);

  /** The name of a helper a path calls, or null when it can only be data (`this.x`, `../x`, `a.b`, a block param). */
  const helperName = (path: Path, scope: Scope): string | null => {
    if (path.type !== 'PathExpression' || path.data || path.depth > 0 || path.parts.length !== 1) return null;
    if (path.original.startsWith('this') || path.original.startsWith('./') || scope.blockParams.has(path.parts[0]!))
      return null;
    return path.parts[0]!;
  };

  program(main.program, {
    file: main.file,
    frames: [templateDataShape],
    root: templateDataShape,
    blockParams: new Map(),
    inLoop: false,
    partials: [],
  });
  return [...found.values()].sort((a, b) =>
    a.file !== b.file ? (a.file < b.file ? -1 : 1) : a.line - b.line || a.column - b.column,
  );
}

/** Collects the `{{#*inline "name"}}` blocks of a file, anywhere in it. */
function inlinePartials(source: LintSource, into: Map<string, LintSource>): void {
  const visit = (p: Program | undefined) => {
    for (const node of p?.body ?? []) {
      const b = node as Partial<hbs.AST.BlockStatement> & Node;
      if (node.type === 'DecoratorBlock' && b.path?.original === 'inline' && b.params?.[0]?.type === 'StringLiteral')
        into.set((b.params[0] as hbs.AST.StringLiteral).value, { file: source.file, program: b.program! });
      visit(b.program);
      visit(b.inverse);
    }
  };
  visit(source.program);
}

function itemOf(shape: Shape | undefined): Shape {
  if (!shape) return anyShape;
  if (shape.kind === 'list') return shape.item;
  if (shape.kind === 'map') return shape.value;
  return anyShape;
}

function withParams(
  outer: ReadonlyMap<string, Shape>,
  names: readonly string[],
  shapes: readonly Shape[],
): ReadonlyMap<string, Shape> {
  if (names.length === 0) return outer;
  const inner = new Map(outer);
  names.forEach((n, i) => inner.set(n, shapes[i] ?? anyShape));
  return inner;
}

/** A partial's context with hash arguments: Handlebars copies the context's fields and adds the hash's. */
function withFields(base: Shape, pairs: readonly (readonly [string, Shape])[]): Shape {
  if (base.kind === 'any' || base.kind === 'map') return base;
  const fields: Record<string, Shape> = base.kind === 'record' ? { ...base.fields } : {};
  for (const [key, shape] of pairs) fields[key] = shape;
  const name = base.kind === 'record' ? `${base.name} with ${pairs.map(([k]) => k).join(', ')}` : 'the partial context';
  return { kind: 'record', name, fields } satisfies AnyRecordShape;
}

/** `../name` or `@root.name` when an enclosing context or the root has the field; '' when none does. */
function outerPath(name: string, outer: readonly Shape[], root: Shape): string {
  const has = (s: Shape | undefined) => s?.kind === 'record' && Object.hasOwn(s.fields, name);
  const up = outer.findIndex((s) => s !== root && has(s));
  if (up >= 0) return `${'../'.repeat(up + 1)}${name}`;
  return has(root) ? `@root.${name}` : '';
}

/** The column of each segment of a path (`../a.b` → a, b), or none where the text does not split as Handlebars did. */
function segmentColumns(p: Path): number[] {
  const start = (p.loc?.start.column ?? 0) + 1;
  let text = p.original;
  let at = 0;
  if (p.data) {
    at = 1;
    text = text.slice(1);
  }
  const prefix = /^(?:\.\.\/)*(?:this[./]|\.\/)?/.exec(text)![0];
  at += prefix.length;
  const segments = text.slice(prefix.length).split(/[./]/);
  if (segments.length !== p.parts.length) return [];
  const columns: number[] = [];
  for (const s of segments) {
    columns.push(start + at);
    at += s.length + 1;
  }
  return columns;
}

/** ` (did you mean "x"?)` for the closest known name within a small edit distance; '' when none is close. */
function suggestion(name: string, known: readonly string[], prefix = ''): string {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = k.toLowerCase() === name.toLowerCase() ? 0 : distance(name, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  const allowed = Math.max(1, Math.floor(name.length / 3));
  return best !== null && bestDistance <= allowed ? ` (did you mean "${prefix}${best}"?)` : '';
}

/** Edit distance with transpositions (optimal string alignment): `servicePrt` is 1 from `servicePort`, `sevrices` 1 from `services`. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  return d[a.length]![b.length]!;
}
