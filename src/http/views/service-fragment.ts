import type { Service, Snapshot } from '../../state/model.js';
import { parseServersState, runtimeCommands } from '../../targets/haproxy/runtime.js';
import { serversOf } from '../../targets/haproxy/servers.js';
import type { Target } from '../../targets/target.js';
import { linesOf, piecesDiff, type DiffOutcome } from './config-diff.js';
import { messageOf } from '../../errors.js';

// One service as one target renders it: the lines of config it brings (its
// fragment), the proxy servers (slots) its backends sit in, and — for a
// target with a runtime API — what HAProxy itself reports for them.

/** A proxy server line of the service's config: a slot, holding one of its backends or parked. */
export interface SlotView {
  readonly backend: string;
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  readonly disabled: boolean;
  /** The backend (its id) this slot holds; null: parked. */
  readonly holds: string | null;
}

/** What HAProxy's runtime API says of one server: `show servers state`. */
export interface RuntimeServerView {
  readonly backend: string;
  readonly name: string;
  readonly addr: string;
  readonly port: number;
  readonly state: 'stopped' | 'starting' | 'running' | 'stopping' | 'unknown';
  readonly maint: boolean;
  readonly weight: number;
}

/** The service on one target. */
export interface TargetFragment {
  readonly target: string;
  /** The config lines the service adds, as a diff against the same render without it; or why there is none. */
  readonly fragment: DiffOutcome | { readonly kind: 'error'; readonly error: string };
  /** Server lines (HAProxy shapes only; empty for other proxies). */
  readonly slots: readonly SlotView[];
  /** HAProxy's own view, when the target has a runtime API; null without one. */
  readonly runtime: { readonly servers: readonly RuntimeServerView[] } | { readonly error: string } | null;
}

const LIMITS = { maxEdits: 20_000, maxLines: 5000 };
const OP_STATES = ['stopped', 'starting', 'running', 'stopping'] as const;

/**
 * Renders the service alone through the target's template, and the same
 * snapshot with no service at all: the difference is what the service adds
 * — its listener, backend section and the routing lines on shared listeners.
 * The target keeps its slot placements, so the slots are the installed ones;
 * its render cache is left alone.
 */
export async function serviceOnTarget(
  target: Pick<Target, 'name' | 'renderApart' | 'config'>,
  snapshot: Snapshot,
  service: Service,
  runtimeTimeoutMs = 1000,
): Promise<TargetFragment> {
  let alone: string;
  let none: string;
  try {
    alone = target.renderApart({ version: snapshot.version, services: [service], rules: snapshot.rules });
    none = target.renderApart({ version: snapshot.version, services: [], rules: snapshot.rules });
  } catch (e) {
    return { target: target.name, fragment: { kind: 'error', error: messageOf(e) }, slots: [], runtime: null };
  }
  const fragment = piecesDiff(
    linesOf(none),
    linesOf(alone),
    { before: `${target.name} without ${service.id}`, after: `${target.name} with ${service.id}` },
    LIMITS,
  );
  const others = serversOf(none);
  const byAddress = new Map(service.backends.map((b) => [`${b.host}:${b.port}`, b.id] as const));
  const slots: SlotView[] = [...serversOf(alone)]
    .filter(([key]) => !others.has(key))
    .map(([, s]) => ({
      backend: s.backend,
      name: s.name,
      host: s.host,
      port: s.port,
      weight: s.weight,
      disabled: s.disabled,
      holds: byAddress.get(`${s.host}:${s.port}`) ?? null,
    }));
  return { target: target.name, fragment, slots, runtime: await runtimeView(target, slots, runtimeTimeoutMs) };
}

async function runtimeView(
  target: Pick<Target, 'config'>,
  slots: readonly SlotView[],
  timeoutMs: number,
): Promise<TargetFragment['runtime']> {
  const address = target.config.runtimeApi;
  if (!address || slots.length === 0) return null;
  const backends = [...new Set(slots.map((s) => s.backend))];
  try {
    const answers = await runtimeCommands(
      address,
      backends.map((b) => `show servers state ${b}`),
      timeoutMs,
    );
    const servers = parseServersState(answers.join('\n')).map((s) => ({
      backend: s.backend,
      name: s.name,
      addr: s.addr,
      port: s.port,
      state: OP_STATES[s.op] ?? ('unknown' as const),
      maint: s.maint,
      weight: s.weight,
    }));
    return { servers };
  } catch (e) {
    return { error: messageOf(e) };
  }
}
