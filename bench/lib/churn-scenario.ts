import type { MarathonDouble } from '../../test/support/marathon-double.js';
import type { AppHealthCheck } from '../../test/support/marathon-types.js';

// The churn scenario: a plan made up front from a seed (so both modes replay
// exactly the same changes), then played against the Marathon double at a
// steady pace while wrk loads the churning apps.
//
// Two apps take the load, each with a stable core of healthy tasks that the
// churn never touches (so neither ever has fewer than `core` backends and a
// 503 can only be Switchyard's or HAProxy's fault). On top of the core, the
// churn adds tasks on fresh backends, kills them (half through TASK_KILLING),
// flaps their health both ways and drains them (TASK_KILLING, killed later).
// Every `structuralEvery`-th operation is a structural change instead, one
// that needs a reload: a new app with a service port of its own (a new
// listener), a new service port for such an app (updateApp), or a changed
// HAPROXY_0_VHOST label (updateApp), on the loaded app /churn/b itself or on
// an app no load goes to. Not removing an app: Switchyard's drop guard holds
// a service losing all its backends for guard.holdMs (60 s by default), so a
// removal would not reach HAProxy within the run.

export const HEALTH_CHECK: AppHealthCheck = {
  protocol: 'HTTP',
  path: '/health',
  portIndex: 0,
  intervalSeconds: 1,
  maxConsecutiveFailures: 3,
};

export type MembershipKind = 'scale-up' | 'kill' | 'kill-via-killing' | 'flap-down' | 'flap-up' | 'drain';
export type StructuralKind = 'new-app' | 'port-change' | 'vhost-loaded-app' | 'vhost-idle-app';

/** A churn task as the plan knows it: a symbolic number until it is launched. */
interface PlannedTask {
  readonly n: number;
  readonly app: string;
  readonly backend: string;
  state: 'serving' | 'unhealthy' | 'draining';
}

export type Op =
  | {
      readonly type: 'membership';
      readonly kind: MembershipKind;
      readonly app: string;
      readonly task: number;
      readonly backend: string;
      readonly direction: 'up' | 'down' | null;
    }
  | { readonly type: 'structural'; readonly kind: StructuralKind; readonly app: string; readonly k: number };

export interface PlanOptions {
  readonly seed: number;
  readonly membershipOps: number;
  readonly structuralOps: number;
  /** Churn tasks per loaded app at most (on top of the core). */
  readonly maxChurn: number;
  readonly loadedApps: readonly string[];
}

export interface Plan {
  readonly ops: readonly Op[];
  /** Fresh backends the plan launches tasks on, in order. */
  readonly freshBackends: readonly string[];
}

/** A small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function makePlan(o: PlanOptions): Plan {
  const rand = prng(o.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const tasks = new Map<string, PlannedTask[]>(o.loadedApps.map((a) => [a, []]));
  const fresh: string[] = [];
  const ops: Op[] = [];
  const total = o.membershipOps + o.structuralOps;
  // Structural operations evenly spread, the first one a little way in.
  const structuralAt = new Set(
    Array.from({ length: o.structuralOps }, (_, k) => Math.floor(((k + 0.5) * total) / o.structuralOps)),
  );
  let nextTask = 0;
  let k = 0;
  const added: string[] = [];
  let portChanges = 0;
  for (let i = 0; i < total; i++) {
    if (structuralAt.has(i)) {
      const cycle: StructuralKind[] = ['new-app', 'vhost-loaded-app', 'port-change', 'vhost-idle-app'];
      let kind = cycle[k % cycle.length]!;
      if (kind === 'port-change' && added.length === 0) kind = 'new-app';
      const app =
        kind === 'new-app'
          ? `/churn/new-${k}`
          : kind === 'port-change'
            ? added[portChanges++ % added.length]!
            : kind === 'vhost-loaded-app'
              ? o.loadedApps[o.loadedApps.length - 1]!
              : '/churn/idle';
      if (kind === 'new-app') added.push(app);
      ops.push({ type: 'structural', kind, app, k });
      k++;
      continue;
    }
    const app = o.loadedApps[i % o.loadedApps.length]!;
    const mine = tasks.get(app)!;
    const serving = mine.filter((t) => t.state === 'serving');
    const unhealthy = mine.filter((t) => t.state === 'unhealthy');
    const choices: Array<[number, MembershipKind]> = [];
    if (mine.length < o.maxChurn) choices.push([mine.length < 2 ? 6 : 3, 'scale-up']);
    if (mine.length > 0) choices.push([1.25, 'kill'], [1.25, 'kill-via-killing']);
    if (serving.length > 0) choices.push([1.5, 'flap-down'], [1, 'drain']);
    if (unhealthy.length > 0) choices.push([1.5, 'flap-up']);
    let r = rand() * choices.reduce((s, [w]) => s + w, 0);
    const kind = choices.find(([w]) => (r -= w) < 0)?.[1] ?? choices[choices.length - 1]![1];
    let task: PlannedTask;
    let direction: 'up' | 'down' | null;
    switch (kind) {
      case 'scale-up': {
        const backend = `fresh-${fresh.length + 1}`;
        fresh.push(backend);
        task = { n: nextTask++, app, backend, state: 'serving' };
        mine.push(task);
        direction = 'up';
        break;
      }
      case 'kill':
      case 'kill-via-killing':
        task = pick(mine);
        mine.splice(mine.indexOf(task), 1);
        direction = task.state === 'serving' ? 'down' : null;
        break;
      case 'flap-down':
        task = pick(serving);
        task.state = 'unhealthy';
        direction = 'down';
        break;
      case 'drain':
        task = pick(serving);
        task.state = 'draining';
        direction = 'down';
        break;
      case 'flap-up':
        task = pick(unhealthy);
        task.state = 'serving';
        direction = 'up';
        break;
    }
    ops.push({ type: 'membership', kind, app, task: task.n, backend: task.backend, direction });
  }
  return { ops, freshBackends: fresh };
}

/** One operation as played: when the double emitted its first event. */
export interface Played {
  readonly op: Op;
  /** process.hrtime.bigint() of the first event the operation published. */
  readonly emittedAt: bigint;
  /** How late the operation started against its slot in the schedule (ms). */
  readonly lateMs: number;
}

