// Measures an event stream's lines and events as the bytes arrive, before the
// SSE parser buffers them: a line that never ends, or an event that never
// does, is caught at its limit rather than held without bound.

const LF = 0x0a;
const CR = 0x0d;

/** Which limit a chunk would take the stream past, or null when it is within both. */
export type SizeVerdict = 'line' | 'event' | null;

/**
 * Line and event sizes of an SSE byte stream (lines end in CRLF, LF or CR; a
 * blank line ends an event). An event's size counts all its lines.
 */
export class EventSizeGuard {
  private line = 0;
  private event = 0;
  private afterCR = false;

  constructor(
    private readonly maxLineBytes: number,
    private readonly maxEventBytes: number,
  ) {}

  /** Takes the next chunk into account; a verdict other than null means the stream is over a limit. */
  feed(chunk: Buffer): SizeVerdict {
    const n = chunk.length;
    let cr = chunk.indexOf(CR);
    let lf = chunk.indexOf(LF);
    let i = 0;
    while (i < n) {
      if (cr !== -1 && cr < i) cr = chunk.indexOf(CR, i);
      if (lf !== -1 && lf < i) lf = chunk.indexOf(LF, i);
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (end === -1) {
        this.line += n - i;
        this.afterCR = false;
        break;
      }
      if (end === i && this.afterCR && chunk[end] === LF) {
        // The LF of a CRLF whose CR ended the line before.
        this.afterCR = false;
        i = end + 1;
        continue;
      }
      this.line += end - i;
      if (this.line > this.maxLineBytes) return 'line';
      if (this.line === 0) this.event = 0;
      else if ((this.event += this.line + 1) > this.maxEventBytes) return 'event';
      this.line = 0;
      this.afterCR = chunk[end] === CR;
      i = end + 1;
    }
    if (this.line > this.maxLineBytes) return 'line';
    if (this.event + this.line > this.maxEventBytes) return 'event';
    return null;
  }
}
