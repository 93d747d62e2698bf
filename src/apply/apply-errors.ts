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
      `The snapshot ${exportId} (T = ${exportTime}) cannot be handed off to the captured changes, which must reach back to T − margin = ${windowStart} without a gap (DESIGN.md rule 2): ${problems.map((p) => p.message).join('; ')}. Nothing was written. Take a new export at a later T (ddb-lake backfill) once capture has run for longer than the margin, or repair the window with an incremental export of the missing time, or widen the captured window; ddb-lake plan --export-time <T> says when a handoff is covered.`,
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
