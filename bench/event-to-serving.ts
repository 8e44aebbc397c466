// Measures the time from Marathon emitting a task event to a real HAProxy
// serving the new backend, through Switchyard's whole pipeline (render,
// haproxy -c, atomic install, checked master-worker reload).
//
//   npm run build && node dist/bench/event-to-serving.js [runs] [quietMs]
//
// Each run: the app's only task is killed (HAProxy answers 503), then a task
// on a fresh backend is added; the clock runs from the double emitting the
// status_update_event to the first 200 from the new backend. Switchyard runs
// as its own process (`bin/switchyard.js serve`), as it does beside a proxy;
// its log gives the time spent per stage.
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { startBackends } from '../test/support/backends.js';
import { haproxyTarget, startHaproxy } from '../test/support/haproxy.js';
import { httpGet } from '../test/support/http.js';
import { MarathonDouble } from '../test/support/marathon-double.js';
import { freePort } from '../test/support/ports.js';
import { captureOutput, spawnTracked, terminate } from '../test/support/processes.js';
import { tempDir } from '../test/support/tmp.js';
import { eventually } from '../test/support/wait.js';

const runs = Number(process.argv[2] ?? 20);
const quietMs = Number(process.argv[3] ?? 0);
const repo = process.cwd();

/** One GET with a fresh connection; resolves with status and body, or status 0 when refused. */
function get(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/', agent: false, headers: { Connection: 'close' } },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

const ms = (from: bigint, to: bigint) => Number(to - from) / 1e6;
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function main() {
  const dir = tempDir('bench-e2s-');
  const servicePort = await freePort();
  const backends = await startBackends(Array.from({ length: runs + 1 }, (_, i) => `b${i}`));
  const marathon = new MarathonDouble({ keepAliveMs: 1000 });
  const url = await marathon.start();
  marathon.addApp({ id: '/bench/web', ports: [servicePort] });
  let task = marathon.addTask('/bench/web', { host: '127.0.0.1', ports: [backends[0]!.port] });
  const output = join(dir, 'haproxy.cfg');
  const httpListen = `127.0.0.1:${await freePort()}`;
  const config = {
    marathon: { endpoints: [url], pollIntervalMs: 600_000 },
    targets: [
      {
        ...haproxyTarget(dir, output),
        vars: { bind: '127.0.0.1', httpPort: await freePort() },
      },
    ],
    reload: { quietMs, maxDelayMs: Math.max(quietMs, 1000) },
    http: { listen: httpListen },
    log: { level: 'info', format: 'json' },
  };
  writeFileSync(join(dir, 'switchyard.json'), JSON.stringify(config));
  const child = spawnTracked('node', [
    join(repo, 'bin/switchyard.js'),
    'serve',
    '--config',
    join(dir, 'switchyard.json'),
  ]);
  const logs = captureOutput(child, 10_000_000);
  await eventually(() => readFileSync(output, 'utf8'));
  const haproxy = await startHaproxy({ configFile: output, dir });
  await eventually(async () => {
    if ((await httpGet(`http://${httpListen}/health`)).status !== 200) throw new Error('not healthy yet');
  });

  const toServing: number[] = [];
  for (let i = 1; i <= runs; i++) {
    marathon.killTask(task);
    await eventually(async () => {
      if ((await get(servicePort)).status !== 503) throw new Error('still served');
    });
    task = marathon.addTask('/bench/web', { host: '127.0.0.1', ports: [backends[i]!.port] });
    const emitted = marathon.lastEventAt()!;
    for (;;) {
      const r = await get(servicePort);
      if (r.status === 200 && r.body === `b${i}`) break;
    }
    toServing.push(ms(emitted, process.hrtime.bigint()));
  }
  const stages = { validate: [] as number[], reload: [] as number[], total: [] as number[] };
  for (const line of logs.text().split('\n')) {
    if (!line.includes('"config installed"')) continue;
    const entry = JSON.parse(line) as { ms: number; stages: { validate?: number; reload?: number } };
    stages.total.push(entry.ms);
    if (entry.stages.validate !== undefined) stages.validate.push(entry.stages.validate);
    if (entry.stages.reload !== undefined) stages.reload.push(entry.stages.reload);
  }

  const row = (name: string, xs: number[]) =>
    `| ${name.padEnd(34)} | ${pct(xs, 50).toFixed(1).padStart(7)} | ${pct(xs, 90).toFixed(1).padStart(7)} | ${Math.max(
      ...xs,
    )
      .toFixed(1)
      .padStart(7)} |`;
  console.log(
    `\nMarathon event → HAProxy, ${runs} runs, reload.quietMs=${quietMs}, validate=haproxy -c, reload=bin/haproxy-reload (checked)\n`,
  );
  console.log('| measure                            |  median |     p90 |     max |');
  console.log('|------------------------------------|---------|---------|---------|');
  console.log(row('event → new backend serving (ms)', toServing));
  console.log(row('  of which: haproxy -c (ms)', stages.validate));
  console.log(row('  of which: checked reload (ms)', stages.reload));
  console.log(row('  whole apply (ms)', stages.total));

  await terminate(child, 'SIGTERM');
  await haproxy.stop();
  await marathon.stop();
  await Promise.all(backends.map((b) => b.close()));
}

await main();
