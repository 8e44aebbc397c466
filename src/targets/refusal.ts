import { linesNamed } from './quarantine.js';

// A validate command checks a candidate written to a temporary file that is
// gone by the time anyone reads the message, and whose lines are not what
// the output file (still the previous config) holds. So the message names
// the output instead, and quotes the candidate's lines it points at.

/** Lines quoted at most, and characters of each: the message goes to logs and /health. */
const MAX_QUOTED_LINES = 10;
const MAX_QUOTED_CHARS = 200;

/**
 * The proxy's refusal of `candidate` (the temporary file holding `bytes`)
 * as an operator should read it: `output` in place of the temporary path,
 * then each line the message names, quoted from the candidate.
 */
export function describeRefusal(message: string, candidate: string, output: string, bytes: Buffer | string): string {
  const shown = message.replaceAll(candidate, output);
  const wanted = linesNamed(message, candidate).slice(0, MAX_QUOTED_LINES);
  if (wanted.length === 0) return shown;
  const quoted = quoteLines(typeof bytes === 'string' ? bytes : bytes.toString('utf8'), wanted).map(
    ([n, text]) => `  ${output}:${n}: ${text.length > MAX_QUOTED_CHARS ? `${text.slice(0, MAX_QUOTED_CHARS)}…` : text}`,
  );
  return `${shown.trimEnd()}\nthe candidate (not installed) at those lines:\n${quoted.join('\n')}`;
}

/** The text of the given 1-based lines (ascending), found without splitting the whole config. */
function quoteLines(text: string, lines: readonly number[]): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  let line = 1;
  let start = 0;
  for (const wanted of lines) {
    while (line < wanted && start <= text.length) {
      const next = text.indexOf('\n', start);
      if (next === -1) return out;
      start = next + 1;
      line++;
    }
    const end = text.indexOf('\n', start);
    out.push([wanted, text.slice(start, end === -1 ? text.length : end).trimEnd()]);
  }
  return out;
}
