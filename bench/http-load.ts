// /api/state under 50 reading and 100 stalled clients at 5000 apps × 5 tasks
// (issue 13), against `switchyard serve` in a process of its own following a
// Marathon double. The clients run in a worker thread, so the /health probe
// on the main thread measures the daemon rather than the clients. Prints one
// table: body size, first and cached read, RSS idle and peak, /health answers
// and worst latency, and how long a Marathon change took to be installed.
//
//   npm run build && node dist/bench/http-load.js [apps=5000] [readers=50] [stalled=100]

import { readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { startDaemonProcess, waitForStatus, watchHealth } from '../test/support/daemon-process.js';
import { MarathonDouble, type BulkApp } from '../test/support/marathon-double.js';
import { tempDir } from '../test/support/tmp.js';
import { eventually, sleep } from '../test/support/wait.js';

interface Load {
  readonly url: string;
  readonly readers: number;
  readonly stalled: number;
}

function drain(url: string): Promise<{ status: number; bytes: number; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** The worker: opens the stalled clients, runs the readers until told to stop, reports full reads. */
async function clients(load: Load): Promise<void> {
  const { hostname, port } = new URL(load.url);
  const stalled: Socket[] = [];
  for (let i = 0; i < load.stalled; i++) {
    const s = connect({ host: hostname, port: Number(port) });
    s.on('error', () => undefined);
    s.pause();
    s.write('GET /api/state HTTP/1.1\r\nHost: x\r\n\r\n');
    stalled.push(s);
  }
  let running = true;
  let full = 0;
  let busy = 0;
  parentPort!.on('message', () => (running = false));
  await Promise.all(
    Array.from({ length: load.readers }, async () => {
      while (running) {
        const r = await drain(`${load.url}/api/state`).catch(() => ({ status: 0, bytes: 0, ms: 0 }));
        if (r.status === 200) full++;
        else {
          busy++;
          await sleep(200);
        }
      }
    }),
  );
  for (const s of stalled) s.destroy();
  parentPort!.postMessage({ full, busy });
}

function apps(n: number): BulkApp[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `/load/app-${String(i).padStart(4, '0')}`,
    instances: 5,
    portDefinitions: [{ port: 10_000 + i, protocol: 'tcp', name: 'http' }],
    env: { DB_PASSWORD: `pw-secret-${i}`, REGION: 'eu' },
    tasks: Array.from({ length: 5 }, (_, t) => ({ host: `10.0.${t}.${(i % 250) + 1}` })),
  }));
}

async function main(): Promise<void> {
  const [nApps = 5000, readers = 50, stalled = 100] = process.argv.slice(2).map(Number);
  const marathon = new MarathonDouble();
  marathon.bulkLoad(apps(nApps));
  const dir = tempDir('bench-http-load-');
  writeFileSync(join(dir, 't.hbs'), '{{#each services}}{{id}}{{#each backends}} {{host}}:{{port}}{{/each}}\n{{/each}}');
  const d = await startDaemonProcess(
    {
      marathon: { endpoints: [await marathon.start()] },
      targets: [{ name: 'list', template: 't.hbs', output: 'out.txt' }],
      reload: { quietMs: 0, maxDelayMs: 0 },
    },
    dir,
  );
  try {
    await waitForStatus(d, 'ok', 120_000);
    const first = await drain(`${d.url}/api/state`);
    const cached = await drain(`${d.url}/api/state`);
    const idle = d.rss();
    const health = watchHealth(d);
    const worker = new Worker(new URL(import.meta.url), { workerData: { url: d.url, readers, stalled } });
    const done = new Promise<{ full: number; busy: number }>((resolve) => worker.once('message', resolve));
    let peak = idle;
    const sampler = setInterval(() => (peak = Math.max(peak, d.rss())), 100);
    await sleep(5000);
    const t0 = performance.now();
    marathon.addTask('/load/app-0042', { host: '10.9.9.9', ports: [31999] });
    await eventually(() => readFileSync(join(dir, 'out.txt'), 'utf8').includes('10.9.9.9:31999') || Promise.reject(), {
      timeoutMs: 60_000,
      intervalMs: 20,
    });
    const installMs = performance.now() - t0;
    await sleep(5000);
    worker.postMessage('stop');
    const { full, busy } = await done;
    clearInterval(sampler);
    await worker.terminate();
    const w = await health.stop();
    const held = d.output
      .text()
      .split('\n')
      .filter((l) => l.includes('"event loop held'))
      .map((l) => (JSON.parse(l) as { ms: number }).ms);
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    const rows: [string, string][] = [
      ['apps × tasks', `${nApps} × 5`],
      ['clients', `${readers} reading, ${stalled} stalled`],
      ['/api/state body', mib(first.bytes)],
      ['first read (builds it)', `${first.ms.toFixed(0)} ms`],
      ['second read (shared)', `${cached.ms.toFixed(0)} ms`],
      ['RSS idle (after one read)', mib(idle)],
      ['RSS peak under load', `${mib(peak)} (+${mib(peak - idle)})`],
      ['full reads served', String(full)],
      ['503 busy answers', String(busy)],
      ['/health answered', `${w.answered} of ${w.answered + w.failed}`],
      ['/health worst latency', `${w.worstMs.toFixed(0)} ms`],
      ['Marathon change installed after', `${installMs.toFixed(0)} ms`],
      ['daemon loop held ≥ 500 ms', held.length === 0 ? 'never' : `${held.length}×, longest ${Math.max(...held)} ms`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    process.stdout.write(`${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`);
  } finally {
    await d.stop();
    await marathon.stop();
  }
}

if (isMainThread) await main();
else await clients(workerData as Load);
