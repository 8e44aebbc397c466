import type { Runner } from '../runner.js';
import { authorized, HttpError, readJson, sendHttpError, unauthorized } from './request.js';
import { sendJson, type Route } from './server.js';

/**
 * `POST /api/guard/release`: an operator confirms the drops the guard is
 * holding — all of them, or those named in `{"ids": [...]}`. Needs the token
 * when one is set.
 */
export function guardRoutes(runner: Runner, token: string): Route[] {
  const route: Route = async (req, res, url) => {
    if (url.pathname !== '/api/guard/release') return false;
    try {
      if (req.method !== 'POST') throw new HttpError(405, 'use POST', { Allow: 'POST' });
      if (!authorized(req, token)) throw unauthorized();
      const body = Number(req.headers['content-length'] ?? 0) > 0 ? await readJson(req) : {};
      const ids = (body as { ids?: unknown }).ids;
      if (ids !== undefined && !(Array.isArray(ids) && ids.every((i) => typeof i === 'string')))
        throw new HttpError(400, '"ids" must be an array of service ids');
      sendJson(res, 200, { released: runner.releaseHeld(ids as string[] | undefined) });
    } catch (e) {
      if (!sendHttpError(res, e)) throw e;
    }
    return true;
  };
  return [route];
}
