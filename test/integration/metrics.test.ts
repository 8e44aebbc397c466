import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpGet } from '../support/http.js';
import { startSwitchyard, waitForHealth, type SwitchyardHandle } from '../support/switchyard.js';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';

/** The value of one sample of /metrics, by its name and labels as printed (`name{a="b"}`), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

// What Prometheus scrapes must tell the same story as /health.
describe('metrics that match /health', function () {
  this.timeout(30_000);
  let dir: string;
  let sy: SwitchyardHandle;
  const metrics = async () => (await httpGet(`${sy.url}/metrics`)).body;

  before(async () => {
    dir = tempDir('metrics-');
    writeFileSync(
      join(dir, 't.hbs'),
      '{{#each services}}{{id}}{{#each backends}} {{host}}:{{port}}{{/each}}\n{{/each}}',
    );
    writeFileSync(
      join(dir, 'registry.json'),
      JSON.stringify({
        services: [
          { id: 'web', backends: [{ host: '127.0.0.1', port: 31001 }] },
          { id: 'bad', backends: [{ host: '127.0.0.1', port: 99999 }] },
        ],
      }),
    );
    sy = await startSwitchyard(
      { file: { path: 'registry.json' }, targets: [{ name: 'edge', template: 't.hbs', output: 'edge.cfg' }] },
      dir,
    );
    await waitForHealth(sy, 'ok');
  });

  after(() => sy?.stop());

  it('says which Switchyard and Node.js run', async () => {
    expect(await metrics()).to.match(/^switchyard_build_info\{version="\d+\.\d+\.\d+",nodejs="v\d+[^"]*"\} 1$/m);
  });

  it("carries Node's process metrics under their standard names", async () => {
    const text = await metrics();
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds'])
      expect(text).to.match(new RegExp(`^${name} `, 'm'));
  });

  it('gives the last success of each target and the last complete view of each source as timestamps', async () => {
    const text = await metrics();
    const now = Date.now() / 1000;
    expect(sample(text, 'switchyard_target_last_success_timestamp_seconds{target="edge"}')).to.be.within(now - 60, now);
    expect(sample(text, 'switchyard_source_last_sync_timestamp_seconds{source="file"}')).to.be.within(now - 60, now);
  });

  it('counts the registry entries a source refused', async () => {
    expect(sample(await metrics(), 'switchyard_source_rejected_entries{source="file"}')).to.equal(1);
  });

  it('sets target_up to 0 when a template edit is refused, as /health names the target', async () => {
    expect(sample(await metrics(), 'switchyard_target_up{target="edge"}')).to.equal(1);
    writeFileSync(join(dir, 't.hbs'), '{{#each services}}{{id}}\n');
    await eventually(async () => expect((await sy.health()).body.failing).to.deep.equal(['edge']), {
      message: '/health never named the target',
    });
    // Scrapes close together share one walk of the state: the next fresh one says 0.
    await eventually(async () => expect(sample(await metrics(), 'switchyard_target_up{target="edge"}')).to.equal(0));
  });

  it('keeps target_up at 0 while registry changes install through the previous template', async () => {
    const installs = sy.nextInstall('edge');
    writeFileSync(
      join(dir, 'registry.json'),
      JSON.stringify({ services: [{ id: 'web', backends: [{ host: '127.0.0.1', port: 31002 }] }] }),
    );
    await installs;
    expect((await sy.health()).body.failing).to.deep.equal(['edge']);
    await eventually(async () => expect(sample(await metrics(), 'switchyard_target_up{target="edge"}')).to.equal(0));
  });
});
