import { Counter } from 'prom-client';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

/**
 * Process-wide last resort of `serve`: a rejection nobody awaited or an
 * exception nobody caught is logged with its stack and counted, and the
 * daemon goes on — its sources and targets each keep their last good state,
 * so one bad input must not take the edge down (and again on every restart).
 * Only a signal ends the daemon. Returns the function that removes the handlers.
 */
export function containFaults(log: Logger, metrics: Metrics): () => void {
  const contained = new Counter({
    name: 'switchyard_contained_faults_total',
    help: 'Unhandled rejections and uncaught exceptions logged and contained instead of exiting, by kind',
    labelNames: ['kind'],
    registers: [metrics.registry],
  });
  const report = (kind: 'rejection' | 'exception', e: unknown) => {
    contained.inc({ kind });
    const error = e instanceof Error ? e : new Error(String(e));
    log.error(`unhandled ${kind} contained; the daemon keeps running`, {
      error: error.message,
      stack: error.stack?.split('\n').slice(0, 12).join('\n'),
    });
  };
  const onRejection = (reason: unknown) => report('rejection', reason);
  const onException = (e: Error) => report('exception', e);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
