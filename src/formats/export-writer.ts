import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { pipeline, Transform } from 'node:stream';
import { createGzip, type Gzip } from 'node:zlib';
import type { Item } from '../dynamo/attribute-value.ts';
import { DdbLakeError } from '../errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { EXPORTS_FOLDER, MANIFEST_FILES, MANIFEST_SUMMARY } from './export-layout.ts';
import type { FullExportSummary } from './export-manifest.ts';
import { parseItemAt } from './parse-change-record.ts';

export interface ExportWriterOptions {
  /** ARN of the exported table (`arn:aws:dynamodb:<region>:<account>:table/<name>`). */
  readonly tableArn: string;
  readonly tableId?: string | null;
  /** The point in time the items reflect; for a Scan export, when the scan started. */
  readonly exportTime: Date;
  /** When the export job started (names the export id); default `exportTime`. */
  readonly startTime?: Date;
  /** Default: `<startTime as 14-digit epoch ms>-<8 random hex digits>`, as DynamoDB forms them. */
  readonly exportId?: string;
  /** Bucket and prefix recorded in the manifests; default from an `s3://` store URL. */
  readonly s3Bucket?: string;
  readonly s3Prefix?: string | null;
  /** A data file is closed once this many bytes of JSON lines went into it (default 256 MiB). */
  readonly maxFileBytes?: number;
  /** Check every item with the value model before writing it (default true). */
  readonly validate?: boolean;
  /**
   * Set for an export taken by a parallel Scan (see `DdbLakeScanSummary`): manifest-summary.json then
   * says so, and when the scan ended. `exportTime` must be the scan's start time.
   */
  readonly scan?: { readonly segments: number; readonly consistentRead: boolean };
}

/**
 * The `ddbLakeScan` field of manifest-summary.json, written by a Scan export only. DynamoDB's
 * exports have no such field, and readers that do not know it ignore it: `exportType` stays
 * FULL_EXPORT and `exportTime` is the scan's start (DESIGN.md rule 2), so one reader serves both.
 * Each item was read at some moment between `startTime` and `endTime`.
 */
export interface DdbLakeScanSummary {
  /** ISO-8601 UTC: when the scan started (equal to the summary's `exportTime`). */
  readonly startTime: string;
  /** ISO-8601 UTC: when the last segment had been read and the manifests were written. */
  readonly endTime: string;
  /** The Scan's `TotalSegments`. */
  readonly segments: number;
  readonly consistentRead: boolean;
}

/** manifest-summary.json as `ExportWriter` writes it. */
export type WrittenExportSummary = FullExportSummary & { readonly ddbLakeScan?: DdbLakeScanSummary };

/** A data file that has been written completely: what manifest-files.json lists about it. */
export interface WrittenDataFile {
  /** The data file's key in the store (`AWSDynamoDB/<exportId>/data/<name>.json.gz`). */
  readonly key: string;
  readonly itemCount: number;
  /** Base64 MD5 of the gzipped bytes. */
  readonly md5Checksum: string;
  /** Hex MD5 of the gzipped bytes (what S3 reports as the ETag of a single-part upload). */
  readonly etag: string;
  /** Bytes of JSON lines before compression (they add up to `billedSizeBytes`). */
  readonly rawBytes: number;
}

/** Lines are handed to gzip in slices of this size: fewer, larger zlib calls. */
const WRITE_SLICE_BYTES = 256 * 1024;
const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * Writes an export in DynamoDB's native full-export layout (DESIGN.md, Formats: Snapshot), so the
 * export readers serve it as they serve DynamoDB's: `AWSDynamoDB/<exportId>/_started` first, data
 * files `data/<random>.json.gz` (gzip JSON lines `{"Item":…}`) rolled at `maxFileBytes`, then
 * `manifest-files.json` with each file's real MD5 and item count, and `manifest-summary.json` last,
 * each manifest preceded by its `.md5`. Until `finish` returns, the export does not count as
 * complete (`listExports` ignores it); after a failure, call `abort` and start a new export.
 *
 * `write` appends to one sequence of data files; `part()` opens further independent sequences for
 * parallel writers (one per scan segment). Calls on one sequence must not overlap.
 *
 * An export can be continued by another process (`resume`), given the data files written so far:
 * a resumable writer closes its data files where it can account for them (`closeFile`), records
 * what it closed somewhere durable, and hands that list to `resume` after a crash.
 */
