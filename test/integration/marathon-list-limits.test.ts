import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemonProcess, waitForStatus, type DaemonProcess } from '../support/daemon-process.js';
import { app, HostileMarathon, task } from '../support/hostile-marathon.js';
import { httpGet } from '../support/http.js';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';

// The Marathon limits the other hostile-Marathon spec leaves out, against the
// daemon process with small limits: the app list's app count and size, one
// app's body fetched after an event, labels, and what the event path
// refuses (an event's size, a status update's ports, a task beyond the
// limit). After each: the daemon lives, the offender is named on /health and
// in the log, the last good state stays, and
// switchyard_input_limit_exceeded_total counts it by source and limit.

const TEMPLATE = '{{#each services}}{{id}}{{#each backends}} {{host}}:{{port}}{{/each}}\n{{/each}}';
const HEALTHY = app('/healthy', [task('healthy.1', 31001)]);
const GOOD_LIST = JSON.stringify({ apps: [HEALTHY] });

interface OverLimit {
  apps: { app: string; reason: string }[];
  inputs: { limit: string; reason: string; count: number }[];
}

describe('Marathon limits on the app list, one app and the event path', function () {
  this.timeout(90_000);
  let marathon: HostileMarathon;
  let d: DaemonProcess;
  let dir: string;
  let marathonUrl: string;

  const served = () => readFileSync(join(dir, 'services.txt'), 'utf8');
  const overLimit = async (): Promise<OverLimit> =>
    ((await d.health()).body.sources as { marathon: { detail: { overLimit: OverLimit } } }).marathon.detail.overLimit;
  /** The breach counter on /metrics for a Marathon limit (0 while absent). */
  const breaches = async (limit: string): Promise<number> => {
    const text = (await httpGet(`${d.url}/metrics`)).body;
    const m = new RegExp(`^switchyard_input_limit_exceeded_total\\{source="marathon",limit="${limit}"\\} (\\d+)$`, 'm');
    return Number(m.exec(text)?.[1] ?? 0);
  };
  /** Waits for the counter to pass `before` (scrapes within 250 ms of each other share one text). */
  const counted = (limit: string, before: number) =>
    eventually(async () => expect(await breaches(limit)).to.be.greaterThan(before));
  const refetch = async () => {
    const before = marathon.appListRequests;
    marathon.dropStreams();
    await eventually(() => expect(marathon.appListRequests).to.be.greaterThan(before), { timeoutMs: 20_000 });
  };
  const stream = async () => {
    await eventually(() => expect(marathon.streams.size).to.equal(1), { timeoutMs: 20_000 });
    return [...marathon.streams][0]!;
  };
  /** The daemon lives and serves the healthy app as it last knew it. */
  const stillServing = async () => {
    expect(d.alive(), d.output.text().slice(-3000)).to.equal(true);
    await eventually(() => expect(served()).to.contain('/healthy 127.0.0.1:31001'));
  };
  const logged = (limit: string) =>
    d.output
      .text()
      .split('\n')
      .some((l) => l.includes(`"limit":"marathon.${limit}"`));

  before(async () => {
    marathon = new HostileMarathon(GOOD_LIST);
    marathonUrl = await marathon.start();
    dir = tempDir('marathon-list-limits-');
    writeFileSync(join(dir, 'services.hbs'), TEMPLATE);
    d = await startDaemonProcess(
      {
        marathon: {
          endpoints: [marathonUrl],
          pollIntervalMs: 3_600_000,
          maxApps: 3,
          maxAppListBytes: 16 * 1024,
          maxAppBytes: 2048,
          maxLabelsPerApp: 4,
          maxPortsPerApp: 8,
          maxTasksPerApp: 2,
          maxEventLineBytes: 4096,
          maxEventBytes: 8192,
        },
        targets: [{ name: 'list', template: 'services.hbs', output: 'services.txt' }],
        reload: { quietMs: 0, maxDelayMs: 0 },
        guard: { enabled: false },
      },
      dir,
    );
    await waitForStatus(d, 'ok', 30_000);
    await stillServing();
  });

  afterEach(async () => {
    marathon.appList = GOOD_LIST;
    marathon.appBodies.clear();
    await refetch();
    await waitForStatus(d, 'ok', 30_000);
  });

  after(async () => {
    await d?.stop();
    await marathon?.stop();
  });

  it('refuses an app list of more than maxApps apps whole, keeping the last good state', async () => {
    const before = await breaches('marathon.maxApps');
    marathon.appList = JSON.stringify({
      apps: [HEALTHY, app('/a', [task('a.1', 32001)]), app('/b', []), app('/c', [])],
    });
    await refetch();
    await eventually(async () => {
      const h = await d.health();
      expect(h.body.status).to.equal('degraded');
      expect(h.body.failing).to.include('marathon');
      expect((h.body.sources as { marathon: { lastError: string } }).marathon.lastError).to.contain(
        'more than 3 apps, over marathon.maxApps (3)',
      );
    });
    expect(served()).not.to.contain('/a ');
    await counted('marathon.maxApps', before);
    expect(logged('maxApps')).to.equal(true);
    await stillServing();
  });

  it('refuses an app list longer than maxAppListBytes whole, keeping the last good state', async () => {
    const before = await breaches('marathon.maxAppListBytes');
    marathon.appList = JSON.stringify({ apps: [HEALTHY, app('/a', [task('a.1', 32001)])], pad: 'x'.repeat(20_000) });
    await refetch();
    await eventually(async () => expect((await overLimit()).inputs.map((i) => i.limit)).to.include('maxAppListBytes'));
    const h = await d.health();
    expect(h.body.failing).to.include('marathon');
    expect(JSON.stringify(h.body.sources)).to.contain('over marathon.maxAppListBytes (16384)');
    expect(served()).not.to.contain('/a ');
    await counted('marathon.maxAppListBytes', before);
    await stillServing();
  });

  it('keeps the last good definition of an app whose body, fetched after an event, is over maxAppBytes', async () => {
    marathon.appList = JSON.stringify({ apps: [HEALTHY, app('/grown', [task('g.1', 32000)])] });
    await refetch();
    await eventually(() => expect(served()).to.contain('/grown 127.0.0.1:32000\n'));
    const before = await breaches('marathon.maxAppBytes');
    marathon.appBodies.set(
      '/grown',
      JSON.stringify({ app: { ...app('/grown', [task('g.2', 32002)]), env: { BLOB: 'x'.repeat(4000) } } }),
    );
    marathon.send(await stream(), 'api_post_event', { appDefinition: { id: '/grown' } });
    await eventually(async () =>
      expect((await overLimit()).apps).to.deep.include({
        app: '/grown',
        reason: '/grown: an answer of more than 2048 bytes, over marathon.maxAppBytes (2048)',
      }),
    );
    expect(served()).to.contain('/grown 127.0.0.1:32000\n');
    await counted('marathon.maxAppBytes', before);
    await stillServing();
  });

  it('skips an app with more than maxLabelsPerApp labels, naming it, and serves the others', async () => {
    const before = await breaches('marathon.maxLabelsPerApp');
    const labels = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`L${i}`, 'v']));
    marathon.appList = JSON.stringify({ apps: [HEALTHY, app('/labelled', [task('l.1', 32003)], labels)] });
    await refetch();
    await eventually(async () =>
      expect((await overLimit()).apps).to.deep.include({
        app: '/labelled',
        reason: '/labelled: more than 4 labels, over marathon.maxLabelsPerApp (4)',
      }),
    );
    expect(served()).not.to.contain('/labelled');
    await counted('marathon.maxLabelsPerApp', before);
    await stillServing();
  });

  it('closes the stream on an event over maxEventBytes, and applies the next event after reconnecting', async () => {
    const before = await breaches('marathon.maxEventBytes');
    const lines = Array.from({ length: 3 }, () => `data: ${'x'.repeat(3000)}\r\n`).join('');
    (await stream()).write(`event: status_update_event\r\n${lines}\r\n`);
    await eventually(async () =>
      expect((await overLimit()).inputs.map((i) => i.reason)).to.include.members([
        `the event stream from ${marathonUrl}: a longer event, over marathon.maxEventBytes (8192)`,
      ]),
    );
    await counted('marathon.maxEventBytes', before);
    await eventually(async () =>
      expect((await d.health()).body.sources).to.have.nested.property('marathon.detail.eventStream', 'connected'),
    );
    marathon.send(await stream(), 'status_update_event', {
      appId: '/healthy',
      taskId: 'healthy.2',
      taskStatus: 'TASK_RUNNING',
      host: '127.0.0.1',
      ports: [31002],
    });
    await eventually(() => expect(served()).to.contain('/healthy 127.0.0.1:31001 127.0.0.1:31002'));
  });

  it('drops a status update with more than maxPortsPerApp ports, keeping the task as it was', async () => {
    const before = await breaches('marathon.maxPortsPerApp');
    marathon.send(await stream(), 'status_update_event', {
      appId: '/healthy',
      taskId: 'healthy.1',
      taskStatus: 'TASK_RUNNING',
      host: '127.0.0.1',
      ports: Array.from({ length: 9 }, (_, i) => 40000 + i),
    });
    await eventually(async () =>
      expect((await overLimit()).inputs.map((i) => i.reason)).to.include(
        '/healthy: a status update of task healthy.1 with 9 ports, over marathon.maxPortsPerApp (8)',
      ),
    );
    expect(served()).to.contain('/healthy 127.0.0.1:31001\n');
    await counted('marathon.maxPortsPerApp', before);
  });

  it('drops a status update that would add a task beyond maxTasksPerApp', async () => {
    const before = await breaches('marathon.maxTasksPerApp');
    const s = await stream();
    const update = (id: string, port: number) =>
      marathon.send(s, 'status_update_event', {
        appId: '/healthy',
        taskId: id,
        taskStatus: 'TASK_RUNNING',
        host: '127.0.0.1',
        ports: [port],
      });
    update('healthy.2', 31002);
    await eventually(() => expect(served()).to.contain('/healthy 127.0.0.1:31001 127.0.0.1:31002\n'));
    update('healthy.3', 31003);
    await eventually(async () =>
      expect((await overLimit()).inputs.map((i) => i.reason)).to.include(
        '/healthy: a new task healthy.3 beyond 2, over marathon.maxTasksPerApp (2)',
      ),
    );
    expect(served()).not.to.contain(':31003');
    await counted('marathon.maxTasksPerApp', before);
  });
});
