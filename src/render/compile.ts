/* eslint-disable @typescript-eslint/no-explicit-any -- Handlebars runtime values are untyped here */
import Handlebars from 'handlebars';

// A compiler from a parsed Handlebars template to plain JavaScript, rendering
// byte for byte what Handlebars 4.7 renders with Switchyard's options
// (noEscape, preventIndent, no prototype access). Handlebars' own runtime
// spends a render on generic machinery: an options object per helper call,
// a program wrapper per block, a depths array per nested context. Here the
// built-in block helpers become loops and conditions in the generated code,
// and the rest of the machinery is built only where a custom helper can see
// it. Handlebars' generated code is the specification: the comments name the
// parts of handlebars/dist/cjs/handlebars (compiler/compiler.js,
// compiler/javascript-compiler.js, runtime.js, helpers/*.js) each rule comes
// from, quirks included, because templates already rendered with them.
//
// The generated code takes nothing from the template as code: text, names
// and keys enter it as JSON string literals, numbers after a type check,
// every identifier is the compiler's own. A template using anything outside
// the supported subset (decorators, partial blocks, dynamic partials, a
// partial registered as source text) is left to Handlebars: decided here,
// from the syntax tree, before any render.

type Env = typeof Handlebars;

/** A compiled template: the text for a context, as Handlebars renders it. */
export type RenderFunction = (context: unknown) => string;

/** The syntax tree as this compiler reads it: every field is checked before use, as Handlebars' compiler checks it. */
interface Node {
  readonly type: string;
  readonly [field: string]: unknown;
}

/**
 * A compiled program: the body of a function `(c, d, bp, dp)` of context,
 * data frame, block params and depths, in the program's own variables (see
 * `variables`), and the same as one expression when it needs no statements,
 * so that an `{{#if}}` can run it in place instead of calling it.
 */
interface CompiledProgram {
  readonly id: number;
  /** Whether it reads block params (its own or an ancestor's), and so needs the chain of them. */
  readonly usesBlockParams: boolean;
  /** Whether it climbs contexts (`../`), and so needs the chain of them. */
  readonly usesDepths: boolean;
  /** How many block params it declares (`as |a b|`). */
  readonly declared: number;
  /** The null-context stand-in of the template (or partial) it belongs to. */
  readonly nullContext: string;
  /** Its value as one expression, or null when it needs statements. */
  readonly expression: string | null;
  /** Its function's statements. */
  readonly body: string;
  /** The variables its code uses besides its own four and T. */
  readonly locals: ReadonlySet<string>;
}

/** A program being compiled. */
interface Scope {
  readonly v: Variables;
  /** Block param names, innermost program first, as Handlebars' compiler stacks them. */
  readonly blockParams: readonly (readonly string[] | undefined)[];
  readonly children: ReadonlyMap<Node, CompiledProgram | null>;
  readonly nullContext: string;
  readonly locals: Set<string>;
  /**
   * Handlebars' `useBlockParams` as its compiler has it at this point of the
   * program: true once a child or an earlier expression reads block params.
   * It decides whether helper options carry `blockParams`.
   */
  blockParamsSeen: boolean;
  climbs: boolean;
}

/**
 * A program's variables: its context, data frame, block param chain and
 * depths chain, and `T`, the context helpers are called on (runtime.js:
 * `depth0 != null ? depth0 : container.nullContext`).
 */
interface Variables {
  readonly c: string;
  readonly d: string;
  readonly bp: string;
  readonly dp: string;
  readonly T: string;
}

function variables(id: number): Variables {
  return { c: `c${id}`, d: `d${id}`, bp: `bp${id}`, dp: `dp${id}`, T: `T${id}` };
}

/** How a caller runs a program, as a wrapper would run it with `{ data, blockParams: [params] }`. */
interface Invocation {
  /** An expression without side effects: it may be evaluated twice. */
  readonly context: string;
  readonly data: string;
  readonly params: string;
  /** The caller's chains. */
  readonly bp: string;
  readonly dp: string;
}

/** A piece of a program's output: text, a value to append, or statements appending to the buffer `b` (or returning, in a program of one statement). */
type Item =
  { readonly content: string } | { readonly chunk: string } | { readonly statement: (simple: boolean) => string };

const KNOWN_HELPERS = new Set(['helperMissing', 'blockHelperMissing', 'each', 'if', 'unless', 'with', 'log', 'lookup']);
const SCOPED = /^\.|this\b/;
const LITERALS = new Set(['StringLiteral', 'NumberLiteral', 'BooleanLiteral', 'UndefinedLiteral', 'NullLiteral']);

class Unsupported extends Error {}

function unsupported(what: string): never {
  throw new Unsupported(what);
}

const builtins = new WeakMap<Env, Readonly<Record<string, unknown>>>();

/**
 * A new Handlebars environment whose built-in helpers compileTemplate knows:
 * while `if`, `unless`, `each`, `with` and `lookup` are still these, it
 * compiles their blocks inline instead of calling them.
 */
export function createEnvironment(): Env {
  const env = Handlebars.create();
  builtins.set(env, { ...env.helpers });
  return env;
}

