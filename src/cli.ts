import { parseArgs } from 'node:util';
import { VERSION } from './version.js';
import { messageOf } from './errors.js';

// Argument parsing, help and version only: the commands, and the libraries
// they need, load after the arguments are understood, so `--help` and
// `--version` answer at once.

const HELP: Record<string, string> = {
  main: `switchyard ${VERSION} — renders HAProxy and nginx configs from Marathon, ZooKeeper and file registries

Usage: switchyard <command> --config FILE [options]

Commands:
  serve    run the daemon: watch the registries, keep the proxy configs current
  render   fetch the registries once, print one target's config to stdout, change nothing
  check    validate the config and templates, and run each target's validate on a dry render

Options:
  --config FILE   the JSON config (default: $SWITCHYARD_CONFIG)
  --help          help for a command
  --version       print the version
`,
  serve: `Usage: switchyard serve --config FILE

Runs the daemon. Every config key can be overridden with SWITCHYARD_<PATH>
(e.g. SWITCHYARD_MARATHON_ENDPOINTS=http://a:8080,http://b:8080).
SIGTERM or SIGINT finish the install in progress, then exit 0. SIGHUP re-reads
the config file and the templates and applies what changed (sources and
targets whose settings did not change keep running); a config that does not
load is logged and the running one kept, and /health says so.
`,
  render: `Usage: switchyard render --config FILE [--target NAME] [--diff] [--timeout-ms N]

Waits for every source's first complete view (at most --timeout-ms, default
30000), renders the target (default: the first) and prints it to stdout.
Logs go to stderr. With --diff, prints a unified diff against the installed
file instead and exits 1 when they differ, 0 when they do not (as diff does).
Writes nothing, reloads nothing.
`,
  check: `Usage: switchyard check --config FILE

Validates the config and every target's template, renders each template
against a built-in sample state and runs the target's validate command on it.
Exits 0 when all pass, 1 otherwise, naming what failed.
`,
};

/** What the launcher (bin/switchyard.js) offers the commands. */
export interface LaunchHooks {
  /** The daemon has installed its first config: the code that start-up needs is compiled, worth caching now. */
  readonly warm?: () => void;
}

/** Runs the command line; resolves with the exit code (serve resolves only when it stops). */
export async function main(argv: string[], hooks: LaunchHooks = {}): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        target: { type: 'string' },
        diff: { type: 'boolean' },
        'timeout-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (e) {
    process.stderr.write(`switchyard: ${messageOf(e)}\n${HELP.main}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.version) return print(`${VERSION}\n`);
  if (!command || values.help) return print(HELP[command ?? 'main'] ?? HELP.main!);
  if (!['serve', 'render', 'check'].includes(command)) {
    process.stderr.write(`switchyard: unknown command "${command}"\n${HELP.main}`);
    return 2;
  }
  const file = values.config ?? process.env.SWITCHYARD_CONFIG;
  if (!file) {
    process.stderr.write(`switchyard ${command}: --config FILE is required\n`);
    return 2;
  }
  const { runCommand } = await import('./commands.js');
  return runCommand(command as 'serve' | 'render' | 'check', file, {
    target: values.target,
    diff: values.diff === true,
    timeoutMs: Number(values['timeout-ms'] ?? 30_000),
    warm: hooks.warm,
  });
}

function print(text: string): number {
  process.stdout.write(text);
  return 0;
}
