import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBMapValue } from '@duckdb/node-api';
import type { AddFile, PartitionValues } from '../delta/actions.ts';
import { dataFilePath } from '../delta/data-path.ts';
import { DeltaInvalidWriteError, DeltaUnsupportedFeatureError } from '../delta/errors.ts';
import type { StructField, StructType } from '../delta/schema.ts';
import { mapLimited } from '../map-limited.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { duckdbTypeOf } from './duckdb-type.ts';
import { computeFileStats, computeFilesStats, type FileStats, type WriterStats } from './file-stats.ts';
import { partitionFolder } from './partition-path.ts';
import { DuckDbError, type DuckSession, quoteIdentifier, quoteLiteral } from './session.ts';

/*
 * Data files as the issue and Spark want them: Parquet written by DuckDB with zstd and data page V1
 * (PARQUET_VERSION V1), named `part-<uuid>.zstd.parquet`, one column per non-partition field in
 * schema order, cast to the field's DuckDB type (duckdb-type.ts), so `timestamp` is TIMESTAMPTZ
 * (Parquet TIMESTAMP isAdjustedToUTC=true, MICROS; the session is UTC) and decimals are Parquet
 * DECIMAL. Each file is written to the session's scratch folder, measured (file-stats.ts, from
 * the writer's own column statistics plus at most one aggregate over the file), uploaded with
 * `store.put` as a stream, and deleted.
 */

export interface WriteDataFilesOptions {
  /** A DuckDB table (or view) name, or a query (`SELECT …`, `WITH …`, `FROM …`, `VALUES …`). */
  readonly source: string;
  /**
   * The table schema. Its non-partition fields are written, in schema order, each taken from the
   * source column of the same name and cast to the field's type; other source columns are ignored.
   */
  readonly schema: StructType;
  /**
   * The partition every row of the source belongs to, as the log serializes it (PROTOCOL.md,
   * "Partition Value Serialization"), one key per partition column in `partitionColumns` order.
   * These columns are not written to the files. Default: an unpartitioned table.
   */
  readonly partitionValues?: PartitionValues;
  /** At most this many rows per file (a positive integer). Default: one file for all rows. */
  readonly maxRowsPerFile?: number;
}

