// The render trial as the daemon runs it: the built worker entry in a thread of its own
// (from dist/, as tsx does not reach into worker threads).
import { expect } from 'chai';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTemplate } from '../../src/render/template.js';
import { trialRender, type TrialRequest } from '../../src/render/trial.js';
import type { Snapshot } from '../../src/state/model.js';
import { startSwitchyard, waitForHealth } from '../support/switchyard.js';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';
import { backend, service } from '../unit/fixtures.js';

const snapshot: Snapshot = {
  version: 7,
  services: Array.from({ length: 300 }, (_, i) => service(`svc-${i}`, [backend(`b${i}`, 10_000 + i)])),
  rules: [],
};
const NESTED = (depth: number, body: string) =>
  Array.from({ length: depth }, (_, i) => `{{#each ${'../'.repeat(i)}services}}`).join('') +
  body +
  '{{/each}}'.repeat(depth);

async function request(
  template: string,
  budgetMs = 2000,
  partials: Record<string, string> = {},
): Promise<TrialRequest> {
  const dir = tempDir('render-trial-');
  mkdirSync(join(dir, 'partials'));
  for (const [name, text] of Object.entries(partials)) writeFileSync(join(dir, 'partials', `${name}.hbs`), text);
  writeFileSync(join(dir, 't.hbs'), template);
  const compiled = await loadTemplate(join(dir, 't.hbs'), { budgetMs });
  return { file: compiled.file, texts: compiled.texts, budgetMs, snapshot, vars: {}, slots: new Map() };
}

describe('render trial in a worker thread', () => {
  it('passes a template that renders within its budget', async () => {
    const outcome = await trialRender(
      await request('{{#each services}}{{id}} {{> row}}\n{{/each}}', 2000, {
        row: '{{#each backends}}{{port}}{{/each}}',
      }),
      256,
    );
    expect(outcome.kind).to.equal('passed');
  });

  it('refuses a template whose loops blow up at render.budgetMs, naming the limit and the file', async () => {
    const r = await request(NESTED(4, 'x'), 500);
    const outcome = await trialRender(r, 256);
    expect(outcome).to.include({ kind: 'refused', limit: 'render.budgetMs' });
    expect(outcome.kind === 'refused' && outcome.message).to.equal(
      `${r.file}: render stopped after 500 ms (render.budgetMs): the template loops over more than it can finish in time`,
    );
  });

  it('refuses a template that builds more than render.trialHeapMb holds, and the process lives on', async () => {
    const outcome = await trialRender(await request(NESTED(3, '{{../../id}}{{../id}}{{id}}{{vars}}'), 60_000), 64);
    expect(outcome).to.include({ kind: 'refused', limit: 'render.trialHeapMb' });
    expect(outcome.kind === 'refused' && outcome.message).to.match(
      /render stopped past 64 MB of heap \(render\.trialHeapMb\)/,
    );
  });

  it('passes a template whose render fails fast: the main thread reports that failure itself', async () => {
    const outcome = await trialRender(await request('{{> missing}}'), 256);
    expect(outcome.kind).to.equal('passed');
  });

  it('renders the version it is given, not what the file holds by then', async () => {
    const r = await request('{{#each services}}{{id}}{{/each}}', 500);
    writeFileSync(r.file, NESTED(4, 'x'));
    expect((await trialRender(r, 256)).kind).to.equal('passed');
  });
});

describe('render trials in the daemon', function () {
  this.timeout(30_000);

  it('tries each template version once: registry changes render on the main thread, an edit is tried again', async () => {
    const dir = tempDir('render-trial-daemon-');
    writeFileSync(join(dir, 'registry.json'), JSON.stringify({ services: [{ id: 'web', backends: [] }] }));
    writeFileSync(join(dir, 't.hbs'), '{{#each services}}{{id}}\n{{/each}}');
    const sy = await startSwitchyard(
      {
        file: { path: 'registry.json' },
        targets: [{ name: 'list', template: 't.hbs', output: 'out.txt' }],
        reload: { quietMs: 0, maxDelayMs: 0 },
      },
      dir,
      { captureLogs: true },
    );
    const trials = () => sy.logs.filter((e) => e.message === 'render trial passed').length;
    const out = () => readFileSync(join(dir, 'out.txt'), 'utf8');
    try {
      await waitForHealth(sy, 'ok');
      for (const id of ['api', 'db']) {
        writeFileSync(join(dir, 'registry.json'), JSON.stringify({ services: [{ id, backends: [] }] }));
        await eventually(() => expect(out()).to.equal(`${id}\n`));
      }
      expect(trials()).to.equal(1);
      writeFileSync(join(dir, 't.hbs'), '{{#each services}}{{id}};\n{{/each}}');
      await eventually(() => expect(out()).to.equal('db;\n'));
      expect(trials()).to.equal(2);
    } finally {
      await sy.stop();
    }
  });
});

describe('render trials across a restart', function () {
  this.timeout(30_000);
  const config = {
    file: { path: 'registry.json' },
    targets: [{ name: 'list', template: 't.hbs', output: 'out.txt' }],
    reload: { quietMs: 0, maxDelayMs: 0 },
  };
  let dir: string;

  /** Starts a daemon on `dir` until its first cycle is done; how many render trials it ran. */
  async function run(): Promise<number> {
    const sy = await startSwitchyard(config, dir, { captureLogs: true });
    try {
      // ok once the first cycle ran; stopping waits for its install record.
      await waitForHealth(sy, 'ok');
      return sy.logs.filter((e) => e.message === 'render trial passed').length;
    } finally {
      await sy.stop();
    }
  }

  beforeEach(() => {
    dir = tempDir('render-trial-restart-');
    writeFileSync(join(dir, 'registry.json'), JSON.stringify({ services: [{ id: 'web', backends: [] }] }));
    writeFileSync(join(dir, 't.hbs'), '{{#each services}}{{id}}\n{{/each}}');
  });

  it('runs no trial for the template version the last install on this host was rendered from', async () => {
    expect(await run()).to.equal(1);
    expect(await run()).to.equal(0);
  });

  it('tries a template edited while the daemon was stopped', async () => {
    expect(await run()).to.equal(1);
    writeFileSync(join(dir, 't.hbs'), '{{#each services}}{{id}};\n{{/each}}');
    expect(await run()).to.equal(1);
  });
});
