import { setTimeout as sleepFor } from 'node:timers/promises';
import { DescribeExportCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BadManifestError } from '../formats/errors.ts';
import { EXPORTS_FOLDER, MANIFEST_SUMMARY } from '../formats/export-layout.ts';
import type { ManifestSummary } from '../formats/export-manifest.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { inspectExport } from './inspect-export.ts';
import { exportApiError, NativeExportError, NativeExportErrorCode } from './native-export-errors.ts';
import {
  type ExportInfo,
  exportInfoOf,
  NativeExportEventCode,
  type OnNativeExportEvent,
} from './native-export-events.ts';
import { forgetExportRequest } from './native-export-intent.ts';

/** Between two DescribeExport calls by default: exports take minutes to hours. */
export const DEFAULT_POLL_INTERVAL_MS = 30_000;

/** What a completed export held, read back from S3 and checked. */
export interface ExportVerification {
  /** The landing area the export wrote to, `s3://bucket[/prefix]`. */
  readonly landing: string;
  /** The export's folder there, `AWSDynamoDB/<exportId>/`. */
  readonly exportDir: string;
  readonly summary: ManifestSummary;
  readonly dataFiles: number;
  /** Items of a full export, change records of an incremental one, each read and checked. */
  readonly records: number;
  /** Incremental exports: records without a new image (deletions). */
  readonly deletions: number;
  readonly elapsedMs: number;
}

/** How watching ended: a value, so the caller decides the exit code. */
export type NativeExportOutcome =
  | { readonly outcome: 'completed'; readonly export: ExportInfo; readonly verification: ExportVerification }
  | { readonly outcome: 'failed'; readonly export: ExportInfo }
  | { readonly outcome: 'running'; readonly export: ExportInfo; readonly reason: 'no-wait' | 'signal' };

export interface WatchNativeExportOptions {
  readonly dynamodb: DynamoDBClient;
  readonly exportArn: string;
  /** Opens `s3://bucket[/prefix]`, the landing area DescribeExport names, to read the export back. */
  readonly openStore: (url: string) => ObjectStore;
  /** Between DescribeExport calls (default 30 s). */
  readonly pollIntervalMs?: number;
  /** Waits `ms`, or less when `signal` aborts (default: a timer). Tests pass a fast one. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Stops watching (the export goes on): the outcome is then `running` with reason `signal`. */
  readonly signal?: AbortSignal;
  /** False: describe once and return, whatever the status (default true: until it ends). */
  readonly wait?: boolean;
  /** The export's status as already known (the start call's answer): the first poll is skipped. */
  readonly initial?: ExportInfo;
  /** Milliseconds since the epoch (default `Date.now`), for the elapsed time. */
  readonly now?: () => number;
  readonly onEvent?: OnNativeExportEvent;
}

/**
 * Watches an export with DescribeExport every `pollIntervalMs` until it is COMPLETED or FAILED,
 * reporting a `status` event per poll. On COMPLETED it reads the export back from S3 (both
 * manifests, every data file's MD5 and item count, every line) and checks that the manifests name
 * this export and DescribeExport's item count; then the request's record in the landing area is
 * removed. FAILED is an outcome carrying FailureCode and FailureMessage, not an exception.
 * Read-only towards DynamoDB, so it may be run again at any time (`ddb-lake backfill status`).
 * Throws `NativeExportError` when DescribeExport fails, and what the export readers throw
 * (`ChecksumMismatchError`, `BadManifestError`, …) when the files are not what DynamoDB described.
 */
export async function watchNativeExport(options: WatchNativeExportOptions): Promise<NativeExportOutcome> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const interval = Math.max(0, options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
  const watchStart = now();
  let info = options.initial;
  let polls = 0;
  for (;;) {
    if (info === undefined || polls > 0) info = await describeExport(options.dynamodb, options.exportArn);
    polls++;
    const started = info.startTime === null ? watchStart : Date.parse(info.startTime);
    const ended = info.endTime === null ? now() : Date.parse(info.endTime);
    options.onEvent?.({
      code: NativeExportEventCode.status,
      level: 'info',
      export: info,
      elapsedMs: Math.max(0, ended - started),
      polls,
    });
    if (info.status === 'COMPLETED') {
      return { outcome: 'completed', export: info, verification: await verify(info, options) };
    }
    if (info.status === 'FAILED') {
      await forgetQuietly(info, options);
      return { outcome: 'failed', export: info };
    }
    if (options.wait === false) return { outcome: 'running', export: info, reason: 'no-wait' };
    if (options.signal?.aborted !== true) await sleep(interval, options.signal);
    if (options.signal?.aborted === true) return { outcome: 'running', export: info, reason: 'signal' };
  }
}

