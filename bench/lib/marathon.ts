import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MarathonDouble } from '../../test/support/marathon-double.js';

/** When the double saw the full app list requested, and when it finished sending it. */
export interface AppListTiming {
  readonly requestedAt: bigint;
  finishedAt: bigint | null;
}

/**
 * Records every `GET /v2/apps` (the full fetch, not single apps) the double
 * answers. The double has no public request hook, so this wraps its private
 * request handler (the server calls `this.handle` per request); the wrapper
 * only takes a timestamp and adds a 'finish' listener.
 */
export function recordAppListRequests(double: MarathonDouble): { list: AppListTiming[]; reset(): void } {
  type Handler = (req: IncomingMessage, res: ServerResponse) => void;
  const target = double as unknown as { handle: Handler };
  const inner = target.handle.bind(double);
  const list: AppListTiming[] = [];
  target.handle = (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/v2/apps' || path === '/v2/apps/') {
      const entry: AppListTiming = { requestedAt: process.hrtime.bigint(), finishedAt: null };
      list.push(entry);
      res.once('finish', () => (entry.finishedAt = process.hrtime.bigint()));
    }
    inner(req, res);
  };
  return { list, reset: () => (list.length = 0) };
}

/** Runs a mutation of the double and returns the emit time (`emittedAt`) of the first event it published. */
export function firstEmit(double: MarathonDouble, mutate: () => void): bigint {
  let first: bigint | null = null;
  const listener = (_type: string, _data: unknown, at: bigint) => (first ??= at);
  double.on('event', listener);
  try {
    mutate();
  } finally {
    double.off('event', listener);
  }
  if (first === null) throw new Error('the mutation published no event');
  return first;
}
