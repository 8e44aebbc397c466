import { expect } from 'chai';
import { configSchema } from '../../src/config/schema.js';
import { appServices, toAppRecord } from '../../src/sources/marathon/apps.js';
import { EventSizeGuard } from '../../src/sources/marathon/event-size.js';
import { appOverLimits, breachText, type MarathonLimits } from '../../src/sources/marathon/limits.js';
import type { MarathonApp } from '../../src/sources/marathon/types.js';

const defaults = (): MarathonLimits =>
  configSchema.parse({
    marathon: { endpoints: ['http://m:8080'] },
    targets: [{ name: 't', template: 'x', output: 'y' }],
  }).marathon!;

const small: MarathonLimits = {
  ...defaults(),
  maxTasksPerApp: 3,
  maxPortsPerApp: 2,
  maxLabelsPerApp: 2,
  maxLabelBytes: 100,
};

const task = (id: string, ports: number[]) => ({ id, host: '127.0.0.1', ports, state: 'TASK_RUNNING' });
const nothing = () => undefined;

describe('Marathon input limits', () => {
  it('has documented defaults', () => {
    const d = defaults();
    expect({
      maxAppListBytes: d.maxAppListBytes,
      maxAppBytes: d.maxAppBytes,
      maxApps: d.maxApps,
      maxTasksPerApp: d.maxTasksPerApp,
      maxPortsPerApp: d.maxPortsPerApp,
      maxLabelsPerApp: d.maxLabelsPerApp,
      maxLabelBytes: d.maxLabelBytes,
      maxEventLineBytes: d.maxEventLineBytes,
      maxEventBytes: d.maxEventBytes,
    }).to.deep.equal({
      maxAppListBytes: 256 * 2 ** 20,
      maxAppBytes: 32 * 2 ** 20,
      maxApps: 50_000,
      maxTasksPerApp: 10_000,
      maxPortsPerApp: 1000,
      maxLabelsPerApp: 1000,
      maxLabelBytes: 64 * 1024,
      maxEventLineBytes: 16 * 2 ** 20,
      maxEventBytes: 16 * 2 ** 20,
    });
  });

  it('passes an app within every limit', () => {
    const app = {
      id: '/a',
      ports: [0, 0],
      labels: { A: '1', B: '2' },
      tasks: [task('t1', [1, 2]), task('t2', [3, 4])],
    };
    expect(appOverLimits(app, small)).to.equal(null);
  });

  it('names the app, what it has and the limit by its config key', () => {
    const app = { id: '/many', tasks: [task('t1', []), task('t2', []), task('t3', []), task('t4', [])] };
    expect(breachText(appOverLimits(app, small)!)).to.equal('/many: 4 tasks, over marathon.maxTasksPerApp (3)');
  });

  it('counts the ports an app declares, wherever it declares them', () => {
    for (const declared of [
      { ports: [0, 0, 0] },
      { portDefinitions: [{ port: 0 }, { port: 0 }, { port: 0 }] },
      { container: { portMappings: [{}, {}, {}] } },
      { container: { docker: { portMappings: [{}, {}, {}] } } },
    ]) {
      const breach = appOverLimits({ id: '/p', ...declared }, small);
      expect(breach, JSON.stringify(declared)).to.include({ limit: 'maxPortsPerApp', found: '3 declared ports' });
    }
  });

  it("counts each task's ports", () => {
    const breach = appOverLimits({ id: '/p', ports: [0], tasks: [task('t1', [1]), task('t2', [1, 2, 3])] }, small);
    expect(breach).to.include({ limit: 'maxPortsPerApp', found: 'task t2 with 3 ports' });
  });

  it('counts labels, and measures each label by key and value in UTF-8 bytes', () => {
    expect(appOverLimits({ id: '/l', labels: { A: '1', B: '2', C: '3' } }, small)).to.include({
      limit: 'maxLabelsPerApp',
    });
    expect(appOverLimits({ id: '/l', labels: { K: 'é'.repeat(50) } }, small)).to.include({
      limit: 'maxLabelBytes',
      found: 'label K of 101 bytes (key and value)',
    });
    expect(appOverLimits({ id: '/l', labels: { K: 'e'.repeat(99) } }, small)).to.equal(null);
  });

  it('quotes an id that could forge a log line', () => {
    const breach = appOverLimits(
      { id: '/x\nlevel=error', tasks: [task('a', []), task('b', []), task('c', []), task('d', [])] },
      small,
    );
    expect(breach!.offender).to.equal('"/x\\nlevel=error"');
  });

  it('counts 200 000 ports and 150 000 tasks in one pass, without an argument-list overflow', () => {
    const ports = Array.from({ length: 200_000 }, (_, i) => 1 + (i % 65_535));
    expect(appOverLimits({ id: '/p', tasks: [task('t', ports)] }, defaults())).to.include({ limit: 'maxPortsPerApp' });
    const tasks = Array.from({ length: 150_000 }, (_, i) => task(`t${i}`, [1]));
    expect(appOverLimits({ id: '/t', tasks }, defaults())).to.include({ limit: 'maxTasksPerApp' });
  });
});