const QUERY_START = /^\s*(select|with|from|values|\()/i;

function sourceSql(source: string): string {
  return QUERY_START.test(source) ? `(${source})` : quoteIdentifier(source);
}

function dataFields(schema: StructType, partitionColumns: readonly string[]): StructField[] {
  const partition = new Set(partitionColumns);
  for (const column of partitionColumns) {
    if (!schema.fields.some((field) => field.name === column)) {
      throw new DeltaInvalidWriteError(
        `The partition value "${column}" names no column of the schema (${schema.fields.map((f) => f.name).join(', ')}); pass one value per partition column.`,
      );
    }
  }
  const fields = schema.fields.filter((field) => !partition.has(field.name));
  const mapped = fields.find((field) => field.metadata['delta.columnMapping.physicalName'] !== undefined);
  if (mapped !== undefined) {
    throw new DeltaUnsupportedFeatureError(
      'write',
      'columnMapping',
      `Column "${mapped.name}" has a column-mapping physical name; ddb-lake writes data files only for tables without column mapping.`,
    );
  }
  if (fields.length === 0) {
    throw new DeltaInvalidWriteError(
      'Every column of the schema is a partition column; a data file needs at least one data column.',
    );
  }
  return fields;
}

/** Read size of the upload stream: 1 MiB chunks put a file in a quarter of the time 64 KiB ones take (measured; 4 MiB is slower again). */
const UPLOAD_CHUNK_BYTES = 1024 * 1024;

/** Files of a partitioned write uploaded at once: one per bucket of the default 16, since a put waits mostly on the store (fsync, a round trip). */
const UPLOADS_IN_FLIGHT = 16;

const COPY_OPTIONS = 'FORMAT parquet, COMPRESSION zstd, PARQUET_VERSION V1, RETURN_STATS';

/** What COPY … RETURN_STATS tells about the file it wrote. */
interface WrittenFile {
  readonly rows: number;
  readonly columnStats: WriterStats;
}

function writerStatsOf(value: unknown): WriterStats {
  const stats = new Map<string, ReadonlyMap<string, string>>();
  if (!(value instanceof DuckDBMapValue)) return stats;
  for (const column of value.entries) {
    const entries = column.value instanceof DuckDBMapValue ? column.value.entries : [];
    stats.set(String(column.key), new Map(entries.map((entry) => [String(entry.key), String(entry.value)])));
  }
  return stats;
}

async function copyToParquet(
  session: DuckSession,
  select: string,
  file: string,
  source: string,
): Promise<WrittenFile> {
  try {
    const reader = await session.all(`COPY (${select}) TO ${quoteLiteral(file)} (${COPY_OPTIONS})`);
    const names = reader.columnNames();
    const row = reader.getRows()[0] ?? [];
    return {
      rows: Number(row[names.indexOf('count')] ?? 0),
      columnStats: writerStatsOf(row[names.indexOf('column_statistics')]),
    };
  } catch (error) {
    throw new DuckDbError(
      `Could not write the rows of ${source.length > 200 ? `${source.slice(0, 200)}…` : source} as a Parquet data file: ${(error as Error).message}. The source must have every data column of the schema, with values that cast to the column types.`,
      { cause: error },
    );
  }
}

/**
 * The query whose rows are written: the source itself when its columns already are the data
 * columns, in order and type, which spares DuckDB a projection of casts (measured: about 15 % of a
 * write); otherwise the casting SELECT.
 */
async function writeQuery(session: DuckSession, source: string, columns: string): Promise<string> {
  const casting = `SELECT ${columns} FROM ${sourceSql(source)}`;
  const plain = `SELECT * FROM ${sourceSql(source)}`;
  try {
    const [own, cast] = await Promise.all([
      session.all(`DESCRIBE ${plain}`),
      session.all(`DESCRIBE ${casting}`),
    ]);
    const shape = (described: typeof own): string =>
      JSON.stringify(described.getRows().map((row) => [String(row[0]), String(row[1])]));
    if (shape(own) === shape(cast)) return plain;
  } catch {
    // The casting COPY reports what is wrong with the source, naming it.
  }
  return casting;
}

/**
 * Writes the rows of `source` as Parquet data files (zstd, data page V1, `part-<uuid>.zstd.parquet`,
 * under `col=value/` folders for a partitioned table) and uploads them to `store` (the table's
 * root); returns one `add` per file, in write order, with `dataChange` true, the file's size, the
 * current time, the partition values and the stats (file-stats.ts). An empty source writes no file
 * and returns `[]`. Not idempotent: every call writes new files under fresh names, so a retry after
 * a failure leaves at most unreferenced files (removed by VACUUM), never a changed table.
 * @throws DuckDbError when the source lacks a data column or a value does not cast to its type;
 * DeltaInvalidWriteError for partition values that do not match the schema;
 * DeltaUnsupportedFeatureError for a schema with column-mapping physical names.
 */
export async function writeDataFiles(
  session: DuckSession,
  store: ObjectStore,
  options: WriteDataFilesOptions,
): Promise<AddFile[]> {
  const partitionValues = options.partitionValues ?? {};
  const partitionColumns = Object.keys(partitionValues);
  const fields = dataFields(options.schema, partitionColumns);
  const maxRows = options.maxRowsPerFile;
  if (maxRows !== undefined && (!Number.isSafeInteger(maxRows) || maxRows < 1)) {
    throw new DeltaInvalidWriteError(`maxRowsPerFile must be a positive integer, got ${maxRows}.`);
  }
  const columns = fields
    .map(
      (field) =>
        `CAST(${quoteIdentifier(field.name)} AS ${duckdbTypeOf(field.type)}) AS ${quoteIdentifier(field.name)}`,
    )
    .join(', ');
  const folder = partitionFolder(partitionColumns, partitionValues);
  const adds: AddFile[] = [];

  const writeOne = async (select: string): Promise<void> => {
    const name = `part-${randomUUID()}.zstd.parquet`;
    const file = path.join(session.scratchDir, name);
    try {
      const written = await copyToParquet(session, select, file, options.source);
      if (written.rows === 0) return;
      const key = folder === '' ? name : `${folder}/${name}`;
      // The upload and the aggregate (if the writer's statistics leave one to do) both only read the file.
      const [stats, { size }] = await Promise.all([
        computeFileStats(session, file, fields, written.columnStats, written.rows),
        stat(file),
        store.put(key, createReadStream(file, { highWaterMark: UPLOAD_CHUNK_BYTES })),
      ]);
      adds.push({
        path: dataFilePath(key),
        partitionValues: { ...partitionValues },
        size,
        modificationTime: Date.now(),
        dataChange: true,
        stats: stats.json,
      });
    } finally {
      await rm(file, { force: true });
    }
  };

  if (maxRows === undefined) {
    await writeOne(await writeQuery(session, options.source, columns));
    return adds;
  }
  // A fixed split needs the rows materialized once: a query source may not return the same rows
  // in the same order twice. rowid of a fresh table numbers its rows 0…n-1 in insertion order.
  const staging = quoteIdentifier(`__ddb_lake_write_${randomUUID()}`);
  try {
    try {
      await session.run(
        `CREATE TEMP TABLE ${staging} AS SELECT ${columns} FROM ${sourceSql(options.source)}`,
      );
    } catch (error) {
      throw new DuckDbError(
        `Could not read the rows to write from ${options.source}: ${(error as Error).message}. The source must have every data column of the schema.`,
        { cause: error },
      );
    }
    const total = Number((await session.all(`SELECT count(*) FROM ${staging}`)).getRows()[0]?.[0] ?? 0);
    for (let start = 0; start < total; start += maxRows) {
      await writeOne(
        `SELECT * FROM ${staging} WHERE rowid >= ${start} AND rowid < ${start + maxRows} ORDER BY rowid`,
      );
    }
  } finally {
    await session.run(`DROP TABLE IF EXISTS ${staging}`);
  }
  return adds;
}

/**
 * The null counts of the array and map columns of `source` per value of `partition` (as its
 * decimal text), by column as the writer's statistics name it: what a file of the partition holds.
 */
async function sourceNullCounts(
  session: DuckSession,
  source: string,
  partition: string,
  fields: readonly StructField[],
): Promise<ReadonlyMap<string, ReadonlyMap<string, string>>> {
  const counted = fields.filter((field) => field.type.type === 'array' || field.type.type === 'map');
  const byPartition = new Map<string, Map<string, string>>();
  if (counted.length === 0) return byPartition;
  const reader = await session.all(
    `SELECT CAST(CAST(${partition} AS BIGINT) AS VARCHAR), ${counted
      .map((field) => `CAST(count(*) - count(${quoteIdentifier(field.name)}) AS VARCHAR)`)
      .join(', ')} FROM ${source} GROUP BY 1`,
  );
  for (const row of reader.getRows()) {
    byPartition.set(
      String(row[0]),
      new Map(counted.map((field, index) => [quoteIdentifier(field.name), String(row[index + 1])])),
    );
  }
  return byPartition;
}

export interface WritePartitionedDataFilesOptions {
  /** A query or table with every data column of `schema` and the integer column `partitionColumn`. */
  readonly source: string;
  readonly schema: StructType;
  /** The table's one partition column; its values must be whole numbers (apply's `_ddb_bucket`). */
  readonly partitionColumn: string;
  /** Column the rows of each file are sorted by. */
  readonly orderBy: string;
  /**
   * The source is cheap to run twice (a query over a small table in memory): the null counts the
   * writer's statistics cannot give (arrays, maps) are then counted from it per partition, in one
   * aggregate, rather than by reading every file back (about 3 ms a file). Default false.
   */
  readonly countNullsInSource?: boolean;
}

/**
 * Writes the rows of `source` as one data file per value of `partitionColumn`, each sorted by
 * `orderBy`, in a single COPY … PARTITION_BY (one statement for many small files costs what one of
 * them costs alone: a merge-on-read batch appends a small file to each bucket it touches), then
 * measures and uploads each file as `writeDataFiles` does. Returns the `add` actions, ascending by
 * partition value; an empty source writes nothing. The COPY runs on one thread and sorts by
 * `orderBy` alone: with more threads, or with the partition column first in the ORDER BY, DuckDB
 * 1.x was measured writing a partition's rows in two sorted runs, and a file must be sorted whole.
 * @throws as writeDataFiles.
 */
export async function writePartitionedDataFiles(
  session: DuckSession,
  store: ObjectStore,
  options: WritePartitionedDataFilesOptions,
): Promise<AddFile[]> {
  const { partitionColumn } = options;
  const fields = dataFields(options.schema, [partitionColumn]);
  const columns = fields
    .map(
      (field) =>
        `CAST(${quoteIdentifier(field.name)} AS ${duckdbTypeOf(field.type)}) AS ${quoteIdentifier(field.name)}`,
    )
    .join(', ');
  const folder = path.join(session.scratchDir, `partitioned-${randomUUID()}`);
  const partition = quoteIdentifier(partitionColumn);
  const select = `SELECT ${columns}, CAST(${partition} AS BIGINT) AS ${partition} FROM ${sourceSql(options.source)} ORDER BY ${quoteIdentifier(options.orderBy)}`;
  const nullCounts =
    options.countNullsInSource === true
      ? await sourceNullCounts(session, sourceSql(options.source), partition, fields)
      : undefined;
  const threads = String((await session.all(`SELECT current_setting('threads')`)).getRows()[0]?.[0] ?? '1');
  let written: { file: string; rows: number; value: string; columnStats: WriterStats }[];
  try {
    await session.run('SET threads = 1');
    const reader = await session.all(
      `COPY (${select}) TO ${quoteLiteral(folder)} (${COPY_OPTIONS}, PARTITION_BY (${partition}), FILENAME_PATTERN 'part-{uuid}')`,
    );
    const names = reader.columnNames();
    written = reader.getRows().map((row) => ({
      file: String(row[names.indexOf('filename')]),
      rows: Number(row[names.indexOf('count')] ?? 0),
      value: String(/=([0-9-]+)[\\/][^\\/]*$/.exec(String(row[names.indexOf('filename')]))?.[1] ?? ''),
      columnStats: writerStatsOf(row[names.indexOf('column_statistics')]),
    }));
  } catch (error) {
    await rm(folder, { recursive: true, force: true });
    throw new DuckDbError(
      `Could not write the rows of ${options.source.length > 200 ? `${options.source.slice(0, 200)}…` : options.source} as Parquet data files per ${partitionColumn}: ${(error as Error).message}. The source must have every data column of the schema, with values that cast to the column types.`,
      { cause: error },
    );
  } finally {
    await session.run(`SET threads = ${Number(threads) > 0 ? Number(threads) : 1}`);
  }
  try {
    const files = written.filter((file) => file.rows > 0).sort((a, b) => Number(a.value) - Number(b.value));
    for (const file of files) {
      if (!/^-?[0-9]+$/.test(file.value)) {
        throw new DuckDbError(`DuckDB wrote ${file.file}, whose folder names no ${partitionColumn} value.`);
      }
    }
    // One statistics query for every file, and the uploads side by side: a statement and a wait
    // per file cost most of a small batch's append (16 files, about 5 ms each).
    const [stats, uploaded] = await Promise.all([
      computeFilesStats(
        session,
        files.map((file) => ({
          localPath: file.file,
          writerStats: file.columnStats,
          numRecords: file.rows,
          ...(nullCounts === undefined ? {} : { nullCounts: nullCounts.get(file.value) ?? new Map() }),
        })),
        fields,
      ),
      mapLimited(files, UPLOADS_IN_FLIGHT, async (file) => {
        const partitionValues = { [partitionColumn]: file.value };
        const key = `${partitionFolder([partitionColumn], partitionValues)}/part-${randomUUID()}.zstd.parquet`;
        const [{ size }] = await Promise.all([
          stat(file.file),
          store.put(key, createReadStream(file.file, { highWaterMark: UPLOAD_CHUNK_BYTES })),
        ]);
        return { key, partitionValues, size };
      }),
    ]);
    return uploaded.map(
      ({ key, partitionValues, size }, index): AddFile => ({
        path: dataFilePath(key),
        partitionValues,
        size,
        modificationTime: Date.now(),
        dataChange: true,
        stats: (stats[index] as FileStats).json,
      }),
    );
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
