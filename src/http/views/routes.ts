import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Runner } from '../../runner.js';
import type { Target } from '../../targets/target.js';
import { readInstalled } from '../../targets/install.js';
import { HttpError, sendHttpError } from '../request.js';
import { sendJson, sendText, type Route } from '../server.js';
import { linesOf, piecesDiff } from './config-diff.js';
import type { RecentEvents } from './recent-events.js';
import { serviceOnTarget } from './service-fragment.js';
import {
  DEFAULT_LIMIT,
  detail,
  findService,
  MAX_LIMIT,
  MAX_QUERY,
  servicePage,
  type Quarantined,
  type ServiceContext,
} from './service-views.js';
import { messageOf } from '../../errors.js';

// The read-only API views behind the dashboard, each useful with curl:
//   GET /api/overview                       health, counts and the newest event number: what the page polls
//   GET /api/catalog/services?query=&offset=&limit=   a page of service summaries
//   GET /api/catalog/services/<id>          one service in full, with its fragment and slots per target
//   GET /api/targets                        the targets and their status
//   GET /api/targets/<name>/config          the installed file
//   GET /api/targets/<name>/diff            the installed file against what would be rendered now
//   GET /api/events[?after=<seq>]           recent installs and refusals (without diffs)
//   GET /api/events/<seq>                   one of them in full
// (`/api/services` is Bamboo's rules alias, which the contract keeps.)

/** What the views read: the runner's state and health, the recent events, and whether env values may be shown. */
export interface ViewDeps {
  readonly runner: Pick<Runner, 'health' | 'snapshot' | 'ready' | 'targets'>;
  readonly events: RecentEvents;
  readonly showEnv: boolean;
  /** Routing rules are kept (the config has a zookeeper section): the page offers to edit them. */
  readonly rules: boolean;
}

export const SERVICES_PATH = '/api/catalog/services';
const DIFF_LIMITS = { maxEdits: 50_000, maxLines: 100_000 };

export function viewRoutes(deps: ViewDeps): Route[] {
  const route: Route = async (req, res, url) => {
    const path = url.pathname;
    if (!isViewPath(path)) return false;
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        throw new HttpError(405, 'read-only view: use GET', { Allow: 'GET, HEAD' });
      await serve(deps, path, url.searchParams, res);
    } catch (e) {
      if (!sendHttpError(res, e)) throw e;
    }
    return true;
  };
  return [route];
}

function isViewPath(path: string): boolean {
  return (
    path === '/api/overview' ||
    path === SERVICES_PATH ||
    path.startsWith(`${SERVICES_PATH}/`) ||
    path === '/api/targets' ||
    path.startsWith('/api/targets/') ||
    path === '/api/events' ||
    path.startsWith('/api/events/')
  );
}

async function serve(deps: ViewDeps, path: string, params: URLSearchParams, res: ServerResponse): Promise<void> {
  const { runner, events } = deps;
  if (path === '/api/overview') return sendJson(res, 200, overview(deps));
  if (path === '/api/targets')
    return sendJson(res, 200, { targets: runner.targets.map((t) => ({ ...t.status(), output: t.config.output })) });
  if (path === '/api/events') {
    const after = integer(params, 'after', 0, Number.MAX_SAFE_INTEGER, 0);
    return sendJson(res, 200, { head: events.head(), events: events.since(after) });
  }
  if (path.startsWith('/api/events/')) {
    const raw = path.slice('/api/events/'.length);
    const event = /^\d{1,16}$/.test(raw) ? events.get(Number(raw)) : null;
    if (!event) throw new HttpError(404, `no event ${JSON.stringify(raw.slice(0, 20))} among the recent ones`);
    return sendJson(res, 200, event);
  }
  if (path.startsWith('/api/targets/')) {
    const m = /^\/api\/targets\/([^/]+)\/(config|diff)$/.exec(path);
    if (!m) throw new HttpError(404, 'expected /api/targets/<name>/config or /api/targets/<name>/diff');
    const name = segment(m[1]!);
    const target = runner.targets.find((t) => t.name === name);
    if (!target) throw new HttpError(404, `no target named ${JSON.stringify(name.slice(0, 60))}`);
    return m[2] === 'config' ? installedConfig(target, res) : configDiff(deps, target, res);
  }
  if (!runner.ready()) throw new HttpError(503, 'not every source has synced yet');
  const snapshot = runner.snapshot();
  const ctx = context(deps);
  if (path === SERVICES_PATH) {
    const query = params.get('query') ?? '';
    if (query.length > MAX_QUERY) throw new HttpError(400, `"query" over ${MAX_QUERY} characters`);
    const offset = integer(params, 'offset', 0, Number.MAX_SAFE_INTEGER, 0);
    const limit = integer(params, 'limit', 1, MAX_LIMIT, DEFAULT_LIMIT);
    return sendJson(res, 200, servicePage(snapshot, query, offset, limit, ctx));
  }
  const id = segment(path.slice(SERVICES_PATH.length + 1));
  const service = findService(snapshot, id);
  if (!service) throw new HttpError(404, `no service ${JSON.stringify(id)}`);
  const targets = await Promise.all(runner.targets.map((t) => serviceOnTarget(t, snapshot, service)));
  return sendJson(res, 200, { ...detail(service, snapshot, ctx, deps.showEnv), targets });
}

