import { comparePaddedSeq } from './sequence-number.ts';

/*
 * Which of two versions of one item is the newer: the order every part of apply uses — the fold
 * of a batch (change-reduction.ts), the merge against the rows already in the table, tombstones.
 *
 * A version carries its source, its padded sequence number (`_ddb_seq`) and its time in epoch
 * microseconds (`_ddb_ts`):
 *   export | scan          seq = 40 zeros, ts = T            (the snapshot)
 *   stream                 seq = the record's SequenceNumber, ts = ApproximateCreationDateTime
 *   incremental-export     seq = WriteTimestampMicros (padded), ts = WriteTimestampMicros
 *
 * The rule:
 *   1. A snapshot version is older than every change (rule 2).
 *   2. Two stream versions: the greater sequence number is newer (rule 1; never by time).
 *   3. Two incremental-export versions: the later write time is newer (their seq is that time).
 *   4. A stream version s against an incremental-export version x: s is newer exactly when
 *      s.ts > x.ts. An incremental export holds, per item, its state after the last write of the
 *      window (write time W, exact to the microsecond). ApproximateCreationDateTime is rounded down
 *      (to the second on AWS, the minute on DynamoDB Local), so a stream record with ts > W was
 *      written after W; and a record written after W is, by the export's definition, outside the
 *      window, so at or after its end, which is a whole second: its ts is then ≥ the end > W. A
 *      record with ts ≤ W was therefore written at or before W and is already in the line's image.
 * Within one source this is a total order; across sources it agrees with the order of writes as
 * long as ApproximateCreationDateTime never decreases along a key's sequence numbers, which holds
 * for DynamoDB Streams. Equal versions (same source, same seq) are duplicates.
 */

/** Where a version of an item came from: the value of `_ddb_source`. */
export type ChangeSource = 'export' | 'scan' | 'stream' | 'incremental-export';

export const CHANGE_SOURCES: readonly ChangeSource[] = ['export', 'scan', 'stream', 'incremental-export'];

/** The position of one version of an item in the order above. */
export interface ChangeOrder {
  readonly source: ChangeSource;
  /** Padded to 40 digits (sequence-number.ts); 40 zeros for the snapshot. */
  readonly seq: string;
  /** Epoch microseconds: the record's `ts` × 1000, an incremental export's write time, or T for the snapshot. */
  readonly tsMicros: bigint;
}

const isSnapshot = (source: ChangeSource): boolean => source === 'export' || source === 'scan';

/**
 * Orders two versions of one item by the rule at the top of this file: −1 when `a` is older, 1 when
 * newer, 0 when neither is (duplicates, or two snapshot versions). Pure.
 * @throws SequenceNumberError when a seq is not padded.
 */
export function compareChangeOrder(a: ChangeOrder, b: ChangeOrder): -1 | 0 | 1 {
  const aSnapshot = isSnapshot(a.source);
  const bSnapshot = isSnapshot(b.source);
  if (aSnapshot || bSnapshot) {
    if (aSnapshot && bSnapshot) return 0;
    return aSnapshot ? -1 : 1;
  }
  if (a.source === b.source) return comparePaddedSeq(a.seq, b.seq);
  if (a.source === 'stream') return a.tsMicros > b.tsMicros ? 1 : -1;
  return b.tsMicros > a.tsMicros ? -1 : 1;
}

/** True when `incoming` is strictly newer than `existing` and replaces it. Pure. */
export function supersedes(incoming: ChangeOrder, existing: ChangeOrder): boolean {
  return compareChangeOrder(incoming, existing) > 0;
}

/** SQL expressions of one version's `_ddb_source`, `_ddb_seq` and `_ddb_ts` (a timestamp). */
export interface ChangeOrderSql {
  readonly source: string;
  readonly seq: string;
  readonly ts: string;
}

/**
 * A SQL boolean expression (DuckDB and Spark SQL) that is true exactly when `supersedes(incoming,
 * existing)` is, for the merge against the table's rows and tombstones. The arguments are SQL
 * expressions, typically quoted column references (`n."_ddb_seq"`); nothing is bound. When there
 * is no existing version (an outer join found no row or tombstone: `existing.source` is NULL) the
 * result is true. Never NULL when `incoming`'s expressions are not.
 */
export function supersedesSql(incoming: ChangeOrderSql, existing: ChangeOrderSql): string {
  const snapshot = (source: string): string => `${source} IN ('export', 'scan')`;
  return (
    `(CASE` +
    ` WHEN ${existing.source} IS NULL THEN true` +
    ` WHEN ${snapshot(incoming.source)} THEN false` +
    ` WHEN ${snapshot(existing.source)} THEN true` +
    ` WHEN ${incoming.source} = ${existing.source} THEN ${incoming.seq} > ${existing.seq}` +
    ` WHEN ${incoming.source} = 'stream' THEN ${incoming.ts} > ${existing.ts}` +
    ` ELSE ${incoming.ts} >= ${existing.ts} END)`
  );
}