/**
 * Compiles `ast` (as `hbs.parse` returns it) to a function rendering exactly
 * what `env.compile(ast, { noEscape: true, strict: false, preventIndent: true })`
 * renders with `{ allowProtoPropertiesByDefault: false }`, errors included
 * (but for the wording of a TypeError, which V8 takes from the code); null
 * when the template needs Handlebars. `partials` are the parsed
 * partials env.partials holds compiled, by name. Helpers and partials are
 * read now: they must not change afterwards.
 */
export function compileTemplate(
  env: Env,
  ast: hbs.AST.Program,
  partials: ReadonlyMap<string, hbs.AST.Program>,
): RenderFunction | null {
  try {
    return new Generator(env, partials).compile(ast);
  } catch (e) {
    if (e instanceof Unsupported) return null;
    throw e;
  }
}

class Generator {
  private readonly functions: string[] = [];
  private readonly constants: unknown[] = [];
  private readonly constantNames = new Map<unknown, string>();
  private readonly partialUnits = new Map<string, string>();
  private readonly programFunctions = new Map<CompiledProgram, string>();
  private readonly builtin: Readonly<Record<string, unknown>> | undefined;
  private readonly helperMissing: unknown;
  private next = 0;

  constructor(
    private readonly env: Env,
    private readonly partials: ReadonlyMap<string, hbs.AST.Program>,
  ) {
    this.builtin = builtins.get(env);
    // The hooks Handlebars moves out of the helpers at every render (runtime.js, _setup).
    this.helperMissing = env.helpers.helperMissing;
    if (typeof this.helperMissing !== 'function' || typeof env.helpers.blockHelperMissing !== 'function')
      unsupported('replaced helper hooks');
  }

  compile(ast: hbs.AST.Program): RenderFunction {
    const hooks = `const hm = ${this.constant(this.helperMissing)}, bhm = ${this.constant(this.env.helpers.blockHelperMissing)};`;
    const main = this.unit(ast);
    const runtime = runtimeFor(this.env);
    const source = [
      '"use strict";',
      `const { ${Object.keys(runtime).join(', ')} } = rt;`,
      ...this.constants.map((_, i) => `const k${i} = K[${i}];`),
      hooks,
      ...this.functions,
      // runtime.js, initData: the top-level data frame holds only `root`.
      `return (c) => ${main}(c, { root: c });`,
    ];
    return new Function('rt', 'K', source.join('\n'))(runtime, this.constants) as RenderFunction;
  }

  /**
   * A template or partial as a function `(context, data)`. Handlebars compiles
   * `hbs.compile(ast)` from the tree after running its whitespace control on
   * it once more (compiler/base.js, parse), so this does the same, on a copy.
   */
  private unit(ast: hbs.AST.Program, name = this.name('u')): string {
    const program = Handlebars.parse(structuredClone(ast) as unknown as string) as unknown as Node;
    const nullContext = this.name('n');
    // runtime.js, container.nullContext: one per compiled template.
    this.functions.push(`const ${nullContext} = Object.seal({});`);
    const main = this.program(program, [], nullContext);
    if (!main) return unsupported('no program');
    const blockParams = main.usesBlockParams ? '[]' : 'void 0';
    const depths = main.usesDepths ? '{ v: c, up: void 0 }' : 'void 0';
    this.functions.push(
      `function ${name}(c, d) { return "" + ${this.functionOf(main)}(c, d, ${blockParams}, ${depths}); }`,
    );
    return name;
  }

  private partialUnit(name: string): string {
    const known = this.partialUnits.get(name);
    if (known) return known;
    const unit = this.name('u');
    // Registered before compiling, so a partial may call itself.
    this.partialUnits.set(name, unit);
    this.unit(this.partials.get(name)!, unit);
    return unit;
  }

  private name(prefix: string): string {
    return `${prefix}${this.next++}`;
  }

  private constant(value: unknown): string {
    let name = this.constantNames.get(value);
    if (!name) {
      name = `k${this.constants.length}`;
      this.constants.push(value);
      this.constantNames.set(value, name);
    }
    return name;
  }

  /** A program, or null for a missing one (Handlebars' noop). */
  private program(node: unknown, outer: Scope['blockParams'], nullContext: string): CompiledProgram | null {
    if (node === undefined || node === null) return null;
    const program = asNode(node, 'Program');
    const body = nodeList(program.body);
    const declared =
      program.blockParams === undefined || program.blockParams === null ? undefined : strings(program.blockParams);
    const blockParams = [declared, ...outer];
    // javascript-compiler.js compiles every child before its parent's own code, and the parent takes their flags.
    const children = new Map<Node, CompiledProgram | null>();
    for (const statement of body) {
      if (statement.type !== 'BlockStatement') continue;
      for (const child of [statement.program, statement.inverse]) {
        if (child !== undefined && child !== null)
          children.set(child as Node, this.program(child, blockParams, nullContext));
      }
    }
    const compiled = [...children.values()];
    const id = this.next++;
    const scope: Scope = {
      v: variables(id),
      blockParams,
      children,
      nullContext,
      locals: new Set(),
      blockParamsSeen: compiled.some((c) => c?.usesBlockParams),
      climbs: false,
    };
    const items: Item[] = [];
    for (const statement of body) this.statement(scope, statement, items);
    // compiler.js, Program: a program of one statement returns that statement's value as it is.
    const { expression, statements } = assemble(items, body.length === 1);
    return {
      id,
      usesBlockParams: scope.blockParamsSeen,
      usesDepths: scope.climbs || compiled.some((c) => c?.usesDepths),
      declared: declared?.length ?? 0,
      nullContext,
      expression,
      body: expression === null ? statements : `return ${expression};`,
      locals: scope.locals,
    };
  }

