import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { appJson, encodeApp } from '../../src/sources/fleet/app-node.js';
import { appKey, fleetLayout } from '../../src/sources/fleet/layout.js';
import { fleetSettings } from '../../src/sources/fleet/settings.js';
import { encodeView, type ViewRecord } from '../../src/sources/fleet/view-node.js';
import { appServices, toAppRecord } from '../../src/sources/marathon/apps.js';
import type { MarathonApp } from '../../src/sources/marathon/types.js';
import { EPHEMERAL_SEQUENTIAL, ZkError, ZkSession } from '../../src/sources/zookeeper/client.js';
import type { Service } from '../../src/state/model.js';
import { startSwitchyard, type SwitchyardHandle } from '../support/switchyard.js';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';
import { startZookeeper, type ZookeeperHandle } from '../support/zookeeper.js';

const FLEET = '/fleet-view';
const layout = fleetLayout(FLEET);

/** The services the Marathon source makes of an app with these tasks (host:port) and env: what a leader publishes. */
function services(id: string, tasks: string[], env: Record<string, string> = {}): Service[] {
  const app = toAppRecord(
    {
      id,
      env,
      labels: {},
      portDefinitions: [{ port: 0 }],
      tasks: tasks.map((t, i) => {
        const [host, port] = t.split(':');
        return { id: `${id.slice(1)}.t${i}`, host, ports: [Number(port)], state: 'TASK_RUNNING' };
      }),
    } as unknown as MarathonApp,
    () => {},
  )!;
  return appServices(app, '*', () => {});
}

