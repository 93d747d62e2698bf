import type { AddFile, DeletionVectorDescriptor } from '../../delta/actions.ts';
import { dataFileKey } from '../../delta/data-path.ts';
import { readDeletionVector } from '../../delta/deletion-vector.ts';
import { unionRowIndexes, writeDeletionVector } from '../../delta/deletion-vector-write.ts';
import type { StructField, StructType } from '../../delta/schema.ts';
import type { ReadSnapshot } from '../../delta/snapshot.ts';
import { deletionVectorsEnabled } from '../../delta/table-properties.ts';
import type { DeletionVectorChange } from '../../delta/transaction.ts';
import { duckdbTypeOf } from '../../duckdb/duckdb-type.ts';
import { localDataFiles } from '../../duckdb/local-data-files.ts';
import { DuckDbError, type DuckSession, quoteIdentifier, quoteLiteral } from '../../duckdb/session.ts';
import { createSnapshotView, FILE_ROW_NUMBER, hidesRowNumbers } from '../../duckdb/table-scan.ts';
import { SYSTEM_COLUMN } from '../../lake/table-layout.ts';
import { mapLimited } from '../../map-limited.ts';
import { ApplyErrorCode, ApplyRunError } from '../apply-errors.ts';
import {
  fileRows,
  filesForKeys,
  type WrittenBuckets,
  writeBucketQueries,
  writeBucketsAtOnce,
} from '../bucket-files.ts';
import {
  APPLIES,
  CHANGES,
  comparedOutcome,
  comparisonSql,
  EXISTED,
  loadChangeTable,
  type MergeOptions,
  type MergeOutcome,
  OP,
  oldColumn,
  SYSTEM_NAMES,
  WAS_DELETED,
} from './merge.ts';

/*
 * The merge-on-read batch (DESIGN.md rule 6): the cost follows the batch, not the table. For the
 * batch's keys, only the files whose `_ddb_key` bounds can hold one are looked into, and of those
 * only the key and version columns are read (DuckDB prunes the row groups of the key-sorted files
 * whose statistics exclude every key). A winner that supersedes the row it meets marks that row in
 * a new deletion vector of its file (the file's old vector's rows plus the new ones); the applied
 * puts (and, with soft deletes, the flagged rows) are appended as new key-sorted files per bucket.
 * No data file is rewritten: `table optimize` (or apply's automatic optimize) does that when a
 * file's deleted share or a bucket's small files cost readers.
 */

const LIVE = '__ddb_lake_mor_live';
const COMPARED = '__ddb_lake_mor_compared';
/** The winners' keys, for the lookup of their live rows. */
const KEYS = '__ddb_lake_mor_keys';
/** The winners' rows with the comparison's outcome: a view, so the rows are not copied. */
const COMPARED_ROWS = '__ddb_lake_mor_compared_rows';
const OLD_DELETED = '__ddb_lake_mor_old_deleted';
const FLAGGED_OLD = '__ddb_lake_mor_flagged_old';
/** Columns of the lookup and comparison beside the schema's. */
const FILE_INDEX = '__ddb_file';
const ROW_INDEX = '__ddb_row';
/** The path column of the candidate files' scan; see `pathColumnOf`. */
const FILE_PATH = '__ddb_lake_file_path';

/** Deletion vectors read or written at once: one per bucket of the default 16 (each waits on the store). */
const VECTORS_IN_FLIGHT = 16;

const q = quoteIdentifier;

/** What a merge-on-read batch produced for the commit. */
export interface MergeOnReadOutcome extends MergeOutcome {
  /** Files whose every row is now deleted: the commit removes them whole. */
  readonly removed: readonly AddFile[];
  /** The other touched files and their new deletion vectors (the old one's rows and the new ones). */
  readonly marked: readonly DeletionVectorChange[];
  /** Rows newly marked deleted in the touched files. */
  readonly rowsMarked: number;
  /** Bytes of the deletion vector files written (inline vectors count nothing). */
  readonly deletionVectorBytes: number;
}

