import { expect } from 'chai';
import { replacedAt } from '../../src/state/replaced.js';

const svc = (id: string) => ({ id });

describe('services replaced between two lists', () => {
  it('are the positions holding another object of the same id', () => {
    const before = [svc('a'), svc('b'), svc('c')];
    expect(replacedAt(before, [before[0]!, svc('b'), before[2]!])).to.deep.equal([1]);
  });

  it('are none when every object is the same', () => {
    const before = [svc('a'), svc('b')];
    expect(replacedAt(before, [...before])).to.deep.equal([]);
  });

  it('cannot be told when a service was added or removed', () => {
    const before = [svc('a'), svc('b')];
    expect(replacedAt(before, [before[0]!])).to.equal(null);
    expect(replacedAt(before, [before[0]!, svc('c')])).to.equal(null);
  });

  it('are not worth telling past the limit', () => {
    const before = [svc('a'), svc('b'), svc('c')];
    expect(
      replacedAt(
        before,
        before.map((s) => svc(s.id)),
        2,
      ),
    ).to.equal(null);
  });
});
