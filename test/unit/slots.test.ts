import { expect } from 'chai';
import { allocateSlots, type SlotTable } from '../../src/render/slots.js';
import { backend, service } from './fixtures.js';

const ids = (table: SlotTable, id = 'web') => table.get(id)!.slots;
const web = (...ports: number[]) =>
  service(
    'web',
    ports.map((p) => backend(`t${p}`, p)),
  );

describe('server slots', () => {
  it('gives every backend a slot and parks the rest, at least the minimum', () => {
    expect(ids(allocateSlots(new Map(), [web(1, 2)], 4))).to.deep.equal(['t1', 't2', null, null]);
  });

  it('keeps a backend in its slot when another comes or goes', () => {
    const a = allocateSlots(new Map(), [web(1, 2, 3)], 4);
    const b = allocateSlots(a, [web(1, 3, 4)], 4);
    expect(ids(b)).to.deep.equal(['t1', 't4', 't3', null]);
  });

  it('grows to the next power of two above the backend count when the slots run out', () => {
    const a = allocateSlots(new Map(), [web(1, 2, 3, 4)], 4);
    expect(ids(a)).to.have.length(8);
    const b = allocateSlots(a, [web(1, 2, 3, 4, 5, 6, 7, 8, 9)], 4);
    expect(ids(b)).to.have.length(16);
    expect(ids(b).slice(0, 4)).to.deep.equal(ids(a).slice(0, 4));
  });

  it('does not shrink while running, so a scale-down never renumbers', () => {
    const a = allocateSlots(new Map(), [web(1, 2, 3, 4, 5, 6, 7, 8, 9)], 4);
    expect(ids(allocateSlots(a, [web(1)], 4))).to.have.length(16);
  });

  it('reuses the entry of a service object that did not change', () => {
    const s = web(1, 2);
    const a = allocateSlots(new Map(), [s], 4);
    expect(allocateSlots(a, [s], 4).get('web')).to.equal(a.get('web'));
  });

  it('forgets services that are gone', () => {
    const a = allocateSlots(new Map(), [web(1)], 4);
    expect(allocateSlots(a, [], 4).size).to.equal(0);
  });
});
