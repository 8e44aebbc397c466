import { open, rename, unlink, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { dirname, join } from 'node:path';
import { runCommand } from '../../test/support/processes.js';
import { median } from './stats.js';

// Costs no config generator can avoid at a given cluster size: parsing
// Marathon's answer, writing the config file, and HAProxy's own check.

/** The body of GET url, as bytes. */
export function fetchBody(url: string, timeoutMs = 60_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = get(url, { headers: { Accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Median ms of `runs` calls of fn. */
export async function timeMedian(runs: number, fn: () => unknown): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    xs.push(performance.now() - t);
  }
  return median(xs);
}

/** Median ms of JSON.parse on the text (decoding the bytes to a string is timed separately). */
export async function jsonParseFloor(body: Buffer, runs = 5): Promise<{ decodeMs: number; parseMs: number }> {
  const text = body.toString('utf8');
  const decodeMs = await timeMedian(runs, () => body.toString('utf8'));
  const parseMs = await timeMedian(runs, () => JSON.parse(text));
  return { decodeMs, parseMs };
}

/** Median ms to install `text` at `output` the way a careful daemon does: temp file beside it, write, fsync, rename, fsync the directory. */
export async function writeFloor(output: string, text: string, runs = 5): Promise<number> {
  let n = 0;
  return timeMedian(runs, async () => {
    const tmp = join(dirname(output), `.floor.${n++}.tmp`);
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, output);
    const d = await open(dirname(output), 'r');
    await d.sync().catch(() => undefined);
    await d.close();
  });
}

/** Median ms of `haproxy -c -f file` (each a fresh process, as a validate command is); throws if the check fails. */
export async function haproxyCheckFloor(file: string, runs = 3): Promise<number> {
  return timeMedian(runs, async () => {
    const r = await runCommand('haproxy', ['-c', '-q', '-f', file]);
    if (r.code !== 0) throw new Error(`haproxy -c failed on ${file}: ${r.output.slice(0, 500)}`);
  });
}

export async function writeText(file: string, text: string): Promise<void> {
  await writeFile(file, text);
}

export async function removeQuietly(file: string): Promise<void> {
  await unlink(file).catch(() => undefined);
}

/** Median ms for a bare `node -e 0` to start and exit: what any Node.js daemon pays before its own code runs. */
export async function nodeStartFloor(runs = 5): Promise<number> {
  return timeMedian(runs, async () => {
    const r = await runCommand(process.execPath, ['-e', '0']);
    if (r.code !== 0) throw new Error(`node -e 0 failed: ${r.output}`);
  });
}
