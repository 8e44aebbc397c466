import { expect } from 'chai';
import { RecentEvents, type InstalledParts } from '../../src/http/views/recent-events.js';
import { TargetError, type ApplyResult, type InstallHow } from '../../src/targets/target.js';

const base = { target: 'haproxy', version: 1, ms: 3, stages: {} };

function installed(
  over: { target?: string; version?: number; how?: InstallHow; commands?: string[] } = {},
): ApplyResult {
  return { ...base, kind: 'installed', how: 'reload', commands: [], ...over };
}

/** A target whose installed fragments the test sets. */
function target(name = 'haproxy'): InstalledParts & { parts: string[] | null } {
  return {
    name,
    parts: null,
    installedParts() {
      return this.parts;
    },
  };
}

describe('recent events', () => {
  it('records an install with its services, how it was applied and a diff against the install before', () => {
    const events = new RecentEvents(10, () => 1000);
    const t = target();
    t.parts = ['global\n', 'backend a\n  server s1 10.0.0.1:80\n'];
    events.record([installed({ version: 1 })], ['a'], [t]);
    t.parts = ['global\n', 'backend a\n  server s1 10.0.0.2:80\n'];
    events.record([installed({ version: 2 })], ['a'], [t]);
    const [first, second] = events.since(0);
    expect(first).to.include({ kind: 'install', seq: 1, how: 'reload', hasDiff: false });
    expect(second).to.include({ kind: 'install', seq: 2, target: 'haproxy', version: 2, hasDiff: true });
    expect(second).to.deep.include({ services: ['a'], servicesChanged: 1 });
    const full = events.get(2);
    expect(full?.kind === 'install' && full.diff?.kind === 'diff' && full.diff.text).to.include(
      '-  server s1 10.0.0.1:80\n+  server s1 10.0.0.2:80\n',
    );
    expect(events.get(1)).to.deep.include({
      diff: { kind: 'none', reason: 'the config before was not rendered by this process' },
    });
  });

  it('makes an install’s diff only when it is asked for, and keeps the configs of the newest ten installs for it', () => {
    const events = new RecentEvents(100, () => 1000);
    const t = target();
    for (let v = 1; v <= 13; v++) {
      t.parts = ['global\n', `backend a\n  server s1 10.0.0.${v}:80\n`];
      events.record([installed({ version: v })], ['a'], [t]);
    }
    expect(events.since(0).map((e) => e.kind === 'install' && e.hasDiff)).to.deep.equal([
      ...Array<boolean>(3).fill(false),
      ...Array<boolean>(10).fill(true),
    ]);
    expect(events.get(3)).to.deep.include({
      diff: { kind: 'none', reason: 'not kept: only the newest 10 installs keep their configs for a diff' },
    });
    const asked = events.get(13);
    expect(asked?.kind === 'install' && asked.diff?.kind === 'diff' && asked.diff.text).to.include(
      '-  server s1 10.0.0.12:80\n+  server s1 10.0.0.13:80\n',
    );
    expect(events.get(13)).to.deep.equal(asked);
  });

  it('shows a live update by its commands, without a diff', () => {
    const events = new RecentEvents();
    events.record([installed({ how: 'live', commands: ['set server web/s1 state ready'] })], ['web'], [target()]);
    expect(events.get(1)).to.deep.include({ how: 'live', commands: ['set server web/s1 state ready'], diff: null });
  });

  it('counts a refusal that repeats instead of filling the ring, moving it to the end', () => {
    const events = new RecentEvents(10, () => 5);
    const refused: ApplyResult = { ...base, kind: 'failed', error: new TargetError('validate', 'bad acl') };
    events.record([refused], [], [target()]);
    events.record([installed({ target: 'nginx' })], ['x'], [target('nginx')]);
    events.record([refused], [], [target()]);
    events.record([refused], [], [target()]);
    const list = events.since(0);
    expect(list.map((e) => [e.kind, e.target, e.seq])).to.deep.equal([
      ['install', 'nginx', 2],
      ['refusal', 'haproxy', 4],
    ]);
    expect(list[1]).to.include({ count: 3, stage: 'validate', error: 'bad acl' });
    expect(events.since(2).map((e) => e.seq)).to.deep.equal([4]);
    expect(events.head()).to.equal(4);
  });

  it('keeps only the newest events up to its capacity', () => {
    const events = new RecentEvents(3);
    for (let v = 1; v <= 5; v++) events.record([installed({ version: v })], [`s${v}`], [target()]);
    expect(events.since(0).map((e) => e.version)).to.deep.equal([3, 4, 5]);
    expect(events.get(1)).to.equal(null);
  });

  it('records nothing for a cycle that installed nothing new', () => {
    const events = new RecentEvents();
    events.record([{ ...base, kind: 'unchanged' }], [], [target()]);
    expect(events.since(0)).to.deep.equal([]);
  });
});
