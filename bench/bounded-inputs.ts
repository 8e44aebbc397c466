// Each hostile input of issue 13 (but Marathon's) against `switchyard serve`
// in a process of its own on a file registry: RSS growth over idle and the
// slowest /health answer while it lasts. Prints one table.
//
//   npm run build && node dist/bench/bounded-inputs.js

import { execFileSync } from 'node:child_process';
import { renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startDaemonProcess, waitForStatus, watchHealth, type DaemonProcess } from '../test/support/daemon-process.js';
import { tempDir } from '../test/support/tmp.js';
import { sleep } from '../test/support/wait.js';

const GOOD = '{{#each services}}{{id}}{{#each backends}} {{host}}:{{port}}{{/each}}\n{{/each}}';
const BLOW_UP =
  '{{#each services}}{{#each ../services}}{{#each ../../services}}{{#each ../../../services}}x{{/each}}{{/each}}{{/each}}{{/each}}\n';

function registry(): string {
  return JSON.stringify({
    services: Array.from({ length: 300 }, (_, i) => ({
      id: `svc-${i}`,
      backends: [{ host: '127.0.0.1', port: 10_000 + i }],
    })),
  });
}

function post(url: string, body: Buffer | string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      url,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

async function main(): Promise<void> {
  const dir = tempDir('bench-bounded-');
  const file = join(dir, 'registry.json');
  const swap = (make: () => void) => {
    rmSync(file, { force: true });
    make();
  };
  writeFileSync(file, registry());
  writeFileSync(join(dir, 't.hbs'), GOOD);
  const d: DaemonProcess = await startDaemonProcess(
    {
      file: { path: 'registry.json' },
      targets: [{ name: 'list', template: 't.hbs', output: 'out.txt' }],
      reload: { quietMs: 0, maxDelayMs: 0 },
    },
    dir,
  );
  const cases: [string, () => Promise<void> | void][] = [
    [
      'registry: link to a 0600 non-JSON file',
      () => {
        const secret = join(dir, 'shadow');
        writeFileSync(secret, 'root:$6$secret:19000:0:99999:7:::\n', { mode: 0o600 });
        swap(() => symlinkSync(secret, file));
      },
    ],
    ['registry: FIFO', () => swap(() => execFileSync('mkfifo', [file]))],
    ['registry: link to /dev/zero', () => swap(() => symlinkSync('/dev/zero', file))],
    [
      'registry: 200 MB of "["',
      () => {
        writeFileSync(`${file}.big`, Buffer.alloc(200 * 2 ** 20, '['));
        renameSync(`${file}.big`, file);
      },
    ],
    [
      'registry: 12 MB of "[" (within file.maxBytes)',
      () => {
        writeFileSync(`${file}.big`, Buffer.alloc(12 * 2 ** 20, '['));
        renameSync(`${file}.big`, file);
      },
    ],
    ['API: 30 000-deep body', async () => void (await post(`${d.url}/api/guard/release`, '['.repeat(30_000)))],
    ['API: 8 MiB body', async () => void (await post(`${d.url}/api/guard/release`, Buffer.alloc(8 * 2 ** 20, 'a')))],
    [
      'HTTP: 300 pipelined /api/state',
      () => {
        const s = connect(Number(new URL(d.url).port), '127.0.0.1');
        s.on('error', () => undefined);
        s.write('GET /api/state HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(300));
      },
    ],
    ['template: 300⁴ nested each (render.budgetMs 5 s)', () => writeFileSync(join(dir, 't.hbs'), BLOW_UP)],
  ];
  const rows: string[][] = [['case', 'RSS growth', 'worst /health', '/health answered', 'daemon alive']];
  try {
    await waitForStatus(d, 'ok');
    for (const [name, run] of cases) {
      writeFileSync(`${file}.good`, registry());
      renameSync(`${file}.good`, file);
      writeFileSync(join(dir, 't.hbs'), GOOD);
      await sleep(1500);
      const idle = d.rss();
      let peak = idle;
      const sampler = setInterval(() => (peak = Math.max(peak, d.rss())), 50);
      const w = watchHealth(d);
      await run();
      await sleep(7000);
      clearInterval(sampler);
      const r = await w.stop();
      rows.push([
        name,
        `+${((peak - idle) / 2 ** 20).toFixed(1)} MiB`,
        `${r.worstMs.toFixed(0)} ms`,
        `${r.answered}/${r.answered + r.failed}`,
        d.alive() ? 'yes' : 'NO',
      ]);
    }
  } finally {
    await d.stop();
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  process.stdout.write(rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n') + '\n');
}

await main();
