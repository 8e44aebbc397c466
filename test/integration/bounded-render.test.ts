// A template whose loops blow up (four nested loops over 300 services:
// 300⁴ iterations) against `switchyard serve` in a process of its own: its
// first render is a trial in a worker thread, stopped at render.budgetMs, so
// /health answers within 1 s throughout (the proof criterion; the
// budget is 3 s, so a render on the main thread would hold it past that);
// the edit is refused with the reason and the last good config stays;
// started with such a template, the daemon serves /health (degraded, naming
// the target) and takes the fixed template.

import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemonProcess, waitForStatus, watchHealth, type DaemonProcess } from '../support/daemon-process.js';
import { httpGet } from '../support/http.js';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';

const GOOD = '{{#each services}}{{id}}{{#each backends}} {{host}}:{{port}}{{/each}}\n{{/each}}';
const BLOW_UP =
  '{{#each services}}{{#each ../services}}{{#each ../../services}}{{#each ../../../services}}x{{/each}}{{/each}}{{/each}}{{/each}}\n';

function registry(extraPort: number): string {
  return JSON.stringify({
    services: Array.from({ length: 300 }, (_, i) => ({
      id: `svc-${i}`,
      backends: [{ host: '127.0.0.1', port: i === 0 ? extraPort : 10_000 + i }],
    })),
  });
}

async function start(dir: string, template: string): Promise<DaemonProcess> {
  writeFileSync(join(dir, 'registry.json'), registry(9000));
  writeFileSync(join(dir, 't.hbs'), template);
  return startDaemonProcess(
    {
      file: { path: 'registry.json' },
      targets: [{ name: 'list', template: 't.hbs', output: 'out.txt' }],
      reload: { quietMs: 0, maxDelayMs: 0 },
      render: { budgetMs: 3000 },
    },
    dir,
  );
}

describe('bounded render: a template past render.budgetMs', function () {
  it('refuses the edit with the reason, keeps the last good config, and /health answers throughout', async function () {
    const dir = tempDir('bounded-render-edit-');
    const d = await start(dir, GOOD);
    try {
      await waitForStatus(d, 'ok');
      const good = readFileSync(join(dir, 'out.txt'), 'utf8');
      const health = watchHealth(d, 1000);
      writeFileSync(join(dir, 't.hbs'), BLOW_UP);
      const h = await eventually(
        async () => {
          const body = (await d.health()).body as unknown as {
            targets: Record<string, { templateError: string | null }>;
          };
          expect(body.targets.list!.templateError ?? '').to.match(/render stopped after 3000 ms \(render\.budgetMs\)/);
          return body;
        },
        { timeoutMs: 20_000, signal: d.exited, message: 'the edit refused' },
      );
      expect(h.targets.list!.templateError).to.include('t.hbs');
      expect(readFileSync(join(dir, 'out.txt'), 'utf8')).to.equal(good);
      // The previous template stays active: a registry change is still installed with it.
      writeFileSync(join(dir, 'registry.json'), registry(9001));
      await eventually(() => expect(readFileSync(join(dir, 'out.txt'), 'utf8')).to.include('svc-0 127.0.0.1:9001'), {
        timeoutMs: 20_000,
        signal: d.exited,
      });
      const w = await health.stop();
      expect(w.failed, w.firstError).to.equal(0);
      expect(d.alive()).to.equal(true);
      expect(trialStops(d)).to.equal(1);
    } finally {
      await d.stop();
    }
  });

  it('started with it, serves /health degraded naming the target, and takes the fixed template', async function () {
    const dir = tempDir('bounded-render-start-');
    const d = await start(dir, BLOW_UP);
    const health = watchHealth(d, 1000);
    try {
      const h = await eventually(
        async () => {
          const r = await d.health();
          expect(r.body.status).to.equal('degraded');
          expect(r.body.failing).to.include('list');
          expect(JSON.stringify(r.body)).to.match(/render stopped after 3000 ms \(render\.budgetMs\)/);
          return r;
        },
        { timeoutMs: 20_000, signal: d.exited, message: 'degraded naming the target' },
      );
      expect(h.status).to.equal(503);
      expect((await httpGet(`${d.url}/live`)).status).to.equal(200);
      const w = await health.stop();
      expect(w.failed, w.firstError).to.equal(0);
      expect(trialStops(d)).to.equal(1);
      writeFileSync(join(dir, 't.hbs'), GOOD);
      await waitForStatus(d, 'ok');
      expect(readFileSync(join(dir, 'out.txt'), 'utf8')).to.include('svc-0 127.0.0.1:9000');
    } finally {
      await health.stop();
      await d.stop();
    }
  });
});

/** How many times the log says a render trial was stopped: the blow-up ran in the worker, not on the main thread. */
function trialStops(d: DaemonProcess): number {
  return d.output
    .text()
    .split('\n')
    .filter((l) => l.includes('"render trial stopped') && l.includes('"limit":"render.budgetMs"')).length;
}
