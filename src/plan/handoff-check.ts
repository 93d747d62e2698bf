import { type RecordedShardGap, readShardGaps } from '../capture/shard-gap.ts';
import { tableNameOf } from '../formats/change-file-key.ts';
import { listExports } from '../formats/export-layout.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { type CapturedChange, findCaptureStart } from './capture-start.ts';
import { InvalidPlanOptionError } from './errors.ts';

/** DESIGN.md rule 2: the default margin between the export time and the changes replayed on top. */
export const DEFAULT_HANDOFF_MARGIN_MS = 15 * 60 * 1000;

/** How long DynamoDB Streams keeps a record. */
export const STREAM_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * Capture that starts from the oldest records a stream holds reads its shards one after another,
 * and the stream goes on trimming records older than 24 hours meanwhile: the oldest records of a
 * shard read late may be gone without any error. So captured coverage counts from no earlier than
 * 23 hours before the first change file examined was written.
 */
export const TRIM_HORIZON_SAFETY_MS = 60 * 60 * 1000;

/** Stable codes of the reasons a handoff is not covered. */
export const HandoffProblemCode = {
  /** No change file of the table in the landing area: capture never ran, or has captured nothing yet. */
  noCapture: 'NO_CAPTURE',
  /** Change files exist, but none after the last break (a gap, or the current stream's start). */
  nothingCapturedSinceBreak: 'NOTHING_CAPTURED_SINCE_BREAK',
  /** Captured changes start after T − margin: the changes between are neither captured nor safe. */
  captureStartedLate: 'CAPTURE_STARTED_LATE',
  /** A recorded gap ends after T − margin: changes that must be replayed may be lost. */
  gap: 'CAPTURE_GAP',
  /** The table's current stream was enabled after T − margin: what came before it was never streamed. */
  streamEnabledLate: 'STREAM_ENABLED_LATE',
} as const;

export type HandoffProblemCode = (typeof HandoffProblemCode)[keyof typeof HandoffProblemCode];

/** Why a handoff at T is not covered, with the times involved (ISO 8601, UTC). */
export type HandoffProblem =
  | { readonly code: typeof HandoffProblemCode.noCapture; readonly message: string }
  | {
      readonly code: typeof HandoffProblemCode.nothingCapturedSinceBreak;
      /** The end of the last break: only changes captured after it count. */
      readonly since: string;
      readonly message: string;
    }
  | {
      readonly code: typeof HandoffProblemCode.captureStartedLate;
      readonly coveredFrom: string;
      readonly windowStart: string;
      /** The earliest export time this capture covers: coveredFrom + margin. */
      readonly readyAt: string;
      readonly message: string;
    }
  | {
      readonly code: typeof HandoffProblemCode.gap;
      readonly gap: RecordedShardGap;
      /** Lost changes were made at or after this time (the gap's `fromTime`, else 24 hours before its end). */
      readonly lostFrom: string;
      /** … and before this one (the gap's `toTime`). */
      readonly lostUntil: string;
      readonly windowStart: string;
      readonly message: string;
    }
  | {
      readonly code: typeof HandoffProblemCode.streamEnabledLate;
      readonly streamEnabledAt: string;
      readonly windowStart: string;
      readonly message: string;
    };

/** A recorded gap that a complete incremental export of the table spans: its changes are not lost. */
export interface RecoveredGap {
  readonly gap: RecordedShardGap;
  /** The incremental export (`AWSDynamoDB/<exportId>/`) whose window holds the gap's. */
  readonly exportId: string;
}

interface HandoffFacts {
  readonly table: string;
  /** T. */
  readonly exportTime: string;
  readonly marginMs: number;
  /** T − margin: changes from here on are replayed on top of the snapshot. */
  readonly windowStart: string;
  /**
   * S: the time from which captured changes are known to run without a gap, or null when none do.
   * It is the earliest captured change after the last break, moved no earlier than 23 hours
   * before capture first wrote it (`TRIM_HORIZON_SAFETY_MS`).
   */
  readonly coveredFrom: string | null;
  /** The change file record S comes from. */
  readonly earliestChange: CapturedChange | null;
  /** The end of the last break (unrecovered gap, or the stream's start), or null when there is none. */
  readonly breakUntil: string | null;
  /** The earliest export time the captured changes cover (S + margin), or null without S. */
  readonly readyAt: string | null;
  /** Every gap recorded for the table, oldest first. */
  readonly gaps: readonly RecordedShardGap[];
  /** Gaps that incremental exports in the landing area recover; apply must replay those exports. */
  readonly recoveredGaps: readonly RecoveredGap[];
  readonly filesListed: number;
  readonly firstRecordsRead: number;
}

