import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { APP_EMBEDS, APP_LIST_PATH } from '../../src/sources/marathon/client.js';

// A Marathon written for specs that need it to misbehave in ways the double
// cannot: answers are whatever text the spec puts in, of any size or shape.

/** A Marathon task as /v2/apps embeds it. */
export interface TaskJson {
  id: string;
  host: string;
  ports: number[];
  state: string;
}

/** A running task on loopback with one port. */
export const task = (id: string, port: number): TaskJson => ({
  id,
  host: '127.0.0.1',
  ports: [port],
  state: 'TASK_RUNNING',
});

/** A one-port app with its tasks. */
export const app = (id: string, tasks: TaskJson[], labels: Record<string, string> = {}) => ({
  id,
  ports: [0],
  labels,
  tasks,
});

/**
 * A Marathon that answers /v2/apps with whatever `appList` holds,
 * /v2/apps/<id> with what `appBodies` holds for the id (404 without), and
 * runs `onStream` for each event stream.
 */
export class HostileMarathon {
  appListRequests = 0;
  readonly appBodies = new Map<string, string>();
  onStream: (res: ServerResponse) => void = () => undefined;
  readonly streams = new Set<ServerResponse>();
  private readonly server: Server = createServer((req, res) => {
    const url = req.url!;
    if (url.startsWith('/v2/events')) {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      this.streams.add(res);
      res.on('close', () => this.streams.delete(res));
      res.on('error', () => undefined);
      this.send(res, 'event_stream_attached', { remoteAddress: '127.0.0.1' });
      this.onStream(res);
    } else if (url === APP_LIST_PATH) {
      this.appListRequests++;
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(this.appList);
    } else if (url.startsWith('/v2/apps/') && url.endsWith(`?${APP_EMBEDS}`)) {
      const id = decodeURIComponent(url.slice('/v2/apps'.length, -APP_EMBEDS.length - 1));
      const body = this.appBodies.get(id);
      if (body === undefined) res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"no app"}');
      else res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
    } else {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"not found"}');
    }
  });

  constructor(public appList: string) {}

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  send(res: ServerResponse, type: string, data: Record<string, unknown>): void {
    res.write(`event: ${type}\r\ndata: ${JSON.stringify({ ...data, eventType: type })}\r\n\r\n`);
  }

  /** Ends every stream: the daemon reconnects, and fetches the app list again. */
  dropStreams(): void {
    for (const s of this.streams) s.destroy();
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