/**
 * DescribeExport of one ARN as `ExportInfo`. Throws `NativeExportError` (`EXPORT_NOT_FOUND` for an
 * unknown ARN, `EXPORT_API_FAILED` otherwise). Read-only.
 */
export async function describeExport(dynamodb: DynamoDBClient, exportArn: string): Promise<ExportInfo> {
  try {
    const answer = await dynamodb.send(new DescribeExportCommand({ ExportArn: exportArn }));
    if (answer.ExportDescription === undefined) {
      throw new NativeExportError(
        NativeExportErrorCode.apiFailed,
        `DescribeExport answered without a description of ${exportArn}; run ddb-lake backfill status ${exportArn} again.`,
      );
    }
    return exportInfoOf(answer.ExportDescription, exportArn);
  } catch (error) {
    throw exportApiError(error, { operation: 'DescribeExport', exportArn });
  }
}

/** `s3://bucket[/prefix]` of the landing area an export wrote to. */
export function exportLandingUrl(info: ExportInfo): string {
  if (info.s3Bucket === null) {
    throw new NativeExportError(
      NativeExportErrorCode.apiFailed,
      `DescribeExport names no S3 bucket for ${info.exportArn}, so its files cannot be read back.`,
    );
  }
  const prefix = (info.s3Prefix ?? '').replace(/^\/+|\/+$/g, '');
  return prefix === '' ? `s3://${info.s3Bucket}` : `s3://${info.s3Bucket}/${prefix}`;
}

async function verify(info: ExportInfo, options: WatchNativeExportOptions): Promise<ExportVerification> {
  const landing = exportLandingUrl(info);
  const exportDir = `${EXPORTS_FOLDER}${info.exportId}/`;
  const store = options.openStore(landing);
  try {
    const inspection = await inspectExport(store, exportDir, {
      onProgress: ({ records, file }) =>
        options.onEvent?.({
          code: NativeExportEventCode.verifying,
          level: 'info',
          exportArn: info.exportArn,
          records,
          file,
        }),
    });
    const where = `${landing}/${exportDir}${MANIFEST_SUMMARY}`;
    const summary = inspection.summary;
    if (summary.exportArn !== info.exportArn) {
      throw new BadManifestError(
        where,
        `it belongs to the export ${summary.exportArn}, but DescribeExport says ${info.exportArn} wrote here: ` +
          'the folder holds another export. Check that nothing else writes under this prefix.',
      );
    }
    if (summary.exportType !== info.exportType) {
      throw new BadManifestError(
        where,
        `it says ${summary.exportType}, but DescribeExport says ${info.exportType}.`,
      );
    }
    if (info.itemCount !== null && summary.itemCount !== info.itemCount) {
      throw new BadManifestError(
        where,
        `it counts ${summary.itemCount} items, but DescribeExport counts ${info.itemCount}: the export in S3 ` +
          'is not the one DynamoDB completed. Export again.',
      );
    }
    await forgetQuietly(info, options, store);
    return {
      landing,
      exportDir,
      summary,
      dataFiles: inspection.dataFiles,
      records: inspection.records,
      deletions: inspection.deletions,
      elapsedMs: inspection.elapsedMs,
    };
  } finally {
    await store.close();
  }
}

/**
 * Removes the request's record once the export ended. A failure here is not reported: the export's
 * outcome is the news, and a record left behind only makes a rerun within 8 hours attach to this
 * same export again (its ClientToken) instead of starting another, which costs nothing.
 */
async function forgetQuietly(
  info: ExportInfo,
  options: WatchNativeExportOptions,
  open?: ObjectStore,
): Promise<void> {
  let store = open;
  try {
    store ??= options.openStore(exportLandingUrl(info));
    await forgetExportRequest(store, info.exportArn);
  } catch {
    // See the doc comment: best effort by design.
  } finally {
    if (open === undefined) await store?.close();
  }
}

async function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await sleepFor(ms, undefined, signal === undefined ? {} : { signal });
  } catch (error) {
    if (!(error instanceof Error && error.name === 'AbortError')) throw error;
  }
}
