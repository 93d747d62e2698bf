import { randomUUID } from 'node:crypto';
import { BIGINT, DuckDBDataChunk, INTEGER, UBIGINT } from '@duckdb/node-api';
import type { AddFile, DeletionVectorDescriptor } from '../delta/actions.ts';
import { dataFileKey } from '../delta/data-path.ts';
import { readDeletionVector } from '../delta/deletion-vector.ts';
import {
  assertReadable,
  type ColumnMappingMode,
  columnMappingMode,
  physicalName,
} from '../delta/reader-features.ts';
import type { StructField } from '../delta/schema.ts';
import type { ReadSnapshot } from '../delta/snapshot.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { columnProjection, type FileColumns, fileColumnsOf } from './column-projection.ts';
import { duckdbTypeOf } from './duckdb-type.ts';
import { DataFileReadError } from './errors.ts';
import { readLakeRows } from './lake-rows.ts';
import type { LakeRow } from './lake-value.ts';
import { localDataFiles } from './local-data-files.ts';
import { partitionValueSql } from './partition-value-sql.ts';
import { type DuckSession, quoteIdentifier, quoteLiteral } from './session.ts';

/*
 * The rows of a snapshot as a DuckDB view (PROTOCOL.md, "Delta Table Specification": the table is
 * the union of its active files; partition values come from the log, not the files). Files are
 * never read with union_by_name: files whose decimal types differ would be unified into one type
 * and rounded (DESIGN.md, "Pitfalls"). Instead files with the same Parquet schema and the same
 * partition values are read together, each group's columns cast one by one to the table's types,
 * the rows deletion vectors name left out of a group by one anti join on (file, row), and the
 * parts are joined with UNION ALL.
 */

interface ScanFile {
  readonly add: AddFile;
  readonly key: string;
  readonly local: string;
}

/** Columns that a data plane cannot hold (PROTOCOL.md recommends dropping `void` columns on read). */
function readableFields(snapshot: ReadSnapshot): StructField[] {
  return snapshot.schema.fields.filter(
    (field) => !(field.type.type === 'primitive' && field.type.name === 'void'),
  );
}

function assertScannable(snapshot: ReadSnapshot): ColumnMappingMode {
  // Deletion vectors are applied here (deletedRowsTable), so the reader feature is accepted.
  assertReadable(snapshot.protocol, snapshot.metadata, {
    tableUrl: snapshot.tableUrl,
    deletionVectors: true,
  });
  return columnMappingMode(snapshot.protocol, snapshot.metadata);
}

function hasDeletionVector(add: AddFile): boolean {
  return add.deletionVector !== undefined && add.deletionVector !== null;
}

const DELETION_VECTORS_IN_FLIGHT = 8;

/**
 * Files read by one `read_parquet` over their list: the same Parquet schema and the same
 * projections (so the same partition values).
 */
interface ScanGroup {
  readonly projections: string;
  /** The files' own column named `file_row_number` (any case) hides DuckDB's row positions. */
  readonly rowNumbersHidden: boolean;
  /** In the order of the list, which is the order of DuckDB's `file_index`. */
  readonly files: ScanFile[];
}

/** DuckDB's virtual column of a file's position in the list `read_parquet` reads. */
const FILE_INDEX = 'file_index';

/**
 * Whether a file's own column would take the place of DuckDB's virtual `file_index` column (a
 * real column of that name, in any case, shadows it without an error).
 */
function shadowsFileIndex(columns: FileColumns): boolean {
  for (const name of columns.keys()) if (name.toLowerCase() === FILE_INDEX) return true;
  return false;
}

/** DuckDB's virtual column of a row's position in its file, which deletion vectors name. */
export const FILE_ROW_NUMBER = 'file_row_number';

/**
 * Whether one of `columnNames` is `file_row_number` in any case: DuckDB then refuses to read row
 * positions (`file_row_number = true`), so deletion vectors cannot be applied to such a file.
 */
export function hidesRowNumbers(columnNames: Iterable<string>): boolean {
  for (const name of columnNames) if (name.toLowerCase() === FILE_ROW_NUMBER) return true;
  return false;
}

