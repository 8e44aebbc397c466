// Measures the time from creating an instance znode in a ZooKeeper registry
// to the installed HAProxy config containing it: watch → state → render →
// haproxy -c → atomic install. No reload (it happens after the install).
//
//   npx tsc -p . && node dist/bench/zk-latency.js [runs] [quietMs]
//
// Each run registers a nerve instance on a fresh port, polls the installed
// file every millisecond until it names host:port, then deregisters it and
// waits for it to leave the file. The daemon runs in this process against a
// throwaway ZooKeeper 3.8 (test/support/zookeeper.ts).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import zookeeper from 'node-zookeeper-client';
import { parseConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import { freePort } from '../test/support/ports.js';
import { tempDir } from '../test/support/tmp.js';
import { eventually } from '../test/support/wait.js';
import { startZookeeper } from '../test/support/zookeeper.js';

const runs = Number(process.argv[2] ?? 25);
const quietMs = Number(process.argv[3] ?? 0);
const repo = process.cwd();

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

function zkCall<T>(send: (cb: (e: Error | zookeeper.Exception | null, v: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => send((e, v) => (e ? reject(e) : resolve(v))));
}

async function main(): Promise<void> {
  const zk = await startZookeeper();
  const client = zookeeper.createClient(zk.connect, { sessionTimeout: 10_000, spinDelay: 100 });
  await new Promise<void>((resolve) => {
    client.once('connected', () => resolve());
    client.connect();
  });
  const dir = tempDir('bench-zk-');
  const output = join(dir, 'haproxy.cfg');
  await zkCall<string>((cb) => client.mkdirp('/bench/nerve/web', cb));
  await zkCall<string>((cb) =>
    client.create('/bench/nerve/web/base', Buffer.from(JSON.stringify({ host: '127.0.0.1', port: 39999 })), cb),
  );
  const config = parseConfig(
    {
      zookeeper: {
        connect: zk.connect,
        registries: [{ path: '/bench/nerve', format: 'nerve' }],
        rulesPath: '/bench/rules',
      },
      targets: [
        {
          name: 'haproxy',
          template: join(repo, 'templates/haproxy.cfg.hbs'),
          output,
          validate: 'haproxy -c -q -f {{file}}',
          vars: { bind: '127.0.0.1', httpPort: await freePort() },
        },
      ],
      reload: { quietMs, maxDelayMs: Math.max(quietMs, 1000) },
      // Each run takes its instance away again; that is the point here, not something to hold.
      guard: { enabled: false },
      http: { listen: '127.0.0.1:0' },
    } as never,
    dir,
  );
  const daemon = new Daemon(config, silentLogger(), { watchTemplates: false });
  const applyMs: number[] = [];
  daemon.runner.onCycle((results) => {
    for (const r of results) if (r.kind === 'installed') applyMs.push(r.ms);
  });
  await daemon.start();
  await eventually(async () => readFile(output, 'utf8'), { timeoutMs: 15_000, message: 'first install' });

  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const needle = `127.0.0.1:${40000 + i} `;
    const path = `/bench/nerve/web/i-${i}`;
    const t0 = performance.now();
    await zkCall<string>((cb) =>
      client.create(
        path,
        Buffer.from(JSON.stringify({ host: '127.0.0.1', port: 40000 + i })),
        zookeeper.CreateMode.EPHEMERAL,
        cb,
      ),
    );
    await eventually(
      async () => {
        if (!(await readFile(output, 'utf8')).includes(needle)) throw new Error('not installed yet');
      },
      { intervalMs: 1, message: `run ${i}` },
    );
    samples.push(performance.now() - t0);
    await zkCall<void>((cb) => client.remove(path, -1, (e) => cb(e, undefined)));
    await eventually(
      async () => {
        if ((await readFile(output, 'utf8')).includes(needle)) throw new Error('not removed yet');
      },
      { intervalMs: 2, message: `run ${i} removal` },
    );
  }

  const f = (x: number) => x.toFixed(1);
  console.log(`znode create -> installed config, ${runs} runs, quietMs ${quietMs}, validate haproxy -c:`);
  console.log(
    `  median ${f(pct(samples, 50))} ms  p90 ${f(pct(samples, 90))} ms  min ${f(Math.min(...samples))} ms  max ${f(Math.max(...samples))} ms`,
  );
  console.log(`  the target's apply per install (render + haproxy -c + install): median ${f(pct(applyMs, 50))} ms`);
  await daemon.stop();
  client.close();
  await zk.stop();
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
