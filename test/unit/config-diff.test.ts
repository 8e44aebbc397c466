import { expect } from 'chai';
import { applyPatch, createTwoFilesPatch } from 'diff';
import { linesOf, piecesDiff } from '../../src/http/views/config-diff.js';

const names = { before: 'a', after: 'b' };
const limits = { maxEdits: 10_000, maxLines: 10_000 };

/** A config of `n` services, one fragment each, between a head and a tail that are not whole lines. */
function config(n: number, edit: (i: number) => string | null = () => null): string[] {
  const parts = ['global\n  maxconn 100\nfrontend http\n  bind :80\n  '];
  for (let i = 0; i < n; i++) {
    const own = edit(i);
    if (own !== '') parts.push(own ?? `acl s${i} path_beg /s${i}\n  use_backend s${i} if s${i}\n  `);
  }
  parts.push('default_backend none\n');
  for (let i = 0; i < n; i++) parts.push(`backend s${i}\n  server a${i} 10.0.0.${i % 250}:80\n`);
  return parts;
}

function patched(before: string[], after: string[]): string | false {
  const out = piecesDiff(before, after, names, limits);
  if (out.kind === 'same') return before.join('');
  if (out.kind !== 'diff') throw new Error(out.kind);
  return applyPatch(before.join(''), out.text);
}

describe('config diff from pieces', () => {
  it('says "same" for equal configs', () => {
    expect(piecesDiff(config(20), config(20), names, limits)).to.deep.equal({ kind: 'same' });
  });

  it('gives a patch that turns the old config into the new, for changes, additions and removals anywhere', () => {
    const before = config(200);
    const cases: ((i: number) => string | null)[] = [
      (i) => (i === 0 ? 'acl changed path_beg /x\n  ' : null),
      (i) => (i === 199 ? '' : null),
      (i) => (i === 57 ? 'acl s57 path_beg /s57\n  acl more path_beg /m\n  use_backend s57 if s57\n  ' : null),
      (i) => (i % 40 === 3 ? '' : i === 100 ? 'acl x path_beg /x\n  ' : null),
      (i) => (i === 10 || i === 12 ? 'acl near path_beg /n\n  ' : null),
    ];
    for (const edit of cases) expect(patched(before, config(200, edit))).to.equal(config(200, edit).join(''));
  });

  it('numbers hunks as a diff of the whole texts does', () => {
    const before = config(50);
    const after = config(50, (i) => (i === 30 ? 'acl s30 path_beg /moved\n  use_backend s30 if s30\n  ' : null));
    const ours = piecesDiff(before, after, names, limits);
    const whole = createTwoFilesPatch('a', 'b', before.join(''), after.join(''), '', '', { context: 3 });
    const hunks = (text: string) => text.split('\n').filter((l) => l.startsWith('@@'));
    expect(ours.kind).to.equal('diff');
    expect(hunks((ours as { text: string }).text)).to.deep.equal(hunks(whole));
  });

  it('works on lines as pieces', () => {
    const a = config(30).join('');
    const b = a.replace('server a7 10.0.0.7:80', 'server a7 10.0.0.8:80 weight 3');
    const out = piecesDiff(linesOf(a), linesOf(b), names, limits);
    expect(out.kind).to.equal('diff');
    expect(applyPatch(a, (out as { text: string }).text)).to.equal(b);
  });

  it('gives up, saying why, past the edit limit', () => {
    const out = piecesDiff(
      config(100),
      config(100, () => 'x\n'),
      names,
      { maxEdits: 10, maxLines: 100 },
    );
    expect(out.kind).to.equal('too-large');
  });

  it('cuts a long diff at the line limit and says so', () => {
    const out = piecesDiff(
      config(100),
      config(100, () => ''),
      names,
      { maxEdits: 10_000, maxLines: 20 },
    );
    expect(out).to.include({ kind: 'diff', truncated: true });
    const text = (out as { text: string }).text;
    expect(text.split('\n')).to.have.length(22);
    expect(text).to.match(/\(diff cut at 20 lines\)\n$/);
  });
});
