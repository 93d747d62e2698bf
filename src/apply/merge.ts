import type { AddFile } from '../delta/actions.ts';
import type { StructField, StructType } from '../delta/schema.ts';
import type { Snapshot } from '../delta/snapshot.ts';
import { duckdbTypeOf } from '../duckdb/duckdb-type.ts';
import { type DuckSession, quoteIdentifier } from '../duckdb/session.ts';
import { createSnapshotView } from '../duckdb/table-scan.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { ApplyEvent } from './apply-events.ts';
import { type RowShape, winnerRow } from './batch-rows.ts';
import {
  type BucketSource,
  fileBucket,
  fileRows,
  filesForKeys,
  type WrittenBuckets,
  writeBucketSources,
} from './bucket-files.ts';
import { supersedesSql } from './change-order.ts';
import type { ReducedChange } from './change-reduction.ts';
import { LakeRowSink } from './lake-row-sink.ts';
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
  const sink = await LakeRowSink.open(session, CHANGES, changeSchema);
  try {
    for (const winner of winners) sink.append({ ...winnerRow(shape, winner), [OP]: winner.op });
  } finally {
    sink.close();
  }

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
  let knownRows = true;
  const oldRows = new Map<number, number>();
  for (const file of removed) {
    const rows = fileRows(file);
    if (rows === undefined) knownRows = false;
    const bucket = fileBucket(file) as number;
    oldRows.set(bucket, (oldRows.get(bucket) ?? 0) + (rows ?? 0));
  }

  const fields = schema.fields;
  const keep = fields.map((field) => oldColumn(field, oldNames, 'o')).join(', ');
  const fresh = fields.map((field) => col('c', field.name)).join(', ');
  const flagged = fields
    .map((field) => (SYSTEM_NAMES.has(field.name) ? col('c', field.name) : oldColumn(field, oldNames, 'o')))
    .join(', ');
  const bucketOf = (alias: string, bucket: number) => `${col(alias, SYSTEM_COLUMN.bucket)} = ${bucket}`;
  const sources: BucketSource[] = [...buckets.keys()]
    .sort((a, b) => a - b)
    .map((bucket) => {
      const parts = [
        `SELECT ${keep} FROM ${q(OLD)} o WHERE ${bucketOf('o', bucket)} AND NOT EXISTS (SELECT 1 FROM ${q(COMPARED)} c WHERE c.${q(APPLIES)} AND ${col('c', key)} = ${col('o', key)})`,
        `SELECT ${fresh} FROM ${q(COMPARED)} c WHERE ${bucketOf('c', bucket)} AND c.${q(APPLIES)} AND (c.${q(OP)} = 'put'${soft ? ` OR NOT c.${q(EXISTED)}` : ''})`,
      ];
      // A soft delete keeps the attributes the row had, with the delete's version and flags.
      if (soft) {
        parts.push(
          `SELECT ${flagged} FROM ${q(COMPARED)} c JOIN ${q(OLD)} o ON ${col('o', key)} = ${col('c', key)} WHERE ${bucketOf('c', bucket)} AND ${bucketOf('o', bucket)} AND c.${q(APPLIES)} AND c.${q(OP)} = 'delete'`,
        );
      }
      return {
        bucket,
        sql: `SELECT * FROM (${parts.join(' UNION ALL ')}) ORDER BY ${q(key)}`,
        maxRows: knownRows ? (oldRows.get(bucket) ?? 0) + (buckets.get(bucket) ?? 0) : undefined,
      };
    });
  const written = await writeBucketSources(session, delta, schema, sources, options.rowsPerFile, emit);
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
