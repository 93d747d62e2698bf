import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { pipeline, Transform } from 'node:stream';
import { createGzip, type Gzip } from 'node:zlib';
import type { Item } from '../dynamo/attribute-value.ts';
import { DdbLakeError } from '../errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { EXPORTS_FOLDER, MANIFEST_FILES, MANIFEST_SUMMARY } from './export-layout.ts';
import type { FullExportSummary, ManifestFileEntry } from './export-manifest.ts';
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
  readonly #closedFiles: (ManifestFileEntry & { readonly rawBytes: number })[] = [];
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

  /** Appends an item to the main sequence of data files. Throws `BadInputError` for an invalid item. */
  async write(item: Item): Promise<void> {
    this.#main ??= this.part();
    await this.#main.write(item);
  }

  /** A further sequence of data files, for one parallel writer. */
  part(): ExportPartWriter {
    if (this.#finished) throw finishedError(this.dir);
    const part = new ExportPartWriter(
      this,
      this.#options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
      this.#options.validate ?? true,
    );
    this.#parts.push(part);
    return part;
  }

  /** Closes every sequence, writes the manifests (summary last) and returns the summary. */
  async finish(): Promise<FullExportSummary> {
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
          dataFileS3Key: `${prefix}${file.dataFileS3Key}`,
        }),
      )
      .map((line) => `${line}\n`)
      .join('');
    await this.#putManifest(MANIFEST_FILES, manifestFiles);
    const summary: FullExportSummary = {
      version: '2020-06-30',
      exportArn: `${this.#options.tableArn}/export/${this.exportId}`,
      startTime: this.#startTime.toISOString(),
      endTime: new Date().toISOString(),
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
  recordFile(file: ManifestFileEntry & { readonly rawBytes: number }): void {
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
    if (this.#file.rawBytes >= this.#maxFileBytes) await this.#closeFile();
  }

  /** Closes the current data file; later writes are refused. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#closeFile();
  }

  /** @internal */
  async abort(): Promise<void> {
    this.#closed = true;
    this.#file?.abort();
    this.#file = undefined;
  }

  async #closeFile(): Promise<void> {
    const file = this.#file;
    if (file === undefined) return;
    this.#file = undefined;
    this.#export.recordFile(await file.close());
  }
}

/** One data file being gzipped and uploaded as it is written, hashed on the way. */
class DataFileSink {
  readonly key: string;
  rawBytes = 0;
  readonly #gzip: Gzip;
  readonly #md5 = createHash('md5');
  readonly #uploaded: Promise<void>;
  #slice: string[] = [];
  #sliceBytes = 0;
  #items = 0;

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

  async add(line: string): Promise<void> {
    this.#slice.push(line);
    this.#sliceBytes += line.length;
    this.rawBytes += Buffer.byteLength(line);
    this.#items++;
    if (this.#sliceBytes >= WRITE_SLICE_BYTES) await this.#flush();
  }

  async close(): Promise<ManifestFileEntry & { readonly rawBytes: number }> {
    await this.#flush();
    this.#gzip.end();
    await this.#uploaded;
    const digest = this.#md5.digest();
    return {
      itemCount: this.#items,
      md5Checksum: digest.toString('base64'),
      etag: digest.toString('hex'),
      dataFileS3Key: this.key,
      rawBytes: this.rawBytes,
    };
  }

  abort(): void {
    this.#gzip.destroy(new DdbLakeError('EXPORT_ABORTED', `The export writing ${this.key} was aborted.`));
  }

  async #flush(): Promise<void> {
    if (this.#slice.length === 0) return;
    const text = this.#slice.join('');
    this.#slice = [];
    this.#sliceBytes = 0;
    if (!this.#gzip.write(text)) await Promise.race([once(this.#gzip, 'drain'), this.#uploaded]);
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
