import type { Item } from '../dynamo/attribute-value.ts';
import { parseItem } from '../dynamo/parse.ts';
import type { WrittenDataFile } from '../formats/export-writer.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { BackfillTable } from './backfill-table.ts';
import { BadScanCheckpointError, CannotResumeError } from './scan-errors.ts';

/*
 * The state of a resumable run in the landing area (DESIGN.md, Folders: `_ddb_lake/…`):
 *
 *   _ddb_lake/<kind>/<runId>/run.json                  what was started, and when it finished
 *   _ddb_lake/<kind>/<runId>/segments/<segment>.json   how far each Scan segment got
 *
 * `kind` is `scan` (a Scan export; `runId` is its export id) or `touch`. Each object is replaced
 * whole by a single put, which every store does atomically, so a crash leaves the old or the new
 * version, never a mix. One process works on a run at a time.
 */

export type BackfillKind = 'scan' | 'touch';

/** What was started: written once at the start, and again with `finishedAt` at the end. */
export interface BackfillRun {
  readonly kind: BackfillKind;
  readonly runId: string;
  readonly table: {
    readonly name: string;
    readonly arn: string;
    readonly id: string | null;
    readonly createdAt: string | null;
  };
  /** ISO-8601 UTC: when the run started (a Scan export's export time). */
  readonly startTime: string;
  /** The Scan's `TotalSegments`; a resumed run must use the same number. */
  readonly segments: number;
  readonly consistentRead: boolean;
  /** Touch only: the value written to the marker attribute. */
  readonly marker: string | null;
  /** ISO-8601 UTC, once the run completed; null while it is unfinished. */
  readonly finishedAt: string | null;
}

/**
 * How far one segment got. Everything the segment read up to `lastEvaluatedKey` has been handled
 * durably (for a Scan export: is in `files`, each written completely); nothing after it has.
 */
export interface SegmentCheckpoint {
  readonly segment: number;
  /** Where the segment goes on (DynamoDB JSON), or null to start from its beginning. */
  readonly lastEvaluatedKey: Item | null;
  /** The segment's last page has been handled. */
  readonly done: boolean;
  /** Items handled: exported, or touched. */
  readonly items: number;
  /** Touch only: items deleted between the Scan and the write. */
  readonly skipped: number;
  /** Scan export only: the data files holding this segment's items so far. */
  readonly files: readonly WrittenDataFile[];
  readonly updatedAt: string;
}

const STATE_FOLDER = '_ddb_lake/';
const RUN_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** `_ddb_lake/<kind>/<runId>/`; throws `CannotResumeError` for an id that cannot be a key segment. */
export function runFolder(kind: BackfillKind, runId: string): string {
  if (!RUN_ID.test(runId) || runId === '.' || runId === '..') {
    throw new CannotResumeError(
      `"${runId}" is not the id of a ${kind === 'scan' ? 'Scan export' : 'touch run'}: ids look like 01795392000000-5a1c9e20 (letters, digits, ".", "_" and "-").`,
    );
  }
  return `${STATE_FOLDER}${kind}/${runId}/`;
}

function segmentKey(kind: BackfillKind, runId: string, segment: number): string {
  return `${runFolder(kind, runId)}segments/${String(segment).padStart(7, '0')}.json`;
}

/** Writes (replaces) the run's record. */
export async function writeRun(store: ObjectStore, run: BackfillRun): Promise<void> {
  await store.put(`${runFolder(run.kind, run.runId)}run.json`, `${JSON.stringify(run, null, 2)}\n`);
}

/** The run's record, or `undefined` when there is none. Throws `BadScanCheckpointError` for a bad one. */
export async function readRun(
  store: ObjectStore,
  kind: BackfillKind,
  runId: string,
): Promise<BackfillRun | undefined> {
  const key = `${runFolder(kind, runId)}run.json`;
  if ((await store.head(key)) === undefined) return undefined;
  return parseRun(await store.getBytes(key), store.url, key, kind);
}

/**
 * The unfinished run of this kind for this very table (same ARN, and same table id and creation
 * time where both sides know them) that started last, or `undefined`.
 */
export async function latestUnfinishedRun(
  store: ObjectStore,
  kind: BackfillKind,
  table: BackfillTable,
): Promise<BackfillRun | undefined> {
  let latest: BackfillRun | undefined;
  for await (const object of store.list(`${STATE_FOLDER}${kind}/`)) {
    if (!object.key.endsWith('/run.json')) continue;
    const run = parseRun(await store.getBytes(object.key), store.url, object.key, kind);
    if (run.finishedAt !== null || !isRunOf(run, table)) continue;
    if (latest === undefined || run.startTime >= latest.startTime) latest = run;
  }
  return latest;
}

