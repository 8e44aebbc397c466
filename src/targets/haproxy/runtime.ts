import { connect, type Socket } from 'node:net';

/** The runtime API said no, or could not be reached; the message says which command and what it answered. */
export class RuntimeError extends Error {
  override name = 'RuntimeError';
}

/**
 * HAProxy's runtime API (the stats socket at admin level): a batch of
 * commands over one connection in interactive mode, one answer per command.
 * `address` is a Unix socket path or HOST:PORT.
 */
export async function runtimeCommands(
  address: string,
  commands: readonly string[],
  timeoutMs = 2000,
): Promise<string[]> {
  const socket = address.includes('/')
    ? connect(address)
    : connect(Number(address.slice(address.lastIndexOf(':') + 1)), address.slice(0, address.lastIndexOf(':')));
  const text = await exchange(socket, `prompt\n${commands.join('\n')}\nquit\n`, timeoutMs, address);
  // Interactive mode ends every answer with "\n> ", the first one (to "prompt") empty.
  const answers = text.split('\n> ').slice(1, commands.length + 1);
  if (answers.length < commands.length)
    throw new RuntimeError(`${address}: ${commands.length} commands sent, ${answers.length} answered`);
  return answers.map((a) => a.trim());
}

function exchange(socket: Socket, request: string, timeoutMs: number, address: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new RuntimeError(`${address}: no answer within ${timeoutMs} ms`)),
    );
    socket.on('connect', () => socket.write(request));
    socket.on('data', (c: Buffer) => (data += c.toString('utf8')));
    socket.on('error', (e) =>
      reject(
        e instanceof RuntimeError
          ? e
          : new RuntimeError(`${address}: ${(e as NodeJS.ErrnoException).code ?? e.message}`),
      ),
    );
    socket.on('close', () => resolve(data));
  });
}

/** One line of `show servers state`, the fields Switchyard checks. */
export interface ServerState {
  readonly backend: string;
  readonly name: string;
  readonly addr: string;
  readonly port: number;
  /** Operational state: HAProxy's srv_op_state (0 stopped, 1 starting, 2 running, 3 stopping). */
  readonly op: number;
  /** In maintenance (forced, inherited or for a failed resolution): HAProxy's SRV_ADMF_MAINT mask. */
  readonly maint: boolean;
  readonly weight: number;
}

/** Parses `show servers state` (format version 1). */
export function parseServersState(answer: string): ServerState[] {
  const out: ServerState[] = [];
  for (const line of answer.split('\n')) {
    if (!/^\d/.test(line) || !line.includes(' ')) continue;
    const f = line.split(' ');
    if (f.length < 19) continue;
    out.push({
      backend: f[1]!,
      name: f[3]!,
      addr: f[4]!,
      port: Number(f[18]),
      op: Number(f[5]),
      maint: (Number(f[6]) & 0x23) !== 0,
      weight: Number(f[7]),
    });
  }
  return out;
}