/**
 * Whether a batch into `table` merges on read: the table has the `deletionVectors` writer feature
 * and `delta.enableDeletionVectors` is true (tables created with `--deletion-vectors off`, or
 * before ddb-lake wrote deletion vectors, are merged copy-on-write).
 */
export function mergesOnRead(table: ReadSnapshot): boolean {
  return deletionVectorsEnabled(table.protocol, table.metadata.configuration);
}

/** FILE_PATH, lengthened until no column of `schema` has its name (ignoring case, as DuckDB compares). */
function pathColumnOf(schema: StructType): string {
  const names = new Set(schema.fields.map((field) => field.name.toLowerCase()));
  let name = FILE_PATH;
  while (names.has(name)) name += '_';
  return name;
}

/** Serialized size of an on-disk deletion vector file written for one vector: version byte, size, bitmap, CRC. */
function vectorFileBytes(descriptor: DeletionVectorDescriptor): number {
  return descriptor.storageType === 'i' ? 0 : 1 + 4 + descriptor.sizeInBytes + 4;
}

/**
 * Throws naming a key of LIVE with more than one row (a table another writer changed, or damaged).
 * @throws ApplyRunError when there is one.
 */
async function assertOneLiveRowPerKey(session: DuckSession, delta: MergeOptions['delta']): Promise<void> {
  const key = SYSTEM_COLUMN.key;
  const duplicate = (
    await session.all(
      `SELECT ${q(key)}, count(*) FROM ${q(LIVE)} GROUP BY ${q(key)} HAVING count(*) > 1 LIMIT 1`,
    )
  ).getRows()[0];
  if (duplicate !== undefined) {
    throw new ApplyRunError(
      ApplyErrorCode.tableMismatch,
      `The table at ${delta.url} holds ${String(duplicate[1])} live rows of the key ${String(duplicate[0])}; each key has at most one. The table was changed by another writer or is damaged: check it with \`ddb-lake verify\`, and rebuild it from a snapshot if it differs.`,
    );
  }
}

/**
 * Merges the winners into the table by deletion vectors: finds the live rows of their keys in the
 * files that can hold them, decides per key whether the winner supersedes the row
 * (change-order.ts), marks the superseded rows in new deletion vectors, and writes the applied rows
 * as new key-sorted files per bucket. Nothing is committed here; the files and vectors written are
 * unreferenced until the commit. Deterministic in content for the same table and winners.
 * @throws ApplyRunError when a key has more than one live row (a damaged table), or the table has
 *   a column `file_row_number` (whose files DuckDB gives no row positions); the data plane's and
 *   the deletion vectors' errors.
 */
