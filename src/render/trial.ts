import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Snapshot } from '../state/model.js';
import { RenderBudgetExceeded } from './budget.js';
import type { Vars } from './data.js';
import type { SlotEntry } from './slots.js';

// A template version nobody has seen render yet is untrusted: its loops may
// blow up. Its first render against the current snapshot runs in a worker
// thread, so however long it would take, the main event loop (/health,
// ZooKeeper heartbeats, installs of other targets) keeps its pace; a trial
// that runs past the budget is terminated and the version refused.

/** One template version (its files' text as compiled) and the data to try it on, as the worker receives it. */
export interface TrialRequest {
  readonly file: string;
  readonly texts: ReadonlyMap<string, string>;
  readonly budgetMs: number;
  readonly snapshot: Snapshot;
  readonly vars: Vars;
  /** A Map, not any SlotTable: the request reaches the worker by structured clone (slotMap). */
  readonly slots: ReadonlyMap<string, SlotEntry>;
}

/** What the worker says: that its render has started, or how it ended (an `error` is the main thread's to report). */
export type TrialMessage =
  | { readonly kind: 'rendering' }
  | { readonly kind: 'finished'; readonly ms: number; readonly bytes: number; readonly error?: string }
  | { readonly kind: 'stopped'; readonly message: string };

/** The config key of a limit a trial enforces. */
export type TrialLimit = 'render.budgetMs' | 'render.trialHeapMb';

/**
 * How a trial went: the render finished in time (perhaps with an error the
 * main thread's render will report again), a limit refused the version (the
 * message names it and the template), or no worker could run it.
 */
export type TrialOutcome =
  | { readonly kind: 'passed'; readonly ms: number }
  | { readonly kind: 'refused'; readonly limit: TrialLimit; readonly message: string; readonly ms: number }
  | { readonly kind: 'unavailable'; readonly error: Error };

/**
 * Compiling and building the data is the daemon's own code, proportional to
 * the registry: it gets long enough for any registry, and a worker that
 * never starts rendering is taken as unavailable, not as the template's fault.
 */
const SETUP_MS = 60_000;
/** The worker stops itself at the budget (each loop checks the clock); terminating it is for what no loop check sees. */
const GRACE_MS = 250;

/** The worker's entry sits beside this module in the same form: trial-worker.js beside trial.js, trial-worker.cjs beside the bundle. */
function workerEntry(): string {
  const here = fileURLToPath(import.meta.url);
  return join(dirname(here), `trial-worker${extname(here)}`);
}

/** Renders one template version in a worker thread with a deadline and a heap limit, and says how it went. */
export function trialRender(request: TrialRequest, heapMb: number): Promise<TrialOutcome> {
  const began = performance.now();
  const overBudget = () => new RenderBudgetExceeded(request.file, request.budgetMs).message;
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      worker = new Worker(workerEntry(), {
        workerData: request,
        resourceLimits: { maxOldGenerationSizeMb: heapMb },
      });
    } catch (e) {
      resolve({ kind: 'unavailable', error: new Error('cannot start a render trial worker', { cause: e }) });
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const settle = (outcome: TrialOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // A worker past its deadline is mid-render: only terminating stops it.
      void worker.terminate();
      resolve(outcome);
    };
    const within = (ms: number, onTimeout: () => TrialOutcome) => {
      clearTimeout(timer);
      timer = setTimeout(() => settle(onTimeout()), ms);
    };
    const refused = (limit: TrialLimit, message: string): TrialOutcome => ({
      kind: 'refused',
      limit,
      message,
      ms: performance.now() - began,
    });
    within(SETUP_MS, () => ({
      kind: 'unavailable',
      error: new Error(`render trial did not start within ${SETUP_MS} ms`),
    }));
    worker.on('message', (m: TrialMessage) => {
      if (m.kind === 'rendering') within(request.budgetMs + GRACE_MS, () => refused('render.budgetMs', overBudget()));
      else if (m.kind === 'stopped') settle(refused('render.budgetMs', m.message));
      else settle({ kind: 'passed', ms: m.ms });
    });
    worker.on('error', (e: Error & { code?: string }) => {
      if (e.code === 'ERR_WORKER_OUT_OF_MEMORY')
        settle(
          refused(
            'render.trialHeapMb',
            `${request.file}: render stopped past ${heapMb} MB of heap (render.trialHeapMb): the template builds more than fits`,
          ),
        );
      else settle({ kind: 'unavailable', error: new Error('render trial worker failed', { cause: e }) });
    });
    worker.on('exit', (code) =>
      settle({ kind: 'unavailable', error: new Error(`render trial worker exited (${code}) without an answer`) }),
    );
  });
}
