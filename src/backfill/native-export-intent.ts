import type { ObjectStore } from '../storage/object-store.ts';
import type { ExportInfo, OnNativeExportEvent } from './native-export-events.ts';
import { NativeExportEventCode } from './native-export-events.ts';
import {
  CLIENT_TOKEN_WINDOW_MS,
  clientTokenOf,
  type NativeExportSpec,
  requestIdentityOf,
} from './native-export-request.ts';

/** Where the requests of native exports are recorded, in the landing area (DESIGN.md, Folders). */
export const NATIVE_EXPORT_STATE_FOLDER = '_ddb_lake/backfill/native-export/';

/**
 * A request recorded before ExportTableToPointInTime is called, so that a rerun after a crash sends
 * the same request (same export time, so the same ClientToken) or watches the export it started.
 * Removed once the export was watched to its end.
 */
export interface ExportRequestRecord {
  readonly version: 1;
  readonly identity: string;
  readonly tableArn: string;
  /** A full export's time (ISO-8601 UTC), as chosen by the first run; null for an incremental one. */
  readonly exportTime: string | null;
  readonly clientToken: string;
  readonly requestedAt: string;
  /** Known once DynamoDB answered the request. */
  readonly exportArn: string | null;
}

/** The request to send, and where it is recorded. */
export interface ClaimedRequest {
  readonly spec: NativeExportSpec;
  readonly key: string;
  readonly record: ExportRequestRecord;
  /** An export of this request still running: watch it, send nothing. */
  readonly running: ExportInfo | undefined;
}

/** The key of the record of requests with this identity (table name first, for people who look). */
export function requestRecordKey(spec: NativeExportSpec): string {
  const table = spec.tableArn.slice(spec.tableArn.lastIndexOf('/') + 1) || 'table';
  return `${NATIVE_EXPORT_STATE_FOLDER}${table}-${requestIdentityOf(spec)}.json`;
}

/**
 * Decides the request a run sends, from the one an earlier run recorded under the same identity
 * (same table, destination, options, window and attempt):
 * - a full export without an explicit time (`explicitTime` false) takes the earlier run's time when
 *   that run asked less than 8 hours ago, so its ClientToken is the same and DynamoDB answers with
 *   the export already started (`requestResumed`);
 * - an earlier request with the same time whose export still runs is watched, with no new call
 *   (`running`), even past 8 hours, when the token would no longer protect it;
 * - otherwise the request is new and recorded (an earlier, different one is reported as replaced).
 * The record is created with put-if-absent, so of two runs racing only one chooses the time.
 * `describe` reads an export's status; a missing export counts as not running.
 */
export async function claimExportRequest(
  store: ObjectStore,
  spec: NativeExportSpec,
  options: {
    readonly explicitTime: boolean;
    readonly now: Date;
    readonly describe: (exportArn: string) => Promise<ExportInfo | undefined>;
    readonly onEvent?: OnNativeExportEvent | undefined;
  },
): Promise<ClaimedRequest> {
  const key = requestRecordKey(spec);
  for (let round = 0; ; round++) {
    const earlier = await readRequestRecord(store, key);
    if (earlier !== undefined) {
      const wanted = spec.kind.type === 'FULL_EXPORT' ? spec.kind.exportTime.toISOString() : null;
      const sameRequest = !options.explicitTime || earlier.exportTime === wanted;
      const resumed = sameRequest ? withTime(spec, earlier.exportTime) : spec;
      if (sameRequest && earlier.exportArn !== null) {
        const info = await options.describe(earlier.exportArn);
        if (info?.status === 'IN_PROGRESS') return { spec: resumed, key, record: earlier, running: info };
      }
      const age = options.now.getTime() - Date.parse(earlier.requestedAt);
      if (sameRequest && age >= 0 && age < CLIENT_TOKEN_WINDOW_MS) {
        options.onEvent?.({
          code: NativeExportEventCode.requestResumed,
          level: 'info',
          key,
          exportTime: earlier.exportTime ?? '',
          requestedAt: earlier.requestedAt,
          exportArn: earlier.exportArn,
        });
        return { spec: resumed, key, record: earlier, running: undefined };
      }
      if (!sameRequest && earlier.exportArn !== null) {
        options.onEvent?.({
          code: NativeExportEventCode.earlierRequestReplaced,
          level: 'warn',
          key,
          exportArn: earlier.exportArn,
          requestedAt: earlier.requestedAt,
        });
      }
      const record = newRecord(spec, options.now);
      await store.put(key, JSON.stringify(record));
      return { spec, key, record, running: undefined };
    }
    const record = newRecord(spec, options.now);
    const outcome = await store.putIfAbsent(key, JSON.stringify(record));
    // Another run created the record between the read and the write: decide again from it.
    if (outcome.outcome === 'created' || round > 0) return { spec, key, record, running: undefined };
  }
}

/** Adds the export's ARN to the record once DynamoDB answered. Overwrites the record. */
export async function recordExportArn(
  store: ObjectStore,
  claimed: ClaimedRequest,
  exportArn: string,
): Promise<void> {
  await store.put(claimed.key, JSON.stringify({ ...claimed.record, exportArn }));
}

/**
 * Removes every record naming `exportArn`: the export was watched to its end, so a rerun asks for
 * a new one. Idempotent; returns how many records were removed.
 */
export async function forgetExportRequest(store: ObjectStore, exportArn: string): Promise<number> {
  let removed = 0;
  for await (const object of store.list(NATIVE_EXPORT_STATE_FOLDER)) {
    const record = await readRequestRecord(store, object.key);
    if (record?.exportArn === exportArn) {
      await store.delete(object.key);
      removed++;
    }
  }
  return removed;
}

/**
 * The record at `key`, or `undefined` when there is none or it cannot be read as one (a damaged
 * record only costs the ability to resume; the request is then treated as new).
 */
export async function readRequestRecord(
  store: ObjectStore,
  key: string,
): Promise<ExportRequestRecord | undefined> {
  if ((await store.head(key)) === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(await store.getBytes(key)).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null) return undefined;
  const record = json as Partial<ExportRequestRecord>;
  const ok =
    record.version === 1 &&
    typeof record.identity === 'string' &&
    typeof record.tableArn === 'string' &&
    (record.exportTime === null || typeof record.exportTime === 'string') &&
    typeof record.clientToken === 'string' &&
    typeof record.requestedAt === 'string' &&
    !Number.isNaN(Date.parse(record.requestedAt)) &&
    (record.exportArn === null || typeof record.exportArn === 'string');
  return ok ? (record as ExportRequestRecord) : undefined;
}

function newRecord(spec: NativeExportSpec, now: Date): ExportRequestRecord {
  return {
    version: 1,
    identity: requestIdentityOf(spec),
    tableArn: spec.tableArn,
    exportTime: spec.kind.type === 'FULL_EXPORT' ? spec.kind.exportTime.toISOString() : null,
    clientToken: clientTokenOf(spec),
    requestedAt: now.toISOString(),
    exportArn: null,
  };
}

function withTime(spec: NativeExportSpec, exportTime: string | null): NativeExportSpec {
  if (spec.kind.type !== 'FULL_EXPORT' || exportTime === null) return spec;
  const time = new Date(exportTime);
  return Number.isNaN(time.getTime()) ? spec : { ...spec, kind: { type: 'FULL_EXPORT', exportTime: time } };
}
