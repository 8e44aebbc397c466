// What a target has installed, owned in one place: the file's bytes and, when
// this process rendered them, the fragments they were rendered as. The next
// install is built from this one: the bytes of every fragment that is the same
// string object at the same place are copied over in runs, and only changed
// fragments are encoded, so an event that touched one service costs one
// service's encoding plus a memory copy, not a join and an encoding of the
// whole multi-megabyte text.

/** An installed config: its bytes, and the fragments (with their byte offsets) when a render of this process made it. */
export class Installed {
  private constructor(
    readonly bytes: Buffer,
    readonly fragments: readonly string[] | null,
    /** Byte offset of each fragment, and the total length last. */
    private readonly offsets: readonly number[] | null,
  ) {}

  /** A file found on disk (at start, or put back after a failed reload): no fragments to compare against. */
  static fromText(text: string | Buffer): Installed {
    return new Installed(typeof text === 'string' ? Buffer.from(text) : text, null, null);
  }

  /** The bytes of a render's fragments, reusing `previous`'s bytes for the fragments they share at the same place. */
  static fromFragments(fragments: readonly string[], previous: Installed | null): Installed {
    const before = previous?.fragments ?? null;
    const aligned = before !== null && before.length === fragments.length ? before : null;
    const offsets = new Array<number>(fragments.length + 1);
    let size = 0;
    for (let i = 0; i < fragments.length; i++) {
      offsets[i] = size;
      size +=
        aligned && aligned[i] === fragments[i]
          ? previous!.offsets![i + 1]! - previous!.offsets![i]!
          : Buffer.byteLength(fragments[i]!);
    }
    offsets[fragments.length] = size;
    const bytes = Buffer.allocUnsafe(size);
    let i = 0;
    while (i < fragments.length) {
      if (aligned && aligned[i] === fragments[i]) {
        // A run of unchanged fragments: one copy from the previous bytes.
        let j = i;
        while (j < fragments.length && aligned[j] === fragments[j]) j++;
        previous!.bytes.copy(bytes, offsets[i]!, previous!.offsets![i]!, previous!.offsets![j]!);
        i = j;
      } else {
        bytes.write(fragments[i]!, offsets[i]!);
        i++;
      }
    }
    return new Installed(bytes, fragments, offsets);
  }

  /** The whole text; only needed where no fragments are known (a file read from disk). */
  text(): string {
    return this.bytes.toString('utf8');
  }
}
