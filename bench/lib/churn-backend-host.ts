// The churn benchmark's backends, in a process of their own (started by
// churn-backends.ts through an IPC channel). Each backend is a keep-alive
// HTTP server on loopback answering 200 with its name on any path and
// `GET /health` with 200 'ok', like test/support/backends.ts, and it also
// records the arrival time of every request but health checks, as
// process.hrtime.bigint() (CLOCK_MONOTONIC, the same clock in every process
// on the machine). The benchmark reads those times at the end: the first
// request a new backend receives is the moment HAProxy started sending it
// traffic, measured under the load itself, with no extra probe traffic.
//
// A process of its own so that serving the load does not delay the bench
// process's event loop, which holds the Marathon double and its clock.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Parent → child. */
export type HostRequest =
  | { op: 'start'; id: number; names: string[] }
  | { op: 'clock'; id: number }
  | { op: 'dump'; id: number }
  | { op: 'close'; id: number };

/** Child → parent. */
export type HostReply =
  | { id: number; op: 'start'; ports: Record<string, number> }
  | { id: number; op: 'clock'; now: string }
  | { id: number; op: 'dump'; hits: Record<string, number[]> }
  | { id: number; op: 'close' }
  | { id: number; op: 'error'; error: string };

interface Hosted {
  server: Server;
  /** Arrival times (ns, CLOCK_MONOTONIC) of every request but health checks. */
  hits: number[];
}

const hosted = new Map<string, Hosted>();

function reply(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function start(name: string): Promise<number> {
  const hits: number[] = [];
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url?.split('?')[0] === '/health') return reply(res, 200, 'ok');
    // ns since boot fits a double exactly for 104 days of uptime.
    hits.push(Number(process.hrtime.bigint()));
    reply(res, 200, name);
  });
  // Longer than HAProxy's idle timeouts, so HAProxy, not the backend, closes pooled connections.
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  hosted.set(name, { server, hits });
  return (server.address() as AddressInfo).port;
}

async function handle(msg: HostRequest): Promise<HostReply> {
  switch (msg.op) {
    case 'start': {
      const ports: Record<string, number> = {};
      for (const name of msg.names) ports[name] = await start(name);
      return { id: msg.id, op: 'start', ports };
    }
    case 'clock':
      return { id: msg.id, op: 'clock', now: process.hrtime.bigint().toString() };
    case 'dump':
      return { id: msg.id, op: 'dump', hits: Object.fromEntries([...hosted].map(([name, h]) => [name, h.hits])) };
    case 'close':
      await Promise.all(
        [...hosted.values()].map(
          ({ server }) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections();
            }),
        ),
      );
      hosted.clear();
      return { id: msg.id, op: 'close' };
  }
}

process.on('message', (msg: HostRequest) => {
  handle(msg).then(
    (r) => process.send!(r),
    (e: Error) => process.send!({ id: msg.id, op: 'error', error: e.message } satisfies HostReply),
  );
});
// The parent went away: nothing left to serve.
process.on('disconnect', () => process.exit(0));
