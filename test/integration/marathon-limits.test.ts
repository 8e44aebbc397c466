import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { app, HostileMarathon, task } from '../support/hostile-marathon.js';
import { httpGet } from '../support/http.js';
import { freePort } from '../support/ports.js';
import { captureOutput, hasExited, spawnTracked, terminate, type OutputBuffer } from '../support/processes.js';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';

// Hostile Marathon answers against the real daemon (its own process, as
// deployed): a small Marathon (test/support/hostile-marathon.ts) sends what the double cannot — a
// line that never ends, a second JSON document, an app with 200 000 ports or
// 150 000 tasks. After each, the daemon is alive, the healthy app is served,
// /health answers and names what was refused.

const ROOT = process.cwd();
const TEMPLATE = '{{#each services}}{{id}}{{#each backends}} {{host}}:{{port}}{{/each}}\n{{/each}}';
const LINE_LIMIT = 64 * 1024;
const HEALTHY = app('/healthy', [task('healthy.1', 31001)]);

describe('hostile Marathon answers, against the daemon process', function () {
  this.timeout(90_000);
  let marathon: HostileMarathon;
  let child: ChildProcess;
  let out: OutputBuffer;
  let api: string;
  let output: string;

  const health = async () => {
    const r = await httpGet(`${api}/health`);
    return { status: r.status, body: JSON.parse(r.body) };
  };
  const served = () => readFileSync(output, 'utf8');
  const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024;
  /** Makes the daemon fetch the app list again (through a reconnect), and waits for that fetch. */
  const refetch = async () => {
    const before = marathon.appListRequests;
    marathon.dropStreams();
    await eventually(() => expect(marathon.appListRequests).to.be.greaterThan(before), { timeoutMs: 20_000 });
  };
  /** The daemon lives, serves the healthy app, and /health answers. */
  const stillServing = async () => {
    expect(hasExited(child), `the daemon exited:\n${out.text().slice(-3000)}`).to.equal(false);
    await eventually(() => expect(served()).to.contain('/healthy 127.0.0.1:31001'));
    expect([200, 503]).to.include((await health()).status);
  };

  before(async () => {
    marathon = new HostileMarathon(JSON.stringify({ apps: [HEALTHY] }));
    const url = await marathon.start();
    const dir = tempDir('hostile-marathon-');
    writeFileSync(join(dir, 'services.hbs'), TEMPLATE);
    output = join(dir, 'services.txt');
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    const configFile = join(dir, 'switchyard.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        marathon: {
          endpoints: [url],
          pollIntervalMs: 3_600_000,
          streamIdleTimeoutMs: 60_000,
          maxEventLineBytes: LINE_LIMIT,
          maxEventBytes: 2 * LINE_LIMIT,
        },
        targets: [{ name: 'list', template: 'services.hbs', output: 'services.txt' }],
        reload: { quietMs: 0, maxDelayMs: 0 },
        guard: { enabled: false },
        http: { listen: `127.0.0.1:${port}` },
        log: { level: 'info', format: 'json' },
      }),
    );
    child = spawnTracked('node', [join(ROOT, 'bin/switchyard.js'), 'serve', '--config', configFile]);
    out = captureOutput(child);
    await eventually(async () => expect((await health()).body.status).to.equal('ok'), {
      timeoutMs: 30_000,
      message: `daemon healthy:\n${out.text()}`,
    });
    await stillServing();
  });

  after(async () => {
    if (child) await terminate(child, 'SIGTERM');
    await marathon?.stop();
  });

  it('cuts an event stream line that never ends at maxEventLineBytes, and applies the next event after reconnecting', async () => {
    const idleRss = rssMb();
    let written = 0;
    let cut = false;
    marathon.onStream = (res) => {
      marathon.onStream = () => undefined;
      res.write('data: ');
      const more = () => {
        // Written as fast as the daemon reads, for as long as it reads: 1 GB unless it hangs up.
        while (!res.destroyed && written < 1024 * 2 ** 20) {
          written += 16 * 1024;
          if (!res.write('x'.repeat(16 * 1024))) return void res.once('drain', more);
        }
      };
      res.on('close', () => (cut = true));
      more();
    };
    await refetch();
    await eventually(() => expect(cut, `written ${written} bytes`).to.equal(true), { timeoutMs: 20_000 });
    // What it read is bounded by the limit and the sockets' buffers, not by what was sent.
    expect(written).to.be.lessThan(64 * 2 ** 20);
    expect(rssMb()).to.be.lessThan(idleRss + 64);
    await eventually(async () => {
      const inputs: { limit: string; reason: string }[] = (await health()).body.sources.marathon.detail.overLimit
        .inputs;
      expect(inputs.find((i) => i.limit === 'maxEventLineBytes')?.reason).to.match(
        /^the event stream from http:\/\/127\.0\.0\.1:\d+: a longer line, over marathon\.maxEventLineBytes \(65536\)$/,
      );
    });
    const line = out
      .text()
      .split('\n')
      .find((l) => l.includes('"marathon input over a limit; refused"'));
    expect(JSON.parse(line!)).to.include({ level: 'error', limit: 'marathon.maxEventLineBytes' });

    // The reconnected stream's next event is applied: a task the app list does not have.
    await eventually(() => expect(marathon.streams.size).to.equal(1), { timeoutMs: 20_000 });
    await eventually(async () =>
      expect((await health()).body.sources.marathon.detail.eventStream).to.equal('connected'),
    );
    const [stream] = marathon.streams;
    marathon.send(stream!, 'status_update_event', {
      appId: '/healthy',
      taskId: 'healthy.2',
      taskStatus: 'TASK_RUNNING',
      host: '127.0.0.1',
      ports: [31002],
    });
    await eventually(() => expect(served()).to.contain('/healthy 127.0.0.1:31001 127.0.0.1:31002'));
    await stillServing();
  });

  it('refuses an app list with a second JSON document after the first, keeping the last good state', async () => {
    marathon.appList = `${JSON.stringify({ apps: [HEALTHY] })}\n${JSON.stringify({ apps: [app('/intruder', [task('i.1', 31009)])] })}`;
    await refetch();
    await eventually(async () => {
      const h = await health();
      expect(h.body.status).to.equal('degraded');
      expect(h.body.sources.marathon.lastError).to.contain('data after the end of the JSON document');
    });
    expect(served()).not.to.contain('/intruder');
    await stillServing();
    marathon.appList = JSON.stringify({ apps: [HEALTHY] });
    await refetch();
    await eventually(async () => expect((await health()).body.status).to.equal('ok'));
  });

  it('skips an app whose task has 200 000 ports, serving the others', async () => {
    const ports = Array.from({ length: 200_000 }, (_, i) => 1 + (i % 65_535));
    marathon.appList = JSON.stringify({
      apps: [HEALTHY, { ...app('/ports', []), tasks: [{ ...task('p.1', 1), ports }] }],
    });
    await refetch();
    await eventually(async () => {
      const h = await health();
      expect(h.body.status).to.equal('ok');
      expect(h.body.sources.marathon.detail.overLimit.apps).to.deep.include({
        app: '/ports',
        reason: '/ports: task p.1 with 200000 ports, over marathon.maxPortsPerApp (1000)',
      });
    });
    expect(served()).not.to.contain('/ports');
    const line = out
      .text()
      .split('\n')
      .find((l) => l.includes('"marathon app over a limit'));
    expect(JSON.parse(line!)).to.include({ level: 'error', app: '/ports', limit: 'marathon.maxPortsPerApp' });
    await stillServing();
  });

  it('keeps the last good definition of an app that grows to 150 000 tasks', async () => {
    marathon.appList = JSON.stringify({ apps: [HEALTHY, app('/grows', [task('g.0', 32000)])] });
    await refetch();
    await eventually(() => expect(served()).to.contain('/grows 127.0.0.1:32000\n'));
    const tasks = Array.from({ length: 150_000 }, (_, i) => task(`g.${i}`, 32000 + (i % 30_000)));
    marathon.appList = JSON.stringify({ apps: [HEALTHY, app('/grows', tasks)] });
    await refetch();
    await eventually(async () =>
      expect((await health()).body.sources.marathon.detail.overLimit.apps).to.deep.include({
        app: '/grows',
        reason: '/grows: 150000 tasks, over marathon.maxTasksPerApp (10000)',
      }),
    );
    expect(served()).to.contain('/grows 127.0.0.1:32000\n');
    await stillServing();
  });

  it('skips an app whose JSON is longer than maxAppBytes without reading it into memory, naming it by id', async () => {
    const big = { ...app('/big', [task('b.1', 33000)]), env: { BLOB: 'x'.repeat(40 * 2 ** 20) } };
    marathon.appList = JSON.stringify({ apps: [HEALTHY, big] });
    await refetch();
    await eventually(async () =>
      expect(
        (await health()).body.sources.marathon.detail.overLimit.apps.map((a: { reason: string }) => a.reason),
      ).to.include(`/big: ${JSON.stringify(big).length} bytes of JSON, over marathon.maxAppBytes (33554432)`),
    );
    expect(served()).not.to.contain('/big');
    await stillServing();
  });
});