  /** The program as a function, written once. */
  private functionOf(program: CompiledProgram): string {
    let name = this.programFunctions.get(program);
    if (name) return name;
    name = `p${program.id}`;
    this.programFunctions.set(program, name);
    const v = variables(program.id);
    this.functions.push(
      [
        `function ${name}(${v.c}, ${v.d}, ${v.bp}, ${v.dp}) {`,
        ...(mentions(program.body, v.T) ? [`const ${v.T} = ${v.c} != null ? ${v.c} : ${program.nullContext};`] : []),
        ...(program.locals.size ? [`let ${[...program.locals].join(', ')};`] : []),
        program.body,
        '}',
      ].join('\n'),
    );
    return name;
  }

  /** A run of a program (runtime.js, wrapProgram), in place when it is one expression; its variables join `locals`. */
  private invoke(program: CompiledProgram | null, call: Invocation, locals: Set<string>): string {
    if (!program) return '""';
    const nc = program.nullContext;
    const blockParams = program.usesBlockParams ? `[${call.params}].concat(${call.bp})` : 'void 0';
    if (program.expression === null) {
      const depths = program.usesDepths ? `push(${call.dp}, ${call.context}, ${nc})` : 'void 0';
      return `${this.functionOf(program)}(${call.context}, ${call.data}, ${blockParams}, ${depths})`;
    }
    const v = variables(program.id);
    const set: Array<[string, string]> = [[v.c, call.context]];
    if (mentions(program.expression, v.T)) set.push([v.T, `${v.c} != null ? ${v.c} : ${nc}`]);
    if (mentions(program.expression, v.d)) set.push([v.d, call.data]);
    if (program.usesBlockParams) set.push([v.bp, blockParams]);
    if (program.usesDepths) set.push([v.dp, `push(${call.dp}, ${v.c}, ${nc})`]);
    for (const name of [...set.map(([name]) => name), ...program.locals]) locals.add(name);
    return `(${set.map(([name, value]) => `${name} = ${value}`).join(', ')}, ${program.expression})`;
  }

  private statement(scope: Scope, node: Node, items: Item[]): void {
    switch (node.type) {
      case 'ContentStatement': {
        if (node.value !== undefined && node.value !== null && typeof node.value !== 'string') unsupported('content');
        if (node.value) items.push({ content: node.value as string });
        return;
      }
      case 'CommentStatement':
        return;
      case 'MustacheStatement':
        items.push({ chunk: this.append(scope, this.expression(scope, node)) });
        return;
      case 'BlockStatement':
        return this.block(scope, node, items);
      case 'PartialStatement':
        return this.partial(scope, node, items);
      default:
        return unsupported(node.type);
    }
  }

  /** The value of a mustache or sub-expression (compiler.js, SubExpression). */
  private expression(scope: Scope, node: Node): string {
    const path = helperPath(node);
    switch (this.classify(scope, node, path)) {
      case 'simple':
        return this.lambda(scope, this.path(scope, path, false));
      case 'helper':
        return this.helperCall(scope, node, path, null);
      case 'ambiguous':
        return this.ambiguous(scope, node, path);
    }
  }

  private block(scope: Scope, node: Node, items: Item[]): void {
    const path = helperPath(node);
    const block = { program: this.child(scope, node.program), inverse: this.child(scope, node.inverse) };
    const { c, T } = scope.v;
    switch (this.classify(scope, node, path)) {
      case 'helper': {
        const inline = this.builtinBlock(scope, node, path, block);
        items.push({ chunk: inline ?? this.append(scope, this.helperCall(scope, node, path, block)) });
        return;
      }
      case 'simple': {
        // blockValue: the value goes through blockHelperMissing, called on the raw context.
        const value = this.lambda(scope, this.path(scope, path, false));
        items.push({
          chunk: this.append(
            scope,
            `bhm.call(${c}, ${value}, ${this.options(scope, node, pathOriginal(path), '{}', block)})`,
          ),
        });
        return;
      }
      case 'ambiguous': {
        // invokeAmbiguous then ambiguousBlockValue: the helper's result, or the value (a function's result) through
        // blockHelperMissing, with one options object for both. The only construct Handlebars compiles to statements.
        const name = parts(path)[0]!;
        const value = this.path(scope, path, false);
        const helper = this.helperValue(name);
        const options = this.options(scope, node, name, '{}', block);
        for (const local of ['h', 'o', 'r']) scope.locals.add(local);
        const lookup = helper ? this.constant(helper) : `(h = ${value}) != null ? h : hm`;
        let code = `h = ${lookup}; o = ${options}; r = typeof h === "function" ? h.call(${T}, o) : h;`;
        if (!helper) code += ` r = bhm.call(${c}, r, o);`;
        items.push({
          statement: (simple) => (simple ? `${code} return r != null ? r : "";` : `${code} if (r != null) b += r;`),
        });
        return;
      }
    }
  }

