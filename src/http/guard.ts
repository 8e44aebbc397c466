import type { Runner } from '../runner.js';
import {
  authorized,
  DEFAULT_BODY_LIMITS,
  HttpError,
  readJson,
  sendHttpError,
  unauthorized,
  type BodyLimits,
} from './request.js';
import { sendJson, type Route } from './server.js';

/**
 * `POST /api/guard/release`: an operator confirms the drops the guard is
 * holding — all of them (an empty body, or `{}`), or those named in
 * `{"ids": [...]}`. Needs the token when one is set. A body that is anything
 * else is refused and releases nothing.
 */
export function guardRoutes(runner: Runner, token: string, limits: BodyLimits = DEFAULT_BODY_LIMITS): Route[] {
  const route: Route = async (req, res, url) => {
    if (url.pathname !== '/api/guard/release') return false;
    try {
      if (req.method !== 'POST') throw new HttpError(405, 'use POST', { Allow: 'POST' });
      if (!authorized(req, token)) throw unauthorized();
      const ids = releaseIds(await readJson(req, limits));
      sendJson(res, 200, { released: runner.releaseHeld(ids) });
    } catch (e) {
      if (!sendHttpError(res, e)) throw e;
    }
    return true;
  };
  return [route];
}

/** The ids a release body names; undefined = all. Throws the 400 for any other body. */
function releaseIds(body: unknown): string[] | undefined {
  if (body === undefined) return undefined;
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new HttpError(400, 'expected no body, {} or {"ids": [service ids]}');
  const extra = Object.keys(body).filter((k) => k !== 'ids');
  if (extra.length > 0)
    throw new HttpError(400, `unknown field ${JSON.stringify(extra[0]!.slice(0, 40))}: the body takes only "ids"`);
  const ids = (body as { ids?: unknown }).ids;
  if (ids === undefined) return undefined;
  if (!(Array.isArray(ids) && ids.every((i) => typeof i === 'string')))
    throw new HttpError(400, '"ids" must be an array of service ids');
  return ids as string[];
}
