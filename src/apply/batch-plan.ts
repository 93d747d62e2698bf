import { DEFAULT_BUCKETS, type TableLayout } from '../lake/table-layout.ts';
import { checkHandoff, DEFAULT_HANDOFF_MARGIN_MS } from '../plan/handoff-check.ts';
import { ApplyErrorCode, ApplyRunError, HandoffRefusedError } from './apply-errors.ts';
import { ApplyEventCode } from './apply-events.ts';
import type { BatchContext } from './batch-context.ts';
import { type BatchRecord, readBatchRecords } from './batch-record.ts';
import type { BatchChangeInputs } from './inputs/batch-inputs.ts';
import { findIncrementalExports, findNewChangeFiles, findSnapshot } from './inputs/input-discovery.ts';
import { listQuarantine } from './inputs/quarantine.ts';
import { changeFilesTaken } from './replan-record.ts';
import { firstBatchKeys } from './snapshot/first-batch-keys.ts';
import { readTakenIndex, type TakenIndex } from './taken-index.ts';

/*
 * Planning a new batch (DESIGN.md rules 2 and 4): what its record lists. The first batch's
 * snapshot, handoff check and settings (its keys checked by first-batch-keys.ts); a later batch's change files and incremental exports that
 * no earlier batch took (by the previous batch's taken index, taken-index.ts: partitions settled
 * before its date are not listed; with `rescan` or without an index, by every earlier record), or
 * the quarantine it replays.
 */

/**
 * What the batches before `batch` took: the previous batch's taken index (taken-index.ts), so that
 * settled partitions are not listed; with `rescan`, or for a table whose previous batch has no
 * index, every batch record, and every partition is listed.
 */
async function takenBefore(
  context: BatchContext,
  batch: number,
): Promise<Pick<TakenIndex, 'changeFiles' | 'incrementalExports' | 'settledBefore'>> {
  const { delta, rescan } = context.options;
  const index = rescan === true ? undefined : await readTakenIndex(delta, batch - 1);
  if (index !== undefined) return index;
  const earlier = await readBatchRecords(delta, batch - 1);
  return {
    changeFiles: new Set(earlier.flatMap(changeFilesTaken)),
    incrementalExports: new Set(earlier.flatMap((record) => record.incrementalExports)),
    settledBefore: null,
  };
}

/** The record of a new batch, or undefined when there is nothing new (later batches only). */
export async function planBatch(
  context: BatchContext,
  batch: number,
  appId: string,
  layout: TableLayout | undefined,
): Promise<BatchRecord | undefined> {
  const { options, name, clock, emit } = context;
  const { landing } = options;
  const createdAt = new Date(clock()).toISOString();
  if (batch === 1) {
    if (options.replayQuarantine !== undefined) {
      throw new ApplyRunError(
        ApplyErrorCode.invalidOption,
        `There is no table at ${options.delta.url} yet, so there is no quarantine to replay: run the first batch first.`,
      );
    }
    const found = await findSnapshot(landing, name, options.snapshot);
    const marginMs = layout?.marginMs ?? options.marginMs ?? DEFAULT_HANDOFF_MARGIN_MS;
    const handoff = await checkHandoff({
      store: landing,
      table: name,
      exportTime: new Date(found.exportTimeMs),
      marginMs,
    });
    emit({
      code: ApplyEventCode.handoffChecked,
      ok: handoff.ok,
      exportTime: handoff.exportTime,
      windowStart: handoff.windowStart,
    });
    if (!handoff.ok)
      throw new HandoffRefusedError(
        found.exportId,
        handoff.exportTime,
        handoff.windowStart,
        handoff.problems,
      );
    const incremental = await findIncrementalExports(
      landing,
      name,
      found.exportTimeMs - marginMs,
      new Set(),
      handoff.recoveredGaps,
    );
    const inputs: BatchChangeInputs = {
      changeFiles: await findNewChangeFiles(landing, name, new Set()),
      incrementalExports: incremental.map((found) => found.exportId),
    };
    const keys =
      layout?.keys ??
      (await firstBatchKeys({
        landing,
        table: options.table,
        inputs,
        snapshot: found,
        ...(options.keys === undefined ? {} : { given: options.keys }),
        ...(options.dynamodb === undefined ? {} : { dynamodb: options.dynamodb }),
      }));
    return {
      batch,
      appId,
      createdAt,
      snapshot: { exportId: found.exportId, kind: found.kind, exportTime: found.exportTime },
      settings: {
        keys,
        marginMs,
        deletes: layout?.deletes ?? options.deletes ?? 'hard',
        buckets: layout?.buckets ?? options.buckets ?? DEFAULT_BUCKETS,
        deletionVectors: options.deletionVectors ?? true,
      },
      ...inputs,
    };
  }
  const tableLayout = layout as TableLayout;
  if (options.replayQuarantine !== undefined) {
    const replay = options.replayQuarantine;
    const quarantined = (await listQuarantine(options.delta)).some((entry) => entry.batch === replay);
    if (replay >= batch || !quarantined) {
      throw new ApplyRunError(
        ApplyErrorCode.invalidOption,
        `Batch ${replay} has no quarantine beside the table at ${options.delta.url} to replay (the table holds batches 1 to ${batch - 1}; quarantines are under _ddb_lake/quarantine/apply/<batch>/).`,
      );
    }
    return { batch, appId, createdAt, incrementalExports: [], changeFiles: [], replayQuarantine: replay };
  }
  const taken = await takenBefore(context, batch);
  const incremental = await findIncrementalExports(
    landing,
    name,
    tableLayout.exportTime - tableLayout.marginMs,
    taken.incrementalExports,
  );
  const changeFiles = await findNewChangeFiles(landing, name, taken.changeFiles, taken.settledBefore);
  if (changeFiles.length === 0 && incremental.length === 0) return undefined;
  return {
    batch,
    appId,
    createdAt,
    incrementalExports: incremental.map((found) => found.exportId),
    changeFiles,
  };
}
