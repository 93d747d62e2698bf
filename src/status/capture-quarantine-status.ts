import { acceptedCaptureQuarantine, listCaptureQuarantine } from '../apply/inputs/capture-quarantine-gate.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { CaptureQuarantineStatus } from './status-report.ts';

/**
 * The capture quarantine of `table` in the landing area, each object read for its shard, sequence
 * number and reason (as apply's gate reads them: a damaged object is listed as such, never
 * skipped), and marked accepted when a batch up to `lastBatch` of the Delta table at `delta`
 * accepted its loss. Without `delta` (or before the first batch) nothing is accepted. Replayed
 * records have left the quarantine folder and are not listed. Read-only.
 * @throws the store's errors; StateFileError / ApplyRunError for a damaged taken index or record.
 */
export async function readCaptureQuarantineStatus(
  landing: ObjectStore,
  delta: ObjectStore | undefined,
  table: string,
  lastBatch: number,
): Promise<CaptureQuarantineStatus[]> {
  const entries = await listCaptureQuarantine(landing, table);
  if (entries.length === 0) return [];
  const accepted =
    delta === undefined ? new Set<string>() : await acceptedCaptureQuarantine(delta, lastBatch);
  return entries.map((entry) => ({ ...entry, accepted: accepted.has(entry.key) }));
}
