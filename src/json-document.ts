// Untrusted JSON (request bodies, the registry file) is checked before
// JSON.parse sees it: nesting is bounded, so nothing downstream can recurse
// itself to death, and a syntax error is described by where it is and what was
// expected there, never by quoting the text (which may be a secret file).

/** The outcome of reading one JSON document: its value, or where it stopped being JSON and what was expected there. */
export type JsonDocument =
  | { readonly ok: true; readonly value: unknown }
  | {
      readonly ok: false;
      /** Character offset (0-based) of the first character that is not as expected. */
      readonly offset: number;
      readonly line: number;
      readonly column: number;
      readonly expected: string;
      /** Why: not JSON there, or nested deeper than the limit allows. */
      readonly cause: 'syntax' | 'depth';
    };

/** A JsonDocument failure as one sentence that quotes no input: "at line 3, column 7 (offset 52): expected ...". */
export function describeJsonError(d: Extract<JsonDocument, { ok: false }>): string {
  return `at line ${d.line}, column ${d.column} (offset ${d.offset}): expected ${d.expected}`;
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const ESCAPES = new Set([...'"\\/bfnrt'].map((c) => c.charCodeAt(0)));
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const HEX4 = /[0-9a-fA-F]{4}/y;

/**
 * Exactly one JSON document (whitespace around it allowed, anything else after
 * it is an error), nested at most `maxDepth` arrays/objects deep. The check is
 * one pass without recursion; JSON.parse then builds the value.
 */
export function parseJsonDocument(text: string, maxDepth: number): JsonDocument {
  const scan = new Scanner(text, maxDepth).run();
  if (scan !== null) return scan;
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    // The scanner follows RFC 8259 as JSON.parse does; should they ever disagree, still quote nothing.
    return failure(text, 0, 'a JSON document');
  }
}

function failure(text: string, offset: number, expected: string, cause: 'syntax' | 'depth' = 'syntax'): JsonDocument {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { ok: false, offset, line, column: offset - lineStart + 1, expected, cause };
}

/** One pass over the text; `run` answers null when it is one well-formed document. */
class Scanner {
  private i = 0;
  /** Open containers, innermost last: 0x7b `{` or 0x5b `[`. */
  private readonly stack: number[] = [];

  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
  ) {}

  run(): JsonDocument | null {
    const t = this.text;
    this.ws();
    for (;;) {
      // A value is expected at this.i.
      const c = t.charCodeAt(this.i);
      if (c === 0x7b || c === 0x5b) {
        if (this.stack.length >= this.maxDepth)
          return this.fail(`at most ${this.maxDepth} levels of nested arrays and objects`, 'depth');
        this.stack.push(c);
        this.i++;
        this.ws();
        const close = c === 0x7b ? 0x7d : 0x5d;
        if (t.charCodeAt(this.i) === close) {
          this.i++;
          this.stack.pop();
        } else if (c === 0x7b) {
          const key = this.member();
          if (key) return key;
          continue;
        } else continue;
      } else if (c === 0x22) {
        const s = this.string();
        if (s) return s;
      } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
        NUMBER.lastIndex = this.i;
        if (!NUMBER.test(t)) return this.fail('a number');
        this.i = NUMBER.lastIndex;
      } else if (t.startsWith('true', this.i)) this.i += 4;
      else if (t.startsWith('false', this.i)) this.i += 5;
      else if (t.startsWith('null', this.i)) this.i += 4;
      else return this.fail(this.i >= t.length ? 'a JSON value, not the end of the input' : 'a JSON value');
      // After a value: close containers, or a comma and the next member.
      for (;;) {
        this.ws();
        const top = this.stack[this.stack.length - 1];
        if (top === undefined)
          return this.i === t.length ? null : this.fail('the end of the input: one JSON document only');
        const d = t.charCodeAt(this.i);
        if (d === 0x2c) {
          this.i++;
          this.ws();
          if (top === 0x7b) {
            const key = this.member();
            if (key) return key;
          }
          break;
        }
        if (d === (top === 0x7b ? 0x7d : 0x5d)) {
          this.i++;
          this.stack.pop();
          continue;
        }
        return this.fail(top === 0x7b ? '"," or "}"' : '"," or "]"');
      }
    }
  }

  /** `"key" :` then whitespace, leaving this.i at the member's value. */
  private member(): JsonDocument | null {
    if (this.text.charCodeAt(this.i) !== 0x22) return this.fail('a string key in double quotes');
    const s = this.string();
    if (s) return s;
    this.ws();
    if (this.text.charCodeAt(this.i) !== 0x3a) return this.fail('":" after the key');
    this.i++;
    this.ws();
    return null;
  }

  /** A string starting at the quote at this.i; leaves this.i after the closing quote. */
  private string(): JsonDocument | null {
    const t = this.text;
    for (let j = this.i + 1; j < t.length; j++) {
      const c = t.charCodeAt(j);
      if (c === 0x22) {
        this.i = j + 1;
        return null;
      }
      if (c < 0x20) {
        this.i = j;
        return this.fail('no raw control character inside a string (escape it)');
      }
      if (c === 0x5c) {
        const e = t.charCodeAt(j + 1);
        if (e === 0x75) {
          HEX4.lastIndex = j + 2;
          if (!HEX4.test(t)) {
            this.i = j;
            return this.fail('four hex digits after \\u');
          }
          j += 5;
        } else if (ESCAPES.has(e)) j++;
        else {
          this.i = j;
          return this.fail('an escape: \\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX');
        }
      }
    }
    this.i = t.length;
    return this.fail('a closing double quote');
  }

  private ws(): void {
    while (WS.has(this.text.charCodeAt(this.i))) this.i++;
  }

  private fail(expected: string, cause: 'syntax' | 'depth' = 'syntax'): JsonDocument {
    return failure(this.text, this.i, expected, cause);
  }
}
