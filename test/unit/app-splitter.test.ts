import { expect } from 'chai';
import { AppListError, AppSplitter, type OversizeApp } from '../../src/sources/marathon/app-splitter.js';

/** Feeds the text in pieces of `size` bytes; returns the app texts and the apps too long to take. */
function splitAll(text: string, size: number, maxAppBytes = 1 << 30): { apps: string[]; oversize: OversizeApp[] } {
  const apps: string[] = [];
  const oversize: OversizeApp[] = [];
  const s = new AppSplitter({ onApp: (json) => apps.push(json), onOversize: (app) => oversize.push(app) }, maxAppBytes);
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length; i += size) s.push(bytes.subarray(i, i + size));
  s.end();
  return { apps, oversize };
}

const split = (text: string, size: number): string[] => splitAll(text, size).apps;

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

  it('refuses a second JSON document after the first, naming the byte where it starts', () => {
    const first = '{"apps":[{"id":"/first"}]}';
    for (const size of [1, 5, 100]) {
      expect(() => split(`${first}\n{"apps":[{"id":"/second"}]}`, size), `chunks of ${size}`).to.throw(
        AppListError,
        `data after the end of the JSON document, at byte ${first.length + 1}`,
      );
    }
  });

  it('allows whitespace around the document, and nothing else', () => {
    expect(split(' \r\n{"apps":[{"id":"/a"}]}\n\t ', 3).map((j) => JSON.parse(j).id)).to.deep.equal(['/a']);
    expect(() => split('x{"apps":[]}', 3)).to.throw(AppListError, /not a JSON object/);
    expect(() => split('[{"apps":[]}]', 3)).to.throw(AppListError, /not a JSON object/);
  });

  it('skips an app longer than the limit without keeping its bytes, naming it by position and id', () => {
    const big = { id: '/big', labels: { X: 'x'.repeat(5000) } };
    const text = JSON.stringify({ apps: [{ id: '/a' }, big, { id: '/b' }] });
    for (const size of [1, 7, 64, 100_000]) {
      const { apps, oversize } = splitAll(text, size, 1000);
      expect(
        apps.map((j) => JSON.parse(j).id),
        `chunks of ${size}`,
      ).to.deep.equal(['/a', '/b']);
      expect(oversize, `chunks of ${size}`).to.deep.equal([
        { index: 1, bytes: JSON.stringify(big).length, id: '/big' },
      ]);
    }
  });

  it('takes an app exactly at the limit', () => {
    const app = JSON.stringify({ id: '/a', labels: { X: 'x'.repeat(100) } });
    expect(splitAll(`{"apps":[${app}]}`, 9, app.length).apps).to.deep.equal([app]);
  });
});
