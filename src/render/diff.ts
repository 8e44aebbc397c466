import { createTwoFilesPatch } from 'diff';

/** A unified diff of two config texts; empty when they are the same. */
export function unifiedDiff(before: string, after: string, beforeName: string, afterName: string): string {
  if (before === after) return '';
  return createTwoFilesPatch(beforeName, afterName, before, after, '', '', { context: 3 });
}
