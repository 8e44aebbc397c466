// What the default-shape benchmark (bench/lib/scale-events.ts) plays to
// Switchyard for one scale event, as a client of the double's /v2/events
// sees it: Marathon's sequence in Marathon's order, the health and instance
// events naming the same instance, and deployment events naming the app.

import { expect } from 'chai';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import http from 'node:http';
import { ScaleEvents } from '../../bench/lib/scale-events.js';
import { MarathonDouble } from '../support/marathon-double.js';
import { eventually } from '../support/wait.js';

const APP = '/team/web';

describe('bench: Marathon scale sequence', function () {
  let double: MarathonDouble;
  let req: http.ClientRequest;
  const events: EventSourceMessage[] = [];
  const types = () => events.map((e) => e.event).filter((t) => t !== 'event_stream_attached');
  const data = (type: string) => events.filter((e) => e.event === type).map((e) => JSON.parse(e.data));

  beforeEach(async function () {
    events.length = 0;
    double = new MarathonDouble({ keepAliveMs: 0 });
    const url = await double.start();
    double.bulkLoad([{ id: APP, healthChecks: [{ protocol: 'HTTP', path: '/health', portIndex: 0 }], tasks: [] }]);
    await new Promise<void>((resolve, reject) => {
      req = http.get(`${url}/v2/events`, { headers: { Accept: 'text/event-stream' } }, (res) => {
        const parser = createParser({ onEvent: (e) => events.push(e) });
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => parser.feed(chunk));
        resolve();
      });
      req.on('error', reject);
    });
    await eventually(() => expect(events.map((e) => e.event)).to.include('event_stream_attached'));
  });

  afterEach(async function () {
    req.destroy();
    await double.stop();
  });

  it('scales up: API call, deployment, STAGING → STARTING → RUNNING; then health, deployment done', async function () {
    const scale = new ScaleEvents(double);
    const { task, deployment } = scale.launch(APP, '127.1.0.1', 45000);
    scale.healthy(task, deployment);
    await eventually(() => expect(types()).to.have.length(12));
    expect(types()).to.deep.equal([
      'api_post_event',
      'deployment_info',
      'status_update_event',
      'instance_changed_event',
      'status_update_event',
      'instance_changed_event',
      'status_update_event',
      'instance_changed_event',
      'health_status_changed_event',
      'instance_health_changed_event',
      'deployment_step_success',
      'deployment_success',
    ]);
    expect(data('status_update_event').map((e) => e.taskStatus)).to.deep.equal([
      'TASK_STAGING',
      'TASK_STARTING',
      'TASK_RUNNING',
    ]);
    const [health] = data('health_status_changed_event');
    expect(health).to.include({ appId: APP, alive: true });
    expect(data('instance_health_changed_event')[0].instanceId).to.equal(health.instanceId);
    expect(data('api_post_event')[0].appDefinition).to.include({ id: APP }).and.not.have.property('tasks');
    for (const type of ['deployment_step_success', 'deployment_success'])
      expect(data(type)[0].plan.steps[0].actions).to.deep.equal([{ action: 'ScaleApplication', app: APP }]);
  });

  it('scales down: API call, deployment, TASK_KILLING; then TASK_KILLED, deployment done', async function () {
    const task = double.addTask(APP, { host: '127.1.0.1', ports: [45000], healthy: true });
    await eventually(() => expect(types()).to.have.length(3));
    events.length = 0;
    const scale = new ScaleEvents(double);
    const { deployment } = scale.kill(APP, task);
    scale.killed(task, deployment);
    await eventually(() => expect(types()).to.have.length(8));
    expect(types()).to.deep.equal([
      'api_post_event',
      'deployment_info',
      'status_update_event',
      'instance_changed_event',
      'status_update_event',
      'instance_changed_event',
      'deployment_step_success',
      'deployment_success',
    ]);
    expect(data('status_update_event').map((e) => e.taskStatus)).to.deep.equal(['TASK_KILLING', 'TASK_KILLED']);
    expect(double.getApp(APP)?.tasks).to.deep.equal([]);
  });
});
