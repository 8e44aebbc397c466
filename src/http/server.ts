import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Runner } from '../runner.js';
import { authorized, presentsToken, unauthorized } from './request.js';
import { StateView } from './state-view.js';

/** The http section of the config, read afresh per request (a re-read config applies at once, the listener's own limits at the next start). */
export type HttpSettings = () => Config['http'];

/**
 * Paths any reader may GET whatever http.protectReads says: monitoring must
 * never need the token, and the dashboard's static files hold no state (the
 * page reads it through the API, which the setting guards).
 */
const ALWAYS_OPEN = new Set([
  '/health',
  '/readyz',
  '/live',
  '/healthz',
  '/status',
  '/metrics',
  '/',
  '/dashboard.js',
  '/dashboard.css',
  '/favicon.ico',
]);

/** Scrapes this close together get the same text (Prometheus scrapes every 15 s or more). */
const METRICS_REUSE_MS = 250;

/** A handler for a path the core server does not know; returns false to pass. */
export type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> | boolean;

/**
 * The HTTP face: health for monitoring, state for people, metrics for
 * Prometheus, and whatever extra routes are plugged in (the rules API). It is
 * up from the start, before any source has synced.
 */
export class HttpServer {
  private server: Server | null = null;
  private readonly stateView: StateView;
  /** /api/state answers being written now: bounded by http.maxStateReaders. */
  private stateReaders = 0;
  /** The last /metrics text and when it was made: scrapes within METRICS_REUSE_MS share it. */
  private lastScrape: { at: number; text: Promise<string> } | null = null;
  /** Requests read from each connection and not yet answered: bounded by http.maxPipelined. */
  private readonly unanswered = new WeakMap<Socket, number>();

  constructor(
    private readonly runner: Runner,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private routes: readonly Route[] = [],
    private readonly settings: HttpSettings,
    /** Fields a part adds to /health's body (the fleet's). */
    private readonly healthFields?: () => Record<string, unknown>,
  ) {
    this.stateView = new StateView(runner, metrics.viewCache);
  }

  /** Replaces the extra routes (a re-read config: a new token, a new rules source). */
  setRoutes(routes: readonly Route[]): void {
    this.routes = routes;
  }

  /** Listens on HOST:PORT; returns the bound address (port 0 picks a free one). */
  async listen(listen: string): Promise<AddressInfo> {
    const i = listen.lastIndexOf(':');
    const host = listen.slice(0, i).replace(/^\[|\]$/g, '');
    const port = Number(listen.slice(i + 1));
    const http = this.settings();
    const server = createServer({ maxHeaderSize: http.maxHeaderBytes }, (req, res) => this.accept(req, res));
    server.keepAliveTimeout = 5000;
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.maxHeadersCount = 100;
    // A client that neither sends nor reads for this long is hung up on: a stalled reader of a large view costs
    // its socket buffer until then, never more.
    server.timeout = http.clientTimeoutMs;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    return server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Counts the requests a connection has pipelined ahead of its answers; past http.maxPipelined it is hung up on. */
  private accept(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    const n = (this.unanswered.get(socket) ?? 0) + 1;
    if (n > this.settings().maxPipelined) {
      this.metrics.httpRefused.inc({ reason: 'pipelined' });
      this.metrics.limitExceeded.inc({ source: 'http', limit: 'http.maxPipelined' });
      this.log.warn('connection hung up on: too many pipelined requests (http.maxPipelined)', {
        remote: socket.remoteAddress,
        limit: this.settings().maxPipelined,
      });
      socket.destroy();
      return;
    }
    this.unanswered.set(socket, n);
    res.once('close', () => this.unanswered.set(socket, (this.unanswered.get(socket) ?? 1) - 1));
    void this.handle(req, res);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://switchyard');
    try {
      const http = this.settings();
      const read = req.method === 'GET' || req.method === 'HEAD';
      if (read && http.protectReads && !ALWAYS_OPEN.has(url.pathname) && !authorized(req, http.token)) {
        this.metrics.httpRefused.inc({ reason: 'unauthorized' });
        const e = unauthorized();
        for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
        return sendJson(res, 401, { error: `${e.message} (http.protectReads)` });
      }
      if (read) {
        switch (url.pathname) {
          case '/health':
          case '/readyz': {
            const h = this.runner.health();
            return sendJson(res, h.status === 'ok' ? 200 : 503, { ...h, ...this.healthFields?.() });
          }
          case '/live':
          case '/healthz':
            return sendJson(res, 200, { status: 'alive' });
          case '/status':
            return sendText(res, 200, 'OK\n');
          case '/api/state':
            return this.state(req, res, http);
          case '/metrics':
            res.writeHead(200, { 'Content-Type': this.metrics.registry.contentType });
            return void res.end(await this.scrape());
        }
      }
      for (const route of this.routes) if (await route(req, res, url)) return;
      sendJson(res, 404, { error: `no such resource: ${req.method} ${url.pathname}` });
    } catch (e) {
      this.log.error('http handler failed', { path: url.pathname, error: e });
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    }
  }

  /**
   * /metrics walks every service: scrapes that come within METRICS_REUSE_MS of
   * each other share one walk, so a client looping on it cannot hold the loop.
   */
  private scrape(): Promise<string> {
    const now = performance.now();
    if (this.lastScrape && now - this.lastScrape.at < METRICS_REUSE_MS) return this.lastScrape.text;
    this.runner.refreshGauges();
    this.lastScrape = { at: now, text: this.metrics.registry.metrics() };
    return this.lastScrape.text;
  }

  /**
   * The shared serialized state, written as one Buffer: the socket's own
   * backpressure paces it, and a reader that stops reading holds a reference,
   * not a copy. Env values only for the token's bearer, or with http.exposeEnv.
   */
  private async state(req: IncomingMessage, res: ServerResponse, http: Config['http']): Promise<void> {
    if (!this.runner.ready())
      return sendJson(res, 503, { status: 'starting', error: 'not every source has synced yet' });
    if (this.stateReaders >= http.maxStateReaders) {
      this.metrics.httpRefused.inc({ reason: 'busy' });
      this.metrics.limitExceeded.inc({ source: 'http', limit: 'http.maxStateReaders' });
      res.setHeader('Retry-After', '1');
      return sendJson(res, 503, {
        error: `busy: ${this.stateReaders} /api/state answers in flight, the limit (http.maxStateReaders)`,
      });
    }
    this.stateReaders++;
    res.once('close', () => this.stateReaders--);
    const body = await this.stateView.body(http.exposeEnv || presentsToken(req, http.token));
    const headers = { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ETag: body.etag };
    if (req.headers['if-none-match'] === body.etag) {
      res.writeHead(304, headers);
      return void res.end();
    }
    res.writeHead(200, { ...headers, 'Content-Length': body.length });
    if (req.method !== 'HEAD') for (const chunk of body.chunks) res.write(chunk);
    res.end();
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(body);
}
