import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describeJsonError, parseJsonDocument } from '../json-document.js';
import { sendJson } from './server.js';

// What every write endpoint needs: the bearer token checked in constant time,
// bodies read with a size and nesting limit, and errors answered with their status.

/** How much of a request body the API takes: bytes (413 past it) and nesting of arrays/objects (400 past it). */
export interface BodyLimits {
  readonly maxBytes: number;
  readonly maxDepth: number;
  /** Told of each body refused for a limit, by the limit's config key (the daemon counts them on /metrics). */
  readonly exceeded?: (limit: 'http.maxBodyBytes' | 'http.maxBodyDepth') => void;
}

export const DEFAULT_BODY_LIMITS: BodyLimits = { maxBytes: 64 * 1024, maxDepth: 32 };

/** A request that cannot be served as asked: an HTTP status and the reason. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

/** Constant-time comparison of the bearer token (hashed first, so the lengths always match). */
export function authorized(req: IncomingMessage, token: string): boolean {
  if (token === '') return true;
  return presentsToken(req, token);
}

/** The request carries this (non-empty) token; with no token configured nobody does. */
export function presentsToken(req: IncomingMessage, token: string): boolean {
  if (token === '') return false;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const given = createHash('sha256').update(m[1]!).digest();
  const wanted = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, wanted);
}

/** How long the rest of a too-large body is read and dropped before the 413, so the client reads the answer rather than a reset. */
const DRAIN_MS = 1000;

/**
 * The raw body, whatever its framing (Content-Length or chunked): at most
 * `maxBytes`, else a 413 — after dropping the rest for up to DRAIN_MS, never
 * keeping more than `maxBytes`.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let drain: NodeJS.Timeout | null = null;
    const finish = () => {
      if (drain) clearTimeout(drain);
      req.off('data', onData).off('end', finish).off('error', fail).off('aborted', onAborted);
      if (size > maxBytes) reject(new HttpError(413, `request body over ${maxBytes} bytes (http.maxBodyBytes)`));
      else resolve(Buffer.concat(chunks));
    };
    const fail = (e: Error) => {
      if (drain) clearTimeout(drain);
      req.off('data', onData).off('end', finish).off('error', fail).off('aborted', onAborted);
      reject(e);
    };
    const overLimit = () => {
      chunks.length = 0;
      drain ??= setTimeout(finish, DRAIN_MS);
    };
    const onData = (chunk: Buffer) => {
      if (size > maxBytes) return;
      size += chunk.length;
      if (size > maxBytes) overLimit();
      else chunks.push(chunk);
    };
    const onAborted = () => fail(new HttpError(400, 'request body cut short'));
    if (Number(req.headers['content-length']) > maxBytes) {
      size = maxBytes + 1;
      overLimit();
    }
    req.on('data', onData).on('end', finish).on('error', fail).on('aborted', onAborted);
  });
}

/**
 * The request body as exactly one JSON document: at most `maxBytes` (413),
 * UTF-8 (400), nested at most `maxDepth` deep (400), nothing after it (400).
 * An empty body is `undefined`, for endpoints where that means something.
 */
export async function readJson(req: IncomingMessage, limits: BodyLimits = DEFAULT_BODY_LIMITS): Promise<unknown> {
  const bytes = await readBody(req, limits.maxBytes).catch((e: unknown) => {
    if (e instanceof HttpError && e.status === 413) limits.exceeded?.('http.maxBodyBytes');
    throw e;
  });
  if (bytes.length === 0) return undefined;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (e) {
    throw new HttpError(400, 'request body is not UTF-8', {}, e);
  }
  const doc = parseJsonDocument(text, limits.maxDepth);
  if (!doc.ok && doc.cause === 'depth') limits.exceeded?.('http.maxBodyDepth');
  if (!doc.ok) throw new HttpError(400, `request body is not one JSON document: ${describeJsonError(doc)}`);
  return doc.value;
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
  // What may still be coming of a too-large body is not worth a keep-alive.
  if (e.status === 413) res.setHeader('Connection', 'close');
  sendJson(res, e.status, { error: e.message });
  return true;
}
