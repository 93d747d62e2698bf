import { captureReplayedFolder } from '../../capture/capture-quarantine-replay.ts';
import { tableNameOf } from '../../formats/change-file-key.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { parseBatchText } from '../batch-number.ts';
import { BATCH_RECORDS_FOLDER } from '../batch-record.ts';
import {
  acceptedCaptureQuarantine,
  type CaptureQuarantineEntry,
  listCaptureQuarantine,
} from './capture-quarantine-gate.ts';
import { listQuarantine, type QuarantinedBatch } from './quarantine.ts';

/*
 * Both quarantines of a table in one report (`ddb-lake quarantine list`): the capture quarantine
 * in the landing area (stream records capture could not map, each accepted by a batch or not) and,
 * when the Delta table is given, the apply quarantine beside it (lines a batch could not read).
 */

/** A capture quarantine object and whether a batch accepted it. */
export interface ReportedCaptureQuarantineEntry extends CaptureQuarantineEntry {
  /** True when a batch accepted it as lost; null when the Delta table was not given. */
  readonly accepted: boolean | null;
}

export interface QuarantineReport {
  readonly table: string;
  readonly landing: string;
  readonly delta: string | null;
  /** The capture quarantine, in listing order. */
  readonly capture: readonly ReportedCaptureQuarantineEntry[];
  /** Objects no batch accepted (all of them when the Delta table was not given). */
  readonly notAccepted: number;
  /** Records replayed from the capture quarantine so far (markers under capture-replayed/). */
  readonly replayed: number;
  /** The newest batch with a record beside the table, whose acceptances count; null without one. */
  readonly throughBatch: number | null;
  /** Batches with quarantined lines beside the table; null when the Delta table was not given. */
  readonly apply: readonly QuarantinedBatch[] | null;
}

/** The newest batch number with a record beside the table, or null when there is none. */
export async function newestBatchRecord(delta: ObjectStore): Promise<number | null> {
  let newest: number | null = null;
  for await (const object of delta.list(BATCH_RECORDS_FOLDER)) {
    const batch = parseBatchText(object.key.slice(BATCH_RECORDS_FOLDER.length).replace(/\.json$/, ''));
    if (batch !== undefined && (newest === null || batch > newest)) newest = batch;
  }
  return newest;
}

/**
 * Reads both quarantines of `table` (a name or ARN). An acceptance counts from the newest batch
 * record on (a batch stored but not committed yet is committed with exactly that record). Read-only.
 * @throws the store's errors; StateFileError / ApplyRunError for a damaged index or batch record.
 */
export async function quarantineReport(options: {
  readonly landing: ObjectStore;
  readonly table: string;
  readonly delta?: ObjectStore;
}): Promise<QuarantineReport> {
  const { landing, delta } = options;
  const table = tableNameOf(options.table);
  const entries = await listCaptureQuarantine(landing, table);
  let replayed = 0;
  for await (const _ of landing.list(captureReplayedFolder(table))) replayed++;
  if (delta === undefined) {
    return {
      table,
      landing: landing.url,
      delta: null,
      capture: entries.map((entry) => ({ ...entry, accepted: null })),
      notAccepted: entries.length,
      replayed,
      throughBatch: null,
      apply: null,
    };
  }
  const throughBatch = await newestBatchRecord(delta);
  const accepted = await acceptedCaptureQuarantine(delta, throughBatch ?? 0);
  const capture = entries.map((entry) => ({ ...entry, accepted: accepted.has(entry.key) }));
  return {
    table,
    landing: landing.url,
    delta: delta.url,
    capture,
    notAccepted: capture.filter((entry) => !entry.accepted).length,
    replayed,
    throughBatch,
    apply: await listQuarantine(delta),
  };
}
