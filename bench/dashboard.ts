// Issue 17's timings: the dashboard at 5000 apps × 5 tasks (the synthetic
// cluster of bench/lib/cluster.ts on the Marathon test double), Switchyard
// in its own process (`switchyard serve`, the default HAProxy template,
// validate off, reload `true`), driven by Debian's headless Chromium.
//
//   npm run bench:dashboard -- [--apps 5000] [--runs 5]
//
// Prints one table: the page's first load (a fresh browser context each
// run: DOMContentLoaded, and usable = status shown and the first 50
// services listed), a scale event until its backend shows in the open page
// (the page polls /api/overview every second, so this includes up to a
// second of waiting), a search, opening a service; each with the bytes the
// page fetched for it. Then the API views as curl would time them, beside
// GET /api/state, the whole template data.
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../test/support/browser.js';
import { startDaemonProcess, waitForStatus, type DaemonProcess } from '../test/support/daemon-process.js';
import { MarathonDouble } from '../test/support/marathon-double.js';
import { tempDir } from '../test/support/tmp.js';
import { appId, syntheticCluster } from './lib/cluster.js';
import { loadAverage } from './lib/proc.js';
import { fmt, median, pct, table } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    apps: { type: 'string', default: '5000' },
    runs: { type: 'string', default: '5' },
  },
});
const APPS = Number(args.apps);
const RUNS = Number(args.runs);

interface Sample {
  readonly ms: number;
  readonly bytes: number;
}

/** Counts the bytes of every response the page receives while `fn` runs. */
async function fetched<T>(page: Page, fn: () => Promise<T>): Promise<{ value: T; bytes: number }> {
  let bytes = 0;
  const pending: Promise<void>[] = [];
  const onResponse = (r: import('playwright-core').Response) =>
    pending.push(
      r.body().then(
        (b) => void (bytes += b.length),
        () => undefined,
      ),
    );
  page.on('response', onResponse);
  try {
    const value = await fn();
    await Promise.all(pending);
    return { value, bytes };
  } finally {
    page.off('response', onResponse);
  }
}

async function firstLoad(browser: Browser, url: string): Promise<{ dom: number; usable: Sample }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  try {
    const started = performance.now();
    let dom = NaN;
    page.once('domcontentloaded', () => (dom = performance.now() - started));
    const { bytes } = await fetched(page, async () => {
      await page.goto(url);
      await page.waitForFunction(
        () => document.querySelectorAll('#services-body tr').length === 50 && !!document.querySelector('#status.ok'),
        undefined,
        { polling: 'raf' },
      );
    });
    return { dom, usable: { ms: performance.now() - started, bytes } };
  } finally {
    await context.close();
  }
}

async function timed(page: Page, act: () => void | Promise<void>, done: () => Promise<unknown>): Promise<Sample> {
  const started = performance.now();
  const { bytes } = await fetched(page, async () => {
    await act();
    await done();
  });
  return { ms: performance.now() - started, bytes };
}

async function apiTime(url: string): Promise<Sample> {
  const started = performance.now();
  const r = await fetch(url);
  const body = Buffer.from(await r.arrayBuffer());
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return { ms: performance.now() - started, bytes: body.length };
}

function row(name: string, samples: readonly Sample[]): string[] {
  return [
    name,
    fmt(median(samples.map((s) => s.ms)), 0),
    fmt(
      pct(
        samples.map((s) => s.ms),
        95,
      ),
      0,
    ),
    fmt(median(samples.map((s) => s.bytes)) / 1024, 1),
  ];
}

