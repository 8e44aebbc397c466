// Cuts the body of `GET /v2/apps` — `{"apps":[{…},{…},…]}` — into one JSON
// text per app as the bytes arrive. A big cluster's answer is tens of
// megabytes; parsed whole it would exist as bytes, as a string and as one
// object graph all at once. Cut, each app is parsed alone and dropped once it
// is a checked record, so memory holds one app's objects at a time. An app
// whose text is longer than a limit is not kept at all: its bytes are
// skipped as they arrive and only its start is kept, to name it.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
/** Bytes kept of an app too long to take, to find its id for the message. */
const HINT_BYTES = 512;

/** The body was not the JSON object Marathon sends; the message says where it went wrong. */
export class AppListError extends Error {
  override name = 'AppListError';
}

/** An element of "apps" whose text was longer than the limit: its position, size, and its id when its start shows one. */
export interface OversizeApp {
  readonly index: number;
  readonly bytes: number;
  readonly id: string | null;
}

/** Handlers of AppSplitter: each app's JSON text, or the news that one was too long. */
export interface SplitterHandlers {
  onApp(json: string): void;
  onOversize(app: OversizeApp): void;
}

/**
 * A push parser for the app list: bytes in, one UTF-8 JSON text per element
 * of the top-level "apps" array out. It only tracks nesting and strings;
 * each app's own text is checked by JSON.parse. The body must be exactly one
 * JSON object: anything but whitespace after it is an error.
 */
export class AppSplitter {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** The last string seen directly in the top-level object: the key an array there belongs to. */
  private key: Buffer[] = [];
  private lastKey = '';
  private inApps = false;
  private sawApps = false;
  private app: Buffer[] | null = null;
  /** Bytes of the current app in earlier chunks. */
  private appBytes = 0;
  /** The start of the current app, once it is known to be too long (its bytes are no longer kept). */
  private hint: Buffer | null = null;
  private apps = 0;
  /** Bytes before this chunk, to say where trailing data starts. */
  private offset = 0;
  private ended = false;

  constructor(
    private readonly handlers: SplitterHandlers,
    private readonly maxAppBytes: number,
  ) {}

  push(chunk: Buffer): void {
    let appStart = this.app ? 0 : -1;
    let keyStart = -1;
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          i++;
          continue;
        }
        // Most of the body is inside strings: jump to the next quote (memchr) instead of visiting every byte.
        const q = chunk.indexOf(QUOTE, i);
        const stop = q < 0 ? n : q;
        let k = stop - 1;
        while (k >= i && chunk[k] === BACKSLASH) k--;
        const oddBackslashes = (stop - 1 - k) % 2 === 1;
        if (q < 0) {
          // The chunk ends inside the string; a lone backslash at its end escapes the next chunk's first byte.
          this.escaped = oddBackslashes;
          break;
        }
        i = q + 1;
        if (oddBackslashes) continue;
        this.inString = false;
        if (this.depth === 1) {
          this.key.push(chunk.subarray(keyStart < 0 ? 0 : keyStart, q));
          this.lastKey = Buffer.concat(this.key).toString('utf8');
          this.key = [];
          keyStart = -1;
        }
        continue;
      }
      const b = chunk[i]!;
      if (this.depth === 0 && !isSpace(b)) {
        if (this.ended) throw new AppListError(`data after the end of the JSON document, at byte ${this.offset + i}`);
        if (b !== OPEN_OBJECT) throw new AppListError('the answer is not a JSON object');
      }
      if (b === QUOTE) {
        this.inString = true;
        if (this.depth === 1) keyStart = i + 1;
      } else if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
        this.depth++;
        if (this.depth === 2 && b === OPEN_ARRAY && this.lastKey === 'apps') this.inApps = this.sawApps = true;
        else if (this.depth === 3 && this.inApps) {
          if (b !== OPEN_OBJECT) throw new AppListError('an element of "apps" is not an object');
          appStart = i;
          this.app = [];
          this.appBytes = 0;
          this.hint = null;
        }
      } else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
        if (this.depth === 3 && this.inApps && this.app) {
          const bytes = this.appBytes + i + 1 - appStart;
          const index = this.apps++;
          if (this.hint !== null || bytes > this.maxAppBytes) {
            const start = this.hint ?? Buffer.concat([...this.app, chunk.subarray(appStart, i + 1)]);
            this.app = null;
            appStart = -1;
            this.handlers.onOversize({ index, bytes, id: idIn(start) });
          } else {
            // An app within one chunk (the common case) is decoded straight from it, without a copy.
            this.app.push(chunk.subarray(appStart, i + 1));
            const text =
              this.app.length === 1
                ? chunk.toString('utf8', appStart, i + 1)
                : Buffer.concat(this.app).toString('utf8');
            this.app = null;
            appStart = -1;
            this.handlers.onApp(text);
          }
        } else if (this.depth === 2 && this.inApps) this.inApps = false;
        this.depth--;
        if (this.depth < 0) throw new AppListError('unbalanced brackets');
        if (this.depth === 0) this.ended = true;
      }
      i++;
    }
    if (this.app && appStart >= 0) this.keepAppPart(chunk.subarray(appStart));
    if (this.inString && this.depth === 1) this.key.push(chunk.subarray(keyStart < 0 ? 0 : keyStart));
    this.offset += n;
  }

  /** Keeps the part of an unfinished app that this chunk holds, unless the app is already too long to take. */
  private keepAppPart(part: Buffer): void {
    this.appBytes += part.length;
    if (this.hint !== null) return;
    this.app!.push(part);
    if (this.appBytes > this.maxAppBytes) {
      this.hint = Buffer.concat(this.app!).subarray(0, HINT_BYTES);
      this.app = [];
    }
  }

  /** The body ended: it must have been a complete object with an "apps" array. */
  end(): void {
    if (this.depth !== 0 || this.inString) throw new AppListError('the answer ended in the middle of the JSON');
    if (!this.sawApps) throw new AppListError('no "apps" array in the answer');
  }
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/** The id an app's text starts with (Marathon writes `"id"` first), when its first bytes show one. */
function idIn(start: Buffer): string | null {
  const m = /^\{\s*"id"\s*:\s*("(?:[^"\\]|\\.){1,200}")/.exec(start.subarray(0, HINT_BYTES).toString('utf8'));
  if (!m) return null;
  try {
    return JSON.parse(m[1]!) as string;
  } catch {
    return null;
  }
}
