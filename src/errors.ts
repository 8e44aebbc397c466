// What a thrown value says, for messages and for logs. Errors are thrown and
// wrapped with `{ cause }`, never flattened to their message on the way up;
// only the edge that shows them (a log line, /health, stderr) reads these.

const MAX_CAUSES = 8;

/** The message of whatever was thrown: an Error's own, anything else as text. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The stack of an error and of each cause under it (`Caused by: …`), for a debug log line. */
export function stackOf(e: unknown): string {
  const lines: string[] = [];
  let current: unknown = e;
  for (let depth = 0; current !== undefined && depth <= MAX_CAUSES; depth++) {
    const text = current instanceof Error ? (current.stack ?? `${current.name}: ${current.message}`) : String(current);
    lines.push(depth === 0 ? text : `Caused by: ${text}`);
    current = current instanceof Error ? current.cause : undefined;
  }
  return lines.join('\n');
}