/** The rows each file's deletion vector removes (PROTOCOL.md, "Deletion Vectors"); files without one are absent. */
async function deletedRowsByFile(
  store: ObjectStore,
  snapshot: ReadSnapshot,
  files: readonly ScanFile[],
): Promise<Map<ScanFile, readonly bigint[]>> {
  const marked = files.filter((file) => hasDeletionVector(file.add));
  const deleted = new Map<ScanFile, readonly bigint[]>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < marked.length) {
      const file = marked[next++] as ScanFile;
      deleted.set(
        file,
        await readDeletionVector(
          store,
          snapshot.tableUrl,
          file.add.deletionVector as DeletionVectorDescriptor,
        ),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(DELETION_VECTORS_IN_FLIGHT, marked.length) }, worker));
  return deleted;
}

/** Rows per chunk appended: DuckDB's vector size. */
const CHUNK_ROWS = 2048;

/**
 * A table of the rows deletion vectors remove: `scan_group` the group's position in `groups`,
 * `file_index` the file's position in its group's list, `row_index` the 0-based position in the
 * data file; undefined when no file has a vector. The rows go in through the appender, a chunk at a
 * time; the view leaves out each group's rows whose (`file_index`, `file_row_number`) it holds.
 */
async function deletedRowsTable(
  session: DuckSession,
  groups: readonly ScanGroup[],
  deleted: ReadonlyMap<ScanFile, readonly bigint[]>,
): Promise<string | undefined> {
  if (deleted.size === 0) return undefined;
  const table = `__ddb_lake_deleted_rows_${randomUUID()}`;
  await session.run(
    `CREATE TABLE ${quoteIdentifier(table)} (scan_group INTEGER, file_index UBIGINT, row_index BIGINT)`,
  );
  const appender = await session.connection.createAppender(table);
  try {
    let groupColumn: number[] = [];
    let fileColumn: bigint[] = [];
    let rowColumn: bigint[] = [];
    const flush = (): void => {
      if (rowColumn.length === 0) return;
      const chunk = DuckDBDataChunk.create([INTEGER, UBIGINT, BIGINT], rowColumn.length);
      chunk.setColumns([groupColumn, fileColumn, rowColumn]);
      appender.appendDataChunk(chunk);
      groupColumn = [];
      fileColumn = [];
      rowColumn = [];
    };
    groups.forEach((group, groupIndex) => {
      group.files.forEach((file, index) => {
        const fileIndex = BigInt(index);
        for (const row of deleted.get(file) ?? []) {
          groupColumn.push(groupIndex);
          fileColumn.push(fileIndex);
          rowColumn.push(row);
          if (rowColumn.length === CHUNK_ROWS) flush();
        }
      });
    });
    flush();
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
  return table;
}

/** Each local file's Parquet schema as one text, to group files that read alike. */
async function schemaSignatures(
  session: DuckSession,
  files: readonly ScanFile[],
): Promise<Map<string, string>> {
  const list = `[${files.map((file) => quoteLiteral(file.local)).join(', ')}]`;
  let rows: unknown[][];
  try {
    const reader = await session.all(
      `SELECT file_name, name, type, type_length, repetition_type, num_children, converted_type, scale, precision, field_id, logical_type FROM parquet_schema(${list})`,
    );
    rows = reader.getRows();
  } catch (error) {
    throw new DataFileReadError(
      files.length === 1 ? (files[0] as ScanFile).key : '',
      `Could not read the Parquet footer of a data file of the table: ${(error as Error).message}. A data file listed by the log is damaged or not Parquet; restore it from a backup.`,
      { cause: error },
    );
  }
  const signatures = new Map<string, string>();
  for (const [fileName, ...rest] of rows) {
    const name = String(fileName);
    signatures.set(
      name,
      `${signatures.get(name) ?? ''}${JSON.stringify(rest.map((value) => (value === null ? null : String(value))))}\n`,
    );
  }
  return signatures;
}

async function columnsOf(session: DuckSession, local: string, key: string): Promise<FileColumns> {
  try {
    const reader = await session.all(`SELECT * FROM read_parquet(${quoteLiteral(local)}) LIMIT 0`);
    return fileColumnsOf(reader.columnNames(), reader.columnTypes());
  } catch (error) {
    throw new DataFileReadError(
      key,
      `Could not read the columns of the data file ${key}: ${(error as Error).message}.`,
      {
        cause: error,
      },
    );
  }
}

function partitionProjection(field: StructField, add: AddFile, mode: ColumnMappingMode): string {
  const value = add.partitionValues[physicalName(field, mode)];
  return `${partitionValueSql(value, field.type, field.name, add.path)} AS ${quoteIdentifier(field.name)}`;
}

/**
 * The files grouped by Parquet schema and projections, in the order of their first file. A file
 * whose own columns shadow `file_index` gets a group of its own, where its rows are told apart by
 * `file_row_number` alone.
 */
async function scanGroups(
  session: DuckSession,
  snapshot: ReadSnapshot,
  files: readonly ScanFile[],
  mode: ColumnMappingMode,
): Promise<ScanGroup[]> {
  if (files.length === 0) return [];
  const fields = readableFields(snapshot);
  const partitionColumns = new Set(snapshot.partitionColumns);
  const signatures = await schemaSignatures(session, files);
  const columnsBySignature = new Map<string, FileColumns>();
  const groups = new Map<string, ScanGroup>();
  for (const file of files) {
    const signature = signatures.get(file.local) ?? '';
    let columns = columnsBySignature.get(signature);
    if (columns === undefined) {
      columns = await columnsOf(session, file.local, file.key);
      columnsBySignature.set(signature, columns);
    }
    const projections = fields
      .map((field) =>
        partitionColumns.has(field.name)
          ? partitionProjection(field, file.add, mode)
          : columnProjection(field, columns, mode),
      )
      .join(', ');
    const alone = shadowsFileIndex(columns) ? `\u0000${file.local}` : '';
    const groupKey = `${signature}\u0000${projections}${alone}`;
    const group = groups.get(groupKey);
    if (group === undefined)
      groups.set(groupKey, { projections, rowNumbersHidden: hidesRowNumbers(columns.keys()), files: [file] });
    else group.files.push(file);
  }
  return [...groups.values()];
}

/** The SELECT over the groups' files, or over none (an empty result with the table's columns). */
function snapshotSql(
  snapshot: ReadSnapshot,
  groups: readonly ScanGroup[],
  deletedRows: string | undefined,
): string {
  if (groups.length === 0) {
    const nulls = readableFields(snapshot).map(
      (field) => `CAST(NULL AS ${duckdbTypeOf(field.type)}) AS ${quoteIdentifier(field.name)}`,
    );
    return `SELECT ${nulls.join(', ')} WHERE false`;
  }
  return groups
    .map(({ projections, rowNumbersHidden, files }, groupIndex) => {
      const list = `[${files.map((file) => quoteLiteral(file.local)).join(', ')}]`;
      if (deletedRows === undefined || !files.some((file) => hasDeletionVector(file.add))) {
        return `SELECT ${projections} FROM read_parquet(${list})`;
      }
      if (rowNumbersHidden) {
        const marked = files.find((file) => hasDeletionVector(file.add)) as ScanFile;
        throw new DataFileReadError(
          marked.key,
          `The data file ${marked.key} has a deletion vector and a column named "${FILE_ROW_NUMBER}": DuckDB, which reads the table here, cannot tell the positions of rows in a file with a column of that name, so the rows the vector deletes cannot be left out. Nothing was read. Rewrite the table's files without deletion vectors (Delta's REORG TABLE … APPLY (PURGE)), or rename the column.`,
        );
      }
      // Files with deletion vectors are read with their group, without the rows their vectors
      // name: one anti join on (file, row) instead of a scan per file (a table after many
      // merge-on-read batches has a vector on most files). The file is DuckDB's file_index, a
      // number, rather than the filename, a string per row; a group of one file needs neither.
      const deleted = `(SELECT file_index, row_index FROM ${quoteIdentifier(deletedRows)} WHERE scan_group = ${groupIndex})`;
      const sameFile = files.length === 1 ? '' : `d.file_index = r.${FILE_INDEX} AND `;
      return `SELECT ${projections} FROM (SELECT r.* FROM read_parquet(${list}, file_row_number = true) r ANTI JOIN ${deleted} d ON ${sameFile}d.row_index = r.file_row_number)`;
    })
    .join('\nUNION ALL\n');
}

/** Creates the view; returns how to release the files downloaded for it. */
async function createView(
  session: DuckSession,
  store: ObjectStore,
  snapshot: ReadSnapshot,
  viewName: string,
): Promise<() => Promise<void>> {
  const mode = assertScannable(snapshot);
  const keys = snapshot.files.map((add) => dataFileKey(add.path, snapshot.tableUrl));
  const local = await localDataFiles(session, store, keys);
  let deletedRows: string | undefined;
  const release = async (): Promise<void> => {
    if (deletedRows !== undefined) await session.run(`DROP TABLE IF EXISTS ${quoteIdentifier(deletedRows)}`);
    await local.release();
  };
  try {
    const files = snapshot.files.map((add, index) => ({
      add,
      key: keys[index] as string,
      local: local.paths[index] as string,
    }));
    // The vectors are read from the store while DuckDB reads the files' footers.
    const [groups, deleted] = await Promise.all([
      scanGroups(session, snapshot, files, mode),
      deletedRowsByFile(store, snapshot, files),
    ]);
    deletedRows = await deletedRowsTable(session, groups, deleted);
    const sql = snapshotSql(snapshot, groups, deletedRows);
    await session.run(`CREATE OR REPLACE VIEW ${quoteIdentifier(viewName)} AS ${sql}`);
    return release;
  } catch (error) {
    await release();
    throw error;
  }
}

/**
 * Creates (or replaces) the DuckDB view `viewName` holding the rows of `snapshot`: the table's
 * logical columns with the types of `snapshot.schema` (duckdb-type.ts; `void` columns dropped),
 * over its active files. Each file's columns are found by physical name under column mapping
 * (`name` mode) and cast to the table type; a column a file lacks is NULL; partition columns come
 * from `add.partitionValues`; rows named by a file's deletion vector are left out (by DuckDB's
 * `file_row_number`). Files on a LocalFolderStore are read in place; others are downloaded into
 * the session's scratch folder. Downloads and the table of deleted rows stay until the session
 * closes, since the view reads them lazily. Row order is unspecified.
 * @throws DeltaUnsupportedFeatureError for a reader feature not applied here (column mapping by
 * id, type widening, …: reader-features.ts); DataFileReadError for a missing or damaged file;
 * DeltaLogCorruptError for a partition value that is not of its column's type or a damaged
 * deletion vector.
 */
export async function createSnapshotView(
  session: DuckSession,
  store: ObjectStore,
  snapshot: ReadSnapshot,
  viewName: string,
): Promise<void> {
  await createView(session, store, snapshot, viewName);
}

export interface ReadSnapshotRowsOptions {
  /** Column names to sort by, ascending, nulls last; default: unspecified order. */
  readonly orderBy?: readonly string[];
}

/**
 * Every row of `snapshot` as lake values (lake-value.ts), read through a temporary view
 * (createSnapshotView) that is dropped afterwards, with downloaded files and deleted-row tables
 * removed. Holds all rows in
 * memory: for tests, checks and small tables.
 * @throws as createSnapshotView; DuckDbError for an `orderBy` column the table lacks.
 */
export async function readSnapshotRows(
  session: DuckSession,
  store: ObjectStore,
  snapshot: ReadSnapshot,
  options: ReadSnapshotRowsOptions = {},
): Promise<LakeRow[]> {
  const view = `__ddb_lake_scan_${randomUUID()}`;
  const release = await createView(session, store, snapshot, view);
  try {
    const order = options.orderBy ?? [];
    const orderBy =
      order.length === 0
        ? ''
        : ` ORDER BY ${order.map((c) => `${quoteIdentifier(c)} ASC NULLS LAST`).join(', ')}`;
    return await readLakeRows(session, `SELECT * FROM ${quoteIdentifier(view)}${orderBy}`);
  } finally {
    await session.run(`DROP VIEW IF EXISTS ${quoteIdentifier(view)}`);
    await release();
  }
}
