import { setTimeout as delay } from 'node:timers/promises';

/** Options for eventually(); `signal` aborts the retries at once with its reason (e.g. "the server died"). */
export interface EventuallyOptions {
  timeoutMs?: number;
  intervalMs?: number;
  message?: string;
  signal?: AbortSignal;
}

/** Calls `fn` until it returns without throwing, and fails with `message` plus the last error once `timeoutMs` has passed. */
export async function eventually<T>(
  fn: () => Promise<T> | T,
  { timeoutMs = 10_000, intervalMs = 25, message = 'condition not met', signal }: EventuallyOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    try {
      return await fn();
    } catch (err) {
      signal?.throwIfAborted();
      if (Date.now() >= deadline) {
        throw new Error(`${message} (gave up after ${timeoutMs} ms): ${errorText(err)}`, { cause: err });
      }
    }
    await sleep(intervalMs);
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return delay(ms);
}

/** The message of an Error, or the string form of anything else that was thrown. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
