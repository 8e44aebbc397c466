import type { Rule } from './model.js';

// The routing rules as the API reads and writes them, whatever keeps them
// (ZooKeeper today). The API speaks only this interface and its error
// vocabulary, so a store's own errors never leak into HTTP status codes.

/** A rule with the version it was read at (the API's ETag). */
export interface VersionedRule {
  readonly rule: Rule;
  readonly version: number;
}

/** What a write expects of the stored rule: at a version, absent (create only), or whatever it is now (read, then write at that version). */
export type Expected = number | 'absent' | 'current';

/**
 * Why a store call failed: `conflict` (a write lost a race or named a version
 * the rule is not at; nothing was written), `corrupt` (what is stored does not
 * decode to a valid rule), `unavailable` (the store cannot be reached now).
 */
export type RuleStoreFailure = 'conflict' | 'corrupt' | 'unavailable';

/** The one error a RuleStore throws for a failure it understands; the store's own error is its cause. */
export class RuleStoreError extends Error {
  override name = 'RuleStoreError';
  constructor(
    readonly failure: RuleStoreFailure,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Versioned routing rules: every write is conditional on a version, so two
 * writers cannot silently overwrite each other. Failures are RuleStoreError;
 * anything else thrown is a bug.
 */
export interface RuleStore {
  /** Every valid rule, sorted by id (corrupt ones are left out). */
  list(): Promise<VersionedRule[]>;
  /** One rule and its version; null when there is none. */
  get(id: string): Promise<VersionedRule | null>;
  /** Stores a validated rule as `expected` says; `created` when there was none before. */
  put(rule: Rule, expected?: Expected): Promise<VersionedRule & { created: boolean }>;
  /** Deletes a rule at `expected` version (or the version a read just saw); false when there was none. */
  remove(id: string, expected?: number): Promise<boolean>;
}
