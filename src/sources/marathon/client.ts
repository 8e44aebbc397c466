import axios, { type AxiosInstance, type AxiosRequestConfig } from 'axios';
import type { Readable } from 'node:stream';
import { AppListError, AppSplitter } from './app-splitter.js';
import type { MarathonApp } from './types.js';

/** The Marathon servers to try, in order; may change over time (zk:// leader discovery). */
export type EndpointList = () => Promise<readonly string[]>;

/** A Marathon answer that was not what the API promises; the message names the endpoint. */
export class MarathonError extends Error {
  override name = 'MarathonError';
}

/**
 * Marathon's REST API over several endpoints: the one that last answered is
 * tried first, the others in order when it fails, so one dead master costs
 * one timeout, not one per request.
 */
export class MarathonClient {
  private readonly http: AxiosInstance;
  private preferred: string | null = null;

  constructor(
    private readonly endpoints: EndpointList,
    private readonly opts: { user: string; password: string; timeoutMs: number },
  ) {
    this.http = axios.create({
      timeout: opts.timeoutMs,
      auth: opts.user ? { username: opts.user, password: opts.password } : undefined,
      headers: { Accept: 'application/json' },
      maxContentLength: Infinity,
      maxBodyLength: Infinity,
      // Responses are checked by hand so that a 503 from a master without a leader moves on to the next one.
      validateStatus: () => true,
    });
  }

  /**
   * Every app with its tasks, handed to `onApp` one at a time as the answer
   * arrives (see app-splitter.ts); resolves with how many there were. When an
   * endpoint fails part-way and the next one is tried, `onRestart` comes
   * first: what was handed over so far is to be forgotten.
   */
  async apps(onApp: (app: MarathonApp) => void, onRestart: () => void): Promise<number> {
    const path = '/v2/apps?embed=apps.tasks';
    const failures: string[] = [];
    for (const endpoint of await this.ordered()) {
      const url = endpoint.replace(/\/+$/, '') + path;
      if (failures.length > 0) onRestart();
      try {
        const res = await this.http.get<Readable>(url, { responseType: 'stream' });
        if (res.status === 401 || res.status === 403) {
          res.data.destroy();
          throw new MarathonError(`${url}: HTTP ${res.status} (check marathon.user and marathon.password)`);
        }
        if (res.status !== 200) {
          failures.push(`${url}: HTTP ${res.status}${messageOf(await readSome(res.data))}`);
          continue;
        }
        let count = 0;
        const splitter = new AppSplitter((json) => {
          onApp(JSON.parse(json) as MarathonApp);
          count++;
        });
        for await (const chunk of res.data) splitter.push(chunk as Buffer);
        splitter.end();
        this.prefer(endpoint);
        return count;
      } catch (e) {
        if (e instanceof MarathonError) throw e;
        // A partial answer already handed some apps over: the caller discards what it built on failure.
        failures.push(`${url}: ${e instanceof AppListError || e instanceof SyntaxError ? e.message : describe(e)}`);
      }
    }
    throw new MarathonError(failures.join('; '));
  }

  /** One app with its tasks; null when Marathon says it does not exist. */
  async app(id: string): Promise<MarathonApp | null> {
    const path = `/v2/apps${id.split('/').map(encodeURIComponent).join('/')}?embed=app.tasks`;
    const body = await this.get<{ app?: unknown }>(path, true);
    if (body === null) return null;
    if (body.app === null || typeof body.app !== 'object')
      throw new MarathonError(`${path}: no "app" object in the answer`);
    return body.app as MarathonApp;
  }

  /** The endpoints in the order to try them now. */
  async ordered(): Promise<string[]> {
    const list = [...(await this.endpoints())];
    if (list.length === 0) throw new MarathonError('no Marathon endpoint known (leader discovery has found none yet)');
    const i = this.preferred ? list.indexOf(this.preferred) : -1;
    if (i > 0) list.unshift(...list.splice(i, 1));
    return list;
  }

  /** Remembers which endpoint answered, so the next request starts there. */
  prefer(endpoint: string): void {
    this.preferred = endpoint;
  }

  /** Axios config shared with the event stream (auth, timeouts). */
  requestConfig(): AxiosRequestConfig {
    return { auth: this.opts.user ? { username: this.opts.user, password: this.opts.password } : undefined };
  }

  private async get<T>(path: string, allow404 = false): Promise<T> {
    const failures: string[] = [];
    for (const endpoint of await this.ordered()) {
      const url = endpoint.replace(/\/+$/, '') + path;
      try {
        const res = await this.http.get(url);
        if (res.status === 404 && allow404) {
          this.prefer(endpoint);
          return null as T;
        }
        if (res.status === 401 || res.status === 403)
          throw new MarathonError(`${url}: HTTP ${res.status} (check marathon.user and marathon.password)`);
        if (res.status !== 200) {
          failures.push(`${url}: HTTP ${res.status}${messageOf(res.data)}`);
          continue;
        }
        if (res.data === null || typeof res.data !== 'object') {
          failures.push(`${url}: answer is not a JSON object`);
          continue;
        }
        this.prefer(endpoint);
        return res.data as T;
      } catch (e) {
        if (e instanceof MarathonError) throw e;
        failures.push(`${url}: ${describe(e)}`);
      }
    }
    throw new MarathonError(failures.join('; '));
  }
}

/** The start of an error answer's body, as JSON when it is JSON. */
async function readSome(body: Readable): Promise<unknown> {
  let text = '';
  for await (const chunk of body) {
    text += (chunk as Buffer).toString('utf8');
    if (text.length > 4096) break;
  }
  body.destroy();
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function messageOf(data: unknown): string {
  const m = data && typeof data === 'object' ? (data as { message?: unknown }).message : undefined;
  return typeof m === 'string' ? ` (${m.slice(0, 200)})` : '';
}

/** A network failure in a few words: the code where there is one. */
export function describe(e: unknown): string {
  const err = e as { code?: string; message?: string };
  return err.code
    ? `${err.code}${err.message && !err.message.includes(err.code) ? ` ${err.message}` : ''}`
    : (err.message ?? String(e));
}
