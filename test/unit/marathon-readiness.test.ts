// Which tasks of a Marathon app are served while a deployment with readiness
// checks runs, read from the app as /v2/apps?embed=apps.readiness gives it.

import { expect } from 'chai';
import { configSchema } from '../../src/config/schema.js';
import { appServices } from '../../src/sources/marathon/apps.js';
import { appOverLimits } from '../../src/sources/marathon/limits.js';
import type { MarathonApp, MarathonReadinessResult } from '../../src/sources/marathon/types.js';
import { appChecker, task } from './fixtures.js';

const { rejected, reject, record } = appChecker();

// Marathon's defaults for a readiness check, as an app definition shows them.
const CHECK = {
  name: 'readinessCheck',
  protocol: 'HTTP',
  path: '/ready',
  portName: 'http-api',
  intervalSeconds: 30,
  timeoutSeconds: 10,
  httpStatusCodesForReady: [200],
  preserveLastResponse: false,
};

const result = (taskId: string, ready: boolean): MarathonReadinessResult => ({ name: 'readinessCheck', taskId, ready });

/** An app with an old task and a new one, deploying (or not), with the given readiness fields. */
function deploying(extra: Partial<MarathonApp> = {}): MarathonApp {
  return {
    id: '/web',
    portDefinitions: [{ port: 10000, name: 'http-api' }],
    readinessChecks: [CHECK],
    deployments: [{ id: '5ed4c0c5-9ff8-4a6f-a0cd-f57f59a34b43' }],
    tasks: [task('web.old', [31000]), task('web.new', [31001])],
    ...extra,
  };
}

const served = (app: MarathonApp): string[] =>
  appServices(record(app), '*', reject)[0]!.backends.flatMap((b) => (b.healthy ? [b.id] : []));

describe('marathon readiness', () => {
  beforeEach(() => (rejected.length = 0));

  it('keeps out a task its deployment has checked and found not ready', () => {
    expect(served(deploying({ readinessCheckResults: [result('web.new', false)] }))).to.deep.equal(['web.old']);
  });

  it('serves a task once its deployment has found it ready', () => {
    expect(served(deploying({ readinessCheckResults: [result('web.new', true)] }))).to.deep.equal([
      'web.new',
      'web.old',
    ]);
  });

  it('serves the tasks a running deployment has no result for', () => {
    expect(served(deploying({ readinessCheckResults: [] }))).to.deep.equal(['web.new', 'web.old']);
  });

  it('keeps a not-ready task in the state as an unhealthy backend, so that turning ready is a membership change', () => {
    const backends = appServices(
      record(deploying({ readinessCheckResults: [result('web.new', false)] })),
      '*',
      reject,
    )[0]!.backends;
    expect(backends.map((b) => [b.id, b.healthy])).to.deep.equal([
      ['web.new', false],
      ['web.old', true],
    ]);
  });

  it('serves every task when no deployment runs, whatever results are listed', () => {
    expect(served(deploying({ deployments: [], readinessCheckResults: [result('web.new', false)] }))).to.deep.equal([
      'web.new',
      'web.old',
    ]);
  });

  it('serves every task of an app without readiness checks, during a deployment too', () => {
    expect(served(deploying({ readinessChecks: [], readinessCheckResults: [result('web.new', false)] }))).to.deep.equal(
      ['web.new', 'web.old'],
    );
  });

  it('serves every task when Marathon sends no readiness fields (before 0.16, or without the embed)', () => {
    const app = deploying();
    delete app.readinessChecks;
    delete app.deployments;
    expect(served(app)).to.deep.equal(['web.new', 'web.old']);
    expect(rejected).to.deep.equal([]);
  });

  it('keeps a task out while any of its results says not ready', () => {
    const results = [result('web.new', true), { ...result('web.new', false), name: 'second' }];
    expect(served(deploying({ readinessCheckResults: results }))).to.deep.equal(['web.old']);
  });

  it('still requires health: a ready task whose health check has not passed is not served', () => {
    const app = deploying({
      healthChecks: [{ protocol: 'HTTP', path: '/health' }],
      readinessCheckResults: [result('web.new', true)],
      tasks: [task('web.old', [31000], { healthCheckResults: [{ alive: true }] }), task('web.new', [31001])],
    });
    expect(served(app)).to.deep.equal(['web.old']);
  });

  it('rejects a result without a boolean "ready", naming it, and keeps its task out', () => {
    expect(served(deploying({ readinessCheckResults: [result('web.new', 'yes' as never)] }))).to.deep.equal([
      'web.old',
    ]);
    expect(rejected).to.deep.equal([
      '/web: bad readinessCheckResults[0] {"name":"readinessCheck","taskId":"web.new","ready":"yes"}: expected an object with a task id of [A-Za-z0-9._:@-] and a boolean "ready"',
    ]);
  });

  it('rejects a result without a usable task id and judges no task by it', () => {
    expect(served(deploying({ readinessCheckResults: [result('web new', false)] }))).to.deep.equal([
      'web.new',
      'web.old',
    ]);
    expect(rejected).to.have.length(1);
    expect(rejected[0]).to.contain('readinessCheckResults[0]');
  });

  it('rejects a readinessCheckResults that is not a list and judges no task by it', () => {
    expect(served(deploying({ readinessCheckResults: { 'web.new': false } as never }))).to.deep.equal([
      'web.new',
      'web.old',
    ]);
    expect(rejected).to.deep.equal(['/web: bad readinessCheckResults {"web.new":false}: expected an array']);
  });

  it('takes a deployments field that is not a list as a deployment running, so that the results decide', () => {
    const app = deploying({ deployments: 'yes' as never, readinessCheckResults: [result('web.new', false)] });
    expect(served(app)).to.deep.equal(['web.old']);
    expect(rejected).to.deep.equal(['/web: bad deployments "yes": expected an array']);
  });

  it('names only the first of many bad elements, with how many more there were', () => {
    const results = Array.from({ length: 1000 }, () => 7);
    served(deploying({ readinessCheckResults: results as never }));
    expect(rejected).to.deep.equal([
      '/web: bad readinessCheckResults[0] 7: expected an object with a task id of [A-Za-z0-9._:@-] and a boolean "ready" (999 more elements like it)',
    ]);
  });

  it('rejects a readiness check that is not an object', () => {
    served(deploying({ readinessChecks: ['HTTP /ready'] as never }));
    expect(rejected).to.deep.equal(['/web: bad readinessChecks[0] "HTTP /ready": expected an object']);
  });
});

describe('marathon readiness limits', () => {
  const limits = {
    ...configSchema.parse({
      marathon: { endpoints: ['http://m:8080'] },
      targets: [{ name: 't', template: 'x', output: 'y' }],
    }).marathon!,
    maxTasksPerApp: 2,
    maxPortsPerApp: 1,
  };

  it('refuses an app listing more readiness results than marathon.maxTasksPerApp', () => {
    const results = [result('a', true), result('b', true), result('c', true)];
    expect(appOverLimits({ id: '/web', readinessCheckResults: results }, limits)).to.deep.include({
      limit: 'maxTasksPerApp',
      found: '3 readiness check results',
    });
  });

  it('refuses an app with more readiness checks than marathon.maxPortsPerApp (each names one of its ports)', () => {
    expect(appOverLimits({ id: '/web', readinessChecks: [CHECK, CHECK] }, limits)).to.deep.include({
      limit: 'maxPortsPerApp',
      found: '2 readiness checks',
    });
  });
});