// A Switchyard follower (in this process) reading a view that the spec writes
// itself, as a leader would, znode by znode: what it renders and when.
describe('fleet: a follower renders only what the published view has committed', function () {
  this.timeout(60_000);
  let zk: ZookeeperHandle;
  let leader: ZkSession;
  let sy: SwitchyardHandle;
  let output: string;
  let view: ViewRecord;
  let viewStat: number;

  const writeApp = async (id: string, list: Service[], v: number, partBytes = 500_000) => {
    for (const z of encodeApp(appKey(id), appJson(list), v, partBytes).znodes) {
      const path = `${layout.apps}/${z.name}`;
      try {
        await leader.create(path, z.data);
      } catch (e) {
        if (!(e instanceof ZkError && e.code === 'NODE_EXISTS')) throw e;
        await leader.setData(path, z.data, -1);
      }
    }
  };
  const writeView = async (patch: Partial<ViewRecord>) => {
    view = { ...view, ...patch, heartbeat: view.heartbeat + 1 };
    viewStat = await leader.setData(layout.view, encodeView(view), viewStat);
  };
  const rendered = () => readFileSync(output, 'utf8');
  const detail = async () => {
    const h = await sy.health();
    return (h.body.sources as Record<string, { detail: Record<string, unknown> }>).marathon!.detail;
  };
  /** Waits until the follower has read the view at this heartbeat and holds `pending` apps back. */
  const settled = (pending: number) =>
    eventually(async () => {
      const d = await detail();
      expect(d.pending, 'apps held back').to.equal(pending);
      expect((await sy.health()).body.fleet).to.include({ version: view.version });
    });

  before(async () => {
    zk = await startZookeeper();
    leader = new ZkSession(zk.connect, { sessionTimeoutMs: 5000 }, silentLogger());
    leader.acquire();
    await eventually(() => expect(leader.isConnected()).to.equal(true));
    await leader.mkdirp(layout.members);
    await leader.mkdirp(layout.apps);
    // The spec's own member comes first in line, so the Switchyard under test follows it.
    const member = (await leader.create(`${layout.members}/m-spec-`, Buffer.from('{}'), EPHEMERAL_SEQUENTIAL))
      .split('/')
      .pop()!;
    const dir = tempDir('fleet-view-');
    output = join(dir, 'out.txt');
    writeFileSync(
      join(dir, 'out.hbs'),
      '{{#each services}}service {{id}}:{{#each backends}} {{host}}:{{port}}{{/each}}\n{{/each}}' +
        '{{#each apps}}app {{id}}:{{#each tasks}} {{host}}:{{port}}{{/each}}\n{{/each}}',
    );
    const raw = {
      marathon: { endpoints: ['http://127.0.0.1:9'] },
      zookeeper: { connect: zk.connect, sessionTimeoutMs: 3000 },
      fleet: { path: FLEET, maxAgeMs: 1000 },
      targets: [{ name: 'out', template: 'out.hbs', output: 'out.txt' }],
      reload: { quietMs: 0, maxDelayMs: 0 },
    };
    view = {
      version: 1,
      epoch: 'spec',
      syncVersion: 1,
      leader: member,
      leaderId: 'the spec',
      settings: fleetSettings(parseConfig(raw, dir).marathon!),
      heartbeat: 1,
      members: 2,
      apps: 1,
    };
    await writeApp('/a', services('/a', ['10.0.0.1:31000']), 1);
    await leader.transaction([
      { op: 'create', path: layout.view, data: encodeView(view) },
      { op: 'set', path: layout.view, data: encodeView(view), version: -1 },
    ]);
    viewStat = 1;
    sy = await startSwitchyard(raw, dir, { captureLogs: true });
    await eventually(() => expect(rendered()).to.include('service /a'));
  });

  after(async () => {
    await sy?.stop();
    await leader?.release();
    await zk?.stop();
  });

  it('renders the committed view, the Bamboo apps view included, and follows the spec as leader', async () => {
    expect(rendered()).to.equal('service /a: 10.0.0.1:31000\napp /a: 10.0.0.1:31000\n');
    expect((await sy.health()).body.fleet).to.include({ role: 'follower', leader: 'the spec', version: 1 });
  });

  it('holds back an app written in a version the view has not committed, and renders it once committed', async () => {
    await writeApp('/a', services('/a', ['10.0.0.1:31000', '10.0.0.2:31000']), 2);
    await writeView({});
    await settled(1);
    expect(rendered()).to.equal('service /a: 10.0.0.1:31000\napp /a: 10.0.0.1:31000\n');
    await writeView({ version: 2 });
    await eventually(() => expect(rendered()).to.include('service /a: 10.0.0.1:31000 10.0.0.2:31000\n'));
  });

  it('renders an app past ZooKeeper’s 1 MB limit from its parts, and holds it while its parts are being rewritten', async () => {
    const env = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`BIG_${i}`, 'x'.repeat(4000)]));
    await writeApp('/big', services('/big', ['10.0.0.3:31000'], env), 3);
    await writeView({ version: 3, apps: 2 });
    await eventually(() => expect(rendered()).to.include('service /big: 10.0.0.3:31000\n'));
    // A newer update has written the parts, not yet the head: the digest does not match.
    const next = encodeApp(appKey('/big'), appJson(services('/big', ['10.0.0.4:31000'], env)), 4, 500_000).znodes;
    expect(next.length).to.equal(3);
    for (const z of next.slice(0, -1)) await leader.setData(`${layout.apps}/${z.name}`, z.data, -1);
    await writeView({});
    await settled(1);
    expect(rendered()).to.include('service /big: 10.0.0.3:31000\n');
    await leader.setData(`${layout.apps}/${next[2]!.name}`, next[2]!.data, -1);
    await writeView({ version: 4 });
    await eventually(() => expect(rendered()).to.include('service /big: 10.0.0.4:31000\n'));
  });

  it('skips an app whose published services fail the checks, naming its znode, and renders the rest', async () => {
    const evil = services('/evil', ['10.0.0.5:31000']).map((s) => ({
      ...s,
      backends: s.backends.map((b) => ({ ...b, host: '10.0.0.5:1\n    server x 6.6.6.6' })),
    }));
    await writeApp('/evil', evil, 5);
    await writeApp('/a', services('/a', ['10.0.0.1:31000']), 5);
    await writeView({ version: 5, apps: 3 });
    await eventually(() => expect(rendered()).to.include('service /a: 10.0.0.1:31000\n'));
    expect(rendered()).not.to.include('evil');
    const skipped = sy.logs.find((l) => l.message === 'fleet app skipped');
    expect(skipped?.znode).to.equal(`${layout.apps}/%2Fevil`);
    expect(String(skipped?.reason)).to.match(/^bad 0\.backends\.0\.host .*: expected a host name or IP address$/);
  });

  it('is degraded once the leader has not confirmed the view for fleet.maxAgeMs, and well at its next heartbeat', async () => {
    const marathon = async () =>
      ((await sy.health()).body.sources as Record<string, { healthy: boolean; lastError: string | null }>).marathon!;
    await eventually(async () => expect((await marathon()).lastError).to.match(/^fleet view not confirmed for/));
    expect((await sy.health()).status).to.equal(503);
    await writeView({});
    await eventually(async () => expect((await marathon()).healthy).to.equal(true));
  });

  it('removes an app when the version that no longer has it is committed, in the same transaction as its removal', async () => {
    await writeApp('/gone', services('/gone', ['10.0.0.6:31000']), 6);
    await writeView({ version: 6 });
    await eventually(() => expect(rendered()).to.include('service /gone'));
    view = { ...view, version: 7, heartbeat: view.heartbeat + 1 };
    const [, version] = await leader.transaction([
      { op: 'remove', path: `${layout.apps}/%2Fgone`, version: -1 },
      { op: 'set', path: layout.view, data: encodeView(view), version: viewStat },
    ]);
    viewStat = version!;
    await eventually(() => expect(rendered()).not.to.include('service /gone'));
  });

  it('removes nothing for a head znode that goes without a new version', async () => {
    await leader.remove(`${layout.apps}/%2Fevil`, -1);
    await leader.remove(`${layout.apps}/%2Fa`, -1);
    await writeView({});
    await settled(1);
    expect(rendered()).to.include('service /a: 10.0.0.1:31000\n');
  });

  it('empties nothing when the view is deleted apps and all, keeping its last view', async () => {
    await leader.transaction([
      ...['%2Fbig', '%2Fbig#1', '%2Fbig#2'].map((n) => ({
        op: 'remove' as const,
        path: `${layout.apps}/${n}`,
        version: -1,
      })),
      { op: 'remove', path: layout.view, version: -1 },
    ]);
    await eventually(async () => {
      const h = await sy.health();
      const marathon = (h.body.sources as Record<string, { lastError: string | null }>).marathon!;
      expect(marathon.lastError).to.include('no fleet view');
    });
    expect(rendered()).to.include('service /a: 10.0.0.1:31000\n');
  });
});