describe('Marathon services from an app', () => {
  it('makes one service per declared port, whatever ports a task reports', () => {
    const rec = toAppRecord(
      { id: '/a', ports: [10_000], tasks: [task('t1', [31_000, 31_001, 31_002])] } as MarathonApp,
      nothing,
    )!;
    expect(appServices(rec, '*', nothing).map((s) => s.id)).to.deep.equal(['/a']);
  });

  it('makes one service per port of its tasks when the app declares none', () => {
    const rec = toAppRecord(
      { id: '/a', portDefinitions: [], tasks: [task('t1', [31_000, 31_001])] } as MarathonApp,
      nothing,
    )!;
    expect(appServices(rec, '*', nothing).map((s) => s.id)).to.deep.equal(['/a', '/a_1']);
  });

  it('builds the services of an app with 150 000 tasks and 200 000 ports without an argument-list overflow', () => {
    const tasks = Array.from({ length: 150_000 }, (_, i) => task(`t${i}`, [1 + (i % 60_000)]));
    tasks[0]!.ports = Array.from({ length: 200_000 }, (_, i) => 1 + (i % 65_535));
    const rec = toAppRecord({ id: '/huge', ports: [10_000], tasks } as MarathonApp, nothing)!;
    const services = appServices(rec, '*', nothing);
    expect(services).to.have.length(1);
    expect(services[0]!.backends).to.have.length(150_000);
  });
});

describe('event stream sizes', () => {
  const feed = (guard: EventSizeGuard, ...chunks: string[]) => chunks.map((c) => guard.feed(Buffer.from(c)));

  it('passes lines and events within the limits, however the chunks fall', () => {
    const text = 'event: a\r\ndata: 0123456789\r\n\r\n\r\n\ndata: x\n\n';
    for (let size = 1; size <= text.length; size++) {
      const guard = new EventSizeGuard(16, 40);
      const chunks: string[] = [];
      for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
      expect(
        feed(guard, ...chunks).every((v) => v === null),
        `chunks of ${size}`,
      ).to.equal(true);
    }
  });

  it('catches a line that never ends once it passes the limit', () => {
    const guard = new EventSizeGuard(1000, 10_000);
    const verdicts = feed(guard, 'data: ', ...Array.from({ length: 10 }, () => 'x'.repeat(200)));
    expect(verdicts.indexOf('line')).to.equal(5);
  });

  it('catches an event whose lines together pass the limit, and starts counting again after a blank line', () => {
    const guard = new EventSizeGuard(100, 50);
    expect(feed(guard, 'data: 0123456789\n'.repeat(2), '\n', 'data: 0123456789\n'.repeat(2))).to.deep.equal([
      null,
      null,
      null,
    ]);
    expect(feed(guard, 'data: 0123456789\n')).to.deep.equal(['event']);
  });

  it('takes CRLF split across chunks as one line end, not a blank line', () => {
    const guard = new EventSizeGuard(100, 30);
    // Were the LF after the chunk's CR a blank line, the event count would restart and never reach 30.
    expect(feed(guard, 'data: 0123456789\r', '\ndata: 0123456789\r')).to.deep.equal([null, 'event']);
  });
});
