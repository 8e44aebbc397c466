// The entry of a render trial's worker thread (see trial.ts): compiles the
// template version it is given, builds the data from the snapshot it is
// given, renders once within the budget and says how that went. It runs in
// a thread of its own, so a render that never ends holds only this thread,
// and the daemon terminates it.

import { parentPort, workerData } from 'node:worker_threads';
import { messageOf } from '../errors.js';
import { RenderBudgetExceeded } from './budget.js';
import { templateData } from './data.js';
import { loadTemplate } from './template.js';
import type { TrialMessage, TrialRequest } from './trial.js';

async function run(request: TrialRequest): Promise<TrialMessage> {
  let started = 0;
  try {
    const template = await loadTemplate(request.file, { budgetMs: request.budgetMs, texts: request.texts });
    const data = templateData(request.snapshot, request.vars, { slots: request.slots });
    parentPort!.postMessage({ kind: 'rendering' } satisfies TrialMessage);
    started = performance.now();
    const text = template.render(data);
    return { kind: 'finished', ms: performance.now() - started, bytes: Buffer.byteLength(text) };
  } catch (e) {
    if (e instanceof RenderBudgetExceeded) return { kind: 'stopped', message: e.message };
    // Any other failure is the main thread's to report: its own render meets it again, with its own types.
    return { kind: 'finished', ms: started === 0 ? 0 : performance.now() - started, bytes: 0, error: messageOf(e) };
  }
}

void run(workerData as TrialRequest).then((m) => parentPort!.postMessage(m));
