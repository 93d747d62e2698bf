import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { fromSdkItem, type SdkItem, toSdkItem } from '../dynamo/sdk-interop.ts';
import { EXPORTS_FOLDER, MANIFEST_SUMMARY } from '../formats/export-layout.ts';
import { parseManifestSummary } from '../formats/export-manifest.ts';
import {
  type ExportPartWriter,
  ExportWriter,
  type WrittenDataFile,
  type WrittenExportSummary,
} from '../formats/export-writer.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { type BackfillProgress, ProgressMeter } from './backfill-progress.ts';
import {
  type BackfillRun,
  findRunToResume,
  type ResumeChoice,
  readSegmentCheckpoints,
  runFolder,
  type SegmentCheckpoint,
  writeRun,
  writeSegmentCheckpoint,
} from './backfill-run.ts';
import { capacityTarget, defaultSegments, describeBackfillTable, MAX_SEGMENTS } from './backfill-table.ts';
import { CapacityLimiter, type Clock, SYSTEM_CLOCK } from './capacity-limiter.ts';
import { READ_UNIT_BYTES } from './item-size.ts';
import { BadScanCheckpointError } from './scan-errors.ts';
import { type ScanEvent, ScanEventCode } from './scan-events.ts';
import { itemFromScanPage } from './scan-page-item.ts';
import { type SegmentStart, scanSegments } from './segment-scan.ts';
import type { ThrottleRetryPolicy } from './throttle-retry.ts';

export interface ScanExportOptions {
  readonly client: DynamoDBClient;
  /** Table name or ARN. */
  readonly table: string;
  /** The landing area: the export lands under `AWSDynamoDB/<exportId>/`, its state under `_ddb_lake/scan/<exportId>/`. */
  readonly landing: ObjectStore;
  /** Parallel Scan segments (`TotalSegments`); default `defaultSegments`. A resumed scan keeps its own. */
  readonly segments?: number | undefined;
  /** Segments scanned at once (default: all of them, at most 16). */
  readonly concurrency?: number | undefined;
  /** Share of the table's read capacity to use, in percent (default 50; see `capacityTarget`). */
  readonly readPercent?: number | undefined;
  /** Read units per second to use instead of a share (`Infinity`: no limit). */
  readonly maxReadUnitsPerSecond?: number | undefined;
  /** Strongly consistent reads (twice the read units). Default false; a resumed scan keeps its own. */
  readonly consistentRead?: boolean | undefined;
  /** Which unfinished scan to continue (default `latest`: the last one of this table, if any). */
  readonly resume?: ResumeChoice | undefined;
  /** A data file is closed, at a page boundary, once it holds this many bytes of JSON lines (default 256 MiB). */
  readonly maxFileBytes?: number | undefined;
  /** …or once it has been open this long with items in it (default 2 minutes). */
  readonly checkpointIntervalMs?: number | undefined;
  /** At most this many items per Scan page (`Limit`); default: as many as the rate affords. */
  readonly pageLimit?: number | undefined;
  readonly retry?: ThrottleRetryPolicy | undefined;
  /** Stops the scan at the next page boundaries, checkpointing every segment (outcome `stopped`). */
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: ((event: ScanEvent) => void) | undefined;
  readonly clock?: Clock | undefined;
}

/** A Scan export whose manifests are written. */
export interface ScanExportComplete {
  readonly outcome: 'complete';
  readonly exportId: string;
  /** The export's folder in the landing area (`AWSDynamoDB/<exportId>/`). */
  readonly dir: string;
  readonly summary: WrittenExportSummary;
  /** Whether an unfinished scan was continued (or found complete already). */
  readonly resumed: boolean;
  readonly progress: BackfillProgress;
}

/** A Scan export stopped by its signal, every segment checkpointed: run it again to resume. */
export interface ScanExportStopped {
  readonly outcome: 'stopped';
  readonly exportId: string;
  readonly dir: string;
  readonly resumed: boolean;
  readonly progress: BackfillProgress;
}

export type ScanExportResult = ScanExportComplete | ScanExportStopped;

const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024;
const DEFAULT_CHECKPOINT_INTERVAL_MS = 120_000;
const MAX_DEFAULT_CONCURRENCY = 16;

