import type { Logger } from '../log.js';
import { runningConfig } from './haproxy/running.js';
import type { InstalledState } from './record.js';
import type { Target } from './target.js';

/**
 * At start, makes a loaded target compare its next render with what the
 * proxy runs rather than with the file: an installed file the proxy never
 * confirmed taking is reloaded, and an HAProxy whose servers differ from the
 * file (a runtime batch cut short) gets the commands that end the
 * difference. A crash at any instant then converges on the next apply.
 */
export async function startFromWhatRuns(target: Target, state: InstalledState, log: Logger): Promise<void> {
  if (state.kind === 'none') return;
  if (state.kind === 'unconfirmed') {
    log.warn('the installed config may never have been loaded; the first apply reloads', {
      target: target.name,
      output: target.config.output,
      why: state.why,
    });
    target.startFrom(null);
    return;
  }
  if (!target.config.runtimeApi) return;
  const running = await runningConfig(state.text, target.config.runtimeApi);
  if (running === null) return;
  log.warn("HAProxy's servers differ from the installed config; the first apply brings them in line", {
    target: target.name,
  });
  target.startFrom(running);
}
