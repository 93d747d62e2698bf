import { DeltaLogCorruptError } from './errors.ts';

/*
 * The actions of the Delta transaction log (PROTOCOL.md, "Actions"), spelled as the spec spells
 * them, and one commit file's text in and out: newline-delimited JSON, one action per line.
 *
 * Longs (`size`, `modificationTime`, `txn.version`, …) are JS numbers: they count bytes,
 * milliseconds and batches, never DynamoDB values, and a value past 2^53 is refused on read.
 * Unknown actions and unknown fields are kept as they are (the spec says to ignore them, and a
 * writer must not drop what it does not understand when it rewrites state, e.g. in a checkpoint).
 */

/** `protocol`: the reader and writer versions, and table features at 3 / 7. */
export interface Protocol {
  readonly minReaderVersion: number;
  readonly minWriterVersion: number;
  /** Present only when `minReaderVersion` is 3. */
  readonly readerFeatures?: readonly string[];
  /** Present only when `minWriterVersion` is 7. */
  readonly writerFeatures?: readonly string[];
}

/** `metaData.format`. */
export interface Format {
  readonly provider: string;
  readonly options: Readonly<Record<string, string>>;
}

/** `metaData`: the table's id, schema, partition columns and configuration. */
export interface Metadata {
  readonly id: string;
  readonly name?: string | null;
  readonly description?: string | null;
  readonly format: Format;
  /** The schema, Spark JSON (schema.ts parses it). */
  readonly schemaString: string;
  readonly partitionColumns: readonly string[];
  readonly createdTime?: number | null;
  readonly configuration: Readonly<Record<string, string>>;
}

/** The `deletionVector` of an `add` or `remove` (PROTOCOL.md, "Deletion Vectors"). */
export interface DeletionVectorDescriptor {
  readonly storageType: string;
  readonly pathOrInlineDv: string;
  readonly offset?: number | null;
  readonly sizeInBytes: number;
  readonly cardinality: number;
}

/** Partition values as the log stores them: strings, `null` for a null value. */
export type PartitionValues = Readonly<Record<string, string | null>>;

/** `add`: a logical file present in the table from this version on. */
export interface AddFile {
  /** Relative to the table root (or absolute), URI-encoded (RFC 2396). */
  readonly path: string;
  readonly partitionValues: PartitionValues;
  readonly size: number;
  readonly modificationTime: number;
  readonly dataChange: boolean;
  /** The per-file statistics as JSON text (stats.ts), exact numbers inside. */
  readonly stats?: string | null;
  readonly tags?: Readonly<Record<string, string | null>> | null;
  readonly deletionVector?: DeletionVectorDescriptor | null;
  readonly baseRowId?: number | null;
  readonly defaultRowCommitVersion?: number | null;
  readonly clusteringProvider?: string | null;
}

/** `remove`: a logical file gone from the table; a tombstone for VACUUM until it expires. */
export interface RemoveFile {
  readonly path: string;
  readonly deletionTimestamp?: number | null;
  readonly dataChange: boolean;
  readonly extendedFileMetadata?: boolean | null;
  readonly partitionValues?: PartitionValues | null;
  readonly size?: number | null;
  readonly stats?: string | null;
  readonly tags?: Readonly<Record<string, string | null>> | null;
  readonly deletionVector?: DeletionVectorDescriptor | null;
  readonly baseRowId?: number | null;
  readonly defaultRowCommitVersion?: number | null;
}

/** `txn`: the latest `version` an application (`appId`) committed; the tool of exactly-once. */
export interface Txn {
  readonly appId: string;
  readonly version: number;
  readonly lastUpdated?: number | null;
}

/** `commitInfo`: free-form provenance (operation, timestamp, engineInfo, …). */
export type CommitInfo = Readonly<Record<string, unknown>>;

/** `domainMetadata` (writers must preserve domains they do not understand). */
export interface DomainMetadata {
  readonly domain: string;
  readonly configuration: string;
  readonly removed: boolean;
}

/** `cdc`: a change data file (kept only so a commit round-trips; never part of a snapshot). */
export type AddCdcFile = Readonly<Record<string, unknown>> & { readonly path: string };

/** One action: exactly one key, as in the log. `other` carries an action name this code does not know. */
export type Action =
  | { readonly add: AddFile }
  | { readonly remove: RemoveFile }
  | { readonly metaData: Metadata }
  | { readonly protocol: Protocol }
  | { readonly txn: Txn }
  | { readonly commitInfo: CommitInfo }
  | { readonly domainMetadata: DomainMetadata }
  | { readonly cdc: AddCdcFile }
  | { readonly other: { readonly name: string; readonly value: unknown } };

const KNOWN_ACTIONS = new Set([
  'add',
  'remove',
  'metaData',
  'protocol',
  'txn',
  'commitInfo',
  'domainMetadata',
  'cdc',
]);

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Where an action came from, for error messages: the log file's key and the 1-based line. */
export interface ActionSource {
  readonly file: string;
  readonly line: number;
}

function corrupt(source: ActionSource, what: string): DeltaLogCorruptError {
  return new DeltaLogCorruptError(`${source.file} line ${source.line}: ${what}`, { file: source.file });
}

