// Start-up alone: what loading Switchyard costs before it asks Marathon
// anything, with and without the V8 code cache, and for another checkout
// beside this one (interleaved run by run, so both see the same machine).
//
//   npm run build && node dist/bench/startup.js [--runs 9] [--before CHECKOUT]
//
// Each run spawns `node bin/switchyard.js serve` against a Marathon on
// loopback with no apps; the clock stops at its first GET /v2/apps, where the
// process's CPU time (utime+stime) and RSS are read from /proc. `node alone`
// is a process that makes that request and nothing else: the floor.
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../test/support/ports.js';
import { spawnTracked, terminate } from '../test/support/processes.js';
import { tempDir } from '../test/support/tmp.js';
import { eventually } from '../test/support/wait.js';
import { cpuTimes, loadAverage, statusMb } from './lib/proc.js';
import { fmt, median, msBetween, table } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '9' },
    before: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write('node dist/bench/startup.js [--runs 9] [--before CHECKOUT]\n');
  process.exit(0);
}
const runs = Number(args.runs);
if (!(runs >= 1)) {
  process.stderr.write('startup: --runs takes a positive integer\n');
  process.exit(2);
}

/** What one start measured at its first GET /v2/apps. */
interface Sample {
  ms: number;
  cpuMs: number;
  rssMb: number;
}

/** A Marathon with no apps that reports the first app-list request of the process it waits for. */
class EmptyMarathon {
  private waiting: ((at: bigint) => void) | null = null;
  private readonly server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/v2/apps')) {
      this.waiting?.(process.hrtime.bigint());
      this.waiting = null;
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"apps":[]}');
    } else if (req.url?.startsWith('/v2/events')) {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write('event: event_stream_attached\r\ndata: {"eventType":"event_stream_attached"}\r\n\r\n');
    } else res.writeHead(404).end();
  });

  async start(): Promise<string> {
    await new Promise<void>((done) => this.server.listen(0, '127.0.0.1', done));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves when the next app-list request arrives, with the process's CPU and RSS read at that moment. */
  next(pid: () => number): Promise<{ at: bigint; cpuMs: number; rssMb: number }> {
    return new Promise((done) => {
      this.waiting = (at) => done({ at, cpuMs: cpuTimes(pid()).self, rssMb: statusMb(pid(), 'VmRSS') });
    });
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((done) => this.server.close(() => done()));
  }
}

const codeCaches = (repo: string) =>
  existsSync(join(repo, 'dist/bundle'))
    ? readdirSync(join(repo, 'dist/bundle')).filter((f) => f.endsWith('.cache'))
    : [];

async function startOnce(marathon: EmptyMarathon, args: string[], waitForCache?: string): Promise<Sample> {
  let pid = 0;
  const seen = marathon.next(() => pid);
  const spawnedAt = process.hrtime.bigint();
  const child = spawnTracked('node', args, { stdio: 'ignore' });
  pid = child.pid!;
  try {
    const s = await Promise.race([
      seen,
      new Promise<never>((_, fail) =>
        child.once('exit', (code) => fail(new Error(`${args.join(' ')} exited ${code}`))),
      ),
    ]);
    if (waitForCache) {
      const repo = waitForCache;
      await eventually(() => {
        if (codeCaches(repo).length === 0) throw new Error('no code cache yet');
      });
    }
    return { ms: msBetween(spawnedAt, s.at), cpuMs: s.cpuMs, rssMb: s.rssMb };
  } finally {
    await terminate(child, 'SIGTERM');
  }
}

async function daemonArgs(repo: string, url: string): Promise<string[]> {
  const dir = tempDir('startup-');
  writeFileSync(join(dir, 't.hbs'), '{{#each services}}{{id}}\n{{/each}}');
  const config = {
    marathon: { endpoints: [url], pollIntervalMs: 3_600_000 },
    targets: [{ name: 'out', template: 't.hbs', output: 'out.txt' }],
    http: { listen: `127.0.0.1:${await freePort()}` },
    log: { level: 'error', format: 'json' },
  };
  writeFileSync(join(dir, 'switchyard.json'), JSON.stringify(config));
  return [join(repo, 'bin/switchyard.js'), 'serve', '--config', join(dir, 'switchyard.json')];
}

const marathon = new EmptyMarathon();
const url = await marathon.start();
const checkouts = [
  ...(args.before ? [['before', resolve(args.before)]] : []),
  ['this checkout', process.cwd()],
] as const;
const samples = new Map<string, Sample[]>();
const add = (key: string, s: Sample) => samples.set(key, [...(samples.get(key) ?? []), s]);
process.stderr.write(`startup: ${runs} runs each (load ${loadAverage()})\n`);
try {
  for (let r = 0; r < runs; r++) {
    add('node alone (one GET)', await startOnce(marathon, ['-e', `require('http').get('${url}/v2/apps')`]));
    for (const [name, repo] of checkouts) {
      for (const f of codeCaches(repo)) rmSync(join(repo, 'dist/bundle', f));
      add(`${name}, no code cache`, await startOnce(marathon, await daemonArgs(repo, url), repo));
      add(`${name}, with the code cache`, await startOnce(marathon, await daemonArgs(repo, url)));
    }
    process.stderr.write(`  run ${r + 1}/${runs} done\n`);
  }
} finally {
  await marathon.stop();
}

const rows = [...samples].map(([name, list]) => [
  name,
  fmt(median(list.map((s) => s.ms)), 0),
  fmt(median(list.map((s) => s.cpuMs)), 0),
  fmt(median(list.map((s) => s.rssMb)), 1),
]);
console.log(`\n### Spawn → first GET /v2/apps (median of ${runs}; load at the end ${loadAverage()})\n`);
console.log(table(['start', 'ms', 'CPU ms', 'RSS MB'], rows));
