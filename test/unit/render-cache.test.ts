import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TargetConfig } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import { RenderCache } from '../../src/render/cache.js';
import { templateData } from '../../src/render/data.js';
import type { Service, Snapshot } from '../../src/state/model.js';
import { shellExec } from '../../src/targets/exec.js';
import { Target } from '../../src/targets/target.js';
import { backend, service } from './fixtures.js';

// The contract of a target's render cache, in the shape the repository's
// default config runs: a HAProxy and an nginx target, each with its own
// cache, and a read of the state (as GET /api/state does) between events.
// The bytes would be right with no cache at all; these specs pin the speed.

const templates = join(process.cwd(), 'templates');

function defaultTargets(): Target[] {
  const dir = mkdtempSync(join(tmpdir(), 'sy-cache-'));
  return (['haproxy.cfg.hbs', 'nginx.conf.hbs'] as const).map((file, i) => {
    const config: TargetConfig = {
      name: file.split('.')[0]!,
      template: join(templates, file),
      output: join(dir, `out-${i}`, file.replace('.hbs', '')),
      validate: '',
      reload: '',
      runtimeApi: '',
      vars: { bind: '127.0.0.1', httpPort: 8080 + i },
    };
    return new Target(config, { exec: shellExec, log: silentLogger(), commandTimeoutMs: 5000, cwd: dir });
  });
}

const app = (i: number, port = 31000): Service =>
  service(`/app-${String(i).padStart(3, '0')}`, [backend(`t${i}a`, port), backend(`t${i}b`, port + 1)], {
    source: 'marathon',
    vhosts: [`app-${i}.example.com`],
    servicePort: 10000 + i,
  });

const snapshot = (version: number, services: Service[]): Snapshot => ({ version, services, rules: [] });

async function applyAll(targets: Target[], s: Snapshot): Promise<void> {
  for (const t of targets) {
    const r = await t.apply(s);
    if (r.kind === 'failed') throw new Error(`${r.target}: ${r.error.message}`);
  }
}

/** Both targets applied to 20 services, then a state read, as a monitor does. */
async function warmed(): Promise<{ targets: Target[]; services: Service[] }> {
  const targets = defaultTargets();
  for (const t of targets) await t.init();
  const services = Array.from({ length: 20 }, (_, i) => app(i));
  await applyAll(targets, snapshot(1, services));
  templateData(snapshot(1, services), {});
  return { targets, services };
}

describe('render cache of a target', () => {
  it('re-renders exactly one item per cached loop after one service changes', async () => {
    const { targets, services } = await warmed();
    const next = services.map((s, i) => (i === 7 ? app(7, 32000) : s));
    await applyAll(targets, snapshot(2, next));
    for (const t of targets) {
      const misses = t.cacheStats().lastRender;
      expect(
        misses.every((m) => m <= 1),
        `${t.name}: ${misses.join(',')}`,
      ).to.equal(true);
      expect(misses.filter((m) => m === 1).length, `${t.name}: ${misses.join(',')}`).to.be.at.least(3);
    }
  });

  it('re-renders nothing when nothing changed, whatever read the state in between', async () => {
    const { targets, services } = await warmed();
    templateData(snapshot(2, services), {});
    await applyAll(targets, snapshot(2, services));
    for (const t of targets)
      expect(
        t.cacheStats().lastRender.every((m) => m === 0),
        t.name,
      ).to.equal(true);
  });

  it('keeps each target’s views apart: applying both in turn never misses a view of an unchanged service', async () => {
    const { targets, services } = await warmed();
    const before = targets.map((t) => t.cacheStats().viewMisses);
    const next = services.map((s, i) => (i === 3 ? app(3, 33000) : s));
    await applyAll(targets, snapshot(2, next));
    expect(targets.map((t, i) => t.cacheStats().viewMisses - before[i]!)).to.deep.equal([1, 1]);
  });

  it('counts its hits and misses', async () => {
    const { targets } = await warmed();
    const c = targets[0]!.cacheStats();
    expect(c.viewMisses).to.equal(20);
    expect(c.fragmentMisses).to.be.greaterThan(0);
    expect(c.fragmentHits).to.equal(0);
  });
});

describe('template data without a cache', () => {
  it('leaves a target’s cache untouched: a state read costs the next render no miss', async () => {
    const { targets, services } = await warmed();
    const before = targets.map((t) => t.cacheStats());
    templateData(snapshot(1, services), {});
    await applyAll(targets, snapshot(2, services));
    targets.forEach((t, i) => {
      expect(t.cacheStats().viewMisses).to.equal(before[i]!.viewMisses);
      expect(t.cacheStats().fragmentMisses).to.equal(before[i]!.fragmentMisses);
    });
  });
});

describe('interned views', () => {
  it('give an unchanged virtual host and its routes the object the previous render saw', () => {
    const cache = new RenderCache();
    const services = [app(1), app(2)];
    const a = templateData(snapshot(1, services), {}, { cache }).virtualHosts;
    cache.endRender();
    const b = templateData(snapshot(2, [services[0]!, app(2, 39000)]), {}, { cache }).virtualHosts;
    expect(b[0]).to.equal(a[0]);
    expect(b[1]).to.not.equal(a[1]);
  });

  it('give an unchanged Bamboo app the object the previous render saw', () => {
    const cache = new RenderCache();
    const services = [app(1), app(2)];
    const a = templateData(snapshot(1, services), {}, { cache }).apps;
    cache.endRender();
    const b = templateData(snapshot(2, [services[0]!, app(2, 39000)]), {}, { cache }).apps;
    expect(b[0]).to.equal(a[0]);
    expect(b[1]).to.not.equal(a[1]);
  });

  it('forget what a render no longer reads', () => {
    const cache = new RenderCache();
    const one = app(1);
    const a = templateData(snapshot(1, [one]), {}, { cache }).virtualHosts[0];
    cache.endRender();
    void templateData(snapshot(2, [app(2)]), {}, { cache }).virtualHosts;
    cache.endRender();
    expect(templateData(snapshot(3, [one]), {}, { cache }).virtualHosts[0]).to.not.equal(a);
  });
});