  private child(scope: Scope, node: unknown): CompiledProgram | null {
    return node === undefined || node === null ? null : scope.children.get(node as Node)!;
  }

  private partial(scope: Scope, node: Node, items: Item[]): void {
    const nameNode = asNode(node.name);
    if (!(nameNode.type === 'PathExpression' && !nameNode.data) && nameNode.type !== 'StringLiteral')
      unsupported('partial name');
    const name = nameNode.original;
    if (typeof name !== 'string') return unsupported('partial name');
    const params = nodeList(node.params);
    if (params.length > 1 || node.program !== undefined) unsupported('partial arguments');
    // compiler.js, PartialStatement: without an argument the partial gets the current context.
    const context = params.length ? this.param(scope, params[0]!) : scope.v.c;
    const hash = node.hash === undefined || node.hash === null ? 'void 0' : this.hash(scope, asNode(node.hash, 'Hash'));
    // preventIndent: a standalone partial's indent is printed once, before it, as text.
    if (node.indent !== undefined && typeof node.indent !== 'string') unsupported('indent');
    if (node.indent) items.push({ content: node.indent as string });
    const registered = Object.prototype.hasOwnProperty.call(this.env.partials, name)
      ? (this.env.partials as Record<string, unknown>)[name]
      : undefined;
    if (registered === undefined) {
      items.push({ chunk: `partialMissing(${context}, ${hash}, ${JSON.stringify(name)})` });
    } else if (typeof registered === 'function' && this.partials.has(name)) {
      // A partial's text is a string, never null: nothing to replace.
      items.push({ chunk: `partial(${this.partialUnit(name)}, ${context}, ${hash}, ${scope.v.d})` });
    } else {
      unsupported(`partial ${name} registered without its syntax tree`);
    }
  }

  /** compiler.js, classifySexpr. */
  private classify(scope: Scope, node: Node, path: Node): 'helper' | 'simple' | 'ambiguous' {
    const head = parts(path)[0];
    const isSimple = simpleId(path);
    const isBlockParam = isSimple && !!blockParamIndex(scope, head);
    let isHelper = !isBlockParam && helperExpression(node);
    const isEligible = !isBlockParam && (isHelper || isSimple);
    if (isEligible && !isHelper && KNOWN_HELPERS.has(head!)) isHelper = true;
    return isHelper ? 'helper' : isEligible ? 'ambiguous' : 'simple';
  }

  /** helperSexpr: a known helper is called as registered; any other falls back to a function at the path, then helperMissing. */
  private helperCall(scope: Scope, node: Node, path: Node, block: Block | null): string {
    const params = nodeList(node.params).map((p) => this.param(scope, p));
    const hash = node.hash === undefined || node.hash === null ? null : this.hash(scope, asNode(node.hash, 'Hash'));
    const name = parts(path)[0];
    const { T } = scope.v;
    if (name !== undefined && KNOWN_HELPERS.has(name)) {
      // helpers/lookup.js.
      if (name === 'lookup' && this.isBuiltin(name) && params.length === 2 && !hash)
        return `lookup(${params[0]}, ${params[1]})`;
      return `${this.constant(this.helperValue(name))}.call(${T}, ${[...params, this.options(scope, node, name, hash ?? '{}', block)].join(', ')})`;
    }
    const value = this.path(scope, path, true);
    const helper = simpleId(path) ? this.helperValue(name!) : undefined;
    const callee = helper ? this.constant(helper) : `(${value} || hm)`;
    return `${callee}.call(${T}, ${[...params, this.options(scope, node, pathOriginal(path), hash ?? '{}', block)].join(', ')})`;
  }

  /** invokeAmbiguous for a mustache: a helper by that name, else the value, called if it is a function. */
  private ambiguous(scope: Scope, node: Node, path: Node): string {
    const name = parts(path)[0]!;
    const value = this.path(scope, path, false);
    const helper = this.helperValue(name);
    const options = this.options(scope, node, name, '{}', null);
    const { T } = scope.v;
    if (helper)
      return typeof helper === 'function' ? `${this.constant(helper)}.call(${T}, ${options})` : this.constant(helper);
    scope.locals.add('t');
    // The built-in helperMissing returns undefined for a missing value, which prints as null does.
    if (this.isBuiltin('helperMissing')) return `(typeof (t = ${value}) === "function" ? t.call(${T}, ${options}) : t)`;
    return `((t = (t = ${value}) != null ? t : hm), typeof t === "function" ? t.call(${T}, ${options}) : t)`;
  }

