import { rm } from 'node:fs/promises';
import type { StructType } from '../../delta/schema.ts';
import type { LakeRow } from '../../duckdb/lake-value.ts';
import { type DuckSession, quoteIdentifier } from '../../duckdb/session.ts';
import { SYSTEM_COLUMN } from '../../lake/table-layout.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import type { ApplyEvent } from '../apply-events.ts';
import { type WrittenBuckets, writeEachBucket } from '../bucket-files.ts';
import { createTableFromSpoolFiles } from './lake-row-spool.ts';
import { SpoolFileWriter, spoolable } from './snapshot-spool-file.ts';

/*
 * The bulk load's rows, kept bucket by bucket in spool files (snapshot-spool-file.ts) of the
 * session's scratch folder until every row is known, then written one bucket at a time: DuckDB
 * reads the bucket's spool files in one statement into a table sorted by key, which is checked and
 * written as the bucket's data files, then dropped. So DuckDB never holds more than one bucket's
 * rows (peak memory is about the table's size over its bucket count, not the table's size), and
 * each sort is a bucket's, not the table's. The scratch folder holds the spool files meanwhile:
 * about the export's uncompressed size.
 */

/** Spool files of rows grouped by bucket, written as sorted bucket files at the end. */
export class BucketRowSpool {
  readonly #session: DuckSession;
  readonly #schema: StructType;
  readonly #prefix: string;
  readonly #files = new Map<number, string[]>();
  readonly #rows = new Map<number, number>();
  readonly #writers = new Map<number, SpoolFileWriter>();
  #closed = false;

  /**
   * @param prefix the start of the names of the spool files this spool writes itself, and of the
   *   DuckDB table each bucket is loaded into.
   * @throws RangeError for a schema with a column type a spool does not carry (see `spoolable`).
   */
  constructor(session: DuckSession, schema: StructType, prefix: string) {
    this.#session = session;
    this.#schema = schema;
    this.#prefix = prefix;
    if (!spoolable(schema)) throw new RangeError('the schema has a column type the row spool does not carry');
  }

  /**
   * Takes the complete spool file `file` of `rows` rows of `bucket` (written with this schema);
   * owns it from now on.
   */
  add(bucket: number, file: string, rows: number): void {
    if (this.#closed) {
      void rm(file, { force: true });
      return;
    }
    let files = this.#files.get(bucket);
    if (files === undefined) {
      files = [];
      this.#files.set(bucket, files);
    }
    files.push(file);
    this.#rows.set(bucket, (this.#rows.get(bucket) ?? 0) + rows);
  }

  /**
   * Appends one row, to the bucket its `_ddb_bucket` cell names.
   * @throws LakeValueError as SpoolFileWriter.append; RangeError for a row without a bucket.
   */
  append(row: LakeRow): void {
    const bucket = row[SYSTEM_COLUMN.bucket];
    if (typeof bucket !== 'number' || !Number.isInteger(bucket) || bucket < 0) {
      throw new RangeError(`a row of the bulk load has no bucket (${String(bucket)})`);
    }
    let writer = this.#writers.get(bucket);
    if (writer === undefined) {
      writer = new SpoolFileWriter(
        this.#schema,
        this.#session.scratchDir,
        `${this.#prefix}-b${bucket}`,
        (file, rows) => this.add(bucket, file, rows),
      );
      this.#writers.set(bucket, writer);
    }
    writer.append(row);
  }

  /**
   * Writes every bucket of `buckets` (ascending) that holds rows as key-sorted files of at most
   * `rowsPerFile` rows under `ddb_bucket=<b>/`, after `check` has seen the bucket's loaded table
   * (it throws to stop the load), removing each bucket's spool files once it is written; reports
   * each bucket (`bucketWritten`). Call once, after the last `add` and `append`; on failure call
   * `abandon`.
   * @throws what `check` throws; DuckDB's and writeDataFiles' errors.
   */
  async write(
    delta: ObjectStore,
    buckets: readonly number[],
    rowsPerFile: number,
    emit: (event: ApplyEvent) => void,
    check: (table: string) => Promise<void>,
  ): Promise<WrittenBuckets> {
    for (const writer of this.#writers.values()) writer.finishFile();
    const table = `${this.#prefix}_bucket`;
    let written: WrittenBuckets;
    try {
      written = await writeEachBucket(
        this.#session,
        delta,
        this.#schema,
        buckets,
        async (bucket) => {
          const files = this.#files.get(bucket) ?? [];
          if (files.length === 0) return undefined;
          // Without the partition column the table's columns are the data files' own, so the write
          // copies them as they are (writeDataFiles casts nothing).
          await createTableFromSpoolFiles(this.#session, table, this.#schema, files, SYSTEM_COLUMN.key, [
            SYSTEM_COLUMN.bucket,
          ]);
          await check(table);
          return { source: table, split: (this.#rows.get(bucket) ?? 0) > rowsPerFile };
        },
        rowsPerFile,
        emit,
        undefined,
        async (bucket) => {
          const files = this.#files.get(bucket) ?? [];
          this.#files.delete(bucket);
          await Promise.all(files.map((file) => rm(file, { force: true })));
        },
      );
    } finally {
      await this.#session.run(`DROP TABLE IF EXISTS ${quoteIdentifier(table)}`);
    }
    this.#closed = true;
    return written;
  }

  /** Stops after a failure: removes every spool file, and any file handed over later. */
  async abandon(): Promise<void> {
    this.#closed = true;
    for (const writer of this.#writers.values()) writer.abandon();
    const files = [...this.#files.values()].flat();
    this.#files.clear();
    await Promise.all(files.map((file) => rm(file, { force: true })));
  }
}
