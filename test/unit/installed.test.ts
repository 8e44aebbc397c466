import { expect } from 'chai';
import { Installed } from '../../src/targets/installed.js';

// The installed bytes are built from the previous install's bytes wherever a
// fragment is unchanged; whatever the change, they must be exactly the
// fragments' text, encoded.

const frags = (n: number, tag = '') => Array.from({ length: n }, (_, i) => `backend b${i}${tag}\n    server é${i}\n`);
const bytesOf = (fragments: readonly string[]) => Buffer.from(fragments.join(''));

describe('installed config', () => {
  it('holds the bytes of its fragments when there was nothing before', () => {
    const f = frags(5);
    expect(Installed.fromFragments(f, null).bytes.equals(bytesOf(f))).to.equal(true);
  });

  it('holds the right bytes after fragments in the middle changed, with other byte lengths', () => {
    const f = frags(8);
    const first = Installed.fromFragments(f, null);
    const next = f.map((x, i) => (i === 2 ? `${x}    server ünïcode\n` : i === 5 ? 'x' : x));
    expect(Installed.fromFragments(next, first).bytes.equals(bytesOf(next))).to.equal(true);
  });

  it('holds the right bytes when the number of fragments changed', () => {
    const first = Installed.fromFragments(frags(8), null);
    const next = [...frags(3), 'new\n', ...frags(8).slice(3)];
    expect(Installed.fromFragments(next, first).bytes.equals(bytesOf(next))).to.equal(true);
  });

  it('holds the right bytes after a file read from disk', () => {
    const next = frags(4, '-new');
    expect(Installed.fromFragments(next, Installed.fromText('old text')).bytes.equals(bytesOf(next))).to.equal(true);
  });

  it('keeps the fragments it was built from, and none for a file read from disk', () => {
    const f = frags(3);
    expect(Installed.fromFragments(f, null).fragments).to.equal(f);
    expect(Installed.fromText('x').fragments).to.equal(null);
    expect(Installed.fromText('x\n').text()).to.equal('x\n');
  });
});
