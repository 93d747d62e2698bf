import type { AddFile } from '../delta/actions.ts';
import type { StructField, StructType } from '../delta/schema.ts';
import type { Snapshot } from '../delta/snapshot.ts';
import { duckdbTypeOf } from '../duckdb/duckdb-type.ts';
import { type DuckSession, quoteIdentifier } from '../duckdb/session.ts';
import { createSnapshotView } from '../duckdb/table-scan.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { ApplyEvent } from './apply-events.ts';
import { type RowShape, winnerRow } from './batch-rows.ts';
import { fileBucket, fileRows, filesForKeys, type WrittenBuckets, writeBucketTable } from './bucket-files.ts';
import { supersedesSql } from './change-order.ts';
import type { ReducedChange } from './change-reduction.ts';
import { openRowTable } from './lake-row-spool.ts';
import { SYSTEM_COLUMN } from './table-layout.ts';

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
const CHANGES = '__ddb_lake_apply_changes';
const COMPARED = '__ddb_lake_apply_compared';
const NEW = '__ddb_lake_apply_new';
/** Columns of the change tables beside the schema's. */
const OP = '__ddb_op';
const EXISTED = '__ddb_existed';
const WAS_DELETED = '__ddb_was_deleted';
const APPLIES = '__ddb_applies';

export interface MergeOptions {
  readonly session: DuckSession;
  readonly delta: ObjectStore;
  /** The table as the batch read it. */
  readonly table: Snapshot;
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
 * The view `name` over the rows of `files` of the table, in the table's (old) schema. The view
 * reads the files lazily, and each bucket's files in their own branch (their partition value is a
 * constant of it), so a query of one bucket, or of a few columns, reads only those.
 */
async function oldRowsView(
  session: DuckSession,
  store: ObjectStore,
  table: Snapshot,
  files: readonly AddFile[],
  name: string,
): Promise<void> {
  await createSnapshotView(session, store, { ...table, files }, name);
}

/** `o."col"` for a column the old schema has, else a typed NULL: files written before a column was added. */
function oldColumn(field: StructField, old: ReadonlySet<string>, alias: string): string {
  return old.has(field.name)
    ? `${alias}.${q(field.name)} AS ${q(field.name)}`
    : `CAST(NULL AS ${duckdbTypeOf(field.type)}) AS ${q(field.name)}`;
}

const SYSTEM_NAMES: ReadonlySet<string> = new Set(Object.values(SYSTEM_COLUMN));

/** Rows the merge builds in DuckDB at once, at most (unless one bucket alone holds more). */
const ROWS_PER_PASS = 250_000;

/**
 * The rewritten buckets (ascending) in consecutive groups of at most ROWS_PER_PASS rows by the
 * stats of their old files (`rowsPerFile` a file without them) plus their applied winners.
 */