  /**
   * Blocks of if, unless, each and with as code, when the helper is
   * Handlebars' own and called the usual way; null otherwise. Their values
   * are never null, so need no replacing before they are appended.
   */
  private builtinBlock(scope: Scope, node: Node, path: Node, block: Block): string | null {
    const name = parts(path)[0]!;
    if (!['if', 'unless', 'each', 'with'].includes(name) || !this.isBuiltin(name)) return null;
    const params = nodeList(node.params);
    const hasHash = node.hash !== undefined && node.hash !== null;
    if (
      params.length !== 1 ||
      (name !== 'if' && name !== 'unless' && hasHash) ||
      (name === 'unless' && !this.isBuiltin('if'))
    )
      return null;
    const value = this.param(scope, params[0]!);
    const { T, d, bp, dp } = scope.v;
    const nc = scope.nullContext;
    if (name === 'if' || name === 'unless') {
      // helpers/if.js; `unless` calls the registered `if` with the programs swapped.
      const hash = hasHash ? this.hash(scope, asNode(node.hash, 'Hash')) : null;
      const [yes, no] = name === 'if' ? [block.program, block.inverse] : [block.inverse, block.program];
      const call = { context: T, data: d, params: 'void 0', bp, dp };
      // With a hash (includeZero) the test is a call: the hash runs before the condition's function, as in the helper.
      scope.locals.add('t');
      const test = hash
        ? `ifz(${value}, ${T}, (${hash}).includeZero)`
        : `(t = ${value}, typeof t === "function" && (t = t.call(${T})), t && !(isArray(t) && t.length === 0))`;
      return `(${test} ? ${this.invoke(yes, call, scope.locals)} : ${this.invoke(no, call, scope.locals)})`;
    }
    const site = this.name(name === 'each' ? 'e' : 'w');
    const locals = new Set<string>();
    const inverse = this.invoke(
      block.inverse,
      { context: 'T', data: 'd', params: 'void 0', bp: 'bp', dp: 'dp' },
      locals,
    );
    let code: string[];
    if (name === 'each') {
      // helpers/each.js: arrays by index (holes skipped), other iterables in order, objects by key; one data frame, updated per item.
      const program = block.program;
      const item = (field: string) =>
        program
          ? `${this.functionOf(program)}(x, f || d, ${program.usesBlockParams ? `[bpa([x, ${field}], [void 0 + ${field}, null])].concat(bp)` : 'void 0'}, ${program.usesDepths ? `push(dp, x, ${nc})` : 'void 0'})`
          : '""';
      code = [
        'if (typeof v === "function") v = v.call(T);',
        'const f = d ? createFrame(d) : void 0;',
        'let r = "", i = 0;',
        'if (v && typeof v === "object") {',
        'if (isArray(v)) {',
        'for (const j = v.length; i < j; i++) {',
        'if (!(i in v)) continue;',
        'const l = i === v.length - 1, x = v[i];',
        'if (f) { f.key = i; f.index = i; f.first = i === 0; f.last = l; }',
        `r = r + ${item('i')};`,
        '}',
        '} else {',
        `const o = eachOther(v, f, d, bp, dp, (x, k, f, d, bp, dp) => ${item('k')});`,
        'if (o !== null) return o;',
        '}',
        '}',
        `return i === 0 ? ${inverse} : r;`,
      ];
    } else {
      // helpers/with.js.
      const body = this.invoke(
        block.program,
        { context: 'v', data: 'd', params: 'bpa([v], [d && d.contextPath])', bp: 'bp', dp: 'dp' },
        locals,
      );
      code = ['if (typeof v === "function") v = v.call(T);', `return isEmpty(v) ? ${inverse} : ${body};`];
    }
    this.functions.push(
      [
        `function ${site}(v, T, d, bp, dp) {`,
        ...(locals.size ? [`let ${[...locals].join(', ')};`] : []),
        ...code,
        '}',
      ].join('\n'),
    );
    const programs = [block.program, block.inverse];
    const chains = [
      programs.some((p) => p?.usesBlockParams) ? bp : 'void 0',
      programs.some((p) => p?.usesDepths) ? dp : 'void 0',
    ];
    return `${site}(${value}, ${T}, ${d}, ${chains.join(', ')})`;
  }

  private isBuiltin(name: string): boolean {
    return this.builtin !== undefined && this.env.helpers[name] === this.builtin[name];
  }

  /**
   * What `lookupProperty(helpers, name)` finds at render time: helpers are
   * copied by own enumerable name, without the two moved to hooks.
   */
  private helperValue(name: string): unknown {
    if (name === 'helperMissing' || name === 'blockHelperMissing' || name === '__proto__') return undefined;
    return Object.prototype.propertyIsEnumerable.call(this.env.helpers, name) ? this.env.helpers[name] : undefined;
  }

  /** javascript-compiler.js, setupParams and setupHelperArgs, plus the lookupProperty every registered helper's wrapper adds. */
  private options(scope: Scope, node: Node, name: string, hash: string, block: Block | null): string {
    const fields = [`name: ${JSON.stringify(name)}`, `hash: ${hash}`];
    if (block)
      fields.push(`fn: ${this.wrapped(scope, block.program)}`, `inverse: ${this.wrapped(scope, block.inverse)}`);
    fields.push(`data: ${scope.v.d}`);
    if (scope.blockParamsSeen) fields.push(`blockParams: ${scope.v.bp}`);
    const loc = location(node);
    if (loc) fields.push(`loc: ${loc}`);
    fields.push('lookupProperty: lp');
    return `{ ${fields.join(', ')} }`;
  }

