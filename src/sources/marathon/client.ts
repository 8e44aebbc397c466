import type { IncomingMessage } from 'node:http';
import { AppListError, AppSplitter, type OversizeApp } from './app-splitter.js';
import { get, type Answer } from './get.js';
import { LimitError, type MarathonLimits } from './limits.js';
import type { MarathonApp } from './types.js';

/**
 * The app list with what decides which tasks are backends: tasks (with health
 * results), the running deployments, and their readiness results — Marathon
 * sends the last only when asked. Deployments come with every list since
 * Marathon 0.9; asking costs nothing and makes older ones send them.
 */
export const APP_LIST_PATH = '/v2/apps?embed=apps.tasks&embed=apps.deployments&embed=apps.readiness';
/** The same for one app (`/v2/apps/<id>` always embeds its tasks and deployments). */
export const APP_EMBEDS = 'embed=app.tasks&embed=app.readiness';

/** The Marathon servers to try, in order; may change over time (zk:// leader discovery). */
export type EndpointList = () => Promise<readonly string[]>;

/** A Marathon answer that was not what the API promises; the message names the endpoint. */
export class MarathonError extends Error {
  override name = 'MarathonError';
}

/** How the client reaches Marathon. */
export interface ClientOptions {
  readonly user: string;
  readonly password: string;
  readonly timeoutMs: number;
  readonly limits: MarathonLimits;
}

/**
 * Marathon's REST API over several endpoints: the one that last answered is
 * tried first, the others in order when it fails, so one dead master costs
 * one timeout, not one per request.
 */
export class MarathonClient {
  private preferred: string | null = null;

  constructor(
    private readonly endpoints: EndpointList,
    private readonly opts: ClientOptions,
  ) {}

  /**
   * Every app with its tasks, handed to `onApp` one at a time as the answer
   * arrives (see app-splitter.ts); resolves with how many there were. When an
   * endpoint fails part-way and the next one is tried, `onRestart` comes
   * first: what was handed over so far is to be forgotten. An app whose text
   * is longer than maxAppBytes goes to `onOversize` instead; a list longer
   * than maxAppListBytes or with more than maxApps apps is refused whole
   * (LimitError), without trying the other endpoints: they serve the same list.
   */
  async apps(
    onApp: (app: MarathonApp) => void,
    onRestart: () => void,
    onOversize: (app: OversizeApp) => void,
  ): Promise<number> {
    const { maxAppListBytes, maxAppBytes, maxApps } = this.opts.limits;
    const path = APP_LIST_PATH;
    const failures: string[] = [];
    for (const endpoint of await this.ordered()) {
      const url = endpoint.replace(/\/+$/, '') + path;
      if (failures.length > 0) onRestart();
      try {
        const res = await this.get(url, 'application/json');
        if (res.status === 401 || res.status === 403) {
          res.body.destroy();
          throw new MarathonError(`${url}: HTTP ${res.status} (check marathon.user and marathon.password)`);
        }
        if (res.status !== 200) {
          failures.push(`${url}: HTTP ${res.status}${messageOf(await readSome(res.body))}`);
          continue;
        }
        let count = 0;
        const counted = () => {
          if (++count > maxApps)
            throw new LimitError({
              limit: 'maxApps',
              max: maxApps,
              offender: `GET ${url}`,
              found: `more than ${maxApps} apps`,
            });
        };
        const splitter = new AppSplitter(
          {
            onApp: (json) => {
              counted();
              onApp(JSON.parse(json) as MarathonApp);
            },
            onOversize: (app) => {
              counted();
              onOversize(app);
            },
          },
          maxAppBytes,
        );
        let bytes = 0;
        try {
          for await (const chunk of res.body) {
            bytes += (chunk as Buffer).length;
            if (bytes > maxAppListBytes)
              throw new LimitError({
                limit: 'maxAppListBytes',
                max: maxAppListBytes,
                offender: `GET ${url}`,
                found: `an answer of more than ${maxAppListBytes} bytes`,
              });
            splitter.push(chunk as Buffer);
          }
        } finally {
          res.body.destroy();
        }
        splitter.end();
        this.prefer(endpoint);
        return count;
      } catch (e) {
        if (e instanceof MarathonError || e instanceof LimitError) throw e;
        // A partial answer already handed some apps over: the caller discards what it built on failure.
        failures.push(`${url}: ${e instanceof AppListError || e instanceof SyntaxError ? e.message : describe(e)}`);
      }
    }
    throw new MarathonError(failures.join('; '));
  }

