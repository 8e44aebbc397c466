import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A live HTTP backend on loopback; `hits` counts every request except health checks. */
export interface Backend {
  readonly name: string;
  readonly host: '127.0.0.1';
  readonly port: number;
  hits: number;
  setHealthy(healthy: boolean): void;
  close(): Promise<void>;
}

/** Starts a keep-alive HTTP server answering 200 with body `name` on any path, except `GET /health` (200 'ok', or 503 once unhealthy). */
export async function startBackend(name: string): Promise<Backend> {
  let healthy = true;
  let closing: Promise<void> | undefined;
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url?.split('?')[0] === '/health') {
      reply(res, healthy ? 200 : 503, healthy ? 'ok' : 'unhealthy');
      return;
    }
    backend.hits += 1;
    reply(res, 200, name);
  });
  // Longer than any proxy's idle-connection timeout, so the proxy and not the backend closes pooled
  // connections; otherwise a close racing with reuse shows up as a sporadic 502.
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const backend: Backend = {
    name,
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    hits: 0,
    setHealthy(value) {
      healthy = value;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Proxies keep idle connections to us; without this, close() would wait for them.
        server.closeAllConnections();
      });
      return closing;
    },
  };
  return backend;
}

/** Starts one backend per name, in parallel. */
export function startBackends(names: readonly string[]): Promise<Backend[]> {
  return Promise.all(names.map(startBackend));
}

function reply(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
