import { BadManifestError } from './errors.ts';

/** `exportType` of manifest-summary.json; an absent field means a full export (older format). */
export type ExportType = 'FULL_EXPORT' | 'INCREMENTAL_EXPORT';

/** The fields every manifest-summary.json has, spelled as DynamoDB spells them. */
interface ManifestSummaryCommon {
  readonly version: string;
  readonly exportArn: string;
  /** ISO-8601 UTC, when the export job started. */
  readonly startTime: string;
  /** ISO-8601 UTC, when the export job ended. */
  readonly endTime: string;
  readonly tableArn: string;
  readonly tableId: string | null;
  readonly s3Bucket: string;
  /** The prefix the export was requested under, or null for the bucket root. */
  readonly s3Prefix: string | null;
  readonly s3SseAlgorithm: string | null;
  readonly s3SseKmsKeyId: string | null;
  /** Bucket-relative key of manifest-files.json (includes `s3Prefix`). */
  readonly manifestFilesS3Key: string;
  readonly billedSizeBytes: number;
  readonly itemCount: number;
  readonly outputFormat: 'DYNAMODB_JSON' | 'ION';
}

/** manifest-summary.json of a full export: the table as of `exportTime`. */
export interface FullExportSummary extends ManifestSummaryCommon {
  readonly exportType: 'FULL_EXPORT';
  /** ISO-8601 UTC: the point in time the items reflect. */
  readonly exportTime: string;
}

/** manifest-summary.json of an incremental export: the changes in `[exportFromTime, exportToTime)`. */
export interface IncrementalExportSummary extends ManifestSummaryCommon {
  readonly exportType: 'INCREMENTAL_EXPORT';
  readonly exportFromTime: string;
  readonly exportToTime: string;
  /** `NEW_AND_OLD_IMAGES` or `NEW_IMAGE`: whether lines carry `OldImage`. */
  readonly outputView: string;
}

export type ManifestSummary = FullExportSummary | IncrementalExportSummary;

/** One line of manifest-files.json: one data file of the export. */
export interface ManifestFileEntry {
  readonly itemCount: number;
  /** Base64 MD5 of the gzipped data file. */
  readonly md5Checksum: string;
  readonly etag: string;
  /** Bucket-relative key of the data file (includes `s3Prefix`). */
  readonly dataFileS3Key: string;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const BASE64_MD5 = /^[A-Za-z0-9+/]{22}==$/;

/**
 * Parses and checks manifest-summary.json (`file` names it in errors). Fields DynamoDB may add
 * later are ignored; a missing or mistyped field the readers rely on throws `BadManifestError`.
 */
export function parseManifestSummary(bytes: Uint8Array, file: string): ManifestSummary {
  const json = parseJsonObject(Buffer.from(bytes).toString('utf8'), file);
  const field = new FieldReader(json, file);
  const common: ManifestSummaryCommon = {
    version: field.string('version'),
    exportArn: field.string('exportArn'),
    startTime: field.time('startTime'),
    endTime: field.time('endTime'),
    tableArn: field.string('tableArn'),
    tableId: field.optionalString('tableId'),
    s3Bucket: field.string('s3Bucket'),
    s3Prefix: field.optionalString('s3Prefix'),
    s3SseAlgorithm: field.optionalString('s3SseAlgorithm'),
    s3SseKmsKeyId: field.optionalString('s3SseKmsKeyId'),
    manifestFilesS3Key: field.string('manifestFilesS3Key'),
    billedSizeBytes: json['billedSizeBytes'] === undefined ? 0 : field.count('billedSizeBytes'),
    itemCount: field.count('itemCount'),
    outputFormat: field.oneOf('outputFormat', ['DYNAMODB_JSON', 'ION'] as const),
  };
  const exportType =
    json['exportType'] === undefined
      ? 'FULL_EXPORT'
      : field.oneOf('exportType', ['FULL_EXPORT', 'INCREMENTAL_EXPORT'] as const);
  if (exportType === 'FULL_EXPORT') return { ...common, exportType, exportTime: field.time('exportTime') };
  return {
    ...common,
    exportType,
    exportFromTime: field.time('exportFromTime'),
    exportToTime: field.time('exportToTime'),
    outputView: json['outputView'] === undefined ? 'NEW_AND_OLD_IMAGES' : field.string('outputView'),
  };
}

/**
 * Parses manifest-files.json (JSON lines, one data file per line, a blank last line allowed),
 * keeping the file order. Throws `BadManifestError` naming the line of a malformed entry or a
 * data file listed twice.
 */
export function parseManifestFiles(bytes: Uint8Array, file: string): ManifestFileEntry[] {
  const lines = Buffer.from(bytes).toString('utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const entries: ManifestFileEntry[] = [];
  const seen = new Set<string>();
  lines.forEach((text, index) => {
    const where = `${file} line ${index + 1}`;
    const field = new FieldReader(parseJsonObject(text, where), where);
    const md5Checksum = field.string('md5Checksum');
    if (!BASE64_MD5.test(md5Checksum)) throw new BadManifestError(where, 'md5Checksum is not a base64 MD5');
    const entry: ManifestFileEntry = {
      itemCount: field.count('itemCount'),
      md5Checksum,
      etag: field.optionalString('etag') ?? '',
      dataFileS3Key: field.string('dataFileS3Key'),
    };
    if (seen.has(entry.dataFileS3Key)) {
      throw new BadManifestError(where, `the data file ${entry.dataFileS3Key} is listed twice`);
    }
    seen.add(entry.dataFileS3Key);
    entries.push(entry);
  });
  return entries;
}

function parseJsonObject(text: string, where: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new BadManifestError(where, `not valid JSON (${(error as Error).message})`, { cause: error });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new BadManifestError(where, 'expected a JSON object');
  }
  return json as Record<string, unknown>;
}

/** Typed access to a manifest's fields, each failure naming the file and the field. */
class FieldReader {
  readonly #json: Record<string, unknown>;
  readonly #where: string;

  constructor(json: Record<string, unknown>, where: string) {
    this.#json = json;
    this.#where = where;
  }

  string(name: string): string {
    const value = this.#json[name];
    if (typeof value !== 'string' || value === '') throw this.#bad(name, 'a non-empty string');
    return value;
  }

  optionalString(name: string): string | null {
    const value = this.#json[name];
    if (value === undefined || value === null) return null;
    if (typeof value !== 'string') throw this.#bad(name, 'a string or null');
    return value;
  }

  time(name: string): string {
    const value = this.#json[name];
    if (typeof value !== 'string' || !ISO_TIME.test(value) || Number.isNaN(Date.parse(value))) {
      throw this.#bad(name, 'an ISO-8601 time');
    }
    return value;
  }

  count(name: string): number {
    const value = this.#json[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw this.#bad(name, 'a whole number ≥ 0');
    }
    return value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[]): T {
    const value = this.#json[name];
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      throw this.#bad(name, `one of ${allowed.join(', ')}`);
    }
    return value as T;
  }

  #bad(name: string, expected: string): BadManifestError {
    const value = this.#json[name];
    const found = value === undefined ? 'it is missing' : `found ${JSON.stringify(value)}`;
    return new BadManifestError(this.#where, `${name} must be ${expected}, ${found}`);
  }
}
