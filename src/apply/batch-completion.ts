import type { ObjectStore } from '../storage/object-store.ts';
import { ApplyErrorCode, ApplyRunError } from './apply-errors.ts';
import { batchText } from './batch-number.ts';
import { parseStateObject } from './state-json.ts';

/*
 * A batch's completion mark (DESIGN.md rule 4, for engines that cannot write `txn`): a SQL
 * warehouse commits a batch's MERGE without the `txn(appId, batch)` action our engine writes, so
 * the engine records the batch as done in `_ddb_lake/apply/completed/<20-digit batch>.json` once
 * every statement of the batch succeeded. The next batch is the one after the greater of the
 * table's latest txn and the latest mark, whichever engine runs it. A run killed between the
 * statements and the mark runs the batch again: its statements change nothing the second time.
 */

export const COMPLETED_FOLDER = '_ddb_lake/apply/completed/';

/** What the mark of a batch says. */
export interface BatchCompletion {
  readonly batch: number;
  /** The engine that applied it. */
  readonly engine: 'databricks';
  /** The Delta version of the table after the batch, as read back. */
  readonly version: number;
  /** The statements, in order, with the ids the warehouse gave them. */
  readonly statements: readonly { readonly purpose: string; readonly statementId: string }[];
  /** When it completed (ISO-8601). */
  readonly completedAt: string;
}

/** The key of a batch's completion mark. @throws RangeError for a batch below 1. */
export function completionKey(batch: number): string {
  return `${COMPLETED_FOLDER}${batchText(batch)}.json`;
}

/** Writes the completion mark of a batch (a plain put: a rerun writes it again). */
export async function writeBatchCompletion(store: ObjectStore, completion: BatchCompletion): Promise<void> {
  await store.put(completionKey(completion.batch), `${JSON.stringify(completion, null, 2)}\n`);
}

/**
 * The completion mark of a batch, or undefined when there is none.
 * @throws ApplyRunError (batch record corrupt) naming the file when it is not a mark.
 */
export async function readBatchCompletion(
  store: ObjectStore,
  batch: number,
): Promise<BatchCompletion | undefined> {
  const key = completionKey(batch);
  if ((await store.head(key)) === undefined) return undefined;
  const corrupt = (what: string) =>
    new ApplyRunError(
      ApplyErrorCode.batchRecordCorrupt,
      `${store.url}/${key} is ${what}, not the completion mark of batch ${batch}. It is written by ddb-lake apply --engine databricks; restore it, or remove it if batch ${batch} did not finish (its statements run again and change nothing already done).`,
    );
  const fields = parseStateObject(await store.getBytes(key), corrupt);
  if (
    fields['batch'] !== batch ||
    typeof fields['version'] !== 'number' ||
    !Array.isArray(fields['statements'])
  ) {
    throw corrupt('damaged');
  }
  return fields as unknown as BatchCompletion;
}

/**
 * The last batch applied: `fromTxn` (the table's latest txn version of the pipeline, 0 for none),
 * or a later batch whose completion mark exists, following the marks one by one (a head request
 * each; one per run when no warehouse batch came after the last txn).
 */
export async function lastAppliedBatch(store: ObjectStore, fromTxn: number): Promise<number> {
  let last = fromTxn;
  while ((await store.head(completionKey(last + 1))) !== undefined) last++;
  return last;
}
