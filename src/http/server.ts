import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { templateData } from '../render/data.js';
import type { Runner } from '../runner.js';

/** A handler for a path the core server does not know; returns false to pass. */
export type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> | boolean;

/**
 * The HTTP face: health for monitoring, state for people, metrics for
 * Prometheus, and whatever extra routes are plugged in (the rules API). It is
 * up from the start, before any source has synced.
 */
export class HttpServer {
  private server: Server | null = null;

  constructor(
    private readonly runner: Runner,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private routes: readonly Route[] = [],
    /** Fields a part adds to /health's body (the fleet's). */
    private readonly healthFields?: () => Record<string, unknown>,
  ) {}

  /** Replaces the extra routes (a re-read config: a new token, a new rules source). */
  setRoutes(routes: readonly Route[]): void {
    this.routes = routes;
  }

  /** Listens on HOST:PORT; returns the bound address (port 0 picks a free one). */
  async listen(listen: string): Promise<AddressInfo> {
    const i = listen.lastIndexOf(':');
    const host = listen.slice(0, i).replace(/^\[|\]$/g, '');
    const port = Number(listen.slice(i + 1));
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5000;
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
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

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://switchyard');
    try {
      if (req.method === 'GET' || req.method === 'HEAD') {
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
            return this.state(res);
          case '/metrics':
            this.runner.refreshGauges();
            res.writeHead(200, { 'Content-Type': this.metrics.registry.contentType });
            return void res.end(await this.metrics.registry.metrics());
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

  private state(res: ServerResponse): void {
    if (!this.runner.ready())
      return sendJson(res, 503, { status: 'starting', error: 'not every source has synced yet' });
    const snapshot = this.runner.snapshot();
    const { services, apps } = templateData(snapshot, {});
    const vars = Object.fromEntries(this.runner.targets.map((t) => [t.name, t.config.vars]));
    sendJson(res, 200, { version: snapshot.version, services, apps, rules: snapshot.rules, vars });
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
