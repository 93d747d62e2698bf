import type { CapacityTarget } from '../backfill/backfill-table.ts';
import type { AttributeDifference } from './plain-members.ts';

/*
 * What `verifyTable` found: the result is data (a difference is not an error), rendered by the CLI
 * and written as one JSON document by `--json`.
 */

/** A key whose item and row differ, with the attributes that differ. */
export interface DifferentKey {
  /** The `_ddb_key` text: plain JSON of the key attributes. */
  readonly key: string;
  /**
   * The differing attributes, from a strongly consistent read and the lake row at the time the
   * key was last checked; empty when the two had become equal by then (without settle).
   */
  readonly attributes: readonly AttributeDifference[];
}

/** Mismatched keys of one kind: how many, and the first ones by key text. */
export interface KeyList {
  readonly count: number;
  readonly keys: readonly string[];
}

export interface VerifySample {
  /** The share asked for (0 < share < 1). */
  readonly share: number;
  /** The seed that chose the segments and the lake keys; the same seed chooses the same again. */
  readonly seed: number;
  /** The Scan segments read, out of `totalSegments`. */
  readonly segments: readonly number[];
  readonly totalSegments: number;
  /** Lake keys chosen for the extra check (by a hash of key and seed). */
  readonly lakeKeysChecked: number;
  /** Of those, keys the scanned segments did not hold, read with consistent GetItems. */
  readonly lakeKeysRead: number;
}

export interface VerifySettle {
  /** How long verify waited before re-checking. */
  readonly waitedMs: number;
  /** Mismatched keys re-checked (at most `maxKeys`). */
  readonly rechecked: number;
  /** Of those, keys that matched on the re-check and are not reported. */
  readonly settled: number;
  /** True when there were more mismatched keys than `maxKeys`: the rest are reported unchecked. */
  readonly capped: boolean;
  readonly maxKeys: number;
  /** The Delta version the re-check read. */
  readonly deltaVersion: number;
}

export interface VerifyReport {
  /** True only when nothing mismatched (after settle). */
  readonly equal: boolean;
  readonly table: string;
  readonly tableArn: string;
  readonly delta: string;
  /** The Delta version the comparison read (the re-check may have read a later one: `settle`). */
  readonly deltaVersion: number;
  /** Items the Scan read (sampled: those of the segments read, and the sampled lake keys found). */
  readonly tableItems: number;
  /** Live rows of the lake table (soft-deleted rows not counted), all of them even when sampled. */
  readonly lakeRows: number;
  /** Keys whose item and row hash alike. */
  readonly matched: number;
  /** In DynamoDB, not in the lake. */
  readonly missing: KeyList;
  /** In the lake, not in DynamoDB. */
  readonly extra: KeyList;
  /** In both, with different values. */
  readonly different: { readonly count: number; readonly keys: readonly DifferentKey[] };
  /** null when every segment was scanned; otherwise the counts above are of the sample. */
  readonly sample: VerifySample | null;
  /** null when nothing mismatched or settle was off. */
  readonly settle: VerifySettle | null;
  readonly scan: {
    readonly totalSegments: number;
    readonly concurrency: number;
    readonly consistentRead: boolean;
    readonly readCapacity: CapacityTarget;
    /** Read units consumed by the Scan and the point reads, as DynamoDB reported them. */
    readonly readUnits: number;
  };
  readonly elapsedMs: number;
  /** Table items compared per second of the whole run. */
  readonly itemsPerSecond: number;
}
