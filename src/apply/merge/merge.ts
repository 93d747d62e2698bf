import type { AddFile } from '../../delta/actions.ts';
import type { StructField, StructType } from '../../delta/schema.ts';
import type { ReadSnapshot } from '../../delta/snapshot.ts';
import { duckdbTypeOf } from '../../duckdb/duckdb-type.ts';
import type { LakeValue } from '../../duckdb/lake-value.ts';
import { type DuckSession, quoteIdentifier } from '../../duckdb/session.ts';
import { createSnapshotView } from '../../duckdb/table-scan.ts';
import { supersedesSql } from '../../lake/change-order.ts';
import { fileBucket, SYSTEM_COLUMN } from '../../lake/table-layout.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import type { ApplyEvent } from '../apply-events.ts';
import { fileRows, filesForKeys, type WrittenBuckets, writeBucketQueries } from '../bucket-files.ts';
import { type RowShape, winnerCells, winnerItem, winnerRow } from '../changes/batch-rows.ts';
import type { ReducedChange } from '../changes/change-reduction.ts';
import { ItemSpoolLineEncoder } from '../snapshot/item-spool-line.ts';
import { LakeRowSpool, openRowTable } from '../snapshot/lake-row-spool.ts';

/*
 * The copy-on-write merge of a later batch (DESIGN.md rules 1 and 3) in DuckDB. The batch's
 * winners (one per key, tombstones already consulted) are loaded into a change table; the rows
 * of the files that can hold their keys (bucket-files.ts) into an "old" table; a winner applies
 * when its version supersedes the row's (change-order.ts: by sequence number, by time against an
 * incremental export); the files' new content is the old rows without the keys that changed, plus
 * the applied puts (and, with soft deletes, the deleted rows flagged). Only the files of the keys
 * that applied are rewritten.
 */

const OLD = '__ddb_lake_apply_old';
/** The batch's winners as rows (loadChangeTable), shared with the merge-on-read batch. */
export const CHANGES = '__ddb_lake_apply_changes';
const COMPARED = '__ddb_lake_apply_compared';
/** Columns of the change tables beside the schema's. */
export const OP = '__ddb_op';
export const EXISTED = '__ddb_existed';
export const WAS_DELETED = '__ddb_was_deleted';
export const APPLIES = '__ddb_applies';

export interface MergeOptions {
  readonly session: DuckSession;
  readonly delta: ObjectStore;
  /** The table as the batch read it. */
  readonly table: ReadSnapshot;
  /** The layout and schema after this batch's evolution. */
  readonly shape: RowShape;
  /** The winners to merge, each newer than its key's tombstone. */
  readonly winners: readonly ReducedChange[];
  readonly rowsPerFile: number;
  readonly emit: (event: ApplyEvent) => void;
}

export interface MergeOutcome {
  /** Files the commit removes (they are rewritten), and the files that replace them. */
  readonly removed: readonly AddFile[];
  readonly written: WrittenBuckets;
  readonly buckets: number;
  readonly inserted: number;
  readonly updated: number;
  readonly deleted: number;
  /** Winners not newer than the row in the table. */
  readonly olderThanRow: number;
  /** The keys whose delete applied (the batch's tombstones). */
  readonly appliedDeletes: ReadonlySet<string>;
}

const q = quoteIdentifier;

/**
 * Rows per spool file of the change table: small enough that DuckDB loads the first files while
 * JavaScript builds the rest (a 100,000-change batch's load overlapped, 0.7 s less, measured).
 */
const CHANGE_SPOOL_ROWS = 10_000;
const YIELD_ROWS = 500;

/**
 * The view `name` over the rows of `files` of the table, in the table's (old) schema. The view
 * reads the files lazily, and each bucket's files in their own branch (their partition value is a
 * constant of it), so a query of one bucket, or of a few columns, reads only those.
 */
async function oldRowsView(
  session: DuckSession,
  store: ObjectStore,
  table: ReadSnapshot,
  files: readonly AddFile[],
  name: string,
): Promise<void> {
  await createSnapshotView(session, store, { ...table, files }, name);
}