  /** A program as a helper sees it (runtime.js, wrapProgram). */
  private wrapped(scope: Scope, program: CompiledProgram | null): string {
    if (!program) return 'noop';
    const { d, bp, dp } = scope.v;
    return `wrap(${this.functionOf(program)}, ${d}, ${program.usesBlockParams ? bp : 'void 0'}, ${program.usesDepths ? dp : 'void 0'}, ${program.declared}, ${scope.nullContext})`;
  }

  /** compiler.js, pushParam. */
  private param(scope: Scope, node: Node): string {
    if (node.type === 'PathExpression') return this.path(scope, node, false);
    if (node.type === 'SubExpression') return this.expression(scope, node);
    return literal(node);
  }

  /**
   * javascript-compiler.js, objectLiteral of the hash: keys as they come out
   * of an object assigned last pair first (so the first of a repeated key
   * wins and the values run in that order), `undefined` values left out.
   */
  private hash(scope: Scope, node: Node): string {
    if (!Array.isArray(node.pairs)) return unsupported('hash');
    const pairs = (node.pairs as unknown[]).map((p) => asNode(p, 'HashPair'));
    const values = pairs.map((p) => {
      if (typeof p.key !== 'string' || p.key === '__proto__') unsupported('hash key');
      return this.param(scope, asNode(p.value));
    });
    const order: Record<string, number> = {};
    for (let i = pairs.length - 1; i >= 0; i--) order[pairs[i]!.key as string] = i;
    const fields = Object.keys(order)
      .filter((key) => asNode(pairs[order[key]!]!.value).type !== 'UndefinedLiteral')
      .map((key) => `${JSON.stringify(key)}: ${values[order[key]!]}`);
    return `{ ${fields.join(', ')} }`;
  }

  /** compiler.js, PathExpression; javascript-compiler.js, lookupOnContext, lookupBlockParam, lookupData and resolvePath. */
  private path(scope: Scope, node: Node, falsy: boolean): string {
    const depth = depthOf(node);
    const segments = parts(node);
    const head = segments[0];
    const bp = !depth && !SCOPED.test(String(node.original)) && blockParamIndex(scope, head);
    if (bp) {
      scope.blockParamsSeen = true;
      return this.chain(scope, `${scope.v.bp}[${bp[0]}][${bp[1]}]`, segments, 1, false);
    }
    if (!head) return this.context(scope, depth);
    if (node.data) return this.chain(scope, depth ? `up(${scope.v.d}, ${depth})` : scope.v.d, segments, 0, true);
    return this.chain(scope, this.context(scope, depth), segments, 0, falsy);
  }

  /**
   * resolvePath's steps: null and undefined stop a path, any falsy value a
   * data path; each step reads an own property (lookupProperty: not a
   * prototype's own constructor; anything else is denied).
   */
  private chain(scope: Scope, base: string, segments: readonly string[], from: number, falsy: boolean): string {
    let code = base;
    for (let i = from; i < segments.length; i++) {
      scope.locals.add('t');
      const key = JSON.stringify(segments[i]);
      const stop = falsy ? `!(t = ${code})` : `(t = ${code}) == null`;
      if (segments[i] === 'constructor') {
        code = `(${stop} ? t : lp(t, ${key}))`;
      } else {
        scope.locals.add('u');
        code = `(${stop} ? t : (u = t[${key}]) == null || hasOwn.call(t, ${key}) ? u : denied(u, ${key}))`;
      }
    }
    return code;
  }

  /** `depths[n]`: n contexts up the chain of contexts entered, undefined past its end. */
  private context(scope: Scope, depth: number): string {
    if (!depth) return scope.v.c;
    scope.climbs = true;
    scope.locals.add('t');
    return `((t = ${scope.v.dp}.up)${' && (t = t.up)'.repeat(depth - 1)} && t.v)`;
  }

  /** append: null and undefined print nothing; anything else joins the text with `+`. */
  private append(scope: Scope, value: string): string {
    scope.locals.add('t');
    return `((t = ${value}) != null ? t : "")`;
  }

  /** container.lambda: a function found at a path is called with the context as `this`. */
  private lambda(scope: Scope, value: string): string {
    scope.locals.add('t');
    return `(typeof (t = ${value}) === "function" ? t.call(${scope.v.c}) : t)`;
  }
}

interface Block {
  readonly program: CompiledProgram | null;
  readonly inverse: CompiledProgram | null;
}

/**
 * javascript-compiler.js, mergeSource: consecutive appends are one `+`
 * expression, so two numbers in a row add up; the first run starts the
 * buffer as it is, a run between statements is added as a whole, the last is
 * added term by term. Statements only come with blocks of unknown helpers.
 */
