import { DdbLakeError } from '../errors.ts';
import type { HandoffProblem } from '../plan/handoff-check.ts';

/** Stable codes of the errors an apply run raises itself (the parts it calls have their own). */
export const ApplyErrorCode = {
  /** The captured change files do not cover the handoff at the snapshot's time (DESIGN.md rule 2). */
  handoffRefused: 'APPLY_HANDOFF_REFUSED',
  /** No snapshot to start from: no complete full export of the table, or the one named is not one. */
  noSnapshot: 'APPLY_NO_SNAPSHOT',
  /** More bad lines than `--max-bad` allows: the batch was not committed. */
  tooManyBadLines: 'APPLY_TOO_MANY_BAD_LINES',
  /** A batch record beside the table cannot be read. */
  batchRecordCorrupt: 'APPLY_BATCH_RECORD_CORRUPT',
  /** The table at `--delta` is not one apply wrote, or not for this DynamoDB table. */
  tableMismatch: 'APPLY_TABLE_MISMATCH',
  /** Another writer holds the table's lease (DESIGN.md rule 5): one writer at a time. */
  leaseHeld: 'APPLY_LEASE_HELD',
  /** An option is out of range. */
  invalidOption: 'APPLY_INVALID_OPTION',
  /** Capture quarantined stream records no batch accepted: no batch is committed past them (DESIGN.md rule 7). */
  captureQuarantineBlocked: 'APPLY_CAPTURE_QUARANTINE',
  /** `--accept-capture-quarantine` names an object that is not in the table's capture quarantine. */
  captureQuarantineUnknown: 'APPLY_CAPTURE_QUARANTINE_UNKNOWN',
  /** A change file that an uncommitted batch's record lists is gone or damaged: the batch is pinned to it. */
  inputPinned: 'APPLY_INPUT_PINNED',
  /** A re-plan was asked for that cannot be done (a committed batch, a file no batch lists, …). */
  replanRefused: 'APPLY_REPLAN_REFUSED',
  /** The first run's settings (flags) differ from the stored record or the table. */
  settingsDiffer: 'APPLY_SETTINGS_DIFFER',
  /** The key attributes (flag, DescribeTable, inputs) disagree with each other. */
  keysMismatch: 'APPLY_KEYS_MISMATCH',
  /** A change file changed while the batch read it (change files are written once). */
  inputChanged: 'APPLY_INPUT_CHANGED',
  /** The landing area holds no object at all (a folder that does not exist, an empty S3 prefix). */
  landingEmpty: 'APPLY_LANDING_EMPTY',
} as const;

export type ApplyErrorCode = (typeof ApplyErrorCode)[keyof typeof ApplyErrorCode];

/** An error of an apply run: the message says what happened, where, and what to do. */
export class ApplyRunError extends DdbLakeError {
  declare readonly code: ApplyErrorCode;

  constructor(code: ApplyErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The first run refuses a snapshot whose handoff the captured changes do not cover. */
export class HandoffRefusedError extends ApplyRunError {
  readonly problems: readonly HandoffProblem[];
  readonly exportId: string;

  constructor(
    exportId: string,
    exportTime: string,
    windowStart: string,
    problems: readonly HandoffProblem[],
  ) {
    super(
      ApplyErrorCode.handoffRefused,
      `The snapshot ${exportId} (T = ${exportTime}) cannot be handed off to the captured changes, which must reach back to T − margin = ${windowStart} without a gap (the handoff rule, rule 2 of docs/DESIGN.md): ${problems.map((p) => p.message).join('; ')}. Nothing was written. Take a new export at a later T (ddb-lake backfill) once capture has run for longer than the margin, or repair the window with an incremental export of the missing time, or widen the captured window; ddb-lake plan --export-time <T> says when a handoff is covered.`,
    );
    this.problems = problems;
    this.exportId = exportId;
  }
}

/** The run found more bad lines than it may tolerate. */
export class TooManyBadLinesError extends ApplyRunError {
  readonly count: number;
  readonly quarantine: string;
  readonly batch: number;

  constructor(count: number, maxBad: number, quarantine: string, batch: number) {
    super(
      ApplyErrorCode.tooManyBadLines,
      `Batch ${batch} found ${count} bad line(s), more than --max-bad ${maxBad} allows; the batch was not committed and the table is unchanged. Each line is in ${quarantine} with its file, line number and reason. Fix the input files (or accept the loss with a higher --max-bad) and run apply again: the batch is rebuilt from the same inputs.`,
    );
    this.count = count;
    this.quarantine = quarantine;
    this.batch = batch;
  }
}

/**
 * The record of an uncommitted batch lists a change file that is gone from the landing area or
 * cannot be read: the batch is pinned to its inputs (rule 4), so it cannot be built without it.
 */
export class PinnedInputError extends ApplyRunError {
  readonly batch: number;
  /** The batch record's key beside the table. */
  readonly record: string;
  /** The change file's key in the landing area. */
  readonly file: string;
  readonly problem: 'missing' | 'damaged';

  constructor(
    where: {
      readonly batch: number;
      readonly record: string;
      readonly deltaUrl: string;
      readonly landingUrl: string;
    },
    file: string,
    problem: 'missing' | 'damaged',
    options?: { cause?: unknown },
  ) {
    const what =
      problem === 'missing'
        ? `which is no longer in the landing area ${where.landingUrl}`
        : `which cannot be read in the landing area ${where.landingUrl} (${options?.cause instanceof Error ? options.cause.message : 'damaged'})`;
    super(
      ApplyErrorCode.inputPinned,
      `Batch ${where.batch} cannot be built: its record ${where.record} beside the table at ${where.deltaUrl} lists the change file ${file}, ${what}. A batch is pinned to the inputs its record lists, so that a run after a crash rebuilds exactly the same batch; --max-bad and --rescan do not change that. Restore the file and run apply again; or, if its records are lost for good, re-plan the batch without it: run apply with --replan-without ${file} (the batch then leaves its records out, its new record says so, and the old record is kept beside it).`,
      options,
    );
    this.batch = where.batch;
    this.record = where.record;
    this.file = file;
    this.problem = problem;
  }
}