export async function mergeOnRead(options: MergeOptions): Promise<MergeOnReadOutcome> {
  const { session, delta, table, shape, winners, emit } = options;
  // Writers take only tables without column mapping: the schema's names are the files' own.
  if (hidesRowNumbers(table.schema.fields.map((field) => field.name))) {
    throw new ApplyRunError(
      ApplyErrorCode.tableMismatch,
      `The table at ${delta.url} has a column named "${FILE_ROW_NUMBER}": DuckDB cannot tell the positions of rows in data files with a column of that name, and a merge-on-read batch marks rows deleted by their positions. Nothing was written. A new table gives such an attribute the column "${FILE_ROW_NUMBER}_2" instead: build the table again with a first batch into a new --delta, or keep copy-on-write there with --deletion-vectors off.`,
    );
  }
  const soft = shape.layout.deletes === 'soft';
  const key = SYSTEM_COLUMN.key;
  const keysByBucket = new Map<number, string[]>();
  for (const winner of winners) {
    const list = keysByBucket.get(winner.bucket);
    if (list === undefined) keysByBucket.set(winner.bucket, [winner.key]);
    else list.push(winner.key);
  }
  // Only files that may hold a key: a new key needs no file (its row is appended).
  const candidates = filesForKeys(table.files, keysByBucket, { nearestForNewKeys: false }).files;
  const oldNames = new Set(table.schema.fields.map((field) => field.name));

  const tables: string[] = [KEYS, CHANGES, LIVE, COMPARED, OLD_DELETED, FLAGGED_OLD];
  const keys = candidates.map((file) => dataFileKey(file.path, table.tableUrl));
  const local = await localDataFiles(session, delta, keys);
  try {
    // The rows each candidate file's vector already removes.
    const oldDeleted = await mapLimited(candidates, VECTORS_IN_FLIGHT, async (file) =>
      file.deletionVector === undefined || file.deletionVector === null
        ? []
        : await readDeletionVector(delta, table.tableUrl, file.deletionVector),
    );
    await session.run(
      `CREATE OR REPLACE TEMP TABLE ${q(OLD_DELETED)} (file_index INTEGER, row_index BIGINT)`,
    );
    const appender = await session.connection.createAppender(OLD_DELETED);
    try {
      oldDeleted.forEach((rows, index) => {
        for (const row of rows) {
          appender.appendInteger(index);
          appender.appendBigInt(row);
          appender.endRow();
        }
      });
      appender.flushSync();
    } finally {
      appender.closeSync();
    }

    // The live rows of the batch's keys: key and version columns only, with their file and position.
    const versionColumns: string[] = [key, SYSTEM_COLUMN.seq, SYSTEM_COLUMN.ts, SYSTEM_COLUMN.source];
    if (soft && oldNames.has(SYSTEM_COLUMN.deleted)) versionColumns.push(SYSTEM_COLUMN.deleted);
    // One scan of every candidate file (half the CPU of a scan per file, measured): a file's
    // position among the candidates is found from its path, only for the rows that pass the filter.
    const pathList = `[${local.paths.map(quoteLiteral).join(', ')}]`;
    const candidateIndex = (value: unknown): number => {
      const index = value === null ? -1 : Number(value);
      if (index >= 0 && index < candidates.length) return index;
      throw new DuckDbError(
        `DuckDB's scan of the candidate data files of ${delta.url} named a file that is none of them (${local.paths.join(', ')}); nothing was committed. Run apply again; if this repeats, report it.`,
      );
    };
    const pathColumn = pathColumnOf(table.schema);
    const lookup = `SELECT CAST(list_position(${pathList}, ${q(pathColumn)}) - 1 AS INTEGER) AS ${q(FILE_INDEX)}, file_row_number AS ${q(ROW_INDEX)}, ${versionColumns.map(q).join(', ')} FROM read_parquet(${pathList}, file_row_number = true, filename = ${quoteLiteral(pathColumn)}, union_by_name = true) WHERE ${q(key)} IN (SELECT ${q(key)} FROM ${q(KEYS)})`;
    const found =
      local.paths.length === 0
        ? `SELECT CAST(NULL AS INTEGER) AS ${q(FILE_INDEX)}, CAST(NULL AS BIGINT) AS ${q(ROW_INDEX)}, ${versionColumns
            .map(
              (name) =>
                `CAST(NULL AS ${name === SYSTEM_COLUMN.ts ? 'TIMESTAMPTZ' : name === SYSTEM_COLUMN.deleted ? 'BOOLEAN' : 'VARCHAR'}) AS ${q(name)}`,
            )
            .join(', ')} WHERE false`
        : lookup;
    // The lookup needs only the keys: it runs in DuckDB's threads while JavaScript builds the
    // winners' rows for CHANGES (loadChangeTable), on the two cores at once.
    await session.run(`CREATE OR REPLACE TEMP TABLE ${q(KEYS)} (${q(key)} VARCHAR)`);
    await session.appendTextRows(
      KEYS,
      winners.map((winner) => winner.key),
    );
    let looking: Promise<void> | undefined;
    try {
      await loadChangeTable(session, shape, winners, () => {
        looking = session.run(
          `CREATE OR REPLACE TEMP TABLE ${q(LIVE)} AS SELECT f.* FROM (${found}) f ANTI JOIN ${q(OLD_DELETED)} d ON d.file_index = f.${q(FILE_INDEX)} AND d.row_index = f.${q(ROW_INDEX)}`,
        );
        looking.catch(() => {});
      });
    } finally {
      // Settled before anything else runs or is dropped, whether the rows loaded or not.
      await (looking as Promise<void> | undefined)?.catch(() => {});
    }
    await looking;
    const col = (alias: string, name: string) => `${alias}.${q(name)}`;
    const { applies, wasDeleted } = comparisonSql(versionColumns);
    await session.run(
      `CREATE OR REPLACE TEMP TABLE ${q(COMPARED)} AS SELECT ${col('c', key)}, ${col('c', OP)}, (${col('o', key)} IS NOT NULL) AS ${q(EXISTED)}, ${wasDeleted} AS ${q(WAS_DELETED)}, ${applies} AS ${q(APPLIES)}, ${col('o', FILE_INDEX)} AS ${q(FILE_INDEX)}, ${col('o', ROW_INDEX)} AS ${q(ROW_INDEX)} FROM ${q(CHANGES)} c LEFT JOIN ${q(LIVE)} o ON ${col('o', key)} = ${col('c', key)}`,
    );
    // Only the keys and outcomes are kept: a copy of the winners' whole rows cost more than the
    // join the view makes where they are needed (100,000 changes: about 0.5 s, measured).
    await session.run(
      `CREATE OR REPLACE TEMP VIEW ${q(COMPARED_ROWS)} AS SELECT c.*, ${col('k', EXISTED)}, ${col('k', WAS_DELETED)}, ${col('k', APPLIES)} FROM ${q(CHANGES)} c JOIN ${q(COMPARED)} k ON ${col('k', key)} = ${col('c', key)}`,
    );
    const { counts, appliedKeys, appliedDeletes, rows } = await comparedOutcome(session, COMPARED, winners);
    // A key with several live rows meets each of them: more rows than winners.
    if (rows !== winners.length) await assertOneLiveRowPerKey(session, delta);
    const buckets = new Map<number, number>();
    for (const winner of winners) {
      if (appliedKeys.has(winner.key)) buckets.set(winner.bucket, (buckets.get(winner.bucket) ?? 0) + 1);
    }

    // With soft deletes, a delete that meets a row keeps the row's attributes under the delete's
    // version: those rows are read whole, through the table's reader, from the files that hold them.
    const schema = shape.schema;
    const fields = schema.fields;
    let flaggedSource: string | undefined;
    if (soft) {
      const holding = (
        await session.all(
          `SELECT DISTINCT ${q(FILE_INDEX)} FROM ${q(COMPARED)} WHERE ${q(APPLIES)} AND ${q(OP)} = 'delete' AND ${q(EXISTED)}`,
        )
      )
        .getRows()
        .map((row) => candidates[candidateIndex(row[0])] as AddFile);
      if (holding.length > 0) {
        await createSnapshotView(session, delta, { ...table, files: holding }, FLAGGED_OLD);
        const flagged = fields
          .map((field) =>
            SYSTEM_NAMES.has(field.name) ? col('c', field.name) : oldColumn(field, oldNames, 'o'),
          )
          .join(', ');
        flaggedSource = `SELECT ${flagged} FROM ${q(COMPARED_ROWS)} c JOIN ${q(FLAGGED_OLD)} o ON ${col('o', key)} = ${col('c', key)} WHERE c.${q(APPLIES)} AND c.${q(OP)} = 'delete' AND c.${q(EXISTED)}`;
      }
    }

    const fresh = fields.map((field) => col('c', field.name)).join(', ');
    const typed = fields
      .map(
        (field: StructField) => `CAST(${q(field.name)} AS ${duckdbTypeOf(field.type)}) AS ${q(field.name)}`,
      )
      .join(', ');
    const inBucket = (alias: string, bucket: number) => `${col(alias, SYSTEM_COLUMN.bucket)} = ${bucket}`;
    const appended = (filter: (alias: string) => string): string => {
      const parts = [
        `SELECT ${fresh} FROM ${q(COMPARED_ROWS)} c WHERE ${filter('c')} AND c.${q(APPLIES)} AND (c.${q(OP)} = 'put'${soft ? ` OR NOT c.${q(EXISTED)}` : ''})`,
      ];
      if (flaggedSource !== undefined) parts.push(`SELECT * FROM (${flaggedSource}) f WHERE ${filter('f')}`);
      return `SELECT ${typed} FROM (${parts.join(' UNION ALL ')})`;
    };
    // The new deletion vectors: each touched file's old rows plus the rows its keys' winners replaced.
    const newlyDeleted = new Map<number, bigint[]>();
    for (const [file, row] of (
      await session.all(
        `SELECT ${q(FILE_INDEX)}, ${q(ROW_INDEX)} FROM ${q(COMPARED)} WHERE ${q(APPLIES)} AND ${q(EXISTED)} ORDER BY 1, 2`,
      )
    ).getRows()) {
      const index = candidateIndex(file);
      const list = newlyDeleted.get(index);
      if (list === undefined) newlyDeleted.set(index, [BigInt(row as bigint)]);
      else list.push(BigInt(row as bigint));
    }
    const touched = [...newlyDeleted.keys()].sort((a, b) => a - b);
    let rowsMarked = 0;
    let deletionVectorBytes = 0;
    const writeVectors = () =>
      mapLimited(touched, VECTORS_IN_FLIGHT, async (index) => {
        const file = candidates[index] as AddFile;
        const added = newlyDeleted.get(index) as bigint[];
        rowsMarked += added.length;
        const rows = unionRowIndexes(oldDeleted[index] ?? [], added);
        const physical = fileRows(file);
        if (physical !== undefined && rows.length >= physical) return { file, deletionVector: undefined };
        const deletionVector = await writeDeletionVector(delta, rows);
        deletionVectorBytes += vectorFileBytes(deletionVector);
        return { file, deletionVector };
      });
    const bucketList = [...buckets.keys()].sort((a, b) => a - b);
    // Every bucket's appended rows fit one file (the usual case): one partitioned write for all of
    // them (it sorts each bucket's rows by key).
    const writeAppended = async (): Promise<WrittenBuckets> =>
      [...buckets.values()].every((rows) => rows <= options.rowsPerFile)
        ? bucketList.length === 0
          ? { adds: [], rows: 0, bytes: 0 }
          : await writeBucketsAtOnce(
              session,
              delta,
              schema,
              appended(() => 'true'),
              emit,
              { cheapSource: true },
            )
        : await writeBucketQueries(
            session,
            delta,
            schema,
            bucketList,
            (bucket) => `${appended((alias) => inBucket(alias, bucket))} ORDER BY ${q(key)}`,
            buckets,
            options.rowsPerFile,
            emit,
          );

    // The appended files and the vectors go to the store side by side: the vectors are JavaScript
    // and store writes only, while the append's COPY holds the session.
    const [appendedOutcome, vectorsOutcome] = await Promise.allSettled([writeAppended(), writeVectors()]);
    if (appendedOutcome.status === 'rejected') throw appendedOutcome.reason;
    if (vectorsOutcome.status === 'rejected') throw vectorsOutcome.reason;
    const written = appendedOutcome.value;
    const results = vectorsOutcome.value;
    const marked: DeletionVectorChange[] = [];
    const removed: AddFile[] = [];
    for (const { file, deletionVector } of results) {
      if (deletionVector === undefined) removed.push(file);
      else marked.push({ file, deletionVector });
    }
    return {
      removed,
      marked,
      written,
      buckets: buckets.size,
      ...counts,
      appliedDeletes,
      rowsMarked,
      deletionVectorBytes,
    };
  } finally {
    await local.release();
    // One statement for all: seven round trips cost a small batch about 5 ms.
    await session.run(
      [
        `DROP VIEW IF EXISTS ${q(FLAGGED_OLD)}`,
        `DROP VIEW IF EXISTS ${q(COMPARED_ROWS)}`,
        ...tables.filter((name) => name !== FLAGGED_OLD).map((name) => `DROP TABLE IF EXISTS ${q(name)}`),
      ].join(';\n'),
    );
  }
}
