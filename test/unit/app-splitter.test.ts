import { expect } from 'chai';
import { AppListError, AppSplitter } from '../../src/sources/marathon/app-splitter.js';

/** Feeds the text in pieces of `size` bytes; returns the app texts. */
function split(text: string, size: number): string[] {
  const apps: string[] = [];
  const s = new AppSplitter((json) => apps.push(json));
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length; i += size) s.push(bytes.subarray(i, i + size));
  s.end();
  return apps;
}

describe('app list splitter', () => {
  const body = JSON.stringify({
    apps: [
      {
        id: '/a',
        labels: { X: 'brace } and [ bracket', Q: 'quote " and \\\\ backslash' },
        tasks: [{ id: 't1', ports: [1, 2] }],
      },
      { id: '/ü/é', env: { K: '{"nested":"json"}' }, tasks: [] },
    ],
  });

  it('gives each app as its own JSON text, whatever the chunk size', () => {
    for (const size of [1, 2, 3, 7, 64, 100_000]) {
      expect(
        split(body, size).map((j) => JSON.parse(j)),
        `chunks of ${size}`,
      ).to.deep.equal(JSON.parse(body).apps);
    }
  });

  it('tells escaped quotes from closing ones across any chunk boundary, whatever the run of backslashes', () => {
    const tricky = ['\\', '\\"', '"\\', '\\\\"}', 'a\\\\\\"]{', '\\"\\"\\'];
    const text = JSON.stringify({
      apps: tricky.map((v, i) => ({ id: `/t${i}`, labels: { [v]: v }, env: { K: `${v}}` } })),
    });
    for (let size = 1; size <= text.length; size++) {
      expect(
        split(text, size).map((j) => JSON.parse(j)),
        `chunks of ${size}`,
      ).to.deep.equal(JSON.parse(text).apps);
    }
  });

  it('ignores other keys of the top-level object, arrays included', () => {
    const apps = split(JSON.stringify({ version: '1', other: [{ id: '/nope' }], apps: [{ id: '/yes' }], more: {} }), 5);
    expect(apps.map((j) => JSON.parse(j).id)).to.deep.equal(['/yes']);
  });

  it('says so when the answer has no apps array', () => {
    expect(() => split('{"message":"Could not determine the current leader"}', 8)).to.throw(AppListError, /no "apps"/);
  });

  it('says so when the answer stops half-way', () => {
    expect(() => split(body.slice(0, body.length / 2), 8)).to.throw(AppListError, /middle/);
  });
});
