/*
 * The structured log of capture: one JSON object per line, for CloudWatch Logs Insights and the
 * local poller alike. Entries name records by SequenceNumber and eventID and files by object key;
 * they never carry item contents (keys, images, or problem descriptions that quote values), which
 * stay in the change files and quarantine objects, where the landing area's access rules apply.
 */

/** A change file was written: one per captured batch. */
export interface ChangeFileWrittenEntry {
  readonly level: 'info';
  readonly event: 'change-file-written';
  readonly table: string;
  readonly shard: string;
  /** Object key relative to the landing area. */
  readonly key: string;
  readonly records: number;
  /** Size of the gzip object. */
  readonly bytes: number;
  readonly firstSeq: string;
  readonly lastSeq: string;
  /** Time of encoding and writing the file. */
  readonly durationMs: number;
}

/** What kind of problem sent a record to quarantine, in words that quote no item contents. */
export type QuarantineProblem =
  | 'not-a-stream-record'
  | 'no-sequence-number'
  | 'no-creation-time'
  | 'invalid-record';

/** A stream record that cannot be a change-file line was written to quarantine instead. */
export interface RecordQuarantinedEntry {
  readonly level: 'warn';
  readonly event: 'record-quarantined';
  readonly table: string;
  /** The quarantine object, relative to the landing area: it holds the record and the reason. */
  readonly key: string;
  readonly seq: string | undefined;
  readonly eventId: string | undefined;
  readonly problem: QuarantineProblem;
  /** The member of the stream record at fault (`dynamodb.NewImage`), without attribute names. */
  readonly field: string | undefined;
}

/** A write to the landing area failed; the batch is retried from `retryFrom`. */
export interface WriteFailedEntry {
  readonly level: 'error';
  readonly event: 'write-failed';
  readonly table: string;
  readonly key: string;
  /** Stream records that the failed object was to hold. */
  readonly records: number;
  readonly error: { readonly name: string; readonly code: string | undefined; readonly message: string };
  readonly durationMs: number;
}

/** The outcome of one batch: always the last entry of a `captureBatch` call that returns. */
export interface BatchCapturedEntry {
  readonly level: 'info' | 'error';
  readonly event: 'batch-captured';
  readonly table: string;
  readonly shard: string;
  /** Stream records in the batch. */
  readonly records: number;
  /** Records written to change files. */
  readonly captured: number;
  readonly quarantined: number;
  readonly files: number;
  /** Bytes of change files written. */
  readonly bytes: number;
  /** The SequenceNumber Lambda retries from; absent when everything was written. */
  readonly retryFrom: string | undefined;
  /**
   * How far behind the stream capture is: the clock's now minus the newest ApproximateCreationDateTime
   * of the batch, in milliseconds (never below 0); absent when no record carries one.
   */
  readonly lagMs: number | undefined;
  readonly durationMs: number;
}

/**
 * The batch failed as a whole, and the same error is then thrown: refused before anything was
 * written (view type, order), or a write failed with no SequenceNumber to retry from.
 */
export interface BatchFailedEntry {
  readonly level: 'error';
  readonly event: 'batch-failed';
  /** The table the records' eventSourceARN names, when it names one. */
  readonly table: string | undefined;
  readonly records: number;
  /** As in `batch-captured`: a batch that keeps failing keeps showing how old its records get. */
  readonly lagMs: number | undefined;
  readonly error: { readonly name: string; readonly code: string | undefined; readonly message: string };
}

/** One entry of capture's structured log. */
export type CaptureLogEntry =
  | ChangeFileWrittenEntry
  | RecordQuarantinedEntry
  | WriteFailedEntry
  | BatchCapturedEntry
  | BatchFailedEntry;

/** The name, code and message of an error, for a log entry (never its cause's data). */
export function errorSummary(error: unknown): {
  readonly name: string;
  readonly code: string | undefined;
  readonly message: string;
} {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, code: typeof code === 'string' ? code : undefined, message: error.message };
  }
  return { name: 'Error', code: undefined, message: String(error) };
}