/** What one segment has written in this run. */
interface SegmentState {
  part: ExportPartWriter | undefined;
  readonly files: WrittenDataFile[];
  items: number;
  lastEvaluatedKey: SdkItem | undefined;
  fileOpenedAt: number;
}

/**
 * Exports a table with a rate-limited parallel Scan into the native export layout (DESIGN.md,
 * Formats), so one reader serves both: `exportType` FULL_EXPORT, `exportTime` = the scan's start
 * (DESIGN.md rule 2: every change after it is replayed on top), `ddbLakeScan` saying it was a scan
 * and when it ended. The export counts as complete only once `manifest-summary.json` is written,
 * after every segment finished.
 *
 * Exactly once, across crashes: each segment writes its own data files and closes them only at
 * page boundaries; once a closed file's bytes are stored, the segment's checkpoint
 * (`_ddb_lake/scan/<exportId>/segments/<n>.json`) is replaced by one that lists every file of the
 * segment so far and the `LastEvaluatedKey` of the last page in them. A killed scan resumes each
 * segment from its checkpoint, deletes the data files no checkpoint lists (pages read after the
 * last checkpoint, which are read again), and the manifests list exactly the checkpointed files:
 * each item once. A segment's `LastEvaluatedKey` holds only for the same `TotalSegments`, so a
 * resumed scan keeps its segment count and read consistency. One process works on a scan at a time.
 *
 * Resolves `stopped` when `signal` aborts (every segment checkpointed at its page boundary).
 * Throws `TableNotFoundError`, `CannotResumeError`, `BadScanCheckpointError`, `ThrottledError`
 * (everything up to the checkpoints is kept), `InvalidAttributeValueError` for an item the value
 * model refuses, and store or SDK errors; after a failure the scan can be resumed.
 */
