import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { APP_EMBEDS } from '../../src/sources/marathon/client.js';
import { MarathonDouble } from '../support/marathon-double.js';
import { freePort } from '../support/ports.js';
import { startSwitchyard, waitForHealth, type SwitchyardHandle } from '../support/switchyard.js';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';

// How Switchyard reaches Marathon over HTTP: credentials, failover across
// endpoints, the request timeout, redirects. Switchyard runs in process
// against the Marathon double and, where the double cannot misbehave so,
// small servers written here.

/** A template that lists each service with its backends, one line per service. */
const TEMPLATE = '{{#each services}}{{id}}{{#each backends}} {{host}}:{{port}}{{/each}}\n{{/each}}';

interface Started {
  sy: SwitchyardHandle;
  output: string;
}

async function switchyardFor(marathon: Record<string, unknown>, prefix: string): Promise<Started> {
  const dir = tempDir(prefix);
  writeFileSync(join(dir, 'services.hbs'), TEMPLATE);
  const output = join(dir, 'services.txt');
  const sy = await startSwitchyard(
    {
      marathon: { pollIntervalMs: 60_000, requestTimeoutMs: 1000, streamIdleTimeoutMs: 5000, ...marathon },
      targets: [{ name: 'list', template: 'services.hbs', output }],
      reload: { quietMs: 0, maxDelayMs: 0 },
    },
    dir,
  );
  return { sy, output };
}

const served = (output: string): string => {
  try {
    return readFileSync(output, 'utf8');
  } catch {
    return '';
  }
};

/** A server on 127.0.0.1 that answers every request with `handle`; resolves to its base URL. */
async function serve(handle: Parameters<typeof createServer>[1], servers: Server[]): Promise<string> {
  const server = createServer(handle);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('Marathon transport: credentials, failover, timeouts and redirects', function () {
  this.timeout(30_000);
  const stops: Array<() => Promise<void>> = [];
  const servers: Server[] = [];

  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  it('sends HTTP Basic credentials with the app list, single-app fetches and the event stream', async () => {
    const marathon = new MarathonDouble({ user: 'marathon', password: 's3cret', keepAliveMs: 500 });
    const url = await marathon.start();
    stops.push(() => marathon.stop());
    marathon.addApp({ id: '/web', ports: [0] });
    marathon.addTask('/web', { host: '127.0.0.1', ports: [31001] });
    const { sy, output } = await switchyardFor({ endpoints: [url], user: 'marathon', password: 's3cret' }, 'auth-');
    stops.push(() => sy.stop());
    await waitForHealth(sy, 'ok');
    expect(served(output)).to.contain('/web 127.0.0.1:31001');

    // A new app arrives as an event and is fetched on its own.
    marathon.addApp({ id: '/api', ports: [0] });
    marathon.addTask('/api', { host: '127.0.0.1', ports: [31002] });
    await eventually(() => expect(served(output)).to.contain('/api 127.0.0.1:31002'));
    expect(marathon.requestCount(`/v2/apps/api?${APP_EMBEDS}`)).to.be.greaterThan(0);
    expect((await sy.health()).body.sources).to.have.nested.property('marathon.detail.eventStream', 'connected');
  });

  it('names the credentials on /health when Marathon refuses them', async () => {
    const marathon = new MarathonDouble({ user: 'marathon', password: 's3cret' });
    const url = await marathon.start();
    stops.push(() => marathon.stop());
    const { sy } = await switchyardFor({ endpoints: [url], user: 'marathon', password: 'wrong' }, 'auth-bad-');
    stops.push(() => sy.stop());
    await eventually(async () => {
      const h = await sy.health();
      expect(h.status).to.equal(503);
      expect(JSON.stringify(h.body.sources)).to.match(/HTTP 401 \(check marathon\.user and marathon\.password\)/);
    });
  });

  it('fails over past an endpoint that refuses connections and one that never answers', async () => {
    const refusing = `http://127.0.0.1:${await freePort()}`;
    const silent = await serve(() => undefined, servers);
    const marathon = new MarathonDouble({ keepAliveMs: 500 });
    const url = await marathon.start();
    stops.push(() => marathon.stop());
    marathon.addApp({ id: '/web', ports: [0] });
    marathon.addTask('/web', { host: '127.0.0.1', ports: [31001] });
    const { sy, output } = await switchyardFor(
      { endpoints: [refusing, silent, url], requestTimeoutMs: 300 },
      'failover-',
    );
    stops.push(() => sy.stop());
    await waitForHealth(sy, 'ok');
    expect(served(output)).to.contain('/web 127.0.0.1:31001');
    expect((await sy.health()).body.sources).to.have.nested.property('marathon.detail.endpoint', url);
  });

  it('reports the request timeout on /health when no endpoint answers in time', async () => {
    const silent = await serve(() => undefined, servers);
    const { sy } = await switchyardFor({ endpoints: [silent], requestTimeoutMs: 300 }, 'timeout-');
    stops.push(() => sy.stop());
    await eventually(async () => {
      const h = await sy.health();
      expect(h.body.status).to.equal('starting');
      expect(JSON.stringify(h.body.sources)).to.contain('ETIMEDOUT no answer within 300 ms');
    });
  });

  it('follows a redirect of the event stream, without the credentials when it leads outside marathon.endpoints', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const elsewhere = await serve((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write(
        'event: event_stream_attached\r\ndata: {"remoteAddress":"127.0.0.1","eventType":"event_stream_attached"}\r\n\r\n',
      );
    }, servers);
    const redirecting = await serve((req, res) => {
      if (req.url!.startsWith('/v2/events')) {
        res.writeHead(302, { Location: `${elsewhere}${req.url}` }).end();
      } else {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"apps":[]}');
      }
    }, servers);
    const { sy } = await switchyardFor({ endpoints: [redirecting], user: 'marathon', password: 's3cret' }, 'redirect-');
    stops.push(() => sy.stop());
    await waitForHealth(sy, 'ok');
    expect((await sy.health()).body.sources).to.have.nested.property('marathon.detail.eventStream', 'connected');
    expect(seen).to.have.length.greaterThan(0);
    expect(seen[0]).to.include({ accept: 'text/event-stream' });
    expect(seen[0]).not.to.have.property('authorization');
  });
});
