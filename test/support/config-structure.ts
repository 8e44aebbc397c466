import { readFileSync } from 'node:fs';

// Small structural parsers for HAProxy and nginx configs, tokenizing the way
// the proxies themselves do, and a comparison of a config's directive
// skeleton against a baseline render: which directives appear in which
// context, how many words each has, and of which kind each word is. A value
// that smuggled in a line, a comment, a block, a quote or a second word shows
// up as a directive the baseline has no shape for.

/** One directive: where it sits, its words as the proxy reads them, and the line it came from. */
export interface Directive {
  /** `global`, `defaults`, `frontend http-in`, `frontend port_NAME`, `backend` (HAProxy); `http/server/location` (nginx). */
  readonly context: string;
  /** The section or block this directive belongs to: its words and line (`backend ::shop::web@40`, `upstream _2fweb {@12`). */
  readonly owner: string;
  /** Every enclosing block, outermost first (nginx); the section (HAProxy). */
  readonly ancestors: readonly string[];
  readonly words: readonly string[];
  readonly line: number;
  readonly text: string;
}

/** A difference from the baseline that a legitimate value could not have made. */
export interface Violation {
  readonly line: number;
  readonly text: string;
  readonly why: string;
  /** The section or block it is in, when known. */
  readonly owner?: string;
}

export const HAPROXY_SECTIONS = new Set([
  'global',
  'defaults',
  'frontend',
  'backend',
  'listen',
  'peers',
  'resolvers',
  'userlist',
  'program',
  'cache',
  'ring',
  'http-errors',
  'mailers',
  'crt-store',
  'traces',
  'log-forward',
  'fcgi-app',
]);

/**
 * Splits an HAProxy line into words as HAProxy 2.6 does: blanks separate,
 * `#` outside quotes starts a comment, `\` escapes the next character, '…'
 * and "…" quote. Returns null when a quote is left open.
 */
export function haproxyLineWords(line: string): string[] | null {
  return haproxyLine(line)?.words ?? null;
}

/** haproxyLineWords, and whether a comment followed words on the line (no template writes one there). */
export function haproxyLine(line: string): { words: string[]; trailingComment: boolean } | null {
  const words: string[] = [];
  let trailingComment = false;
  let word: string | null = null;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
    } else if (c === '\\') {
      word = (word ?? '') + (line[i + 1] ?? '');
      i++;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else word += c;
    } else if (c === '#') {
      trailingComment = words.length > 0 || word !== null;
      break;
    } else if (c === ' ' || c === '\t') {
      if (word !== null) words.push(word);
      word = null;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote !== null) return null;
  if (word !== null) words.push(word);
  return { words, trailingComment };
}

/**
 * Every directive of an HAProxy config. HAProxy ignores indentation: a line
 * whose first word is a section keyword starts a section wherever it is.
 * Lines with an open quote become violations.
 */
export function parseHaproxy(
  text: string,
  constants: ReadonlySet<string>,
): { directives: Directive[]; violations: Violation[] } {
  const directives: Directive[] = [];
  const violations: Violation[] = [];
  let context = '(before any section)';
  let owner = context;
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const parsed = haproxyLine(raw);
    if (parsed === null) return violations.push({ line, text: raw, why: 'unmatched quote' });
    const { words } = parsed;
    if (parsed.trailingComment)
      violations.push({ line, text: raw, why: 'a comment after a directive cuts its line short' });
    if (words.length === 0) return;
    const [keyword, name] = words;
    if (HAPROXY_SECTIONS.has(keyword!) || keyword!.startsWith('.')) {
      owner = `${words.join(' ')}@${line}`;
      context =
        name === undefined
          ? keyword!
          : `${keyword} ${constants.has(name) ? name : /^port_\d+$/.test(name) ? 'port_NAME' : 'NAME'}`;
      directives.push({ context: '(sections)', owner: '(sections)', ancestors: [], words, line, text: raw });
      return;
    }
    directives.push({ context, owner, ancestors: [owner], words, line, text: raw });
  });
  return { directives, violations };
}

/** An nginx token: a word (quoted or not) or one of `;`, `{`, `}`. */
interface Token {
  readonly value: string;
  readonly punct: boolean;
  readonly line: number;
}

/**
 * Tokenizes an nginx config as ngx_conf_read_token does: blanks separate; `;`
 * `{` `}` are tokens of their own (but `{` right after `$` belongs to a
 * `${var}`); `#` at the start of a token comments to the end of the line;
 * a quote at the start of a token quotes up to its match; `\` escapes.
 */