/** Whether the run was started on this table, not an earlier table of the same name. */
export function isRunOf(run: BackfillRun, table: BackfillTable): boolean {
  const same = (a: string | null, b: string | null) => a === null || b === null || a === b;
  return (
    run.table.arn === table.arn && same(run.table.id, table.id) && same(run.table.createdAt, table.createdAt)
  );
}

/** Writes (replaces) one segment's checkpoint and returns its key. */
export async function writeSegmentCheckpoint(
  store: ObjectStore,
  kind: BackfillKind,
  runId: string,
  checkpoint: SegmentCheckpoint,
): Promise<string> {
  const key = segmentKey(kind, runId, checkpoint.segment);
  await store.put(key, `${JSON.stringify(checkpoint)}\n`);
  return key;
}

/**
 * Every checkpoint of the run, by segment. Throws `BadScanCheckpointError` for an object that is
 * not a checkpoint of a segment below `segments`: a damaged checkpoint must stop the run, not
 * restart the segment and export its items twice.
 */
export async function readSegmentCheckpoints(
  store: ObjectStore,
  kind: BackfillKind,
  runId: string,
  segments: number,
): Promise<Map<number, SegmentCheckpoint>> {
  const prefix = `${runFolder(kind, runId)}segments/`;
  const checkpoints = new Map<number, SegmentCheckpoint>();
  for await (const object of store.list(prefix)) {
    const checkpoint = parseCheckpoint(await store.getBytes(object.key), store.url, object.key);
    if (segmentKey(kind, runId, checkpoint.segment) !== object.key || checkpoint.segment >= segments) {
      throw new BadScanCheckpointError(
        store.url,
        object.key,
        `it is the checkpoint of segment ${checkpoint.segment}, which is not the segment its key names or not one of the run's ${segments}`,
      );
    }
    checkpoints.set(checkpoint.segment, checkpoint);
  }
  return checkpoints;
}

function parseJson(bytes: Uint8Array, storeUrl: string, key: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new BadScanCheckpointError(storeUrl, key, 'it is not JSON', { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadScanCheckpointError(storeUrl, key, 'it is not a JSON object');
  }
  return value as Record<string, unknown>;
}

function parseRun(bytes: Uint8Array, storeUrl: string, key: string, kind: BackfillKind): BackfillRun {
  const json = parseJson(bytes, storeUrl, key);
  const field = fields(json, storeUrl, key);
  const table = json['table'];
  if (typeof table !== 'object' || table === null) throw field.bad('"table" is not an object');
  const tableField = fields(table as Record<string, unknown>, storeUrl, key);
  const run: BackfillRun = {
    kind: field.oneOf('kind', [kind]),
    runId: field.string('runId'),
    table: {
      name: tableField.string('name'),
      arn: tableField.string('arn'),
      id: tableField.optionalString('id'),
      createdAt: tableField.optionalTime('createdAt'),
    },
    startTime: field.time('startTime'),
    segments: field.count('segments'),
    consistentRead: field.boolean('consistentRead'),
    marker: field.optionalString('marker'),
    finishedAt: field.optionalTime('finishedAt'),
  };
  if (`${runFolder(kind, run.runId)}run.json` !== key) throw field.bad(`it names the run ${run.runId}`);
  if (run.segments < 1) throw field.bad('"segments" is less than 1');
  return run;
}

function parseCheckpoint(bytes: Uint8Array, storeUrl: string, key: string): SegmentCheckpoint {
  const json = parseJson(bytes, storeUrl, key);
  const field = fields(json, storeUrl, key);
  const rawKey = json['lastEvaluatedKey'];
  let lastEvaluatedKey: Item | null = null;
  if (rawKey !== null && rawKey !== undefined) {
    try {
      lastEvaluatedKey = parseItem(rawKey, 'lastEvaluatedKey');
    } catch (error) {
      throw new BadScanCheckpointError(storeUrl, key, '"lastEvaluatedKey" is not DynamoDB JSON', {
        cause: error,
      });
    }
  }
  const rawFiles = json['files'];
  if (!Array.isArray(rawFiles)) throw field.bad('"files" is not a list');
  const files = rawFiles.map((file: unknown, index): WrittenDataFile => {
    if (typeof file !== 'object' || file === null) throw field.bad(`files[${index}] is not an object`);
    const entry = fields(file as Record<string, unknown>, storeUrl, key);
    return {
      key: entry.string('key'),
      itemCount: entry.count('itemCount'),
      md5Checksum: entry.string('md5Checksum'),
      etag: entry.string('etag'),
      rawBytes: entry.count('rawBytes'),
    };
  });
  return {
    segment: field.count('segment'),
    lastEvaluatedKey,
    done: field.boolean('done'),
    items: field.count('items'),
    skipped: field.count('skipped'),
    files,
    updatedAt: field.time('updatedAt'),
  };
}

/** Typed field access whose failures name the object and the field. */
function fields(json: Record<string, unknown>, storeUrl: string, key: string) {
  const bad = (reason: string) => new BadScanCheckpointError(storeUrl, key, reason);
  const string = (name: string): string => {
    const value = json[name];
    if (typeof value !== 'string' || value === '') throw bad(`"${name}" is not a non-empty string`);
    return value;
  };
  const optionalString = (name: string): string | null => {
    const value = json[name] ?? null;
    if (value !== null && typeof value !== 'string') throw bad(`"${name}" is neither null nor a string`);
    return value;
  };
  const isTime = (value: string) => !Number.isNaN(Date.parse(value));
  return {
    bad,
    string,
    optionalString,
    time(name: string): string {
      const value = string(name);
      if (!isTime(value)) throw bad(`"${name}" is not an ISO-8601 time`);
      return value;
    },
    optionalTime(name: string): string | null {
      const value = optionalString(name);
      if (value !== null && !isTime(value)) throw bad(`"${name}" is neither null nor an ISO-8601 time`);
      return value;
    },
    count(name: string): number {
      const value = json[name];
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
        throw bad(`"${name}" is not a whole number ≥ 0`);
      }
      return value;
    },
    boolean(name: string): boolean {
      const value = json[name];
      if (typeof value !== 'boolean') throw bad(`"${name}" is not true or false`);
      return value;
    },
    oneOf<T extends string>(name: string, allowed: readonly T[]): T {
      const value = json[name];
      if (!(allowed as readonly unknown[]).includes(value))
        throw bad(`"${name}" is not ${allowed.join(' or ')}`);
      return value as T;
    },
  };
}

