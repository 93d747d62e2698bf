import { ApplyErrorCode, ApplyRunError } from '../apply-errors.ts';
import type { CaptureQuarantineEntry } from './capture-quarantine-gate.ts';

/*
 * The refusals of the capture quarantine gate (capture-quarantine-gate.ts): a batch held while
 * quarantined stream records are neither replayed nor accepted, and an acceptance naming an object
 * that is not there.
 */

/** Entries named in a message; the error's `entries` holds them all. */
const NAMED_IN_MESSAGE = 10;

/** Where the gate looked and what the person runs next. */
export interface CaptureQuarantineWhere {
  readonly table: string;
  /** The landing area's URL. */
  readonly landing: string;
  /** The Delta table's URL. */
  readonly delta: string;
}

/** One entry as a message names it: shard, sequence number, object, reason. */
export function describeCaptureQuarantineEntry(
  entry: Pick<CaptureQuarantineEntry, 'key' | 'shard' | 'seq' | 'reason'>,
): string {
  return `shard ${entry.shard ?? '(unknown)'}, sequence number ${entry.seq ?? '(unknown)'} (${entry.key}): ${entry.reason}`;
}

/**
 * Capture quarantined stream records of the table that no batch accepted: each is a hole in its
 * shard's changes, so the batch was not committed and the table is unchanged.
 */
export class CaptureQuarantineBlockedError extends ApplyRunError {
  /** The batch that was not committed (when nothing was new: the one that would come next). */
  readonly batch: number;
  readonly table: string;
  /** Every object holding the batch back, in listing order. */
  readonly entries: readonly CaptureQuarantineEntry[];

  constructor(batch: number, where: CaptureQuarantineWhere, entries: readonly CaptureQuarantineEntry[]) {
    const named = entries
      .slice(0, NAMED_IN_MESSAGE)
      .map((entry) => `  ${describeCaptureQuarantineEntry(entry)}`);
    if (entries.length > NAMED_IN_MESSAGE) named.push(`  … and ${entries.length - NAMED_IN_MESSAGE} more`);
    const base = `--table ${where.table} --landing ${where.landing}`;
    super(
      ApplyErrorCode.captureQuarantineBlocked,
      `Batch ${batch} was not committed: capture quarantined ${entries.length} stream record(s) of table ${where.table} that no batch has accepted, and each is a hole in its shard's changes (the Delta table would differ from DynamoDB without them). The table is unchanged.\n${named.join('\n')}\nFix each record in place (the "record" member of its object) and replay it: ddb-lake quarantine replay ${base} --key <object> (or --all; a record valid as it is replays as it is). Or, to drop it knowingly, accept it: ddb-lake apply ${base} --delta ${where.delta} --accept-capture-quarantine <object> (or all), which the batch records. Then run apply again.`,
    );
    this.batch = batch;
    this.table = where.table;
    this.entries = entries;
  }
}

/** `--accept-capture-quarantine` named objects that are not in the table's capture quarantine. */
export class CaptureQuarantineUnknownError extends ApplyRunError {
  readonly keys: readonly string[];

  constructor(where: CaptureQuarantineWhere, keys: readonly string[]) {
    super(
      ApplyErrorCode.captureQuarantineUnknown,
      `--accept-capture-quarantine names ${keys.join(', ')}, which ${keys.length === 1 ? 'is' : 'are'} not in the capture quarantine of table ${where.table} in ${where.landing} (replayed already, or a typo). Nothing was written. ddb-lake quarantine list --table ${where.table} --landing ${where.landing} shows the objects.`,
    );
    this.keys = keys;
  }
}