export function nginxTokens(text: string): { tokens: Token[]; error: string | null } {
  const tokens: Token[] = [];
  let line = 1;
  let word: string | null = null;
  let wordLine = 1;
  const end = () => {
    if (word !== null) tokens.push({ value: word, punct: false, line: wordLine });
    word = null;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') line++;
    if (word === null && (c === '"' || c === "'")) {
      let j = i + 1;
      let value = '';
      for (; j < text.length && text[j] !== c; j++) {
        if (text[j] === '\\') j++;
        if (text[j] === '\n') line++;
        value += text[j] ?? '';
      }
      if (j >= text.length) return { tokens, error: `unterminated quote from line ${line}` };
      tokens.push({ value: `${c}${value}${c}`, punct: false, line });
      i = j;
      const next = text[i + 1];
      if (next !== undefined && !/[\s;{}]/.test(next))
        return { tokens, error: `unexpected "${next}" after a quoted string on line ${line}` };
      continue;
    }
    if (word === null && c === '#') {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      end();
      continue;
    }
    if (c === '{' && word !== null && word.endsWith('$')) {
      word += c;
      continue;
    }
    if (c === ';' || c === '{' || c === '}') {
      end();
      tokens.push({ value: c, punct: true, line });
      continue;
    }
    if (c === '\\') {
      if (word === null) wordLine = line;
      word = (word ?? '') + c + (text[i + 1] ?? '');
      i++;
      continue;
    }
    if (word === null) wordLine = line;
    word = (word ?? '') + c;
  }
  end();
  return { tokens, error: null };
}

/** Every directive of an nginx config, with its block path as context (`http/server/location`). */
export function parseNginx(text: string): { directives: Directive[]; violations: Violation[] } {
  const lines = text.split('\n');
  const { tokens, error } = nginxTokens(text);
  const violations: Violation[] = [];
  if (error) violations.push({ line: 0, text: '', why: error });
  // The templates write one directive per line: a line with two of `;` `{` `}` got one from a value.
  const perLine = new Map<number, number>();
  for (const t of tokens) if (t.punct) perLine.set(t.line, (perLine.get(t.line) ?? 0) + 1);
  for (const [line, n] of perLine)
    if (n > 1) violations.push({ line, text: lines[line - 1] ?? '', why: `${n} of ";", "{", "}" on one line` });
  const directives: Directive[] = [];
  const stack: Array<{ name: string; id: string }> = [];
  let words: string[] = [];
  let firstLine = 0;
  for (const t of tokens) {
    if (!t.punct) {
      if (words.length === 0) firstLine = t.line;
      words.push(t.value);
      continue;
    }
    const context = stack.map((s) => s.name).join('/') || 'main';
    const owner = stack.length > 0 ? stack[stack.length - 1]!.id : 'main';
    const ancestors = stack.map((s) => s.id);
    if (t.value === '}') {
      if (words.length > 0)
        violations.push({ line: t.line, text: lines[t.line - 1] ?? '', why: `"${words.join(' ')}" has no ";"` });
      if (stack.length === 0) violations.push({ line: t.line, text: lines[t.line - 1] ?? '', why: 'unexpected "}"' });
      stack.pop();
      words = [];
      continue;
    }
    if (words.length === 0) {
      violations.push({ line: t.line, text: lines[t.line - 1] ?? '', why: `empty directive before "${t.value}"` });
      continue;
    }
    directives.push({
      context,
      owner,
      ancestors,
      words: t.value === '{' ? [...words, '{'] : words,
      line: firstLine,
      text: lines[firstLine - 1] ?? '',
    });
    if (t.value === '{') stack.push({ name: words[0]!, id: `${words.join(' ')} {@${firstLine}` });
    words = [];
  }
  if (words.length > 0)
    violations.push({
      line: firstLine,
      text: lines[firstLine - 1] ?? '',
      why: `"${words.join(' ')}" is not terminated`,
    });
  if (stack.length > 0) violations.push({ line: lines.length, text: '', why: `${stack.length} block(s) left open` });
  return { directives, violations };
}

/**
 * The words a template writes itself: everything outside `{{…}}`. In a
 * render, a word equal to one of these may be the template's own; any other
 * word came from a value.
 */
export function templateConstants(files: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
      .replace(/\{\{!--[\s\S]*?--\}\}/g, ' ')
      .replace(/\{\{[\s\S]*?\}\}/g, ' ');
    for (const w of text.split(/[\s;{}]+/)) if (w) out.add(w);
  }
  return out;
}