async function main(): Promise<void> {
  const dir = tempDir('bench-dashboard-');
  const marathon = new MarathonDouble({ keepAliveMs: 1000 });
  const marathonUrl = await marathon.start();
  marathon.bulkLoad(syntheticCluster(APPS));
  let sy: DaemonProcess | null = null;
  let browser: Browser | null = null;
  try {
    sy = await startDaemonProcess(
      {
        marathon: { endpoints: [marathonUrl], pollIntervalMs: 3_600_000 },
        targets: [
          {
            name: 'haproxy',
            template: `${process.cwd()}/templates/haproxy.cfg.hbs`,
            output: `${dir}/haproxy.cfg`,
            reload: 'true',
            vars: { bind: '127.0.0.1', httpPort: 18080 },
          },
        ],
        reload: { quietMs: 0, maxDelayMs: 0 },
        log: { level: 'warn', format: 'json' },
      },
      dir,
    );
    await waitForStatus(sy, 'ok', 120_000);
    browser = await launchChromium();

    const loads: { dom: number; usable: Sample }[] = [];
    for (let i = 0; i < RUNS; i++) loads.push(await firstLoad(browser, sy.url));

    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(sy.url);
    await page.waitForSelector('#services-body tr[data-id="/team-00/svc-00000"]');
    const scale: Sample[] = [];
    for (let i = 0; i < RUNS; i++) {
      const host = `127.2.0.${i + 1}`;
      scale.push(
        await timed(
          page,
          () => void marathon.addTask(appId(0), { host, healthy: true }),
          () =>
            page.waitForFunction(
              (h) =>
                Array.from(document.querySelectorAll('#services-body tr[data-id="/team-00/svc-00000"] .backend')).some(
                  (c) => c.textContent?.startsWith(`${h}:`),
                ),
              host,
              { polling: 'raf', timeout: 30_000 },
            ),
        ),
      );
    }
    const search: Sample[] = [];
    const open: Sample[] = [];
    for (let i = 0; i < RUNS; i++) {
      const target = appId(4000 + i * 7);
      await page.fill('#search', '');
      await page.waitForFunction(() => document.querySelectorAll('#services-body tr').length === 50);
      search.push(
        await timed(
          page,
          () => page.fill('#search', target.slice(-9)),
          () =>
            page.waitForFunction(
              (id) => {
                const rows = document.querySelectorAll('#services-body tr');
                return rows.length === 1 && rows[0]!.getAttribute('data-id') === id;
              },
              target,
              { polling: 'raf' },
            ),
        ),
      );
      open.push(
        await timed(
          page,
          () => page.click(`#services-body button[data-id="${target}"]`),
          () => page.waitForSelector(`#detail-id:text("${target}")`),
        ),
      );
    }

    const api = async (path: string) => {
      const out: Sample[] = [];
      for (let i = 0; i < RUNS; i++) out.push(await apiTime(`${sy!.url}${path}`));
      return out;
    };
    const detailPath = `/api/catalog/services/${encodeURIComponent(appId(123))}`;
    const rows = [
      row(
        'first load: DOMContentLoaded',
        loads.map((l) => ({ ms: l.dom, bytes: 0 })),
      ).map((c, i) => (i === 3 ? '' : c)),
      row(
        'first load: usable (status + 50 services)',
        loads.map((l) => l.usable),
      ),
      row('scale event → backend shown (≤ 1 s poll included)', scale),
      row('search → list narrowed (150 ms debounce included)', search),
      row('open a service (detail, fragment per target)', open),
      row('GET /api/overview', await api('/api/overview')),
      row('GET /api/catalog/services (50)', await api('/api/catalog/services')),
      row('GET /api/catalog/services?query=svc-0412', await api('/api/catalog/services?query=svc-0412')),
      row('GET /api/catalog/services/<id>', await api(detailPath)),
      row('GET /api/events', await api('/api/events')),
      row('GET /api/targets/haproxy/diff (a whole render)', await api('/api/targets/haproxy/diff')),
      row('GET /api/state (whole template data)', await api('/api/state')),
    ];
    console.log(
      `\nDashboard at ${APPS} apps × 5 tasks, ${RUNS} runs each; Chromium ${browser.version()}; load average ${loadAverage()}\n`,
    );
    console.log(table(['measure', 'median ms', 'p95 ms', 'KB fetched'], rows));
  } finally {
    await browser?.close();
    await sy?.stop();
    await marathon.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