/** `o."col"` for a column the old schema has, else a typed NULL: files written before a column was added. */
export function oldColumn(field: StructField, old: ReadonlySet<string>, alias: string): string {
  return old.has(field.name)
    ? `${alias}.${q(field.name)} AS ${q(field.name)}`
    : `CAST(NULL AS ${duckdbTypeOf(field.type)}) AS ${q(field.name)}`;
}

export const SYSTEM_NAMES: ReadonlySet<string> = new Set(Object.values(SYSTEM_COLUMN));

/**
 * Loads the winners into the DuckDB table CHANGES: each winner's row in the batch's shape plus its
 * op (`put` or `delete`). `whileBuilding` is called once the table exists, before the rows are
 * built: a statement it starts runs in DuckDB's threads while JavaScript builds them (the spool's
 * loads wait for it).
 */
export async function loadChangeTable(
  session: DuckSession,
  shape: RowShape,
  winners: readonly ReducedChange[],
  whileBuilding?: () => void,
): Promise<void> {
  const schema = shape.schema;
  const changeSchema: StructType = {
    type: 'struct',
    fields: [
      ...schema.fields,
      { name: OP, type: { type: 'primitive', name: 'string' }, nullable: false, metadata: {} },
    ],
  };
  // Spool files when the schema allows (DuckDB parses them in its own threads), else the appender.
  const changes = await openRowTable(session, CHANGES, changeSchema, CHANGE_SPOOL_ROWS);
  whileBuilding?.();
  try {
    const deletes = shape.layout.deletes;
    // Straight to spool lines where the encoder takes the item: building the row first cost about
    // half of a 100,000-change batch's JavaScript time, measured.
    const fast =
      changes instanceof LakeRowSpool
        ? { spool: changes, lines: new ItemSpoolLineEncoder(shape.layout, changeSchema, {}) }
        : undefined;
    for (const [index, winner] of winners.entries()) {
      // Spool files are loaded in promise callbacks: the loop yields often enough for each load to
      // start as soon as its file is full (a load takes a few turns of the event loop).
      if (index > 0 && index % YIELD_ROWS === 0) await new Promise(setImmediate);
      const cells = winnerCells(winner, deletes);
      cells[OP] = winner.op;
      const line = fast?.lines.lineWithCells(winnerItem(winner, deletes), cells);
      if (fast !== undefined && line !== undefined) {
        fast.spool.appendLine(line);
        continue;
      }
      // winnerRow returns a fresh object: the op joins it in place.
      const row = winnerRow(shape, winner) as Record<string, LakeValue>;
      row[OP] = winner.op;
      changes.append(row);
    }
  } catch (error) {
    await changes.abandon();
    throw error;
  }
  await changes.close();
}

/**
 * The comparison's two verdicts as SQL over the winner `c` and the row `o` it meets (NULLs when it
 * meets none): APPLIES (the winner supersedes the row, change-order.ts) and WAS_DELETED (the row is
 * soft deleted; `false` unless `versionColumns` read the deleted flag).
 */
export function comparisonSql(versionColumns: readonly string[]): { applies: string; wasDeleted: string } {
  const col = (alias: string, name: string) => `${alias}.${q(name)}`;
  const version = (alias: string) => ({
    source: col(alias, SYSTEM_COLUMN.source),
    seq: col(alias, SYSTEM_COLUMN.seq),
    ts: col(alias, SYSTEM_COLUMN.ts),
  });
  return {
    applies: supersedesSql(version('c'), version('o')),
    wasDeleted: versionColumns.includes(SYSTEM_COLUMN.deleted)
      ? `coalesce(${col('o', SYSTEM_COLUMN.deleted)}, false)`
      : 'false',
  };
}

/** What the comparison of a batch's winners with the table's rows decided (a COMPARED table). */
export interface ComparedOutcome {
  readonly counts: {
    readonly inserted: number;
    readonly updated: number;
    readonly deleted: number;
    readonly olderThanRow: number;
  };
  /** The winners that apply, and of those the deletes (the batch's tombstones). */
  readonly appliedKeys: ReadonlySet<string>;
  readonly appliedDeletes: ReadonlySet<string>;
  /** Rows of the comparison: one per winner, unless a key met several rows (a damaged table). */
  readonly rows: number;
}

/**
 * Reads the outcome of the DuckDB table `compared` (the winners with EXISTED, WAS_DELETED and
 * APPLIES): the counts per kind, and which winners apply.
 */
