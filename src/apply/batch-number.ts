/*
 * Batch numbers in the names of the state files beside the table (`_ddb_lake/apply/…`): 20 digits,
 * zero-padded, so that a listing (ascending by key) is in batch order.
 */

const BATCH_TEXT = /^[0-9]{20}$/;

/**
 * The 20-digit text of a batch number: `7` → `00000000000000000007`. Pure.
 * @throws RangeError when `batch` is not a safe integer of at least 1.
 */
export function batchText(batch: number): string {
  if (!Number.isSafeInteger(batch) || batch < 1) {
    throw new RangeError(`a batch number is a whole number of at least 1, not ${batch}`);
  }
  return String(batch).padStart(20, '0');
}

/** The batch number of 20-digit text, or undefined for anything else. Pure. */
export function parseBatchText(text: string): number | undefined {
  if (!BATCH_TEXT.test(text)) return undefined;
  const batch = Number(text);
  return Number.isSafeInteger(batch) && batch >= 1 ? batch : undefined;
}
