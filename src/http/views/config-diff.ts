import { diffArrays, formatPatch, structuredPatch, type StructuredPatch } from 'diff';

// Unified diffs of big configs without diffing them whole. A config is given
// as pieces — the fragments of a render, where an unchanged service's
// fragment is the same string, or simply its lines — and only the runs of
// pieces that differ are diffed line by line; line numbers are counted
// through the rest. A change of one service in a 5 MB config then costs a
// walk over the pieces, not a line diff of 5 MB.

/** How much a diff may cost and print. */
export interface DiffLimits {
  /** Most edits (pieces, then lines) the diff may find before it gives up. */
  readonly maxEdits: number;
  /** Most lines of output; the rest is cut with a note. */
  readonly maxLines: number;
}

/** A diff, or why there is none: the configs are equal, or they differ too much to be worth diffing. */
export type DiffOutcome =
  | { readonly kind: 'same' }
  | { readonly kind: 'diff'; readonly text: string; readonly truncated: boolean }
  | { readonly kind: 'too-large'; readonly reason: string };

const CONTEXT = 3;

/** A text cut into lines, each with its newline: pieces for `piecesDiff`. */
export function linesOf(text: string): string[] {
  return text === '' ? [] : text.split(/(?<=\n)/);
}

/** The unified diff of two configs given as pieces (whatever the cut, joined they are the configs). */
export function piecesDiff(
  before: readonly string[],
  after: readonly string[],
  names: { readonly before: string; readonly after: string },
  limits: DiffLimits,
): DiffOutcome {
  const changes = diffArrays(before as string[], after as string[], { maxEditLength: limits.maxEdits });
  if (!changes) return { kind: 'too-large', reason: `more than ${limits.maxEdits} pieces changed` };
  const segments = fold(changes);
  if (segments.every((s) => s.kind === 'equal')) return { kind: 'same' };
  const patch: StructuredPatch = {
    oldFileName: names.before,
    newFileName: names.after,
    oldHeader: undefined,
    newHeader: undefined,
    hunks: [],
  };
  let oldLine = 0;
  let newLine = 0;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg.kind === 'equal') {
      const n = newlines(seg.text);
      oldLine += n;
      newLine += n;
      continue;
    }
    const prev = segments[i - 1];
    const next = segments[i + 1];
    const head = prev?.kind === 'equal' ? tailLines(prev.text, CONTEXT) : '';
    const tail = next?.kind === 'equal' ? headLines(next.text, CONTEXT) : '';
    const region = structuredPatch('', '', head + seg.before + tail, head + seg.after + tail, '', '', {
      context: CONTEXT,
      maxEditLength: limits.maxEdits,
    });
    if (!region) return { kind: 'too-large', reason: `more than ${limits.maxEdits} lines changed in one place` };
    const h = newlines(head);
    for (const hunk of region.hunks)
      patch.hunks.push({ ...hunk, oldStart: hunk.oldStart + oldLine - h, newStart: hunk.newStart + newLine - h });
    oldLine += newlines(seg.before);
    newLine += newlines(seg.after);
  }
  const text = formatPatch(patch, { includeIndex: false, includeUnderline: false, includeFileHeaders: true });
  return cut(text, limits.maxLines);
}

type Segment =
  | { readonly kind: 'equal'; readonly text: string }
  | { readonly kind: 'change'; readonly before: string; readonly after: string };

/**
 * The change list as alternating equal and changed text. Two changes with
 * fewer lines between them than their contexts would take are one change,
 * so hunks never overlap.
 */
function fold(changes: readonly { value: string[]; added: boolean; removed: boolean }[]): Segment[] {
  const out: Segment[] = [];
  const push = (before: string, after: string, equal: boolean) => {
    const last = out[out.length - 1];
    if (equal) {
      out.push({ kind: 'equal', text: before });
      return;
    }
    if (last?.kind === 'change')
      out[out.length - 1] = { kind: 'change', before: last.before + before, after: last.after + after };
    else if (last?.kind === 'equal' && out.length > 1 && newlines(last.text) <= 2 * CONTEXT) {
      const change = out[out.length - 2] as Extract<Segment, { kind: 'change' }>;
      out.length -= 2;
      out.push({ kind: 'change', before: change.before + last.text + before, after: change.after + last.text + after });
    } else out.push({ kind: 'change', before, after });
  };
  for (const c of changes) {
    const text = c.value.join('');
    if (c.added) push('', text, false);
    else if (c.removed) push(text, '', false);
    else push(text, text, true);
  }
  return out;
}

function newlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

/** The end of `s` from the start of the line `n` lines above its last (partial) line. */
function tailLines(s: string, n: number): string {
  let i = s.length;
  for (let k = 0; k <= n; k++) {
    const j = s.lastIndexOf('\n', i - 1);
    if (j === -1) return s;
    i = j;
  }
  return s.slice(i + 1);
}

/** The start of `s` up to the end of the line `n` lines below its first (partial) line. */
function headLines(s: string, n: number): string {
  let i = -1;
  for (let k = 0; k <= n; k++) {
    const j = s.indexOf('\n', i + 1);
    if (j === -1) return s;
    i = j;
  }
  return s.slice(0, i + 1);
}

function cut(text: string, maxLines: number): DiffOutcome {
  let i = -1;
  for (let k = 0; k < maxLines; k++) {
    i = text.indexOf('\n', i + 1);
    if (i === -1) return { kind: 'diff', text, truncated: false };
  }
  if (i === text.length - 1) return { kind: 'diff', text, truncated: false };
  return { kind: 'diff', text: `${text.slice(0, i + 1)}... (diff cut at ${maxLines} lines)\n`, truncated: true };
}
