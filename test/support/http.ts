import { get, request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { get as tlsGet } from 'node:https';

/** What a GET returned, whatever the status code. */
export interface HttpResponse {
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
}

/** Options for httpGet(); `timeoutMs` bounds socket inactivity. */
export interface HttpGetOptions {
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * GETs `url` on a fresh connection that is closed afterwards (no agent, `Connection: close`), so
 * every request really goes through the proxy's accept path; rejects only on socket errors and timeouts.
 */
export function httpGet(url: string, { headers = {}, timeoutMs = 5000 }: HttpGetOptions = {}): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, headers: { connection: 'close', ...headers }, timeout: timeoutMs }, (res) =>
      collect(res, resolve, reject),
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no activity for ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** httpGet over TLS, sending `servername` as SNI and trusting any certificate (tests serve self-signed ones). */
export function httpsGet(
  url: string,
  { headers = {}, timeoutMs = 5000, servername }: HttpGetOptions & { servername?: string } = {},
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const options = {
      agent: false,
      rejectUnauthorized: false,
      servername,
      headers: { connection: 'close', ...headers },
      timeout: timeoutMs,
    };
    const req = tlsGet(url, options, (res) => collect(res, resolve, reject));
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no activity for ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

function collect(res: IncomingMessage, resolve: (r: HttpResponse) => void, reject: (e: Error) => void): void {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    body += chunk;
  });
  res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
  res.on('error', reject);
}

/** Sends `n` sequential GETs and counts responses by body; rejects on the first non-2xx so a distribution check never hides errors. */
export async function countHits(
  url: string,
  n: number,
  headers: Record<string, string> = {},
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 1; i <= n; i++) {
    const { status, body } = await httpGet(url, { headers });
    if (status < 200 || status > 299) throw new Error(`GET ${url} #${i} of ${n}: HTTP ${status}: ${body}`);
    counts.set(body, (counts.get(body) ?? 0) + 1);
  }
  return counts;
}

/** A POST with a body (`Connection: close`); resolves with status and body, whatever the status. */
export function httpPost(
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
          Connection: 'close',
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
