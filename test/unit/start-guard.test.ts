import { expect } from 'chai';
import type { Service, Snapshot } from '../../src/state/model.js';
import { StartGuard } from '../../src/state/start-guard.js';

const view = (counts: Record<string, number>): Snapshot => ({
  version: 1,
  rules: [],
  services: Object.entries(counts).map(
    ([id, n]) => ({ id, backends: Array.from({ length: n }, (_, i) => ({ id: `${id}-${i}` })) }) as unknown as Service,
  ),
});

describe('the drop guard at start', () => {
  let now = 0;
  const guard = (baseline: Record<string, number>) =>
    new StartGuard(new Map(Object.entries(baseline)), { maxDrop: 0.5, holdMs: 60_000 }, () => now);
  beforeEach(() => (now = 1_000_000));

  it('holds a first view that takes most backends of an installed service', () => {
    const held = guard({ web: 4, api: 2 }).judge(view({ api: 2 }));
    expect(held).to.deep.equal([{ id: 'web', since: now, until: now + 60_000, from: 4, to: 0 }]);
  });

  it('lets through a view that keeps enough of each installed service, new services or not', () => {
    expect(guard({ web: 4 }).judge(view({ web: 2, shop: 3 }))).to.deep.equal([]);
  });

  it('keeps the hold time of the first held view while later views are judged', () => {
    const g = guard({ web: 4 });
    g.judge(view({}));
    now += 10_000;
    expect(g.judge(view({ web: 1 }))[0]).to.include({ since: 1_000_000, to: 1 });
  });

  it('has nothing more to say once a view passed', () => {
    const g = guard({ web: 4 });
    expect(g.judge(view({ web: 4 }))).to.deep.equal([]);
    expect(g.judge(view({}))).to.deep.equal([]);
  });

  it('lets the view through once the hold time has passed', () => {
    const g = guard({ web: 4 });
    g.judge(view({}));
    now += 60_000;
    expect(g.judge(view({}))).to.deep.equal([]);
    expect(g.holds()).to.deep.equal([]);
  });

  it('releases the services an operator names, and all without names', () => {
    const g = guard({ web: 4, api: 4 });
    g.judge(view({}));
    expect(g.release(['web'])).to.deep.equal(['web']);
    expect(g.judge(view({})).map((h) => h.id)).to.deep.equal(['api']);
    expect(g.release()).to.deep.equal(['api']);
    expect(g.judge(view({}))).to.deep.equal([]);
  });
});
