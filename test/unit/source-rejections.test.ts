import { expect } from 'chai';
import { MAX_REJECTIONS, SourceHealth } from '../../src/sources/source.js';

describe("a source's refused values", () => {
  it('lists each place once, newest first, counting repeats', () => {
    let now = 1;
    const health = new SourceHealth('marathon', () => now);
    health.rejected({ where: '/a', field: 'labels.HAPROXY_0_PORT', value: 'x', expected: 'a port 1-65535' });
    now = 2;
    health.rejected({ where: '/b', field: 'id', value: 7, expected: 'a string' });
    now = 3;
    health.rejected({ where: '/a', field: 'labels.HAPROXY_0_PORT', value: 'x', expected: 'a port 1-65535' });
    expect(health.status().rejections).to.deep.equal([
      {
        where: '/a',
        field: 'labels.HAPROXY_0_PORT',
        reason: 'bad labels.HAPROXY_0_PORT "x": expected a port 1-65535',
        lastAt: 3,
        count: 2,
      },
      { where: '/b', field: 'id', reason: 'bad id 7: expected a string', lastAt: 2, count: 1 },
    ]);
  });

  it(`keeps the last ${MAX_REJECTIONS} places`, () => {
    const health = new SourceHealth('file');
    for (let i = 0; i < MAX_REJECTIONS + 10; i++)
      health.rejected({ where: `/s${i}`, field: 'port', value: -i, expected: 'a port' });
    const list = health.status().rejections;
    expect(list).to.have.length(MAX_REJECTIONS);
    expect(list[0]!.where).to.equal(`/s${MAX_REJECTIONS + 9}`);
    expect(list.at(-1)!.where).to.equal('/s10');
  });

  it('quotes a place or field that is not one plain line, so it cannot pass for another', () => {
    const health = new SourceHealth('zookeeper');
    health.rejected({ where: '/nerve/a\nb', field: 'x\u2028y', value: 1, expected: 'a string' });
    const [r] = health.status().rejections;
    expect(r).to.include({ where: '"/nerve/a\\nb"', field: JSON.stringify('x\u2028y') });
  });
});
