import type { Service } from '../state/model.js';
import { replacedAt } from '../state/replaced.js';

// Server slots: each service gets a fixed number of named proxy servers, and
// each backend keeps its slot for as long as it exists. A backend that comes,
// goes, moves or changes weight then only changes what one slot holds — a
// change HAProxy's runtime API can make without a reload — and no other
// server is renumbered. Only outgrowing the slots changes the structure.

/** The slots of one service: backend id per slot (null: parked), and the service object they were placed for. */
export interface SlotEntry {
  readonly service: Service;
  readonly slots: readonly (string | null)[];
}

/** Slot entries by service id: a Map, or a layer of placements over one. */
export type SlotTable = ReadonlyMap<string, SlotEntry> | LayeredSlots;

/** Changes a layered table holds before it is flattened into a Map of its own. */
const FLATTEN_AT = 256;

/**
 * A table that shares an earlier table's entries and holds only its own
 * placements on top: an event places one service, and copying every
 * service's entry for it was a quarter of what an event allocated at 5000
 * services. Both layers are never changed once made.
 */
export class LayeredSlots {
  constructor(
    readonly base: ReadonlyMap<string, SlotEntry>,
    readonly changes: ReadonlyMap<string, SlotEntry>,
  ) {}

  get(id: string): SlotEntry | undefined {
    return this.changes.get(id) ?? this.base.get(id);
  }

  /** Changes only replace entries of the base (allocateSlots layers only over the same services). */
  get size(): number {
    return this.base.size;
  }
}

/** The table as one Map: what crosses to a worker thread by structured clone, which keeps no class. */
export function slotMap(table: SlotTable): ReadonlyMap<string, SlotEntry> {
  if (!(table instanceof LayeredSlots)) return table;
  const out = new Map<string, SlotEntry>();
  table.base.forEach((entry, id) => out.set(id, entry));
  table.changes.forEach((entry, id) => out.set(id, entry));
  return out;
}

/** Where an installed config put each service's backends: `host:port` per slot (null: parked), by service id. */
export type SlotHint = ReadonlyMap<string, readonly (string | null)[]>;

/** The fewest slots a service gets unless `vars.serverSlots` says otherwise. */
export const DEFAULT_MIN_SLOTS = 4;

/**
 * The next slot table: every backend of every service placed, existing
 * placements kept, new backends in the lowest free slots (in id order). A
 * new service, or one that needs more slots than it has, gets the next power
 * of two above its backend count, so there is room for the next scale-up.
 * `placedFor`, the services `previous` was allocated for: where `services`
 * only replaces a few of them, only those are placed again.
 */
export function allocateSlots(
  previous: SlotTable,
  services: readonly Service[],
  minSlots = DEFAULT_MIN_SLOTS,
  hint?: SlotHint,
  placedFor?: readonly Service[],
): SlotTable {
  const at = placedFor ? replacedAt(placedFor, services) : null;
  if (at) {
    const base = previous instanceof LayeredSlots ? previous.base : previous;
    const changes = new Map(previous instanceof LayeredSlots ? previous.changes : []);
    for (const i of at) {
      const s = services[i]!;
      const before = previous.get(s.id);
      changes.set(s.id, { service: s, slots: place(before?.slots ?? fromHint(hint?.get(s.id), s), s, minSlots) });
    }
    const next = new LayeredSlots(base, changes);
    return changes.size > FLATTEN_AT ? slotMap(next) : next;
  }
  const next = new Map<string, SlotEntry>();
  for (const s of services) {
    const before = previous.get(s.id);
    // The state keeps a service's object while it is unchanged: nothing to place again.
    if (before && before.service === s) next.set(s.id, before);
    else next.set(s.id, { service: s, slots: place(before?.slots ?? fromHint(hint?.get(s.id), s), s, minSlots) });
  }
  return next;
}

/**
 * Slots as an installed config left them, for a service seen for the first
 * time since start: a restart of Switchyard then renders the same file and
 * causes no reload.
 */
function fromHint(
  addresses: readonly (string | null)[] | undefined,
  s: Service,
): readonly (string | null)[] | undefined {
  if (!addresses) return undefined;
  const byAddress = new Map<string, string>(s.backends.map((b) => [`${b.host}:${b.port}`, b.id]));
  return addresses.map((a) => (a === null ? null : (byAddress.get(a) ?? null)));
}

function place(
  before: readonly (string | null)[] | undefined,
  s: Service,
  minSlots: number,
): readonly (string | null)[] {
  const wanted = new Set(s.backends.map((b) => b.id));
  const old = before ?? [];
  const kept = old.map((id) => (id !== null && wanted.has(id) ? id : null));
  const placed = new Set(kept.filter((id): id is string => id !== null));
  const newcomers = s.backends.map((b) => b.id).filter((id) => !placed.has(id));
  const count = placed.size + newcomers.length;
  // A new service starts with a spare slot; an existing one grows only once it is outgrown (growing is a reload).
  let size = before === undefined ? Math.max(minSlots, nextPowerOfTwo(count + 1)) : Math.max(kept.length, minSlots);
  if (count > size) size = Math.max(minSlots, nextPowerOfTwo(count + 1));
  const slots: (string | null)[] = [...kept, ...new Array<null>(size - kept.length).fill(null)];
  let free = 0;
  for (const id of newcomers) {
    while (slots[free] !== null) free++;
    slots[free] = id;
  }
  return old.length === slots.length && old.every((id, i) => id === slots[i]) ? old : slots;
}

function nextPowerOfTwo(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(n, 1)));
}