  /** One app with its tasks; null when Marathon says it does not exist. An answer longer than maxAppBytes is a LimitError. */
  async app(id: string): Promise<MarathonApp | null> {
    const max = this.opts.limits.maxAppBytes;
    const path = `/v2/apps${id.split('/').map(encodeURIComponent).join('/')}?${APP_EMBEDS}`;
    const failures: string[] = [];
    for (const endpoint of await this.ordered()) {
      const url = endpoint.replace(/\/+$/, '') + path;
      try {
        const res = await this.get(url, 'application/json');
        if (res.status === 404) {
          res.body.resume();
          this.prefer(endpoint);
          return null;
        }
        if (res.status === 401 || res.status === 403) {
          res.body.resume();
          throw new MarathonError(`${url}: HTTP ${res.status} (check marathon.user and marathon.password)`);
        }
        if (res.status !== 200) {
          failures.push(`${url}: HTTP ${res.status}${messageOf(await readSome(res.body))}`);
          continue;
        }
        const text = await readAtMost(res.body, max);
        if (text === null)
          throw new LimitError({
            limit: 'maxAppBytes',
            max,
            offender: id,
            found: `an answer of more than ${max} bytes`,
          });
        const body = JSON.parse(text) as unknown;
        if (body === null || typeof body !== 'object') {
          failures.push(`${url}: answer is not a JSON object`);
          continue;
        }
        this.prefer(endpoint);
        const app = (body as { app?: unknown }).app;
        if (app === null || typeof app !== 'object') throw new MarathonError(`${url}: no "app" object in the answer`);
        return app as MarathonApp;
      } catch (e) {
        if (e instanceof MarathonError || e instanceof LimitError) throw e;
        failures.push(`${url}: ${e instanceof SyntaxError ? e.message : describe(e)}`);
      }
    }
    throw new MarathonError(failures.join('; '));
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

  /**
   * A GET with this client's credentials and timeout; the event stream uses
   * it too. `bodyIdleMs` (default: the request timeout) bounds each silence
   * while the body is read.
   */
  async get(url: string, accept: string, extra: { bodyIdleMs?: number; signal?: AbortSignal } = {}): Promise<Answer> {
    const trusted = new Set<string>();
    for (const e of await this.endpoints()) {
      try {
        trusted.add(new URL(e).origin);
      } catch {
        // Not a URL (cannot happen after config validation): it simply is not trusted.
      }
    }
    return get(url, {
      headers: { Accept: accept },
      auth: this.opts.user ? `${this.opts.user}:${this.opts.password}` : '',
      timeoutMs: this.opts.timeoutMs,
      bodyIdleMs: extra.bodyIdleMs ?? this.opts.timeoutMs,
      trustedOrigins: trusted,
      signal: extra.signal,
    });
  }
}

/** The start of an error answer's body, as JSON when it is JSON. */
async function readSome(body: IncomingMessage): Promise<unknown> {
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

/** The whole body as text, or null (and the body dropped) as soon as it is longer than `max` bytes. */
async function readAtMost(body: IncomingMessage, max: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  try {
    for await (const chunk of body) {
      bytes += (chunk as Buffer).length;
      if (bytes > max) return null;
      chunks.push(chunk as Buffer);
    }
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks).toString('utf8');
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