/** The outcome of `checkHandoff`: covered, or not with every reason. */
export type HandoffCheck =
  | (HandoffFacts & { readonly ok: true; readonly problems: readonly [] })
  | (HandoffFacts & { readonly ok: false; readonly problems: readonly HandoffProblem[] });

export interface HandoffCheckOptions {
  /** The landing area holding the change files and capture's gap records. */
  readonly store: ObjectStore;
  /** Table name or ARN. */
  readonly table: string;
  /** T: the snapshot's export time (a Scan export's start time). */
  readonly exportTime: Date;
  /** Default `DEFAULT_HANDOFF_MARGIN_MS` (15 minutes). */
  readonly marginMs?: number;
  /**
   * When the table's current stream was enabled (DescribeTable's `LatestStreamLabel`), if known:
   * changes captured before it came from an older stream, and what happened between the two
   * streams was never streamed, so coverage restarts there.
   */
  readonly streamEnabledAt?: Date | undefined;
}

/**
 * Checks DESIGN.md rule 2 for a snapshot taken at T: the captured change files cover the handoff
 * when the changes captured without a gap start at S ≤ T − margin.
 *
 * - A gap recorded by capture (`_ddb_lake/capture/<table>/gaps/`) means changes made between its
 *   `fromTime` (or, when unknown, 24 hours before its end) and its `toTime` may be lost. A gap that
 *   ends after T − margin breaks the handoff whatever S is; an earlier one restarts coverage at its
 *   end. A gap spanned by a complete incremental export of the table in the landing area counts as
 *   recovered (listed in `recoveredGaps`: apply must replay that export).
 * - S is the earliest captured change after the last break, found by `findCaptureStart` with
 *   little I/O: change-file keys carry the `dt=` day, the shard and the first and last sequence
 *   numbers, so it lists from the break's day on and stops after the first day with a candidate,
 *   and per shard reads only the first record (`ts`) of the file with the smallest first sequence
 *   number (compared as BigInt), or, on the break's day, of the first file not before the break,
 *   found by binary search; a first record costs one ranged get of 64 KiB.
 * - A table without any change file cannot be shown to be covered, even when capture runs and the
 *   table simply had no writes: a single captured change proves the start.
 *
 * Read-only and idempotent; the answer only moves towards covered as capture goes on, unless a new
 * gap is recorded. Throws `InvalidPlanOptionError` for a negative or non-finite margin or an
 * invalid time, `BadInputError` or `CorruptGzipError` for a change file whose first line cannot be
 * read, `BadManifestError` or `ChecksumMismatchError` for a damaged export summary (only read when
 * there are gaps), and the store's errors.
 */
