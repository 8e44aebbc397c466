import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { installText } from '../install.js';
import { membershipChanges, serversOf, type ServerChange } from './servers.js';
import { parseServersState, runtimeCommands, RuntimeError } from './runtime.js';
import { messageOf } from '../../errors.js';

/** What a live update did: the commands sent and the servers they touched. */
export interface LiveUpdate {
  readonly commands: readonly string[];
  readonly servers: readonly string[];
}

/**
 * Applies membership changes to a running proxy without a reload. `apply`
 * gets the installed and the next config — whole, or just the parts that
 * differ, each starting at a section header — and returns null when the
 * change is structural (a reload is needed); it throws when the proxy
 * refused or could not be reached (the caller reloads instead).
 */
export interface LiveUpdater {
  apply(before: string, after: string): Promise<LiveUpdate | null>;
  /** Runs before a reload that will load `next` (given as a thunk: joining a big config is only worth it when needed). */
  beforeReload(next: () => string): Promise<void>;
}

/**
 * HAProxy's runtime API as a LiveUpdater. Every change is checked afterwards
 * against `show servers state`, so the file Switchyard installs always says
 * what HAProxy is doing. With a server-state file, the state is saved before
 * each reload, keeping only servers the new config leaves as they were:
 * HAProxy would otherwise take a saved port or maintenance flag over the new
 * config's (measured on 2.6).
 */
export class HaproxyLive implements LiveUpdater {
  constructor(
    private readonly address: string,
    private readonly stateFile: string | null,
    private readonly timeoutMs = 2000,
  ) {}

  async apply(before: string, after: string): Promise<LiveUpdate | null> {
    const changes = membershipChanges(before, after);
    if (changes === null) return null;
    const resolved = await Promise.all(changes.map((c) => resolveHost(c.to.host)));
    const commands = changes.flatMap((c, i) => commandsFor(c, resolved[i]!));
    const answers = await runtimeCommands(this.address, commands, this.timeoutMs);
    answers.forEach((answer, i) => {
      const ok = commands[i]!.includes(' addr ') ? /changed|no need to change/.test(answer) : answer === '';
      if (!ok) throw new RuntimeError(`\`${commands[i]}\` answered: ${answer || '(nothing)'}`);
    });
    await this.verify(changes, resolved);
    return { commands, servers: changes.map((c) => `${c.to.backend}/${c.to.name}`) };
  }

  async beforeReload(next: () => string): Promise<void> {
    if (!this.stateFile) return;
    let dump: string;
    try {
      [dump] = (await runtimeCommands(this.address, ['show servers state'], this.timeoutMs)) as [string];
    } catch (e) {
      // A state file left from an earlier reload would be worse than none: it could put old ports back.
      await installText(this.stateFile, '1\n');
      throw e;
    }
    const wanted = serversOf(next());
    const lines = dump.split('\n');
    const kept = lines.filter((line, i) => {
      if (i < 2 || !/^\d/.test(line)) return i < 2;
      const [state] = parseServersState(`${line}`);
      const want = state && wanted.get(`${state.backend}/${state.name}`);
      return (
        !!want &&
        want.host === state.addr &&
        want.port === state.port &&
        want.disabled === state.maint &&
        want.weight === state.weight
      );
    });
    await installText(this.stateFile, kept.join('\n') + '\n');
  }

  /** Reads back every touched server and compares it with what the new config says. */
  private async verify(changes: readonly ServerChange[], resolved: readonly string[]): Promise<void> {
    const backends = [...new Set(changes.map((c) => c.to.backend))];
    const answers = await runtimeCommands(
      this.address,
      backends.map((b) => `show servers state ${b}`),
      this.timeoutMs,
    );
    const actual = new Map(parseServersState(answers.join('\n')).map((s) => [`${s.backend}/${s.name}`, s] as const));
    changes.forEach((c, i) => {
      const s = actual.get(`${c.to.backend}/${c.to.name}`);
      const problem = !s
        ? 'missing'
        : s.addr !== resolved[i] || s.port !== c.to.port
          ? `at ${s.addr}:${s.port}, expected ${resolved[i]}:${c.to.port}`
          : s.maint !== c.to.disabled
            ? `maintenance ${s.maint}, expected ${c.to.disabled}`
            : s.weight !== c.to.weight
              ? `weight ${s.weight}, expected ${c.to.weight}`
              : null;
      if (problem) throw new RuntimeError(`after the update, server ${c.to.backend}/${c.to.name} is ${problem}`);
    });
  }
}

/**
 * The runtime commands for one server. A server that stays enabled while its
 * address changes is taken out first and put back last, so no request meets
 * it half-changed.
 */
export function commandsFor(c: ServerChange, addr: string): string[] {
  const id = `${c.to.backend}/${c.to.name}`;
  const moved = c.from.host !== c.to.host || c.from.port !== c.to.port;
  const down = c.to.disabled || (moved && !c.from.disabled);
  const cmds: string[] = [];
  if (down && !c.from.disabled) cmds.push(`set server ${id} state maint`);
  if (moved) cmds.push(`set server ${id} addr ${addr} port ${c.to.port}`);
  if (c.from.weight !== c.to.weight) cmds.push(`set weight ${id} ${c.to.weight}`);
  if (!c.to.disabled && (c.from.disabled || down)) cmds.push(`set server ${id} state ready`);
  return cmds;
}

/** The runtime API takes addresses, not names: resolve as HAProxy's libc resolution at load time would. */
async function resolveHost(host: string): Promise<string> {
  if (isIP(host)) return host;
  try {
    return (await lookup(host)).address;
  } catch (e) {
    throw new RuntimeError(`cannot resolve ${host}: ${(e as NodeJS.ErrnoException).code ?? messageOf(e)}`);
  }
}