export class ExportWriter {
  readonly store: ObjectStore;
  readonly exportId: string;
  /** `AWSDynamoDB/<exportId>/` in the store. */
  readonly dir: string;
  readonly #options: ExportWriterOptions;
  readonly #startTime: Date;
  readonly #location: { readonly s3Bucket: string; readonly s3Prefix: string | null };
  readonly #parts: ExportPartWriter[] = [];
  readonly #closedFiles: WrittenDataFile[] = [];
  #main: ExportPartWriter | undefined;
  #finished = false;

  private constructor(store: ObjectStore, options: ExportWriterOptions) {
    this.store = store;
    this.#options = options;
    this.#startTime = options.startTime ?? options.exportTime;
    this.exportId =
      options.exportId ??
      `${String(this.#startTime.getTime()).padStart(14, '0')}-${randomBytes(4).toString('hex')}`;
    this.dir = `${EXPORTS_FOLDER}${this.exportId}/`;
    this.#location = locationOf(store, options);
  }

  /** Starts an export: writes `_started`. Store errors pass through. */
  static async start(store: ObjectStore, options: ExportWriterOptions): Promise<ExportWriter> {
    const writer = new ExportWriter(store, options);
    await store.put(`${writer.dir}_started`, '');
    return writer;
  }

  /**
   * Continues an unfinished export: `options` must name its `exportId` and repeat the options it
   * was started with; `files` are the data files already written completely, which the manifests
   * will list before any written from now on. Writes `_started` again only if it is missing.
   * Throws `DdbLakeError` (`EXPORT_FINISHED`) when the export already has its manifest-summary.json.
   */
  static async resume(
    store: ObjectStore,
    options: ExportWriterOptions & { readonly exportId: string },
    files: readonly WrittenDataFile[],
  ): Promise<ExportWriter> {
    const writer = new ExportWriter(store, options);
    if ((await store.head(`${writer.dir}${MANIFEST_SUMMARY}`)) !== undefined) throw finishedError(writer.dir);
    if ((await store.head(`${writer.dir}_started`)) === undefined)
      await store.put(`${writer.dir}_started`, '');
    writer.#closedFiles.push(...files);
    return writer;
  }

  /** Appends an item to the main sequence of data files. Throws `BadInputError` for an invalid item. */
  async write(item: Item): Promise<void> {
    this.#main ??= this.part();
    await this.#main.write(item);
  }