function assemble(items: readonly Item[], simple: boolean): { expression: string | null; statements: string } {
  const term = (item: Item) => ('content' in item ? JSON.stringify(item.content) : 'chunk' in item ? item.chunk : '');
  if (simple) {
    const [first] = items;
    if (!first) return { expression: '""', statements: '' };
    // Only the first statement counts: each returns.
    if ('statement' in first) return { expression: null, statements: first.statement(true) };
    return { expression: term(first), statements: '' };
  }
  const merged: Item[] = [];
  for (const item of items) {
    const last = merged[merged.length - 1];
    if ('content' in item && last && 'content' in last)
      merged[merged.length - 1] = { content: last.content + item.content };
    else merged.push(item);
  }
  if (!merged.some((item) => 'statement' in item))
    return { expression: merged.length ? `(${merged.map(term).join(' + ')})` : '""', statements: '' };
  const lines: string[] = [];
  let run: string[] = [];
  let started = false;
  for (const item of merged) {
    if (!('statement' in item)) {
      run.push(term(item));
      continue;
    }
    if (!started) lines.push(`let b = ${run.length ? run.join(' + ') : '""'};`);
    else if (run.length) lines.push(`b += ${run.join(' + ')};`);
    started = true;
    run = [];
    lines.push(item.statement(false));
  }
  lines.push(run.length ? `return b + ${run.join(' + ')};` : 'return b;');
  return { expression: null, statements: lines.join('\n') };
}

/** Whether code uses a variable; a variable's name inside a string literal only costs an assignment. */
function mentions(code: string, variable: string): boolean {
  return new RegExp(`\\b${variable}\\b`).test(code);
}

/** compiler.js, blockParamIndex: [programs up, position], or undefined. */
function blockParamIndex(scope: Scope, name: string | undefined): [number, number] | undefined {
  for (let depth = 0; depth < scope.blockParams.length; depth++) {
    const names = scope.blockParams[depth];
    const param = names ? names.indexOf(name as string) : -1;
    if (names && param >= 0) return [depth, param];
  }
  return undefined;
}

/** compiler.js, transformLiteralToPath: `{{"x"}}` and `{{true}}` name a helper or field like a path. */
function helperPath(node: Node): Node {
  const path = asNode(node.path);
  if (path.type === 'PathExpression') return path;
  if (!LITERALS.has(path.type)) return unsupported('helper name');
  const original = String(path.original);
  return { type: 'PathExpression', data: false, depth: 0, parts: [original], original, loc: path.loc };
}

function simpleId(path: Node): boolean {
  return parts(path).length === 1 && !SCOPED.test(String(path.original)) && !depthOf(path);
}

function helperExpression(node: Node): boolean {
  return node.type === 'SubExpression' || !!(nodeList(node.params).length || node.hash);
}

function literal(node: Node): string {
  switch (node.type) {
    case 'StringLiteral':
      if (typeof node.value !== 'string') break;
      return JSON.stringify(node.value);
    case 'NumberLiteral':
      // Handlebars writes the number into its code as `'' + value`; so does this.
      if (typeof node.value !== 'number') break;
      return `(${String(node.value)})`;
    case 'BooleanLiteral':
      if (typeof node.value !== 'boolean') break;
      return node.value ? 'true' : 'false';
    case 'UndefinedLiteral':
      return 'void 0';
    case 'NullLiteral':
      return 'null';
  }
  return unsupported(`parameter ${node.type}`);
}

/** The source location Handlebars puts in a helper's options, as an object literal; null without one. */
function location(node: Node): string | null {
  const loc = node.loc as
    | { source?: unknown; start?: { line?: unknown; column?: unknown }; end?: { line?: unknown; column?: unknown } }
    | undefined;
  if (loc === undefined || loc === null) return null;
  const position = (p: { line?: unknown; column?: unknown } | undefined) =>
    p && Number.isInteger(p.line) && Number.isInteger(p.column)
      ? `{ line: ${p.line}, column: ${p.column} }`
      : unsupported('location');
  const source =
    typeof loc.source === 'string'
      ? `source: ${JSON.stringify(loc.source)}, `
      : loc.source === undefined
        ? ''
        : unsupported('location');
  return `{ ${source}start: ${position(loc.start)}, end: ${position(loc.end)} }`;
}

function pathOriginal(path: Node): string {
  return typeof path.original === 'string' ? path.original : unsupported('path');
}

function parts(path: Node): string[] {
  return strings(path.parts);
}

function depthOf(node: Node): number {
  const depth = node.depth;
  if (depth === undefined || depth === null) return 0;
  return Number.isInteger(depth) && (depth as number) >= 0 ? (depth as number) : unsupported('depth');
}

function strings(value: unknown): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return unsupported('names');
  return value;
}

function asNode(value: unknown, type?: string): Node {
  if (
    !value ||
    typeof value !== 'object' ||
    typeof (value as Node).type !== 'string' ||
    (type && (value as Node).type !== type)
  )
    return unsupported('node');
  return value as Node;
}

function nodeList(value: unknown): Node[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return unsupported('node list');
  return value.map((v) => asNode(v));
}

// The runtime the generated code calls: runtime.js and helpers/*.js, for the parts a template can observe.

const hasOwn = Object.prototype.hasOwnProperty;
/** Prototype methods Handlebars denies without logging (internal/proto-access.js). */
const SILENTLY_DENIED = new Set([
  'constructor',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
]);
const deniedLogged = new Set<string>();

type Frame = Record<string, unknown>;

/** Handlebars' `depths` array as a list: the contexts entered, innermost first. */
interface Depths {
  readonly v: unknown;
  readonly up: Depths | undefined;
}