export async function checkHandoff(options: HandoffCheckOptions): Promise<HandoffCheck> {
  const table = tableNameOf(options.table);
  const marginMs = options.marginMs ?? DEFAULT_HANDOFF_MARGIN_MS;
  if (!Number.isFinite(marginMs) || marginMs < 0) {
    throw new InvalidPlanOptionError('margin', `must be zero or more milliseconds, not ${marginMs}`);
  }
  const exportTime = options.exportTime.getTime();
  if (Number.isNaN(exportTime)) throw new InvalidPlanOptionError('exportTime', 'is not a valid time');
  const streamEnabledAt = options.streamEnabledAt?.getTime();
  if (streamEnabledAt !== undefined && Number.isNaN(streamEnabledAt)) {
    throw new InvalidPlanOptionError('streamEnabledAt', 'is not a valid time');
  }
  const windowStart = exportTime - marginMs;

  const gaps = await readShardGaps(options.store, table);
  const recoveredGaps = gaps.length === 0 ? [] : await recoveredBy(options.store, table, gaps);
  const recovered = new Set(recoveredGaps.map((entry) => entry.gap.key));
  const open = gaps.filter((gap) => !recovered.has(gap.key));

  // Records carry ApproximateCreationDateTime, whole seconds on AWS and whole minutes on DynamoDB
  // Local: the first records of a new stream may be stamped before the moment it was enabled.
  let breakUntil: number | undefined =
    streamEnabledAt === undefined ? undefined : Math.floor(streamEnabledAt / 60_000) * 60_000;
  for (const gap of open) {
    const until = Date.parse(gap.toTime);
    if (breakUntil === undefined || until > breakUntil) breakUntil = until;
  }

  const start = await findCaptureStart(options.store, table, breakUntil);
  const earliest = start.earliest;
  let coveredFrom: number | undefined;
  if (earliest !== undefined) {
    const trimBound =
      start.firstWrittenAt === undefined
        ? Number.NEGATIVE_INFINITY
        : start.firstWrittenAt.getTime() - STREAM_RETENTION_MS + TRIM_HORIZON_SAFETY_MS;
    coveredFrom = Math.max(earliest.ts, trimBound);
  }

  const problems: HandoffProblem[] = [];
  const at = (ms: number) => new Date(ms).toISOString();
  for (const gap of open) {
    const lostUntil = Date.parse(gap.toTime);
    if (lostUntil <= windowStart) continue;
    const lostFrom = gap.fromTime === null ? lostUntil - STREAM_RETENTION_MS : Date.parse(gap.fromTime);
    problems.push({
      code: HandoffProblemCode.gap,
      gap,
      lostFrom: at(lostFrom),
      lostUntil: gap.toTime,
      windowStart: at(windowStart),
      message:
        `capture recorded a gap in shard ${gap.shardId} (${gap.reason}): changes made between ${at(lostFrom)} ` +
        `and ${gap.toTime} may be lost, and that is after T − margin = ${at(windowStart)}`,
    });
  }
  if (streamEnabledAt !== undefined && streamEnabledAt > windowStart) {
    problems.push({
      code: HandoffProblemCode.streamEnabledLate,
      streamEnabledAt: at(streamEnabledAt),
      windowStart: at(windowStart),
      message:
        `the table's current stream was enabled at ${at(streamEnabledAt)}, after T − margin = ${at(windowStart)}: ` +
        'changes made before it were never in this stream',
    });
  }
  if (problems.length === 0) {
    if (!start.anyChangeFiles) {
      problems.push({
        code: HandoffProblemCode.noCapture,
        message: `the landing area holds no change file of table ${table}: nothing shows that capture runs`,
      });
    } else if (coveredFrom === undefined) {
      const since = at(breakUntil as number);
      problems.push({
        code: HandoffProblemCode.nothingCapturedSinceBreak,
        since,
        message: `no change of table ${table} was captured after ${since} (the end of the last gap, or the start of the current stream)`,
      });
    } else if (coveredFrom > windowStart) {
      problems.push({
        code: HandoffProblemCode.captureStartedLate,
        coveredFrom: at(coveredFrom),
        windowStart: at(windowStart),
        readyAt: at(coveredFrom + marginMs),
        message:
          `captured changes run without a gap from ${at(coveredFrom)} on, after T − margin = ${at(windowStart)}; ` +
          `an export at ${at(coveredFrom + marginMs)} or later is covered`,
      });
    }
  }

  const facts: HandoffFacts = {
    table,
    exportTime: at(exportTime),
    marginMs,
    windowStart: at(windowStart),
    coveredFrom: coveredFrom === undefined ? null : at(coveredFrom),
    earliestChange: earliest ?? null,
    breakUntil: breakUntil === undefined ? null : at(breakUntil),
    readyAt: coveredFrom === undefined ? null : at(coveredFrom + marginMs),
    gaps,
    recoveredGaps,
    filesListed: start.filesListed,
    firstRecordsRead: start.firstRecordsRead,
  };
  return problems.length === 0 ? { ...facts, ok: true, problems: [] } : { ...facts, ok: false, problems };
}

/**
 * The gaps that a complete incremental export of the table in the landing area spans, each with
 * the first such export (its window holds the gap's, so the gap's changes are not lost). Reads the
 * exports' summaries only.
 */
export async function recoveredBy(
  store: ObjectStore,
  table: string,
  gaps: readonly RecordedShardGap[],
): Promise<RecoveredGap[]> {
  const windows: { exportId: string; from: number; to: number }[] = [];
  for (const listing of await listExports(store)) {
    const summary = listing.summary;
    if (summary.exportType !== 'INCREMENTAL_EXPORT') continue;
    if (exportTableName(summary.tableArn) !== table) continue;
    windows.push({
      exportId: listing.exportId,
      from: Date.parse(summary.exportFromTime),
      to: Date.parse(summary.exportToTime),
    });
  }
  const recovered: RecoveredGap[] = [];
  for (const gap of gaps) {
    const until = Date.parse(gap.toTime);
    const from = gap.fromTime === null ? until - STREAM_RETENTION_MS : Date.parse(gap.fromTime);
    const window = windows.find((w) => w.from <= from && w.to >= until);
    if (window !== undefined) recovered.push({ gap, exportId: window.exportId });
  }
  return recovered;
}

function exportTableName(tableArn: string): string | undefined {
  try {
    return tableNameOf(tableArn);
  } catch {
    return undefined;
  }
}