  /**
   * A further sequence of data files, for one parallel writer. `maxFileBytes` overrides the
   * export's for this sequence; `Infinity` leaves every roll to the caller (`closeFile`).
   */
  part(options: { readonly maxFileBytes?: number } = {}): ExportPartWriter {
    if (this.#finished) throw finishedError(this.dir);
    const part = new ExportPartWriter(
      this,
      options.maxFileBytes ?? this.#options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
      this.#options.validate ?? true,
    );
    this.#parts.push(part);
    return part;
  }

  /** The data files written completely so far (those handed to `resume` first), in that order. */
  get files(): readonly WrittenDataFile[] {
    return this.#closedFiles;
  }

  /** Closes every sequence, writes the manifests (summary last) and returns the summary. */
  async finish(): Promise<WrittenExportSummary> {
    if (this.#finished) throw finishedError(this.dir);
    for (const part of this.#parts) await part.close();
    this.#finished = true;
    const files = this.#closedFiles;
    const prefix = this.#location.s3Prefix === null ? '' : `${this.#location.s3Prefix.replace(/\/$/, '')}/`;
    const manifestFiles = files
      .map((file) =>
        JSON.stringify({
          itemCount: file.itemCount,
          md5Checksum: file.md5Checksum,
          etag: file.etag,
          dataFileS3Key: `${prefix}${file.key}`,
        }),
      )
      .map((line) => `${line}\n`)
      .join('');
    await this.#putManifest(MANIFEST_FILES, manifestFiles);
    const endTime = new Date().toISOString();
    const scan = this.#options.scan;
    const summary: WrittenExportSummary = {
      version: '2020-06-30',
      exportArn: `${this.#options.tableArn}/export/${this.exportId}`,
      startTime: this.#startTime.toISOString(),
      endTime,
      tableArn: this.#options.tableArn,
      tableId: this.#options.tableId ?? null,
      exportTime: this.#options.exportTime.toISOString(),
      s3Bucket: this.#location.s3Bucket,
      s3Prefix: this.#location.s3Prefix,
      s3SseAlgorithm: null,
      s3SseKmsKeyId: null,
      manifestFilesS3Key: `${prefix}${this.dir}${MANIFEST_FILES}`,
      billedSizeBytes: files.reduce((sum, file) => sum + file.rawBytes, 0),
      itemCount: files.reduce((sum, file) => sum + file.itemCount, 0),
      outputFormat: 'DYNAMODB_JSON',
      exportType: 'FULL_EXPORT',
      ...(scan === undefined
        ? {}
        : {
            ddbLakeScan: {
              startTime: this.#options.exportTime.toISOString(),
              endTime,
              segments: scan.segments,
              consistentRead: scan.consistentRead,
            },
          }),
    };
    await this.#putManifest(MANIFEST_SUMMARY, JSON.stringify(summary));
    return summary;
  }

  /** Stops every sequence; the export stays incomplete (no manifest-summary.json). */
  async abort(): Promise<void> {
    this.#finished = true;
    await Promise.allSettled(this.#parts.map((part) => part.abort()));
  }

  /** @internal A data file of some sequence has been written completely. */
  recordFile(file: WrittenDataFile): void {
    this.#closedFiles.push(file);
  }

  /** @internal A fresh data file key (26 random base32 letters, as DynamoDB names them). */
  newDataFileKey(): string {
    const bytes = randomBytes(26);
    let name = '';
    for (const byte of bytes) name += BASE32[byte & 31];
    return `${this.dir}data/${name}.json.gz`;
  }

  async #putManifest(name: string, body: string): Promise<void> {
    const md5 = createHash('md5').update(body).digest('base64');
    await this.store.put(`${this.dir}${name.replace(/\.json$/, '.md5')}`, md5);
    await this.store.put(`${this.dir}${name}`, body);
  }
}

/** One sequence of data files of an export (see `ExportWriter.part`). */
export class ExportPartWriter {
  readonly #export: ExportWriter;
  readonly #maxFileBytes: number;
  readonly #validate: boolean;
  #file: DataFileSink | undefined;
  #closed = false;

  constructor(exportWriter: ExportWriter, maxFileBytes: number, validate: boolean) {
    this.#export = exportWriter;
    this.#maxFileBytes = maxFileBytes;
    this.#validate = validate;
  }

  /** Appends an item, closing the current data file once it is full. Throws `BadInputError`. */
  async write(item: Item): Promise<void> {
    if (this.#closed) throw finishedError(this.#export.dir);
    const checked = this.#validate ? parseItemAt(item, 'Item') : item;
    this.#file ??= new DataFileSink(this.#export.store, this.#export.newDataFileKey());
    await this.#file.add(`{"Item":${JSON.stringify(checked)}}\n`);
    if (this.#file.rawBytes >= this.#maxFileBytes) await this.closeFile();
  }

  /**
   * Bytes of JSON lines in the data file being written (0 when none is open). Lines not yet handed
   * to gzip count one byte per UTF-16 code unit until they are (exact for ASCII).
   */
  get openFileBytes(): number {
    return this.#file?.rawBytes ?? 0;
  }

  /** Items in the data file being written (0 when none is open). */
  get openFileItems(): number {
    return this.#file?.items ?? 0;
  }

  /**
   * Closes the data file being written and returns it once its bytes are durably stored, or
   * `undefined` when none is open. The next `write` opens a new one. Store errors pass through.
   */
  async closeFile(): Promise<WrittenDataFile | undefined> {
    const file = this.#file;
    if (file === undefined) return undefined;
    this.#file = undefined;
    const written = await file.close();
    this.#export.recordFile(written);
    return written;
  }

  /** Closes the current data file; later writes are refused. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.closeFile();
  }

  /** @internal */
  async abort(): Promise<void> {
    this.#closed = true;
    this.#file?.abort();
    this.#file = undefined;
  }
}

/** One data file being gzipped and uploaded as it is written, hashed on the way. */
class DataFileSink {
  readonly key: string;
  readonly #gzip: Gzip;
  readonly #md5 = createHash('md5');
  readonly #uploaded: Promise<void>;
  items = 0;
  /** Bytes of the lines handed to gzip so far. */
  #flushedBytes = 0;
  #slice: string[] = [];
  /** UTF-16 code units of the lines not yet handed to gzip (their bytes are counted at the flush). */
  #sliceChars = 0;

  constructor(store: ObjectStore, key: string) {
    this.key = key;
    this.#gzip = createGzip({ level: 6 });
    const md5 = this.#md5;
    const body = pipeline(
      this.#gzip,
      new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          md5.update(chunk);
          callback(null, chunk);
        },
      }),
      () => {},
    );
    this.#uploaded = store.put(key, body);
    // A failed upload is reported by the next write or by close, not as an unhandled rejection.
    this.#uploaded.catch(() => {});
  }

  /**
   * Bytes of JSON lines in the file so far: exact for what was flushed, the rest counted in UTF-16
   * code units (exact for ASCII) until its flush. Exact after `close`.
   */
  get rawBytes(): number {
    return this.#flushedBytes + this.#sliceChars;
  }

  async add(line: string): Promise<void> {
    this.#slice.push(line);
    this.#sliceChars += line.length;
    this.items++;
    if (this.#sliceChars >= WRITE_SLICE_BYTES) await this.#flush();
  }

  async close(): Promise<WrittenDataFile> {
    await this.#flush();
    this.#gzip.end();
    await this.#uploaded;
    const digest = this.#md5.digest();
    return {
      key: this.key,
      itemCount: this.items,
      md5Checksum: digest.toString('base64'),
      etag: digest.toString('hex'),
      rawBytes: this.rawBytes,
    };
  }

  abort(): void {
    this.#gzip.destroy(new DdbLakeError('EXPORT_ABORTED', `The export writing ${this.key} was aborted.`));
  }

  async #flush(): Promise<void> {
    if (this.#slice.length === 0) return;
    const bytes = Buffer.from(this.#slice.join(''));
    this.#slice = [];
    this.#sliceChars = 0;
    this.#flushedBytes += bytes.length;
    if (!this.#gzip.write(bytes)) await Promise.race([once(this.#gzip, 'drain'), this.#uploaded]);
  }
}

function locationOf(
  store: ObjectStore,
  options: ExportWriterOptions,
): { readonly s3Bucket: string; readonly s3Prefix: string | null } {
  const fromUrl = /^s3:\/\/([^/]+)\/?(.*)$/.exec(store.url);
  const s3Bucket = options.s3Bucket ?? fromUrl?.[1] ?? store.url;
  const urlPrefix = fromUrl?.[2]?.replace(/\/$/, '') ?? '';
  const s3Prefix = options.s3Prefix !== undefined ? options.s3Prefix : urlPrefix === '' ? null : urlPrefix;
  return { s3Bucket, s3Prefix };
}

function finishedError(dir: string): DdbLakeError {
  return new DdbLakeError(
    'EXPORT_FINISHED',
    `The export ${dir} is already finished or aborted; start a new one.`,
  );
}
