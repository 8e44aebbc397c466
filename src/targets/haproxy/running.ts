import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { parseServer } from './servers.js';
import { parseServersState, runtimeCommands, type ServerState } from './runtime.js';

const SECTION = /^(backend|listen)\s+(\S+)/;

/**
 * The installed config as HAProxy runs it: each server line rewritten with
 * the address, weight and maintenance state `show servers state` reports.
 * Null when they agree, or when HAProxy cannot be asked (not running yet:
 * it will load the file as it is). A process killed in the middle of a
 * runtime batch leaves HAProxy somewhere between two files; diffing this
 * view against the next render sends the commands that bring it back.
 */
export async function runningConfig(installed: string, address: string, timeoutMs = 2000): Promise<string | null> {
  let states: ServerState[];
  try {
    const [dump] = await runtimeCommands(address, ['show servers state'], timeoutMs);
    states = parseServersState(dump!);
  } catch {
    return null;
  }
  const actual = new Map(states.map((s) => [`${s.backend}/${s.name}`, s] as const));
  let section = '';
  let differs = false;
  const lines = installed.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const header = SECTION.exec(lines[i]!);
    if (header) section = header[2]!;
    else if (/^\S/.test(lines[i]!)) section = '';
    const server = section ? parseServer(lines[i]!, section) : null;
    const state = server && actual.get(`${section}/${server.name}`);
    if (!server || !state) continue;
    // The file may name a host that HAProxy resolved at load time: the same address is no difference.
    const sameAddr = state.addr === server.host || state.addr === (await resolved(server.host));
    if (sameAddr && state.port === server.port && state.weight === server.weight && state.maint === server.disabled)
      continue;
    differs = true;
    const indent = /^\s*/.exec(lines[i]!)![0];
    const host = sameAddr ? server.host : state.addr.includes(':') ? `[${state.addr}]` : state.addr;
    lines[i] =
      `${indent}server ${server.name} ${host}:${state.port} weight ${state.weight}` +
      `${state.maint ? ' disabled' : ''}${server.rest ? ` ${server.rest}` : ''}`;
  }
  return differs ? lines.join('\n') : null;
}

async function resolved(host: string): Promise<string | null> {
  if (isIP(host)) return host;
  try {
    return (await lookup(host)).address;
  } catch {
    return null;
  }
}