export async function comparedOutcome(
  session: DuckSession,
  compared: string,
  winners: readonly ReducedChange[],
): Promise<ComparedOutcome> {
  const row = (
    await session.all(
      `SELECT
         count(*) FILTER (WHERE ${q(APPLIES)} AND ${q(OP)} = 'put' AND (NOT ${q(EXISTED)} OR ${q(WAS_DELETED)})),
         count(*) FILTER (WHERE ${q(APPLIES)} AND ${q(OP)} = 'put' AND ${q(EXISTED)} AND NOT ${q(WAS_DELETED)}),
         count(*) FILTER (WHERE ${q(APPLIES)} AND ${q(OP)} = 'delete' AND ${q(EXISTED)} AND NOT ${q(WAS_DELETED)}),
         count(*) FILTER (WHERE NOT ${q(APPLIES)}),
         count(*)
       FROM ${q(compared)}`,
    )
  ).getRows()[0] as unknown[];
  // The winners that did not apply are usually none: reading those back, rather than every applied
  // key, spares a read of the whole batch's keys out of DuckDB.
  const notApplied = new Set<string>();
  for (const [stale] of (
    await session.all(`SELECT ${q(SYSTEM_COLUMN.key)} FROM ${q(compared)} WHERE ${q(APPLIES)} IS NOT TRUE`)
  ).getRows()) {
    notApplied.add(String(stale));
  }
  const appliedKeys = new Set<string>();
  const appliedDeletes = new Set<string>();
  for (const winner of winners) {
    if (notApplied.has(winner.key)) continue;
    appliedKeys.add(winner.key);
    if (winner.op === 'delete') appliedDeletes.add(winner.key);
  }
  return {
    counts: {
      inserted: Number(row[0]),
      updated: Number(row[1]),
      deleted: Number(row[2]),
      olderThanRow: Number(row[3]),
    },
    appliedKeys,
    appliedDeletes,
    rows: Number(row[4]),
  };
}

/**
 * Merges the winners into the table's files: loads them and the rows of the files that can hold
 * their keys into DuckDB, decides per key whether the winner supersedes the row (change-order.ts),
 * builds the new content of the files whose keys changed, and writes it as key-sorted files per
 * bucket. Nothing is committed here. Deterministic in content for the same table and winners.
 * @throws the data plane's errors (a data file that cannot be read, a row that does not fit).
 */
