import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

// One HTTP GET to Marathon over node:http(s): the three requests Switchyard
// makes (the app list, one app, the event stream) need no more than this.

/** How one GET is made. */
export interface GetOptions {
  readonly headers: Readonly<Record<string, string>>;
  /** Basic credentials as `user:password`; empty for none. */
  readonly auth: string;
  /** Limit for the connection and the response headers, and for each silence while the body is read (0: none while reading). */
  readonly timeoutMs: number;
  readonly bodyIdleMs: number;
  /** Origins (besides the URL's own) that a redirect may go to with the credentials: the other Marathon masters. */
  readonly trustedOrigins: ReadonlySet<string>;
  readonly signal?: AbortSignal;
}

/** A response whose headers have arrived; `body` is unread and must be consumed or destroyed. */
export interface Answer {
  readonly status: number;
  /** The URL that answered, after redirects. */
  readonly url: string;
  readonly body: IncomingMessage;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

/** A request that got no answer in time; `code` is what describe() shows. */
export class TimeoutError extends Error {
  override name = 'TimeoutError';
  readonly code = 'ETIMEDOUT';
}

/**
 * GETs `url`, following redirects as a browser would (a standby Marathon
 * redirects /v2/events to the leader). Credentials go to the URL's origin and
 * to trusted origins only, never to a host a redirect merely names.
 */
export async function get(url: string, opts: GetOptions): Promise<Answer> {
  let target = new URL(url);
  const origin = target.origin;
  for (let hop = 0; ; hop++) {
    const withAuth = target.origin === origin || opts.trustedOrigins.has(target.origin);
    const res = await once(target, opts, withAuth ? opts.auth : '');
    const location = res.headers.location;
    if (!REDIRECTS.has(res.statusCode ?? 0) || location === undefined || hop >= MAX_REDIRECTS) {
      return { status: res.statusCode ?? 0, url: target.toString(), body: res };
    }
    res.resume();
    target = new URL(location, target);
    if (target.protocol !== 'http:' && target.protocol !== 'https:')
      throw new Error(`${url}: redirected to a ${target.protocol} URL`);
  }
}

function once(url: URL, opts: GetOptions, auth: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const headers: Record<string, string> = { ...opts.headers };
    if (auth) headers.Authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
    const req = request(url, { method: 'GET', headers, signal: opts.signal });
    let answer: IncomingMessage | null = null;
    const expire = (why: string) => {
      const e = new TimeoutError(why);
      // The body's reader sees this error rather than a bare "aborted".
      answer?.destroy(e);
      req.destroy(e);
    };
    req.setTimeout(opts.timeoutMs, () => expire(`no answer within ${opts.timeoutMs} ms`));
    req.once('response', (res) => {
      answer = res;
      // From here the limit is on silence while reading: a big app list takes as long as it takes to arrive.
      req.setTimeout(opts.bodyIdleMs, () => expire(`the answer stalled for ${opts.bodyIdleMs} ms`));
      resolve(res);
    });
    // After the answer, an error reaches its reader through the body; rejecting then does nothing.
    req.on('error', reject);
    req.end();
  });
}