export async function scanExport(
  options: ScanExportOptions & { readonly signal?: undefined },
): Promise<ScanExportComplete>;
export async function scanExport(options: ScanExportOptions): Promise<ScanExportResult>;
export async function scanExport(options: ScanExportOptions): Promise<ScanExportResult> {
  const clock = options.clock ?? SYSTEM_CLOCK;
  const emit = options.onEvent ?? (() => {});
  const landing = options.landing;
  const table = await describeBackfillTable(options.client, options.table, options.signal);
  const target = capacityTarget(table, 'read', {
    percent: options.readPercent,
    maxUnitsPerSecond: options.maxReadUnitsPerSecond,
  });
  const previous = await findRunToResume(landing, 'scan', table, options.resume ?? 'latest', {
    segments: options.segments,
    consistentRead: options.consistentRead,
  });
  const segments = previous?.segments ?? options.segments ?? defaultSegments(table);
  if (!Number.isInteger(segments) || segments < 1 || segments > MAX_SEGMENTS) {
    throw new RangeError(`segments must be a whole number from 1 to ${MAX_SEGMENTS}, got ${segments}`);
  }
  const consistentRead = previous?.consistentRead ?? options.consistentRead ?? false;
  const startTime = previous === undefined ? new Date() : new Date(previous.startTime);
  const exportId =
    previous?.runId ?? `${String(startTime.getTime()).padStart(14, '0')}-${randomBytes(4).toString('hex')}`;
  const run: BackfillRun = previous ?? {
    kind: 'scan',
    runId: exportId,
    table: { name: table.name, arn: table.arn, id: table.id, createdAt: table.createdAt },
    startTime: startTime.toISOString(),
    segments,
    consistentRead,
    marker: null,
    finishedAt: null,
  };
  const dir = `${EXPORTS_FOLDER}${exportId}/`;
  const resumed = previous !== undefined;

  const existing = resumed ? await readWrittenSummary(landing, dir) : undefined;
  if (existing !== undefined) {
    // Killed after the manifests but before the run was marked finished: nothing is left to do.
    if (run.finishedAt === null) await writeRun(landing, { ...run, finishedAt: existing.endTime });
    const progress = new ProgressMeter({
      clock,
      segments,
      segmentsDone: segments,
      itemsBefore: existing.itemCount,
      estimatedItems: table.itemCount,
    }).snapshot();
    emit({ code: ScanEventCode.finished, level: 'info', exportId, summary: existing, progress });
    return { outcome: 'complete', exportId, dir, summary: existing, resumed, progress };
  }

  const checkpoints: Map<number, SegmentCheckpoint> = resumed
    ? await readSegmentCheckpoints(landing, 'scan', exportId, segments)
    : new Map();
  const writerOptions = {
    tableArn: table.arn,
    tableId: table.id,
    exportTime: startTime,
    exportId,
    // Scan items are validated as they are converted from the SDK's shape (itemFromScanPage).
    validate: false,
    scan: { segments, consistentRead },
  };
  let writer: ExportWriter;
  if (resumed) {
    const files = [...checkpoints.values()].flatMap((checkpoint) => checkpoint.files);
    writer = await ExportWriter.resume(landing, writerOptions, files);
    const orphans = await removeOrphans(landing, dir, checkpoints, exportId);
    if (orphans.length > 0) emit({ code: ScanEventCode.orphansRemoved, level: 'info', keys: orphans });
  } else {
    await writeRun(landing, run);
    writer = await ExportWriter.start(landing, writerOptions);
  }

  const states = new Map<number, SegmentState>();
  const starts: SegmentStart[] = [];
  for (let segment = 0; segment < segments; segment++) {
    const checkpoint = checkpoints.get(segment);
    if (checkpoint?.done === true) continue;
    const startKey = checkpoint?.lastEvaluatedKey ?? null;
    const exclusiveStartKey = startKey === null ? undefined : toSdkItem(startKey);
    starts.push({ segment, exclusiveStartKey });
    states.set(segment, {
      part: undefined,
      files: [...(checkpoint?.files ?? [])],
      items: checkpoint?.items ?? 0,
      lastEvaluatedKey: exclusiveStartKey,
      fileOpenedAt: 0,
    });
  }
  const meter = new ProgressMeter({
    clock,
    segments,
    segmentsDone: segments - starts.length,
    itemsBefore: [...checkpoints.values()].reduce((sum, checkpoint) => sum + checkpoint.items, 0),
    estimatedItems: table.itemCount,
  });
  const concurrency = options.concurrency ?? Math.min(starts.length || 1, MAX_DEFAULT_CONCURRENCY);
  const limiter = new CapacityLimiter({ unitsPerSecond: target.unitsPerSecond, clock });
  emit({
    code: ScanEventCode.started,
    level: 'info',
    exportId,
    table: table.name,
    tableArn: table.arn,
    startTime: run.startTime,
    resumed,
    segments,
    segmentsDone: segments - starts.length,
    concurrency,
    consistentRead,
    readCapacity: target,
    estimatedItems: table.itemCount,
    estimatedBytes: table.sizeBytes,
  });

  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const checkpointIntervalMs = options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
  const stateOf = (segment: number) => states.get(segment) as SegmentState;

  /** Closes the segment's data file (if any) and records the segment's position durably. */
  const checkpoint = async (segment: number, done: boolean): Promise<void> => {
    const state = stateOf(segment);
    const file = await state.part?.closeFile();
    if (file !== undefined) state.files.push(file);
    if (done) await state.part?.close();
    const key = await writeSegmentCheckpoint(landing, 'scan', exportId, {
      segment,
      lastEvaluatedKey:
        done || state.lastEvaluatedKey === undefined ? null : fromSdkItem(state.lastEvaluatedKey),
      done,
      items: state.items,
      skipped: 0,
      files: state.files,
      updatedAt: new Date().toISOString(),
    });
    if (file !== undefined) {
      emit({
        code: ScanEventCode.checkpoint,
        level: 'info',
        segment,
        checkpoint: key,
        file: { key: file.key, items: file.itemCount, bytes: file.rawBytes },
      });
    }
  };

  try {
    const outcome = await scanSegments({
      client: options.client,
      table: table.arn,
      totalSegments: segments,
      segments: starts,
      concurrency,
      consistentRead,
      limiter,
      readUnitsPerItem: readUnitsPerItem(table.itemCount, table.sizeBytes, consistentRead),
      pageLimit: options.pageLimit,
      retry: options.retry,
      clock,
      signal: options.signal,
      throttledNext: `Everything up to each segment's last checkpoint is kept: run the same command again to resume the Scan export ${exportId}, with a lower --read-percent or --max-rcu, or once the table has more read capacity.`,
      onThrottle: (throttle) => emit({ code: ScanEventCode.throttled, level: 'warn', ...throttle }),
      onPage: async (page) => {
        const state = stateOf(page.segment);
        meter.read(page.readUnits);
        if (page.items.length > 0) {
          state.part ??= writer.part({ maxFileBytes: Number.POSITIVE_INFINITY });
          const part = state.part;
          if (part.openFileItems === 0) state.fileOpenedAt = clock.now();
          const before = part.openFileBytes;
          for (const item of page.items) await part.write(itemFromScanPage(item));
          state.items += page.items.length;
          meter.handled(page.items.length, { bytes: part.openFileBytes - before });
        }
        state.lastEvaluatedKey = page.lastEvaluatedKey;
        const part = state.part;
        if (
          page.lastEvaluatedKey !== undefined &&
          part !== undefined &&
          part.openFileItems > 0 &&
          (part.openFileBytes >= maxFileBytes || clock.now() - state.fileOpenedAt >= checkpointIntervalMs)
        ) {
          await checkpoint(page.segment, false);
        }
        emit({ code: ScanEventCode.progress, level: 'info', progress: meter.snapshot() });
      },
      onSegmentEnd: async (segment) => {
        await checkpoint(segment, true);
        meter.segmentDone();
        emit({
          code: ScanEventCode.segmentFinished,
          level: 'info',
          segment,
          items: stateOf(segment).items,
          progress: meter.snapshot(),
        });
      },
      onSegmentStop: (segment) => checkpoint(segment, false),
    });
    if (outcome === 'stopped') {
      await writer.abort();
      const progress = meter.snapshot();
      emit({ code: ScanEventCode.stopped, level: 'info', exportId, progress });
      return { outcome: 'stopped', exportId, dir, resumed, progress };
    }
    const summary = await writer.finish();
    await writeRun(landing, { ...run, finishedAt: summary.endTime });
    const progress = meter.snapshot();
    emit({ code: ScanEventCode.finished, level: 'info', exportId, summary, progress });
    return { outcome: 'complete', exportId, dir, summary, resumed, progress };
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** Expected read units per item from DescribeTable's estimates (1 KB items when it has none). */
function readUnitsPerItem(itemCount: number, sizeBytes: number, consistentRead: boolean): number {
  const averageBytes = itemCount > 0 && sizeBytes > 0 ? sizeBytes / itemCount : 1024;
  return (averageBytes / READ_UNIT_BYTES) * (consistentRead ? 1 : 0.5);
}

/**
 * Deletes the export's data files that no checkpoint lists and returns their keys. Throws
 * `BadScanCheckpointError` when a checkpoint lists a data file that is not there.
 */
async function removeOrphans(
  store: ObjectStore,
  dir: string,
  checkpoints: ReadonlyMap<number, SegmentCheckpoint>,
  exportId: string,
): Promise<string[]> {
  const listed = new Map<string, number>();
  for (const checkpoint of checkpoints.values()) {
    for (const file of checkpoint.files) listed.set(file.key, checkpoint.segment);
  }
  const orphans: string[] = [];
  const present = new Set<string>();
  for await (const object of store.list(`${dir}data/`)) {
    if (listed.has(object.key)) present.add(object.key);
    else orphans.push(object.key);
  }
  for (const [key, segment] of listed) {
    if (!present.has(key)) {
      throw new BadScanCheckpointError(
        store.url,
        `${runFolder('scan', exportId)}segments/ (segment ${segment})`,
        `it lists the data file ${key}, which is missing`,
      );
    }
  }
  for (const key of orphans) await store.delete(key);
  return orphans;
}

/** The export's manifest-summary.json, if it has been written. */
async function readWrittenSummary(
  store: ObjectStore,
  dir: string,
): Promise<WrittenExportSummary | undefined> {
  const key = `${dir}${MANIFEST_SUMMARY}`;
  if ((await store.head(key)) === undefined) return undefined;
  const bytes = await store.getBytes(key);
  const summary = parseManifestSummary(bytes, key);
  if (summary.exportType !== 'FULL_EXPORT') return undefined;
  const scan = (JSON.parse(Buffer.from(bytes).toString('utf8')) as { ddbLakeScan?: unknown }).ddbLakeScan;
  return scan === undefined
    ? summary
    : { ...summary, ddbLakeScan: scan as WrittenExportSummary['ddbLakeScan'] };
}