function requireString(value: JsonObject, field: string, action: string, source: ActionSource): string {
  const v = value[field];
  if (typeof v !== 'string')
    throw corrupt(source, `${action}.${field} must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function requireLong(value: JsonObject, field: string, action: string, source: ActionSource): number {
  const v = value[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw corrupt(source, `${action}.${field} must be an integer below 2^53, got ${JSON.stringify(v)}`);
  }
  return v;
}

function optionalLong(value: JsonObject, field: string, action: string, source: ActionSource): void {
  const v = value[field];
  if (v !== undefined && v !== null && (typeof v !== 'number' || !Number.isSafeInteger(v))) {
    throw corrupt(source, `${action}.${field} must be an integer below 2^53, got ${JSON.stringify(v)}`);
  }
}

function requireBoolean(value: JsonObject, field: string, action: string, source: ActionSource): boolean {
  const v = value[field];
  if (typeof v !== 'boolean')
    throw corrupt(source, `${action}.${field} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function requireStringMap(
  value: JsonObject,
  field: string,
  action: string,
  source: ActionSource,
  nullsAllowed: boolean,
): void {
  const v = value[field];
  if (!isObject(v)) throw corrupt(source, `${action}.${field} must be an object of strings`);
  for (const [key, entry] of Object.entries(v)) {
    if (typeof entry !== 'string' && !(nullsAllowed && entry === null)) {
      throw corrupt(source, `${action}.${field}["${key}"] must be a string, got ${JSON.stringify(entry)}`);
    }
  }
}

function requireStringArray(value: JsonObject, field: string, action: string, source: ActionSource): void {
  const v = value[field];
  if (!Array.isArray(v) || v.some((entry) => typeof entry !== 'string')) {
    throw corrupt(source, `${action}.${field} must be an array of strings`);
  }
}

/**
 * Checks one action object's required fields (PROTOCOL.md, "Actions") and returns it typed.
 * Unknown fields stay. An object with no known action key becomes `{ other }`.
 * @throws DeltaLogCorruptError naming the file and line when a required field is missing or mistyped.
 */
export function parseAction(value: unknown, source: ActionSource): Action {
  if (!isObject(value)) throw corrupt(source, 'an action must be a JSON object');
  const keys = Object.keys(value);
  if (keys.length !== 1) {
    throw corrupt(source, `an action must have exactly one key, got ${keys.length} (${keys.join(', ')})`);
  }
  const name = keys[0] as string;
  const body = value[name];
  if (!KNOWN_ACTIONS.has(name)) return { other: { name, value: body } };
  if (!isObject(body)) throw corrupt(source, `${name} must be a JSON object`);
  switch (name) {
    case 'add':
      requireString(body, 'path', name, source);
      requireStringMap(body, 'partitionValues', name, source, true);
      requireLong(body, 'size', name, source);
      requireLong(body, 'modificationTime', name, source);
      requireBoolean(body, 'dataChange', name, source);
      if (body.stats !== undefined && body.stats !== null && typeof body.stats !== 'string') {
        throw corrupt(source, 'add.stats must be a JSON string');
      }
      return { add: body as unknown as AddFile };
    case 'remove':
      requireString(body, 'path', name, source);
      requireBoolean(body, 'dataChange', name, source);
      optionalLong(body, 'deletionTimestamp', name, source);
      optionalLong(body, 'size', name, source);
      return { remove: body as unknown as RemoveFile };
    case 'metaData':
      requireString(body, 'id', name, source);
      requireString(body, 'schemaString', name, source);
      requireStringArray(body, 'partitionColumns', name, source);
      if (!isObject(body.format) || typeof body.format.provider !== 'string') {
        throw corrupt(source, 'metaData.format.provider must be a string');
      }
      if (body.configuration === undefined || body.configuration === null) {
        return { metaData: { ...body, configuration: {} } as unknown as Metadata };
      }
      requireStringMap(body, 'configuration', name, source, false);
      return { metaData: body as unknown as Metadata };
    case 'protocol':
      requireLong(body, 'minReaderVersion', name, source);
      requireLong(body, 'minWriterVersion', name, source);
      if (body.readerFeatures !== undefined && body.readerFeatures !== null) {
        requireStringArray(body, 'readerFeatures', name, source);
      }
      if (body.writerFeatures !== undefined && body.writerFeatures !== null) {
        requireStringArray(body, 'writerFeatures', name, source);
      }
      return { protocol: body as unknown as Protocol };
    case 'txn':
      requireString(body, 'appId', name, source);
      requireLong(body, 'version', name, source);
      return { txn: body as unknown as Txn };
    case 'commitInfo':
      return { commitInfo: body };
    case 'domainMetadata':
      requireString(body, 'domain', name, source);
      requireString(body, 'configuration', name, source);
      requireBoolean(body, 'removed', name, source);
      return { domainMetadata: body as unknown as DomainMetadata };
    default:
      requireString(body, 'path', name, source);
      return { cdc: body as AddCdcFile };
  }
}

/**
 * The actions of one commit file (`_delta_log/<version>.json`), in file order. Blank lines are
 * skipped.
 * @throws DeltaLogCorruptError naming `file` and the line for a line that is not JSON or not an action.
 */
export function parseCommitFile(text: string, file: string): Action[] {
  const actions: Action[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = (lines[index] as string).trim();
    if (line === '') continue;
    const source = { file, line: index + 1 };
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new DeltaLogCorruptError(
        `${file} line ${index + 1} is not JSON (${(error as Error).message}). A commit file is written whole or not at all; this one was changed or truncated by something else.`,
        { file, cause: error },
      );
    }
    actions.push(parseAction(value, source));
  }
  return actions;
}

/** One action as its JSON line (no newline). `other` actions are written back under their own name. */
export function serializeAction(action: Action): string {
  if ('other' in action) return JSON.stringify({ [action.other.name]: action.other.value });
  return JSON.stringify(action);
}

/** A commit file's text: one JSON line per action, each ending with `\n`. Deterministic. */
export function serializeCommitFile(actions: readonly Action[]): string {
  return actions.map((action) => `${serializeAction(action)}\n`).join('');
}
