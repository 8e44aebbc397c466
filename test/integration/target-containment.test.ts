// One target's output directory turns read-only under the running daemon
// (a read-only bind mount, for real): that target fails alone and says so on
// /health, while the other target keeps installing every change.

import { expect } from 'chai';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mount, unmount } from '../support/mount.js';
import { startSwitchyard, waitForHealth, type SwitchyardHandle } from '../support/switchyard.js';
import { tempDir } from '../support/tmp.js';
import { eventually } from '../support/wait.js';

const TEMPLATE = '{{#each services}}{{id}}{{#each backends}} {{host}}:{{port}}{{/each}}\n{{/each}}';

function registry(port: number): string {
  return JSON.stringify({ services: [{ id: 'web', backends: [{ host: '127.0.0.1', port }] }] });
}

describe('a target whose install fails is contained', function () {
  this.timeout(30_000);
  let dir: string;
  let sy: SwitchyardHandle | undefined;

  beforeEach(async () => {
    dir = tempDir('target-containment-');
    mkdirSync(join(dir, 'ro'));
    mkdirSync(join(dir, 'rw'));
    writeFileSync(join(dir, 't.hbs'), TEMPLATE);
    writeFileSync(join(dir, 'registry.json'), registry(9000));
    mount('--bind', join(dir, 'ro'), join(dir, 'ro'));
    sy = await startSwitchyard(
      {
        file: { path: 'registry.json' },
        targets: [
          { name: 'stuck', template: 't.hbs', output: 'ro/out.txt' },
          { name: 'fine', template: 't.hbs', output: 'rw/out.txt' },
        ],
        reload: { quietMs: 0, maxDelayMs: 0 },
      },
      dir,
    );
    await waitForHealth(sy, 'ok');
    mount('-o', 'remount,bind,ro', join(dir, 'ro'));
  });

  afterEach(async () => {
    await sy?.stop();
    unmount(join(dir, 'ro'));
  });

  const out = (subdir: 'ro' | 'rw') => readFileSync(join(dir, subdir, 'out.txt'), 'utf8');

  it('fails alone: /health names it with the error, and the other target installs the change', async () => {
    writeFileSync(join(dir, 'registry.json'), registry(9001));
    await waitForHealth(sy!, 'degraded');
    const h = await sy!.health();
    expect(h.body.failing).to.deep.equal(['stuck']);
    const stuck = (h.body.targets as Record<string, { stage: string; lastError: string }>).stuck!;
    expect(stuck.stage).to.equal('install');
    expect(stuck.lastError).to.contain('EROFS');
    // Each target reports as it finishes: the other one's install may still be under way.
    await eventually(() => expect(out('rw')).to.equal('web 127.0.0.1:9001\n'), { timeoutMs: 15_000 });
    expect(out('ro')).to.equal('web 127.0.0.1:9000\n');
  });

  it('keeps installing later changes on the other target while the first stays refused', async () => {
    writeFileSync(join(dir, 'registry.json'), registry(9001));
    await waitForHealth(sy!, 'degraded');
    writeFileSync(join(dir, 'registry.json'), registry(9002));
    await eventually(() => expect(out('rw')).to.equal('web 127.0.0.1:9002\n'), { timeoutMs: 15_000 });
    expect(out('ro')).to.equal('web 127.0.0.1:9000\n');
  });
});