function bucketGroups(
  rewritten: readonly number[],
  removed: readonly AddFile[],
  applied: ReadonlyMap<number, number>,
  rowsPerFile: number,
): number[][] {
  const rows = new Map<number, number>(applied);
  for (const file of removed) {
    const bucket = fileBucket(file) as number;
    rows.set(bucket, (rows.get(bucket) ?? 0) + (fileRows(file) ?? rowsPerFile));
  }
  const groups: number[][] = [];
  let group: number[] = [];
  let held = 0;
  for (const bucket of rewritten) {
    const bucketRows = rows.get(bucket) ?? 0;
    if (group.length > 0 && held + bucketRows > ROWS_PER_PASS) {
      groups.push(group);
      group = [];
      held = 0;
    }
    group.push(bucket);
    held += bucketRows;
  }
  if (group.length > 0) groups.push(group);
  return groups;
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
  const changeSchema: StructType = {
    type: 'struct',
    fields: [
      ...schema.fields,
      { name: OP, type: { type: 'primitive', name: 'string' }, nullable: false, metadata: {} },
    ],
  };
  // Spool files when the schema allows (DuckDB parses them in its own threads), else the appender.
  const changes = await openRowTable(session, CHANGES, changeSchema);
  try {
    for (const winner of winners) changes.append({ ...winnerRow(shape, winner), [OP]: winner.op });
  } catch (error) {
    await changes.abandon();
    throw error;
  }
  await changes.close();

  // The versions of the rows the winners meet: only the system columns are read from the files.
  const versionColumns: string[] = [key, SYSTEM_COLUMN.seq, SYSTEM_COLUMN.ts, SYSTEM_COLUMN.source];
  if (soft && oldNames.has(SYSTEM_COLUMN.deleted)) versionColumns.push(SYSTEM_COLUMN.deleted);
  const applies = supersedesSql(
    {
      source: col('c', SYSTEM_COLUMN.source),
      seq: col('c', SYSTEM_COLUMN.seq),
      ts: col('c', SYSTEM_COLUMN.ts),
    },
    {
      source: col('o', SYSTEM_COLUMN.source),
      seq: col('o', SYSTEM_COLUMN.seq),
      ts: col('o', SYSTEM_COLUMN.ts),
    },
  );
  const wasDeleted = versionColumns.includes(SYSTEM_COLUMN.deleted)
    ? `coalesce(${col('o', SYSTEM_COLUMN.deleted)}, false)`
    : 'false';
  await session.run(
    `CREATE OR REPLACE TEMP TABLE ${q(COMPARED)} AS SELECT c.*, (${col('o', key)} IS NOT NULL) AS ${q(EXISTED)}, ${wasDeleted} AS ${q(WAS_DELETED)}, ${applies} AS ${q(APPLIES)} FROM ${q(CHANGES)} c LEFT JOIN (SELECT ${versionColumns.map(q).join(', ')} FROM ${q(OLD)}) o ON ${col('o', key)} = ${col('c', key)}`,
  );

  const counts = (
    await session.all(
      `SELECT
         count(*) FILTER (WHERE ${q(APPLIES)} AND ${q(OP)} = 'put' AND (NOT ${q(EXISTED)} OR ${q(WAS_DELETED)})),
         count(*) FILTER (WHERE ${q(APPLIES)} AND ${q(OP)} = 'put' AND ${q(EXISTED)} AND NOT ${q(WAS_DELETED)}),
         count(*) FILTER (WHERE ${q(APPLIES)} AND ${q(OP)} = 'delete' AND ${q(EXISTED)} AND NOT ${q(WAS_DELETED)}),
         count(*) FILTER (WHERE NOT ${q(APPLIES)})
       FROM ${q(COMPARED)}`,
    )
  ).getRows()[0] as unknown[];
  const applied = (
    await session.all(`SELECT ${q(key)}, ${q(OP)} FROM ${q(COMPARED)} WHERE ${q(APPLIES)}`)
  ).getRows();
  const appliedKeys = new Set<string>();
  const appliedDeletes = new Set<string>();
  for (const [appliedKey, op] of applied) {
    appliedKeys.add(String(appliedKey));
    if (op === 'delete') appliedDeletes.add(String(appliedKey));
  }

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
      `SELECT ${keep} FROM ${q(OLD)} o WHERE ${inBuckets('o', group)} AND NOT EXISTS (SELECT 1 FROM ${q(COMPARED)} c WHERE c.${q(APPLIES)} AND ${col('c', key)} = ${col('o', key)})`,
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
  const adds: AddFile[] = [];
  let rows = 0;
  let bytes = 0;
  let done = 0;
  for (const group of bucketGroups(rewrittenBuckets, removed, buckets, options.rowsPerFile)) {
    // The new content of a group of buckets in one statement, in the schema's types: one pass over
    // their old files (DuckDB reads them in parallel; the view's other buckets are not read), where
    // a statement per bucket cost a scan, a staging copy and a sort each. Sorted by bucket, then
    // key: a bucket's query skips the other buckets' row groups (zone maps) and reads its rows in
    // key order (writeBucketTable). Groups bound what DuckDB holds at once.
    await session.run(
      `CREATE OR REPLACE TEMP TABLE ${q(NEW)} AS SELECT ${typed} FROM (${partsOf(group).join(' UNION ALL ')}) ORDER BY ${q(SYSTEM_COLUMN.bucket)}, ${q(key)}`,
    );
    const part = await writeBucketTable(session, delta, NEW, schema, group, options.rowsPerFile, emit, {
      done,
      total: rewrittenBuckets.length,
    });
    await session.run(`DROP TABLE IF EXISTS ${q(NEW)}`);
    adds.push(...part.adds);
    rows += part.rows;
    bytes += part.bytes;
    done += group.length;
  }
  const written: WrittenBuckets = { adds, rows, bytes };
  await session.run(`DROP VIEW IF EXISTS ${q(OLD)}`);
  for (const name of [CHANGES, COMPARED]) await session.run(`DROP TABLE IF EXISTS ${q(name)}`);
  return {
    removed,
    written,
    buckets: buckets.size,
    inserted: Number(counts[0]),
    updated: Number(counts[1]),
    deleted: Number(counts[2]),
    olderThanRow: Number(counts[3]),
    appliedDeletes,
  };
}