/**
 * Which earlier run to continue: the latest unfinished one of the same table (`latest`), none
 * (`none`: start a new run), or a named one.
 */
export type ResumeChoice = 'latest' | 'none' | { readonly runId: string };

/**
 * The run a new invocation continues, or `undefined` to start a new one. A named run must exist
 * and belong to this very table (`CannotResumeError` otherwise); it may be finished already, which
 * the caller reports instead of doing the work again. `requested` are the settings the caller
 * asked for explicitly: a resumed run keeps its own, and a conflicting request throws
 * `CannotResumeError` rather than being ignored.
 */
export async function findRunToResume(
  store: ObjectStore,
  kind: BackfillKind,
  table: BackfillTable,
  choice: ResumeChoice,
  requested: { readonly segments?: number | undefined; readonly consistentRead?: boolean | undefined },
): Promise<BackfillRun | undefined> {
  if (choice === 'none') return undefined;
  let run: BackfillRun | undefined;
  if (choice === 'latest') {
    run = await latestUnfinishedRun(store, kind, table);
  } else {
    run = await readRun(store, kind, choice.runId);
    const what = kind === 'scan' ? 'Scan export' : 'touch run';
    if (run === undefined) {
      throw new CannotResumeError(
        `There is no ${what} ${choice.runId} in ${store.url} (no ${runFolder(kind, choice.runId)}run.json). Check the id, or start a new run without --resume.`,
      );
    }
    if (!isRunOf(run, table)) {
      throw new CannotResumeError(
        `The ${what} ${run.runId} in ${store.url} was started on ${run.table.arn}${run.table.createdAt === null ? '' : ` created ${run.table.createdAt}`}, not on ${table.arn}${table.createdAt === null ? '' : ` created ${table.createdAt}`}. Resume it with the table it was started on, or start a new run.`,
      );
    }
  }
  if (run === undefined) return undefined;
  if (requested.segments !== undefined && requested.segments !== run.segments) {
    throw new CannotResumeError(
      `The unfinished run ${run.runId} of ${table.name} was started with ${run.segments} segments; a Scan can only go on with the same number. Leave out --segments to resume it, or pass --fresh to start a new run.`,
    );
  }
  if (requested.consistentRead !== undefined && requested.consistentRead !== run.consistentRead) {
    throw new CannotResumeError(
      `The unfinished run ${run.runId} of ${table.name} was started ${run.consistentRead ? 'with' : 'without'} --consistent-read. Resume it as it was started, or pass --fresh to start a new run.`,
    );
  }
  return run;
}
