// One target's output directory is read-only (a read-only bind mount, for
// real): that target fails alone and says so on /health, keeping the config
// installed there, while the other target installs every change.

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
    // Read-only before the daemon starts, with a config installed there earlier: nothing holds a file open on it.
    writeFileSync(join(dir, 'ro', 'out.txt'), 'web 127.0.0.1:8999\n');
    mount('--bind', join(dir, 'ro'), join(dir, 'ro'));
    mount('-o', 'remount,bind,ro', join(dir, 'ro'));
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
  });

  afterEach(async () => {
    await sy?.stop();
    unmount(join(dir, 'ro'));
  });

  const out = (subdir: 'ro' | 'rw') => readFileSync(join(dir, subdir, 'out.txt'), 'utf8');

  it('fails alone: /health names it with the error, and the other target installs', async () => {
    await waitForHealth(sy!, 'degraded');
    const h = await sy!.health();
    expect(h.body.failing).to.deep.equal(['stuck']);
    const stuck = (h.body.targets as Record<string, { stage: string; lastError: string }>).stuck!;
    expect(stuck.stage).to.equal('install');
    expect(stuck.lastError).to.contain('EROFS');
    // Each target reports as it finishes: the other one's install may still be under way.
    await eventually(() => expect(out('rw')).to.equal('web 127.0.0.1:9000\n'), { timeoutMs: 15_000 });
    expect(out('ro')).to.equal('web 127.0.0.1:8999\n');
  });

  it('keeps installing later changes on the other target while the first stays refused', async () => {
    await waitForHealth(sy!, 'degraded');
    writeFileSync(join(dir, 'registry.json'), registry(9001));
    await eventually(() => expect(out('rw')).to.equal('web 127.0.0.1:9001\n'), { timeoutMs: 15_000 });
    expect((await sy!.health()).body.failing).to.deep.equal(['stuck']);
    expect(out('ro')).to.equal('web 127.0.0.1:8999\n');
  });
});