// The kind of a word a value printed, the first that matches: a word is of
// exactly one kind, so no broad kind (a proxy name) can stand in for a
// narrower one (an address, a number).
const KINDS: Array<[string, RegExp]> = [
  ['INT', /^\d{1,10}$/],
  ['ADDR', /^(?:\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*|[A-Za-z0-9_.-]+):\d{1,5}$/],
  ['WEIGHT_EQ', /^weight=\d{1,3}$/],
  ['UPSTREAM_URL', /^http:\/\/[a-z0-9_-]+$/],
  ['SLOT', /^s\d+$/],
  ['ACL_NAME', /^(?:host|path|rule)_[a-z0-9_-]+$/],
  ['PORT_NAME', /^port_\d+$/],
  // A path or health-check URI: printable, no quote, comment sign, semicolon, brace or backslash.
  ['PATH', /^\/[\x21\x24-\x26\x28-\x3a\x3c-\x5b\x5d-\x7a\x7c\x7e]*$/],
  // Host names, vhosts (`*.x`, `.x` as a suffix match), ids without `/`.
  ['NAME', /^(?:\*\.|\.)?[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/],
  // HAProxy proxy names (`::shop::web`).
  ['PROXY_NAME', /^[A-Za-z0-9._:-]+$/],
];

/** The kind of a word (`INT`, `ADDR`...); a word of no kind is only itself (`=word`). */
export function kindOf(word: string): string {
  for (const [name, re] of KINDS) if (re.test(word)) return name;
  return `=${word}`;
}

/**
 * A directive shape: the keyword, and for each further word what it may be.
 * A baseline word the template writes itself (a constant) must be that word;
 * any other must be of its kind.
 */
type Shape = { readonly keyword: string; readonly args: readonly string[] };

function shapeOf(d: Directive, constants: ReadonlySet<string>): Shape {
  return { keyword: d.words[0]!, args: d.words.slice(1).map((w) => (constants.has(w) ? `=${w}` : kindOf(w))) };
}

/** A word fits a shape's position when it is that constant, or of that kind (a value that happens to spell a constant included). */
function fits(d: Directive, shape: Shape): boolean {
  if (d.words[0] !== shape.keyword || d.words.length - 1 !== shape.args.length) return false;
  return d.words.slice(1).every((w, i) => shape.args[i] === `=${w}` || shape.args[i] === kindOf(w));
}

/** Options of compareSkeletons. */
export interface CompareOptions {
  /**
   * Contexts whose directives must equal the baseline's, in order (`global`,
   * `defaults`, `main`...); `except` leaves directives with those keywords to
   * the shape check (the per-service lines of a shared frontend).
   */
  readonly identical: ReadonlyArray<string | { readonly context: string; readonly except: readonly string[] }>;
  /** Directives checked by `freeForm` instead of a shape (a raw ACL criterion), by keyword and first argument pattern. */
  readonly freeForm?: (d: Directive) => string | null | undefined;
}

/**
 * The violations of `candidate` against `baseline`: every directive must fit
 * a shape the baseline has in the same context (same keyword, same number of
 * words, each word of a kind the baseline's word there is), contexts the
 * baseline lacks are violations, and `identical` contexts must match word for
 * word. `freeForm` may claim a directive (return null: fine; a string: the
 * violation).
 */
export function compareSkeletons(
  baseline: readonly Directive[],
  candidate: readonly Directive[],
  constants: ReadonlySet<string>,
  opts: CompareOptions,
): Violation[] {
  const shapes = new Map<string, Shape[]>();
  for (const d of baseline) {
    const list = shapes.get(d.context) ?? shapes.set(d.context, []).get(d.context)!;
    const s = shapeOf(d, constants);
    if (
      !list.some(
        (x) => x.keyword === s.keyword && x.args.length === s.args.length && x.args.every((a, i) => a === s.args[i]),
      )
    )
      list.push(s);
  }
  const violations: Violation[] = [];
  const identical = opts.identical.map((x) =>
    typeof x === 'string' ? { context: x, except: [] as readonly string[] } : x,
  );
  const exact = (d: Directive) => identical.some((x) => x.context === d.context && !x.except.includes(d.words[0]!));
  for (const d of candidate) {
    if (exact(d)) continue;
    const free = opts.freeForm?.(d);
    if (free === null) continue;
    if (typeof free === 'string') {
      violations.push({ line: d.line, text: d.text, why: free, owner: d.owner });
      continue;
    }
    const list = shapes.get(d.context);
    if (!list)
      violations.push({
        line: d.line,
        text: d.text,
        why: `context "${d.context}" does not exist in the baseline`,
        owner: d.owner,
      });
    else if (!list.some((s) => fits(d, s)))
      violations.push({
        line: d.line,
        text: d.text,
        why: `no directive of this shape in "${d.context}" in the baseline`,
        owner: d.owner,
      });
  }
  for (const { context } of identical) {
    const a = baseline.filter((d) => d.context === context && exact(d)).map((d) => d.words.join(' '));
    const b = candidate.filter((d) => d.context === context && exact(d));
    const bw = b.map((d) => d.words.join(' '));
    if (a.length !== bw.length || a.some((w, i) => w !== bw[i])) {
      const at = b.find((d, i) => d.words.join(' ') !== a[i]) ?? b[b.length - 1];
      violations.push({
        line: at?.line ?? 0,
        text: at?.text ?? '',
        why: `"${context}" differs from the baseline (${a.length} vs ${bw.length} directives)`,
      });
    }
  }
  return violations;
}

/** The id of a block or section (`backend x@12`, `server {@40`) from the directive that opens it. */
export function blockId(d: Directive): string {
  return d.words[d.words.length - 1] === '{'
    ? `${d.words.slice(0, -1).join(' ')} {@${d.line}`
    : `${d.words.join(' ')}@${d.line}`;
}

/** Everything inside a block or section (nested blocks included), as word lists: comparable across renders whatever the line numbers. */
export function subtree(directives: readonly Directive[], id: string): string[] {
  return directives.filter((d) => d.ancestors.includes(id)).map((d) => d.words.join(' '));
}

/** True when the text is printable ASCII and line feeds only: no value brought any other byte into a config. */
export function plainAscii(text: string): boolean {
  return /^[\x20-\x7e\n]*$/.test(text);
}
