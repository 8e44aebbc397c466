// The state keeps an unchanged service's object from version to version, and
// lists services sorted by id. Two lists of the same services therefore line
// up position by position, and what an event changed is where the objects
// differ: found by comparing pointers, with no lookup by id. Whatever is
// kept per service (an index by id, slot placements, template views) can then
// be updated at those positions instead of being built again from every
// service.

/**
 * The positions at which `after` holds another object of the service
 * `before` held there (the same id); null when the lists differ otherwise (a
 * service added or gone) or at more than `limit` positions, where building
 * afresh costs no more.
 */
export function replacedAt<T extends { readonly id: string }>(
  before: readonly T[],
  after: readonly T[],
  limit = Math.max(16, after.length >> 2),
): number[] | null {
  if (before.length !== after.length) return null;
  const at: number[] = [];
  for (let i = 0; i < after.length; i++) {
    const a = before[i]!;
    const b = after[i]!;
    if (a === b) continue;
    if (a.id !== b.id || at.push(i) > limit) return null;
  }
  return at;
}
