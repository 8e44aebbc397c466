import { expect } from 'chai';
import { allocateSlots as allocate, slotMap, type SlotHint, type SlotTable } from '../../src/render/slots.js';
import type { Service } from '../../src/state/model.js';
import { backend, service } from './fixtures.js';

// Placing every service, and placing only those an event replaced (told the
// services the previous table was made for), must give the same tables: one
// spec for both.

const ids = (table: SlotTable, id = 'web') => table.get(id)!.slots;
const web = (...ports: number[]) =>
  service(
    'web',
    ports.map((p) => backend(`t${p}`, p)),
  );

for (const mode of ['every service', 'only replaced services'] as const)
  describe(`server slots, placing ${mode}`, () => {
    const madeFor = new WeakMap<SlotTable, readonly Service[]>();
    const allocateSlots = (previous: SlotTable, services: Service[], minSlots?: number, hint?: SlotHint) => {
      const table = allocate(
        previous,
        services,
        minSlots,
        hint,
        mode === 'every service' ? undefined : madeFor.get(previous),
      );
      madeFor.set(table, services);
      return table;
    };

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

    it('places a replaced service among many again, and keeps the entries of the rest', () => {
      const many = Array.from({ length: 40 }, (_, i) =>
        service(`svc-${String(i).padStart(2, '0')}`, [backend(`b${i}`, 1000 + i)]),
      );
      const a = allocateSlots(new Map(), many, 4);
      const scaled = many.map((s, i) => (i === 7 ? { ...s, backends: [...s.backends, backend('extra', 2000)] } : s));
      const b = allocateSlots(a, scaled, 4);
      expect(b.get('svc-07')!.slots).to.deep.equal(['b7', 'extra', null, null]);
      expect(many.filter((_, i) => i !== 7).every((s) => b.get(s.id) === a.get(s.id))).to.equal(true);
    });

    it('forgets services that are gone', () => {
      const a = allocateSlots(new Map(), [web(1)], 4);
      expect(allocateSlots(a, [], 4).size).to.equal(0);
    });

    it('keeps every event’s placement through hundreds of events, each replacing another service', () => {
      const name = (i: number) => `svc-${String(i).padStart(3, '0')}`;
      let services = Array.from({ length: 400 }, (_, i) => service(name(i), [backend(`b${i}`, 1000 + i)]));
      let table = allocateSlots(new Map(), services, 4);
      for (let i = 0; i < 400; i++) {
        services = services.map((s, k) => (k === i ? { ...s, backends: [...s.backends, backend(`e${i}`, 2000)] } : s));
        table = allocateSlots(table, services, 4);
      }
      const all = slotMap(table);
      expect(all.size).to.equal(400);
      for (let i = 0; i < 400; i++) {
        expect(table.get(name(i))!.slots, name(i)).to.deep.equal([`b${i}`, `e${i}`, null, null]);
        expect(all.get(name(i))).to.equal(table.get(name(i)));
      }
    });
  });