/** /health as it is, plus counts, the newest event's number and what the daemon offers: small enough to poll every second. */
function overview(deps: ViewDeps): Record<string, unknown> {
  const health = deps.runner.health();
  const ready = deps.runner.ready();
  const services = ready ? deps.runner.snapshot().services : [];
  let backends = 0;
  let serving = 0;
  for (const s of services) {
    backends += s.backends.length;
    for (const b of s.backends) if (b.healthy && !b.draining) serving++;
  }
  return {
    ...health,
    counts: { services: services.length, backends, serving },
    events: deps.events.head(),
    features: { rules: deps.rules },
  };
}

function context(deps: ViewDeps): ServiceContext {
  const health = deps.runner.health() as ReturnType<ViewDeps['runner']['health']> & {
    quarantined?: readonly Quarantined[];
  };
  const quarantined = new Map<string, Quarantined[]>();
  for (const q of health.quarantined ?? []) quarantined.set(q.service, [...(quarantined.get(q.service) ?? []), q]);
  return { held: new Map(health.held.map((h) => [h.id, h] as const)), quarantined };
}

/** Streams the installed file as it is on disk. */
async function installedConfig(target: Target, res: ServerResponse): Promise<void> {
  const file = target.config.output;
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    throw new HttpError(404, `${file}: nothing installed yet`);
  }
  res.writeHead(200, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(size),
    'Cache-Control': 'no-store',
  });
  if (res.req.method === 'HEAD') return void res.end();
  await pipeline(createReadStream(file), res);
}

/** The installed file against a render of the state now: what the next install would change. */
async function configDiff(deps: ViewDeps, target: Target, res: ServerResponse): Promise<void> {
  if (!deps.runner.ready()) throw new HttpError(503, 'not every source has synced yet');
  const installed = (await readInstalled(target.config.output)) ?? '';
  let rendered: string;
  try {
    // Through the target's own cache: a whole render of the state now reads what the next apply reads, so it
    // leaves the cache as that apply would (a render apart costs a cold render: 1.5 s at 5000 apps under load).
    rendered = target.render(deps.runner.snapshot());
  } catch (e) {
    throw new HttpError(409, `the target does not render now: ${messageOf(e)}`);
  }
  if (installed === rendered) return sendText(res, 200, '');
  const out = piecesDiff(
    linesOf(installed),
    linesOf(rendered),
    { before: `${target.config.output} (installed)`, after: `${target.config.output} (rendered now)` },
    DIFF_LIMITS,
  );
  if (out.kind === 'too-large') throw new HttpError(422, `no diff: ${out.reason}`);
  sendText(res, 200, out.kind === 'diff' ? out.text : '');
}

/** A whole number from the query string, or the default when absent; 400 naming the parameter otherwise. */
function integer(params: URLSearchParams, name: string, min: number, max: number, fallback: number): number {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  const n = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new HttpError(
      400,
      `"${name}" must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw.slice(0, 20))}`,
    );
  return n;
}

/** A service id or target name from the path: one URL-encoded segment (`/` as %2F), as in the rules API. */
function segment(raw: string): string {
  if (raw.includes('/')) throw new HttpError(400, 'the id must be URL-encoded as one path segment ("/" as %2F)');
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'the id in the path is not valid percent-encoding');
  }
}
