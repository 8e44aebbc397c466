import { connect, createServer, type AddressInfo, type NetConnectOpts } from 'node:net';

// Ports handed out but possibly not bound yet; the kernel may offer the same one twice in a row.
const handedOut = new Set<number>();

/** Resolves to a loopback TCP port that was free a moment ago and has not been returned before in this process. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await bindEphemeral();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function bindEphemeral(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Connects (TCP or Unix socket), writes `request` and half-closes, then resolves to everything the
 * server sent before closing; rejects on socket errors or when the exchange takes longer than `timeoutMs`.
 */
export function socketExchange(target: NetConnectOpts, request: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = connect(target);
    socket.setEncoding('utf8');
    // A hard deadline rather than an idle timeout: a ZooKeeper 4lw probe once hung for minutes mid-startup.
    const timer = setTimeout(() => socket.destroy(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
    // HAProxy's master CLI keeps the connection open until it sees our end; ZooKeeper answers 4lw either way.
    socket.on('connect', () => socket.end(request));
    socket.on('data', (chunk: string) => {
      answer += chunk;
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', (hadError) => {
      clearTimeout(timer);
      if (!hadError) resolve(answer);
    });
  });
}
