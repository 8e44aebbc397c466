import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from './server.js';

// What every write endpoint needs: the bearer token checked in constant time,
// bodies read with a size limit, and errors answered with their status.

export const MAX_BODY = 64 * 1024;

/** A request that cannot be served as asked: an HTTP status and the reason. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Constant-time comparison of the bearer token (hashed first, so the lengths always match). */
export function authorized(req: IncomingMessage, token: string): boolean {
  if (token === '') return true;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const given = createHash('sha256').update(m[1]!).digest();
  const wanted = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, wanted);
}

/** The request body as JSON: at most MAX_BODY bytes (413), UTF-8 (400), valid JSON (400). */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new HttpError(400, 'request body is not UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `request body is not valid JSON: ${(e as Error).message}`);
  }
}

/** The 401 a write without the right token gets. */
export function unauthorized(): HttpError {
  return new HttpError(401, 'missing or wrong bearer token', { 'WWW-Authenticate': 'Bearer realm="switchyard"' });
}

/** Answers an HttpError (true), or leaves other errors to the caller (false). */
export function sendHttpError(res: ServerResponse, e: unknown): boolean {
  if (res.headersSent) {
    res.destroy();
    return true;
  }
  if (!(e instanceof HttpError)) return false;
  for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
  if (e.status === 413) {
    // The rest of the body is not worth reading: answer, then hang up.
    res.setHeader('Connection', 'close');
    res.once('finish', () => res.req.destroy());
  }
  sendJson(res, e.status, { error: e.message });
  return true;
}