/** What the player needs to reach the cluster. */
export interface PlayContext {
  readonly marathon: MarathonDouble;
  /** Fresh and other backends' ports by name. */
  readonly ports: ReadonlyMap<string, number>;
  /** A fresh service port per structural operation number (new apps, port changes). */
  readonly newAppPort: (k: number) => number;
  /** Backends for the tasks of new apps. */
  readonly newAppBackends: readonly string[];
}

/**
 * Plays the plan: operation i at `start + i * intervalMs`. Returns what was
 * played, and the churn tasks' ids still running at the end with their state.
 */
export async function play(
  plan: Plan,
  ctx: PlayContext,
  start: bigint,
  intervalMs: number,
): Promise<{ played: Played[]; alive: Map<string, { app: string; state: 'serving' | 'unhealthy' | 'draining' }> }> {
  const { marathon } = ctx;
  const seen: { first: bigint | null } = { first: null };
  const hook = (_type: unknown, _data: unknown, at: bigint) => {
    seen.first ??= at;
  };
  const firstEmitted = (): bigint | null => seen.first;
  marathon.on('event', hook);
  const ids = new Map<number, string>();
  const states = new Map<number, { app: string; backend: string; state: 'serving' | 'unhealthy' | 'draining' }>();
  const played: Played[] = [];
  try {
    for (let i = 0; i < plan.ops.length; i++) {
      const due = start + BigInt(Math.round(i * intervalMs * 1e6));
      const wait = Number(due - process.hrtime.bigint()) / 1e6;
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const lateMs = Number(process.hrtime.bigint() - due) / 1e6;
      const op = plan.ops[i]!;
      seen.first = null;
      if (op.type === 'membership') {
        const id = ids.get(op.task);
        const st = states.get(op.task);
        switch (op.kind) {
          case 'scale-up':
            ids.set(
              op.task,
              marathon.addTask(op.app, { host: '127.0.0.1', ports: [ctx.ports.get(op.backend)!], healthy: true }),
            );
            states.set(op.task, { app: op.app, backend: op.backend, state: 'serving' });
            break;
          case 'kill':
            marathon.killTask(id!);
            states.delete(op.task);
            break;
          case 'kill-via-killing':
            marathon.killTask(id!, { killing: true });
            states.delete(op.task);
            break;
          case 'flap-down':
            marathon.setTaskHealth(id!, false);
            st!.state = 'unhealthy';
            break;
          case 'flap-up':
            marathon.setTaskHealth(id!, true);
            st!.state = 'serving';
            break;
          case 'drain':
            marathon.setTaskState(id!, 'TASK_KILLING');
            st!.state = 'draining';
            break;
        }
      } else {
        switch (op.kind) {
          case 'new-app':
            marathon.addApp({ id: op.app, ports: [ctx.newAppPort(op.k)], healthChecks: [HEALTH_CHECK] });
            for (const b of ctx.newAppBackends)
              marathon.addTask(op.app, { host: '127.0.0.1', ports: [ctx.ports.get(b)!], healthy: true });
            break;
          case 'port-change':
            marathon.updateApp(op.app, { ports: [ctx.newAppPort(op.k)] });
            break;
          case 'vhost-loaded-app':
          case 'vhost-idle-app': {
            const labels = {
              ...(marathon.getApp(op.app)?.labels ?? {}),
              HAPROXY_0_VHOST: `v${op.k}.${op.app.split('/').pop()}.churn.test`,
            };
            marathon.updateApp(op.app, { labels });
            break;
          }
        }
      }
      // Read through a call: the hook set it meanwhile, which TypeScript's narrowing cannot see.
      const emittedAt = firstEmitted();
      if (emittedAt === null) throw new Error(`operation ${i} (${op.kind} ${op.app}) published no event`);
      played.push({ op, emittedAt, lateMs });
    }
  } finally {
    marathon.off('event', hook);
  }
  const alive = new Map<string, { app: string; state: 'serving' | 'unhealthy' | 'draining' }>();
  for (const [, s] of states) alive.set(s.backend, { app: s.app, state: s.state });
  return { played, alive };
}