export async function mergeWinners(options: MergeOptions): Promise<MergeOutcome> {
  const { session, delta, table, shape, winners, emit } = options;
  const soft = shape.layout.deletes === 'soft';
  const keysByBucket = new Map<number, string[]>();
  for (const winner of winners) {
    const list = keysByBucket.get(winner.bucket);
    if (list === undefined) keysByBucket.set(winner.bucket, [winner.key]);
    else list.push(winner.key);
  }
  const candidates = filesForKeys(table.files, keysByBucket);
  const oldNames = new Set(table.schema.fields.map((field) => field.name));
  const schema = shape.schema;
  const key = SYSTEM_COLUMN.key;
  const col = (alias: string, name: string) => `${alias}.${q(name)}`;

  await oldRowsView(session, delta, table, candidates.files, OLD);
  await loadChangeTable(session, shape, winners);

  // The versions of the rows the winners meet: only the system columns are read from the files.
  const versionColumns: string[] = [key, SYSTEM_COLUMN.seq, SYSTEM_COLUMN.ts, SYSTEM_COLUMN.source];
  if (soft && oldNames.has(SYSTEM_COLUMN.deleted)) versionColumns.push(SYSTEM_COLUMN.deleted);
  const { applies, wasDeleted } = comparisonSql(versionColumns);
  await session.run(
    `CREATE OR REPLACE TEMP TABLE ${q(COMPARED)} AS SELECT c.*, (${col('o', key)} IS NOT NULL) AS ${q(EXISTED)}, ${wasDeleted} AS ${q(WAS_DELETED)}, ${applies} AS ${q(APPLIES)} FROM ${q(CHANGES)} c LEFT JOIN (SELECT ${versionColumns.map(q).join(', ')} FROM ${q(OLD)}) o ON ${col('o', key)} = ${col('c', key)}`,
  );

  const { counts, appliedKeys, appliedDeletes } = await comparedOutcome(session, COMPARED, winners);

  // Only files that hold an applied key are rewritten: a candidate file whose keys' changes were
  // all older than its rows stays.
  const rewrite = new Set<AddFile>();
  for (const appliedKey of appliedKeys)
    for (const file of candidates.byKey.get(appliedKey) ?? []) rewrite.add(file);
  const removed = candidates.files.filter((file) => rewrite.has(file));
  if (removed.length !== candidates.files.length) await oldRowsView(session, delta, table, removed, OLD);

  const buckets = new Map<number, number>();
  for (const winner of winners) {
    if (!appliedKeys.has(winner.key)) continue;
    buckets.set(winner.bucket, (buckets.get(winner.bucket) ?? 0) + 1);
  }

  const fields = schema.fields;
  const keep = fields.map((field) => oldColumn(field, oldNames, 'o')).join(', ');
  const fresh = fields.map((field) => col('c', field.name)).join(', ');
  const flagged = fields
    .map((field) => (SYSTEM_NAMES.has(field.name) ? col('c', field.name) : oldColumn(field, oldNames, 'o')))
    .join(', ');
  const rewrittenBuckets = [...buckets.keys()].sort((a, b) => a - b);
  const inBuckets = (alias: string, group: readonly number[]) =>
    `${col(alias, SYSTEM_COLUMN.bucket)} IN (${group.join(', ')})`;
  const partsOf = (group: readonly number[]): string[] => {
    const parts = [
      `SELECT ${keep} FROM ${q(OLD)} o WHERE ${inBuckets('o', group)} AND NOT EXISTS (SELECT 1 FROM ${q(COMPARED)} c WHERE ${inBuckets('c', group)} AND c.${q(APPLIES)} AND ${col('c', key)} = ${col('o', key)})`,
      `SELECT ${fresh} FROM ${q(COMPARED)} c WHERE ${inBuckets('c', group)} AND c.${q(APPLIES)} AND (c.${q(OP)} = 'put'${soft ? ` OR NOT c.${q(EXISTED)}` : ''})`,
    ];
    // A soft delete keeps the attributes the row had, with the delete's version and flags.
    if (soft) {
      parts.push(
        `SELECT ${flagged} FROM ${q(COMPARED)} c JOIN ${q(OLD)} o ON ${col('o', key)} = ${col('c', key)} AND ${col('o', SYSTEM_COLUMN.bucket)} = ${col('c', SYSTEM_COLUMN.bucket)} WHERE ${inBuckets('c', group)} AND c.${q(APPLIES)} AND c.${q(OP)} = 'delete'`,
      );
    }
    return parts;
  };
  const typed = fields
    .map((field) => `CAST(${q(field.name)} AS ${duckdbTypeOf(field.type)}) AS ${q(field.name)}`)
    .join(', ');
  // Old files' row counts plus the applied winners bound each bucket's new rows from above.
  const atMost = new Map<number, number>(buckets);
  for (const file of removed) {
    const bucket = fileBucket(file) as number;
    atMost.set(bucket, (atMost.get(bucket) ?? 0) + (fileRows(file) ?? Number.POSITIVE_INFINITY));
  }
  // One statement per bucket: its old files (the view's other buckets are not read) and its
  // winners, sorted by key, written straight to Parquet. Building groups of buckets in a sorted
  // temp table first cost a materialization and a sort of every row on top of the writes (100,000
  // changes on 1,000,000 rows: about 1 s of 4, measured).
  const written = await writeBucketQueries(
    session,
    delta,
    schema,
    rewrittenBuckets,
    (bucket) => `SELECT ${typed} FROM (${partsOf([bucket]).join(' UNION ALL ')}) ORDER BY ${q(key)}`,
    atMost,
    options.rowsPerFile,
    emit,
  );
  await session.run(`DROP VIEW IF EXISTS ${q(OLD)}`);
  for (const name of [CHANGES, COMPARED]) await session.run(`DROP TABLE IF EXISTS ${q(name)}`);
  return {
    removed,
    written,
    buckets: buckets.size,
    ...counts,
    appliedDeletes,
  };
}