/** runtime.js, lookupProperty with prototype access denied: own properties, not a prototype's own `constructor`. */
function lp(parent: any, name: any): unknown {
  const result = parent[name];
  if (result == null) return result;
  if (
    hasOwn.call(parent, name) &&
    !(name === 'constructor' && typeof result === 'function' && parent === result.prototype)
  )
    return result;
  return denied(result, name);
}

/** A property lookupProperty refuses: undefined, and a method logged once, as Handlebars logs it (internal/proto-access.js). */
function denied(result: unknown, name: unknown): undefined {
  if (typeof result === 'function' && !SILENTLY_DENIED.has(name as string) && !deniedLogged.has(String(name))) {
    deniedLogged.add(String(name));
    (Handlebars.log as unknown as (level: string, message: string) => void)(
      'error',
      `Handlebars: Access has been denied to resolve the property "${String(name)}" because it is not an "own property" of its parent.\n` +
        'You can add a runtime option to disable the check or this warning:\n' +
        'See https://handlebarsjs.com/api-reference/runtime-options.html#options-to-control-prototype-access for details',
    );
  }
  return undefined;
}

function runtimeFor(env: Env): Record<string, unknown> {
  const extend = Handlebars.Utils.extend;
  const Exception = Handlebars.Exception;
  const isArray = Array.isArray;
  // wrapProgram: a context loosely equal (!=) to the current one enters no new level.
  const push = (dp: Depths, context: unknown, nullContext: object): Depths =>
    context != dp.v && !(context === nullContext && dp.v === null) ? { v: context, up: dp } : dp;
  return {
    lp,
    hasOwn,
    denied,
    isArray,
    // utils.js, isEmpty.
    isEmpty: (v: unknown) => (!v && v !== 0) || (isArray(v) && v.length === 0),
    up: (data: any, n: number) => {
      while (data && n--) data = data._parent;
      return data;
    },
    push,
    wrap: (
      body: (c: unknown, d: unknown, bp: unknown, dp: unknown) => unknown,
      data: unknown,
      bp: unknown[] | undefined,
      dp: Depths | undefined,
      declared: number,
      nullContext: object,
    ) => {
      const program = (context: unknown, options: { data?: unknown; blockParams?: unknown } = {}) =>
        body(
          context,
          options.data || data,
          bp && [options.blockParams].concat(bp),
          dp && push(dp, context, nullContext),
        );
      program.blockParams = declared;
      return program;
    },
    ifz: (v: any, self: unknown, includeZero: unknown) => {
      if (typeof v === 'function') v = v.call(self);
      return !((!includeZero && !v) || (!v && v !== 0) || (isArray(v) && v.length === 0));
    },
    lookup: (obj: unknown, field: unknown) => (!obj ? obj : lp(obj, field)),
    bpa: (params: unknown[] & { path?: unknown }, ids: unknown[]) => {
      params.path = ids;
      return params;
    },
    // utils.js, createFrame: a copy of the frame's own enumerable fields, and the frame as `_parent`.
    createFrame: (data: Frame) => {
      const frame: Frame = {};
      for (const key in data) if (hasOwn.call(data, key)) frame[key] = data[key];
      frame._parent = data;
      return frame;
    },
    /**
     * helpers/each.js past arrays: an iterable in order, with a lookahead for
     * `@last`, or an object by its keys. The text of the items; null for none.
     */
    eachOther: (
      v: any,
      f: Frame | undefined,
      d: unknown,
      bp: unknown,
      dp: unknown,
      item: (x: unknown, k: unknown, f: unknown, d: unknown, bp: unknown, dp: unknown) => unknown,
    ) => {
      let r = '';
      let i = 0;
      const step = (k: unknown, n: number, last: unknown, x: unknown) => {
        if (f) {
          f.key = k;
          f.index = n;
          f.first = n === 0;
          f.last = !!last;
        }
        r = r + item(x, k, f, d, bp, dp);
      };
      if (v[Symbol.iterator]) {
        const iterator: Iterator<unknown> = v[Symbol.iterator]();
        let current = iterator.next();
        while (!current.done) {
          const next = iterator.next();
          try {
            step(i, i, next.done, current.value);
          } catch (e) {
            // An unfinished iterator is closed as for...of would; an error closing it does not hide the block's.
            if (!next.done) {
              try {
                const close = iterator.return;
                if (typeof close === 'function') close.call(iterator);
              } catch {
                // The block's error is the one to report.
              }
            }
            throw e;
          }
          current = next;
          i++;
        }
      } else {
        let prior: string | undefined;
        for (const key of Object.keys(v)) {
          if (prior !== undefined) step(prior, i - 1, false, v[prior]);
          prior = key;
          i++;
        }
        if (prior !== undefined) step(prior, i - 1, true, v[prior]);
      }
      return i === 0 ? null : r;
    },
    // runtime.js, invokePartialWrapper and invokePartial: a hash makes a new context of the context and the hash.
    partial: (unit: (c: unknown, d: unknown) => string, context: unknown, hash: object | undefined, data: unknown) =>
      unit(hash ? extend({}, context, hash) : context, data),
    partialMissing: (context: unknown, hash: object | undefined, name: string) => {
      if (hash) extend({}, context, hash);
      throw new Exception(`The partial ${name} could not be found`);
    },
    noop: (env as unknown as { VM: { noop: () => string } }).VM.noop,
  };
}
