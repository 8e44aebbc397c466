// Checks the Marathon test double against Marathon's documented wire behaviour, so
// the product's own tests can trust it. Clients here are plain node:http plus a real
// SSE parser, the way the product talks to Marathon.

import { expect } from 'chai';
import http from 'node:http';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { MarathonDouble } from '../support/marathon-double.js';
import type {
  ApiPostEvent,
  AppListResponse,
  AppResponse,
  DeploymentInfo,
  DeploymentStepSuccessEvent,
  DeploymentSuccessEvent,
  ErrorResponse,
  EventStreamAttachedEvent,
  HealthStatusChangedEvent,
  InstanceChangedEvent,
  LeaderResponse,
  MarathonEventType,
  MarathonInfo,
  StatusUpdateEvent,
  TaskListResponse,
} from '../support/marathon-types.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const KEEP_ALIVE_MS = 100;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(url: string, headers: http.OutgoingHttpHeaders = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

function json<T>(answer: Answer): T {
  return JSON.parse(answer.body) as T;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** An event-stream consumer that keeps both the raw bytes and the parsed events. */
class StreamClient {
  readonly events: EventSourceMessage[] = [];
  raw = '';
  /** 'end' for a clean EOF, an Error when the connection broke. */
  readonly ended: Promise<'end' | Error>;

  private constructor(
    readonly response: http.IncomingMessage,
    private readonly req: http.ClientRequest,
  ) {
    const parser = createParser({ onEvent: (event) => this.events.push(event) });
    response.setEncoding('utf8');
    this.ended = new Promise((resolve) => {
      response.on('data', (chunk: string) => {
        this.raw += chunk;
        parser.feed(chunk);
      });
      // With a close-delimited body Node reports a reset on the request and may still
      // end the response, so the request's error must win the race.
      req.on('error', (error) => resolve(error));
      response.on('end', () => resolve('end'));
      response.on('error', (error) => resolve(error));
      response.on('close', () => resolve(new Error('closed before the end of the body')));
    });
  }

  static open(url: string, headers: http.OutgoingHttpHeaders = { Accept: 'text/event-stream' }): Promise<StreamClient> {
    return new Promise((resolve, reject) => {
      const req = http.get(url, { headers, agent: false }, (response) => resolve(new StreamClient(response, req)));
      req.on('error', reject);
    });
  }

  types(): string[] {
    return this.events.map((event) => event.event ?? 'message');
  }

  data<T>(type: MarathonEventType, nth = 0): T {
    const matching = this.events.filter((event) => event.event === type);
    const event = matching[nth];
    if (event === undefined) throw new Error(`no ${type} #${nth} received`);
    return JSON.parse(event.data) as T;
  }

  close(): void {
    this.req.destroy();
  }
}

describe('MarathonDouble', function () {
  let double: MarathonDouble;
  let base: string;
  const clients: StreamClient[] = [];

  async function openStream(path = '/v2/events', url = base): Promise<StreamClient> {
    const client = await StreamClient.open(url + path);
    clients.push(client);
    return client;
  }

  beforeEach(async function () {
    double = new MarathonDouble({ keepAliveMs: KEEP_ALIVE_MS });
    base = await double.start();
  });

  afterEach(async function () {
    for (const client of clients.splice(0)) client.close();
    await double.stop();
  });

  describe('REST', function () {
    it('lists apps with Marathon defaults and counts, and tasks only with embed=apps.tasks', async function () {
      double.addApp({
        id: '/shop/web',
        instances: 2,
        ports: [0, 10555],
        labels: { HAPROXY_GROUP: 'external' },
        env: { MODE: 'prod' },
        healthChecks: [{ protocol: 'HTTP', path: '/health' }],
      });
      const taskId = double.addTask('/shop/web', { host: '10.0.0.5', healthy: true });

      for (const path of ['/v2/apps', '/v2/apps?embed=apps.counts', '/v2/apps?embed=apps.unknown']) {
        const plain = json<AppListResponse>(await request(base + path));
        expect(plain.apps, path).to.have.length(1);
        expect(plain.apps[0]?.tasks, path).to.equal(undefined);
      }
      const listed = json<AppListResponse>(await request(`${base}/v2/apps?embed=apps.tasks`));
      const app = listed.apps[0];
      if (app === undefined) throw new Error('no app listed');
      expect(app).to.include({
        id: '/shop/web',
        instances: 2,
        tasksStaged: 0,
        tasksRunning: 1,
        tasksHealthy: 1,
        tasksUnhealthy: 0,
        cmd: null,
        cpus: 1,
        mem: 128,
        requirePorts: false,
      });
      expect(app.labels).to.deep.equal({ HAPROXY_GROUP: 'external' });
      expect(app.env).to.deep.equal({ MODE: 'prod' });
      expect(app.ports).to.deep.equal([10000, 10555]);
      expect(app.portDefinitions).to.deep.equal([
        { port: 10000, protocol: 'tcp', labels: {} },
        { port: 10555, protocol: 'tcp', labels: {} },
      ]);
      expect(app.healthChecks[0]).to.include({
        protocol: 'HTTP',
        path: '/health',
        portIndex: 0,
        gracePeriodSeconds: 300,
        intervalSeconds: 60,
        timeoutSeconds: 20,
        maxConsecutiveFailures: 3,
      });
      expect(app.version).to.match(ISO);
      expect(app.versionInfo).to.deep.equal({ lastScalingAt: app.version, lastConfigChangeAt: app.version });
      expect(app.deployments).to.deep.equal([]);

      const task = app.tasks?.[0];
      if (task === undefined) throw new Error('no task embedded');
      expect(task.id)
        .to.equal(taskId)
        .and.match(/^shop_web\.[0-9a-f-]{36}$/);
      expect(task).to.include({ appId: '/shop/web', host: '10.0.0.5', state: 'TASK_RUNNING', version: app.version });
      expect(task.ports).to.deep.equal([31000, 31001]);
      expect(task.servicePorts).to.deep.equal([10000, 10555]);
      expect(task.ipAddresses).to.deep.equal([{ ipAddress: '10.0.0.5', protocol: 'IPv4' }]);
      expect(task.slaveId).to.match(/-S0$/);
      expect(task.stagedAt).to.match(ISO);
      expect(task.startedAt).to.match(ISO);
      const result = task.healthCheckResults?.[0];
      expect(result).to.include({ alive: true, consecutiveFailures: 0, lastFailure: null, taskId });
      expect(result?.firstSuccess).to.match(ISO);
      expect(result?.lastSuccess).to.match(ISO);
      expect(result?.instanceId).to.match(/^shop_web\.marathon-[0-9a-f-]{36}$/);
    });

    it('serves one app under a nested id with its tasks, and 404s like Marathon', async function () {
      double.addApp({ id: 'shop/web' });
      double.addTask('/shop/web', { host: 'agent-1.example' });

      const shown = await request(`${base}/v2/apps/shop/web?embed=app.tasks`);
      expect(shown.status).to.equal(200);
      const { app } = json<AppResponse>(shown);
      expect(app.id).to.equal('/shop/web');
      expect(app.tasks).to.have.length(1);
      expect(app.tasks?.[0]?.ipAddresses).to.deep.equal([]);
      expect(app.tasksRunning).to.equal(1);

      const tasks = json<TaskListResponse>(await request(`${base}/v2/apps/shop/web/tasks`));
      expect(tasks.tasks.map((t) => t.host)).to.deep.equal(['agent-1.example']);

      for (const [path, id] of [
        ['/v2/apps/nope', '/nope'],
        ['/v2/apps/shop', '/shop'],
      ] as const) {
        const missing = await request(base + path);
        expect(missing.status, path).to.equal(404);
        expect(json<ErrorResponse>(missing)).to.deep.equal({ message: `App '${id}' does not exist` });
      }
    });

    it('gives bridge-networked Docker apps service ports through container.docker.portMappings', async function () {
      double.addApp({
        id: '/db',
        container: {
          type: 'DOCKER',
          docker: { image: 'postgres', network: 'BRIDGE', portMappings: [{ containerPort: 5432, hostPort: 0 }] },
        },
      });
      double.addTask('/db', { host: '10.0.0.7' });
      const { app } = json<AppResponse>(await request(`${base}/v2/apps/db`));
      expect(app.container?.docker?.portMappings?.[0]).to.include({ containerPort: 5432, servicePort: 10000 });
      expect(app.portDefinitions).to.deep.equal([]);
      expect(app.tasks?.[0]?.servicePorts).to.deep.equal([10000]);
      expect(app.tasks?.[0]?.ports).to.have.length(1);
    });

    it('answers /ping, /v2/info and /v2/leader as the elected leader', async function () {
      const hostPort = new URL(base).host;
      const ping = await request(`${base}/ping`);
      expect(ping.body).to.equal('pong\n');
      const info = json<MarathonInfo>(await request(`${base}/v2/info`));
      expect(info).to.include({ name: 'marathon', elected: true, leader: hostPort });
      expect(json<LeaderResponse>(await request(`${base}/v2/leader`))).to.deep.equal({ leader: hostPort });
      expect((await request(`${base}/v2/apps`)).headers['x-marathon-leader']).to.equal(base);
    });
  });

  describe('event stream', function () {
    it('frames events like Jetty: unchunked, CRLF lines, event_stream_attached first', async function () {
      const client = await openStream();
      expect(client.response.statusCode).to.equal(200);
      expect(client.response.headers['content-type']).to.equal('text/event-stream;charset=utf-8');
      expect(client.response.headers['transfer-encoding']).to.equal(undefined);
      expect(client.response.headers['connection']).to.equal('close');
      await until(() => client.events.length > 0, 'the attach event');
      expect(client.types()[0]).to.equal('event_stream_attached');
      expect(client.raw).to.match(/^event: event_stream_attached\r\ndata: \{.*\}\r\n\r\n/);
      const attached = client.data<EventStreamAttachedEvent>('event_stream_attached');
      expect(attached).to.include({ eventType: 'event_stream_attached', remoteAddress: '127.0.0.1' });
      expect(attached.timestamp).to.match(ISO);
    });

    it('publishes the events Marathon publishes for app and task changes, in order', async function () {
      const client = await openStream();
      await until(() => client.events.length === 1, 'the attach event');

      double.addApp({ id: '/web', healthChecks: [{ protocol: 'HTTP' }] });
      const first = double.addTask('/web', { host: '10.0.0.1', healthy: true });
      const second = double.addTask('/web', { host: '10.0.0.2' });
      double.setTaskHealth(first, false);
      double.setTaskHealth(first, false); // unchanged: Marathon stays silent
      double.killTask(first, { killing: true });
      double.removeApp('/web');
      await until(
        () => client.types().at(-1) === 'deployment_success' && client.types().includes('app_terminated_event'),
        'removal',
      );

      expect(client.types()).to.deep.equal([
        'event_stream_attached',
        'api_post_event',
        'deployment_info',
        'deployment_success',
        'status_update_event', // first task running
        'instance_changed_event',
        'health_status_changed_event',
        'status_update_event', // second task running
        'instance_changed_event',
        'health_status_changed_event', // first task turns unhealthy
        'status_update_event', // TASK_KILLING
        'instance_changed_event',
        'status_update_event', // TASK_KILLED
        'instance_changed_event',
        'deployment_info', // StopApplication
        'status_update_event', // second task killed by the removal
        'instance_changed_event',
        'app_terminated_event',
        'deployment_success',
      ]);
      for (const event of client.events) expect(JSON.parse(event.data).eventType).to.equal(event.event);

      const posted = client.data<ApiPostEvent>('api_post_event');
      expect(posted).to.include({ clientIp: '127.0.0.1', uri: '/v2/apps' });
      expect(posted.appDefinition.id).to.equal('/web');
      const deployed = client.data<DeploymentSuccessEvent>('deployment_success');
      expect(deployed.plan.steps).to.deep.equal([{ actions: [{ action: 'StartApplication', app: '/web' }] }]);
      expect(deployed.plan.target.apps.map((a) => a.id)).to.deep.equal(['/web']);

      const running = client.data<StatusUpdateEvent>('status_update_event');
      expect(Object.keys(running).sort()).to.deep.equal([
        'appId',
        'eventType',
        'host',
        'ipAddresses',
        'message',
        'ports',
        'slaveId',
        'taskId',
        'taskStatus',
        'timestamp',
        'version',
      ]);
      expect(running).to.include({
        taskId: first,
        taskStatus: 'TASK_RUNNING',
        appId: '/web',
        host: '10.0.0.1',
        message: '',
      });
      expect([1, 2, 3].map((n) => client.data<StatusUpdateEvent>('status_update_event', n).taskStatus)).to.deep.equal([
        'TASK_RUNNING',
        'TASK_KILLING',
        'TASK_KILLED',
      ]);
      expect(client.data<StatusUpdateEvent>('status_update_event', 4)).to.include({
        taskId: second,
        taskStatus: 'TASK_KILLED',
      });

      const healthy = client.data<HealthStatusChangedEvent>('health_status_changed_event');
      expect(healthy).to.include({ appId: '/web', taskId: first, alive: true });
      expect(healthy.instanceId).to.match(/^web\.marathon-/);
      expect(client.data<HealthStatusChangedEvent>('health_status_changed_event', 1).alive).to.equal(false);
      expect(client.data<InstanceChangedEvent>('instance_changed_event')).to.include({
        condition: 'Running',
        runSpecId: '/web',
        host: '10.0.0.1',
      });
    });

    it('delivers only the types named by repeated event_type parameters', async function () {
      const client = await openStream('/v2/events?event_type=status_update_event&event_type=app_terminated_event');
      await until(() => double.streamCount() === 1, 'the stream to attach');
      double.addApp({ id: '/api' });
      double.addTask('/api', { host: '10.0.0.3' });
      double.removeApp('/api');
      await until(() => client.events.length === 3, 'three events');
      await sleep(50);
      expect(client.types()).to.deep.equal(['status_update_event', 'status_update_event', 'app_terminated_event']);
    });

    it('refuses a stream request without Accept: text/event-stream', async function () {
      const refused = await request(`${base}/v2/events`, { Accept: 'application/json' });
      expect(refused.status).to.equal(405);
      expect(double.streamCount()).to.equal(0);
    });

    it('keeps an idle stream alive with bare CRLF lines that parsers dispatch nothing for', async function () {
      const client = await openStream();
      await until(() => client.events.length === 1, 'the attach event');
      const mark = client.raw.length;
      await sleep(KEEP_ALIVE_MS * 3.5);
      const idle = client.raw.slice(mark);
      expect(idle).to.match(/^(\r\n)+$/);
      expect(idle.length / 2).to.be.at.least(2);
      expect(client.events).to.have.length(1);
    });

    it('stalls attached streams completely while later streams keep working', async function () {
      const stalled = await openStream();
      await until(() => stalled.events.length === 1, 'the attach event');
      double.stallStreams(true);
      const mark = stalled.raw.length;

      const fresh = await openStream();
      await until(() => fresh.types().includes('event_stream_attached'), 'the second stream');
      double.addApp({ id: '/during-stall' });
      await until(() => fresh.types().includes('deployment_success'), 'events on the fresh stream');
      await sleep(KEEP_ALIVE_MS * 3);
      expect(stalled.raw.length).to.equal(mark);
      expect(double.streamCount()).to.equal(2);

      double.stallStreams(false);
      await until(() => stalled.raw.length > mark, 'heartbeats after the stall');
      double.addApp({ id: '/after-stall' });
      await until(() => stalled.types().includes('api_post_event'), 'events after the stall');
      expect(stalled.data<ApiPostEvent>('api_post_event').appDefinition.id).to.equal('/after-stall');
    });

    it('drops streams with a TCP reset, or a FIN that looks like a clean end', async function () {
      const reset = await openStream();
      await until(() => double.streamCount() === 1, 'the first stream');
      double.dropStreams();
      expect(await reset.ended).to.be.instanceOf(Error);

      const closed = await openStream();
      await until(() => double.streamCount() === 1, 'the second stream');
      double.dropStreams('close');
      expect(await closed.ended).to.equal('end');
      expect(double.streamCount()).to.equal(0);
    });
  });

  describe('faults and leadership', function () {
    it('fails requests with a status or a reset until cleared, counting every request', async function () {
      double.failRequests(503);
      const failed = await request(`${base}/v2/apps`);
      expect(failed.status).to.equal(503);
      expect(json<ErrorResponse>(failed)).to.deep.equal({ message: 'Service Unavailable' });

      double.failRequests('reset');
      const error = await request(`${base}/v2/apps`).then(
        () => null,
        (e: NodeJS.ErrnoException) => e,
      );
      expect(error?.code).to.equal('ECONNRESET');

      double.failRequests(null);
      expect((await request(`${base}/v2/apps?embed=apps.tasks`)).status).to.equal(200);
      expect(double.requestCount('/v2/apps')).to.equal(3);
      expect(double.requestCount('/v2/apps?embed=apps.tasks')).to.equal(1);
      double.resetRequestCounts();
      expect(double.requestCount('/v2/apps')).to.equal(0);
    });

    it('during an election answers 503, 404 from /v2/leader, and closes streams', async function () {
      const client = await openStream();
      await until(() => double.streamCount() === 1, 'the stream');
      double.setLeader(null);
      expect(await client.ended).to.equal('end');

      const leader = await request(`${base}/v2/leader`);
      expect(leader.status).to.equal(404);
      expect(json<ErrorResponse>(leader)).to.deep.equal({ message: 'There is no leader' });
      const apps = await request(`${base}/v2/apps`);
      expect(apps.status).to.equal(503);
      expect(json<ErrorResponse>(apps)).to.deep.equal({ message: 'Could not determine the current leader' });
      expect((await request(`${base}/v2/events`, { Accept: 'text/event-stream' })).status).to.equal(503);
      expect((await request(`${base}/ping`)).status).to.equal(200);

      double.setLeader(base);
      expect((await request(`${base}/v2/apps`)).status).to.equal(200);
    });

    it('as a standby proxies REST calls to the leader and redirects the event stream', async function () {
      const standby = new MarathonDouble({ leader: false, keepAliveMs: KEEP_ALIVE_MS });
      const standbyUrl = await standby.start();
      try {
        expect((await request(`${standbyUrl}/v2/leader`)).status).to.equal(404);
        expect((await request(`${standbyUrl}/v2/apps`)).status).to.equal(503);

        double.addApp({ id: '/on-leader' });
        standby.setLeader(base);
        expect(json<LeaderResponse>(await request(`${standbyUrl}/v2/leader`))).to.deep.equal({
          leader: new URL(base).host,
        });
        const proxied = await request(`${standbyUrl}/v2/apps?embed=apps.tasks`);
        expect(proxied.status).to.equal(200);
        expect(proxied.headers['x-marathon-leader']).to.equal(base);
        expect(json<AppListResponse>(proxied).apps.map((a) => a.id)).to.deep.equal(['/on-leader']);
        expect(double.requestCount('/v2/apps?embed=apps.tasks')).to.equal(1);

        const redirected = await request(`${standbyUrl}/v2/events?event_type=status_update_event`, {
          Accept: 'text/event-stream',
        });
        expect(redirected.status).to.equal(302);
        expect(redirected.headers.location).to.equal(`${base}/v2/events?event_type=status_update_event`);
      } finally {
        await standby.stop();
      }
    });

    it('requires HTTP Basic credentials when configured', async function () {
      const secured = new MarathonDouble({ user: 'marathon', password: 's3cret', keepAliveMs: KEEP_ALIVE_MS });
      const securedUrl = await secured.start();
      const basic = (user: string, password: string): string =>
        `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
      try {
        const anonymous = await request(`${securedUrl}/v2/apps`);
        expect(anonymous.status).to.equal(401);
        expect(anonymous.headers['www-authenticate']).to.equal('Basic realm="Mesosphere"');
        expect((await request(`${securedUrl}/v2/apps`, { Authorization: basic('marathon', 'wrong') })).status).to.equal(
          401,
        );
        expect(
          (await request(`${securedUrl}/v2/apps`, { Authorization: basic('marathon', 's3cret') })).status,
        ).to.equal(200);

        const stream = await StreamClient.open(`${securedUrl}/v2/events`, {
          Accept: 'text/event-stream',
          Authorization: basic('marathon', 's3cret'),
        });
        clients.push(stream);
        await until(() => stream.types().includes('event_stream_attached'), 'an authenticated stream');
      } finally {
        await secured.stop();
      }
    });
  });

  describe('observation hooks', function () {
    it('reports each event with its hrtime through on("event") and lastEventAt()', async function () {
      const seen: Array<{ type: string; at: bigint }> = [];
      double.on('event', (type, _data, at) => seen.push({ type, at }));
      expect(double.lastEventAt()).to.equal(null);

      double.addApp({ id: '/hooked' });
      expect(seen.map((s) => s.type)).to.deep.equal(['api_post_event', 'deployment_info', 'deployment_success']);
      expect(seen[0]!.at <= seen[1]!.at && seen[1]!.at <= seen[2]!.at).to.equal(true);
      const last = double.lastEventAt();
      expect(last).to.equal(seen[2]!.at);

      // Stream lifecycle events are not cluster changes: they leave lastEventAt alone.
      await openStream();
      await until(() => seen.some((s) => s.type === 'event_stream_attached'), 'the attach event');
      expect(double.lastEventAt()).to.equal(last);
    });
  });

  describe('traffic counts', function () {
    it('counts the bytes it serves, bodies and headers, on open and closed connections, from the last reset', async function () {
      double.addApp({ id: '/counted' });
      await request(`${base}/v2/apps?embed=apps.tasks`);
      const first = double.bytesServed();
      const answer = await request(`${base}/v2/apps?embed=apps.tasks`);
      expect(double.bytesServed() - first).to.be.greaterThan(Buffer.byteLength(answer.body));
      double.resetRequestCounts();
      expect(double.bytesServed()).to.equal(0);
      await openStream();
      await until(() => double.bytesServed() > 0, 'the stream’s first bytes');
      expect(double.requestCount('/v2/events')).to.equal(1);
    });
  });

  describe('deployments with readiness checks', function () {
    const READY = { portDefinitions: [{ port: 0, name: 'http-api' }], readinessChecks: [{ path: '/ready' }] };

    /** /web with one old task, and a held restart with one new task; returns the ids. */
    function deploying(check: object = {}): { deployment: string; old: string; fresh: string } {
      double.addApp({ id: '/web', ...READY, readinessChecks: [{ path: '/ready', ...check }] });
      const old = double.addTask('/web', { host: '10.0.0.1' });
      const deployment = double.deployApp('/web', { env: { RELEASE: '2' } });
      const fresh = double.addTask('/web', { host: '10.0.0.2' });
      return { deployment, old, fresh };
    }

    it("fills in a readiness check's defaults as Marathon does", async function () {
      double.addApp({ id: '/web', ...READY });
      const { app } = json<AppResponse>(await request(`${base}/v2/apps/web`));
      expect(app.readinessChecks).to.deep.equal([
        {
          name: 'readinessCheck',
          protocol: 'HTTP',
          path: '/ready',
          portName: 'http-api',
          intervalSeconds: 30,
          timeoutSeconds: 10,
          httpStatusCodesForReady: [200],
          preserveLastResponse: false,
        },
      ]);
    });

    it('lists a running deployment under the app, in every list and single-app answer', async function () {
      const { deployment } = deploying();
      const listed = json<AppListResponse>(await request(`${base}/v2/apps`));
      expect(listed.apps[0]!.deployments).to.deep.equal([{ id: deployment }]);
      const { app } = json<AppResponse>(await request(`${base}/v2/apps/web`));
      expect(app.deployments).to.deep.equal([{ id: deployment }]);
    });

    it('lists readiness results only with embed=apps.readiness (app.readiness for one app)', async function () {
      const { fresh } = deploying();
      double.setTaskReadiness(fresh, false);
      const result = { name: 'readinessCheck', taskId: fresh, ready: false };
      const embedded = json<AppListResponse>(await request(`${base}/v2/apps?embed=apps.tasks&embed=apps.readiness`));
      expect(embedded.apps[0]!.readinessCheckResults).to.deep.equal([result]);
      const plain = json<AppListResponse>(await request(`${base}/v2/apps?embed=apps.tasks`));
      expect(plain.apps[0]).to.not.have.property('readinessCheckResults');
      const one = json<AppResponse>(await request(`${base}/v2/apps/web?embed=app.tasks&embed=app.readiness`));
      expect(one.app.readinessCheckResults).to.deep.equal([result]);
      expect(json<AppResponse>(await request(`${base}/v2/apps/web`)).app).to.not.have.property('readinessCheckResults');
    });

    it('lists no result for a task before its first check, and the latest one after', async function () {
      const { fresh } = deploying();
      const url = `${base}/v2/apps/web?embed=app.readiness`;
      expect(json<AppResponse>(await request(url)).app.readinessCheckResults).to.deep.equal([]);
      double.setTaskReadiness(fresh, false);
      double.setTaskReadiness(fresh, true);
      expect(json<AppResponse>(await request(url)).app.readinessCheckResults).to.deep.equal([
        { name: 'readinessCheck', taskId: fresh, ready: true },
      ]);
    });

    it('gives the new task the version deployed, the old one keeping its own', async function () {
      const { old, fresh } = deploying();
      const { app } = json<AppResponse>(await request(`${base}/v2/apps/web`));
      const version = (id: string) => app.tasks!.find((t) => t.id === id)!.version;
      expect(version(fresh)).to.equal(app.version);
      expect(version(old)).to.not.equal(app.version);
    });

    it('refuses a result for a task the deployment did not start: Marathon checks only the version deployed', function () {
      const { old } = deploying();
      expect(() => double.setTaskReadiness(old, true)).to.throw('not a running task of the version deployed');
    });

    it("keeps the check's last response only with preserveLastResponse", async function () {
      const { fresh } = deploying({ preserveLastResponse: true });
      double.setTaskReadiness(fresh, false, { status: 503, contentType: 'application/json', body: '{"warm":false}' });
      const { app } = json<AppResponse>(await request(`${base}/v2/apps/web?embed=app.readiness`));
      expect(app.readinessCheckResults).to.deep.equal([
        {
          name: 'readinessCheck',
          taskId: fresh,
          ready: false,
          lastResponse: { status: 503, contentType: 'application/json', body: '{"warm":false}' },
        },
      ]);
    });

    it('shows the running deployment on /v2/deployments with its current actions and their results', async function () {
      const { deployment, fresh } = deploying();
      double.setTaskReadiness(fresh, false);
      const [info, ...others] = json<DeploymentInfo[]>(await request(`${base}/v2/deployments`));
      expect(others).to.deep.equal([]);
      expect(info).to.deep.include({ id: deployment, affectedApps: ['/web'], currentStep: 1, totalSteps: 1 });
      expect(info!.currentActions).to.deep.equal([
        {
          action: 'RestartApplication',
          app: '/web',
          readinessCheckResults: [{ name: 'readinessCheck', taskId: fresh, ready: false }],
        },
      ]);
    });

    it('refuses another change to the app while its deployment runs, as Marathon does without force', function () {
      deploying();
      expect(() => double.updateApp('/web', { instances: 2 })).to.throw('locked by one or more deployments');
    });

    it('publishes deployment_info at the start, and deployment_step_success then deployment_success at the end', async function () {
      const client = await openStream();
      await until(() => client.events.length === 1, 'the attach event');
      const { deployment } = deploying();
      double.finishDeployment(deployment);
      await until(() => client.types().filter((t) => t === 'deployment_success').length === 2, 'the end');
      const types = client.types().filter((t) => t.startsWith('deployment_'));
      // addApp's own deployment first, finishing at once.
      expect(types).to.deep.equal([
        'deployment_info',
        'deployment_success',
        'deployment_info',
        'deployment_step_success',
        'deployment_success',
      ]);
      const step = client.data<DeploymentStepSuccessEvent>('deployment_step_success');
      expect(step.plan.id).to.equal(deployment);
      expect(step.currentStep).to.deep.equal({ actions: [{ action: 'RestartApplication', app: '/web' }] });
    });

    it('lists neither the deployment nor its results once it has finished', async function () {
      const { deployment, fresh } = deploying();
      double.setTaskReadiness(fresh, true);
      double.finishDeployment(deployment);
      const { app } = json<AppResponse>(await request(`${base}/v2/apps/web?embed=app.readiness`));
      expect(app.deployments).to.deep.equal([]);
      expect(app.readinessCheckResults).to.deep.equal([]);
      expect(json<DeploymentInfo[]>(await request(`${base}/v2/deployments`))).to.deep.equal([]);
    });
  });

  describe('scale', function () {
    // Speed is the benches' to show (machines here are noisy); this pins what the cache serves.
    it('bulk-loads 10,000 apps × 5 tasks silently and serves the same answer until an app changes', async function () {
      const apps = Array.from({ length: 10_000 }, (_, i) => ({
        id: `/team-${i % 50}/svc-${i}`,
        labels: { HAPROXY_GROUP: 'external', HAPROXY_0_VHOST: `svc-${i}.example.com` },
        healthChecks: [{ protocol: 'HTTP' as const, path: '/health' }],
        tasks: Array.from({ length: 5 }, (_, t) => ({ host: `10.1.${t}.${i % 250}`, healthy: true })),
      }));
      let events = 0;
      double.on('event', () => (events += 1));
      double.bulkLoad(apps);
      expect(events).to.equal(0);

      const cold = await request(`${base}/v2/apps?embed=apps.tasks`);
      const listed = json<AppListResponse>(cold);
      expect(listed.apps).to.have.length(10_000);
      expect(listed.apps.every((app) => app.tasks?.length === 5)).to.equal(true);

      const warm = await request(`${base}/v2/apps?embed=apps.tasks`);
      expect(warm.body === cold.body).to.equal(true);

      double.updateApp('/team-7/svc-7', { instances: 3 });
      const changed = json<AppListResponse>(await request(`${base}/v2/apps?embed=apps.tasks`));
      expect(changed.apps.find((app) => app.id === '/team-7/svc-7')?.instances).to.equal(3);
    });
  });
});
