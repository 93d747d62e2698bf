import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { type ApplyBatchResult, applyBatch } from '../apply/apply-batch.ts';
import type { BatchEngine } from '../apply/batch-engine.ts';
import { ScanEventCode } from '../backfill/scan-events.ts';
import { scanExport } from '../backfill/scan-export.ts';
import { tableStream } from '../capture/stream-poller-table.ts';
import type { Item } from '../dynamo/attribute-value.ts';
import { sleep } from '../sleep.ts';
import { LocalFolderStore } from '../storage/local-folder-store.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { BackgroundCapture } from './demo-capture.ts';
import { DemoError, DemoErrorCode } from './demo-errors.ts';
import type { DemoBatch, DemoEvent, DemoResult } from './demo-events.ts';
import { awaitHandoff } from './demo-handoff.ts';
import { verifyDemoTable } from './demo-verify.ts';
import { DemoWorkload, type OrderKey } from './demo-workload.ts';
import { createOrdersTable, putItems } from './orders-table.ts';
import { sampleOrders } from './sample-orders.ts';
import { startLocalStack } from './stack.ts';

export type { DemoBatch, DemoEvent, DemoResult, DemoVerify } from './demo-events.ts';

export interface DemoOptions {
  /** Orders to write before capture hands off to the backfill (default 50,000). */
  readonly items?: number;
  /** Where the output goes (default `./demo-output`); the demo replaces what it wrote there before. */
  readonly outputDir?: string;
  /** The background workload's rate; default items / 50, at least 20 and at most 200 a second. */
  readonly changesPerSecond?: number;
  /** Apply rounds after the first batch, while the workload goes on (default 2). */
  readonly rounds?: number;
  /** How long the workload runs between those rounds (default 2 s). */
  readonly roundMs?: number;
  readonly onEvent?: (event: DemoEvent) => void;
  /**
   * Where the landing area and the Delta table go instead of `<output>/landing` and
   * `<output>/delta/orders` (the live Databricks suite passes S3 locations a workspace reads);
   * the demo then replaces nothing there: pass empty locations.
   */
  readonly stores?: { readonly landing: ObjectStore; readonly delta: ObjectStore };
  /** The engine of every batch (default ours); the live suite passes the Databricks engine. */
  readonly engine?: BatchEngine;
}

const TABLE = 'orders';
/** DynamoDB Local stamps stream records to the whole minute: the handoff needs a minute of margin. */
const MARGIN_MS = 60_000;
/** The table stops changing before verify runs: a short settle re-checks any change in flight. */
const SETTLE_MS = 5_000;

/**
 * The main job on the embedded default, on loopback only: starts DynamoDB Local, creates an
 * `orders` table with a NEW_AND_OLD_IMAGES stream, captures its stream in-process into
 * `<output>/landing`, writes `items` orders of every attribute type, keeps a seeded workload of
 * updates, deletes and new orders going, waits until the captured changes cover a handoff (margin
 * 60 s), takes a parallel Scan export while the workload goes on, applies it with the captured
 * changes to the Delta table `<output>/delta/orders`, applies again as more changes arrive, then
 * stops the workload, drains capture, applies the last batch and verifies the lake against the
 * table. Replaces the landing area and the Delta table of an earlier run first.
 *
 * Stops every process it started, also on failure (and on SIGINT/SIGTERM: startLocalStack guards
 * DynamoDB Local). Returns every step's figures; `verify.equal` says whether the proof held.
 * Throws `DemoError` (a capture gap, a handoff never covered), and what the parts throw.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const items = options.items ?? 50_000;
  const changesPerSecond = options.changesPerSecond ?? Math.min(200, Math.max(20, Math.round(items / 50)));
  const rounds = options.rounds ?? 2;
  const roundMs = options.roundMs ?? 2_000;
  wholeNumber('items', items, 1);
  wholeNumber('rounds', rounds, 0);
  if (!(changesPerSecond > 0 && changesPerSecond <= 10_000)) {
    throw new DemoError(
      DemoErrorCode.invalidOption,
      `changesPerSecond must be above 0 and at most 10,000, got ${changesPerSecond}.`,
    );
  }
  const outputDir = resolve(options.outputDir ?? 'demo-output');
  const landingDir = join(outputDir, 'landing');
  const deltaDir = join(outputDir, 'delta', TABLE);
  const emit = options.onEvent ?? (() => {});
  if (options.stores === undefined) {
    await rm(landingDir, { recursive: true, force: true });
    await rm(deltaDir, { recursive: true, force: true });
  }

  let started = performance.now();
  const stack = await startLocalStack({ s3: false });
  const stackMs = elapsed(started);
  const landing = options.stores?.landing ?? new LocalFolderStore(landingDir);
  const delta = options.stores?.delta ?? new LocalFolderStore(deltaDir);
  const streams = new DynamoDBStreamsClient(stack.dynamoDbClientConfig());
  let capture: BackgroundCapture | undefined;
  let workload: DemoWorkload | undefined;
  try {
    emit({ type: 'stack-started', dynamodbEndpoint: stack.dynamodb?.endpoint ?? '', ms: stackMs });
    const client = stack.dynamoDbClient();

    started = performance.now();
    await createOrdersTable(client, TABLE, { stream: true });
    emit({ type: 'table-created', table: TABLE, ms: elapsed(started) });
    const activeCapture = new BackgroundCapture({
      stream: await tableStream(client, TABLE),
      streams,
      landing,
      // Few, large change files for the history; the workload's trickle fills smaller ones.
      batchSize: 1000,
      pollIntervalMs: 500,
    });
    capture = activeCapture;

    // The history. Capture starts once the first write is in: a TRIM_HORIZON iterator taken on a
    // still empty shard of DynamoDB Local can be refused as trimmed, which capture records as a gap.
    started = performance.now();
    const keys: OrderKey[] = [];
    let written = 0;
    await putItems(client, TABLE, recordKeys(sampleOrders(items), keys), (batch) => {
      if (written === 0) {
        activeCapture.start();
        emit({ type: 'capture-started' });
      }
      written += batch.length;
      emit({ type: 'write-progress', items: written, of: items });
    });
    const writeMs = elapsed(started);
    emit({ type: 'items-written', items: written, ms: writeMs });

    const activeWorkload = new DemoWorkload({ client, table: TABLE, keys, changesPerSecond });
    workload = activeWorkload;
    activeWorkload.start();
    emit({ type: 'workload-started', changesPerSecond });
    const checkBackground = () => {
      activeCapture.check();
      activeWorkload.check();
    };

    started = performance.now();
    const handoff = await awaitHandoff({
      landing,
      table: TABLE,
      marginMs: MARGIN_MS,
      check: checkBackground,
      onWait: (wait) => emit({ type: 'handoff-waiting', ...wait, marginMs: MARGIN_MS }),
    });
    const waitedMs = elapsed(started);
    emit({ type: 'handoff-ready', coveredFrom: handoff.coveredFrom, waitedMs });

    started = performance.now();
    const changesBefore = activeWorkload.stats.changes;
    const exported = await scanExport({
      client,
      table: TABLE,
      landing,
      segments: 4,
      resume: 'none',
      onEvent: (event) => {
        if (event.code === ScanEventCode.progress)
          emit({ type: 'export-progress', items: event.progress.items });
      },
    });
    if (exported.outcome !== 'complete') {
      throw new DemoError(
        DemoErrorCode.scanStopped,
        `The Scan export ${exported.exportId} of ${TABLE} stopped before it was complete, so there is no backfill to apply. Run the demo again.`,
      );
    }
    const scanMs = elapsed(started);
    const changesMeanwhile = activeWorkload.stats.changes - changesBefore;
    emit({
      type: 'exported',
      exportId: exported.exportId,
      items: exported.summary.itemCount,
      ms: scanMs,
      changesMeanwhile,
    });
    checkBackground();

    const batches: DemoBatch[] = [];
    const applyRound = async (round: number, first: boolean): Promise<void> => {
      const result = await applyBatch({
        landing,
        delta,
        table: TABLE,
        ...(options.engine === undefined ? {} : { engine: options.engine }),
        ...(first
          ? { snapshot: exported.exportId, keys: { partition: 'pk', sort: 'sk' }, marginMs: MARGIN_MS }
          : {}),
      });
      const batch = demoBatch(round, result);
      batches.push(batch);
      emit({ type: 'applied', batch });
    };
    await applyRound(1, true);
    for (let round = 2; round <= rounds + 1; round++) {
      await sleep(roundMs);
      checkBackground();
      await applyRound(round, false);
    }

    const workloadStats = await activeWorkload.stop();
    emit({ type: 'workload-stopped', stats: workloadStats });
    started = performance.now();
    await activeCapture.drain();
    const captured = captureTotals(activeCapture);
    emit({ type: 'capture-drained', ...captured, ms: elapsed(started) });
    await applyRound(rounds + 2, false);

    const verify = await verifyDemoTable({ client, table: TABLE, delta, settleMs: SETTLE_MS });
    emit({ type: 'verified', verify });

    return {
      outputDir,
      landing: options.stores === undefined ? landingDir : landing.url,
      delta: options.stores === undefined ? deltaDir : delta.url,
      table: TABLE,
      stackMs,
      write: { items: written, ms: writeMs, itemsPerSecond: perSecond(written, writeMs) },
      handoff: { marginMs: MARGIN_MS, coveredFrom: handoff.coveredFrom, waitedMs },
      backfill: {
        exportId: exported.exportId,
        items: exported.summary.itemCount,
        ms: scanMs,
        itemsPerSecond: perSecond(exported.summary.itemCount, scanMs),
        changesMeanwhile,
      },
      batches,
      workload: { ...workloadStats, changesPerSecond },
      capture: captured,
      verify,
    };
  } finally {
    await workload?.stop().catch(() => {});
    await capture?.stop();
    streams.destroy();
    await Promise.allSettled([landing.close(), delta.close()]);
    await stack.stop();
    emit({ type: 'stack-stopped' });
  }
}

/** Yields the orders as they come, recording each key in write order (deterministic for a seed). */
function* recordKeys(orders: Iterable<Item>, keys: OrderKey[]): Generator<Item> {
  for (const order of orders) {
    keys.push({ pk: (order['pk'] as { S: string }).S, sk: (order['sk'] as { S: string }).S });
    yield order;
  }
}

function demoBatch(round: number, result: ApplyBatchResult): DemoBatch {
  if (result.outcome === 'dry-run') {
    throw new DemoError(DemoErrorCode.applyOutcome, 'The demo applies batches; it never asks for a dry run.');
  }
  if (result.outcome === 'applied' && 'engine' in result) {
    // A warehouse reports the MERGE's rows, not what our engine counts.
    return {
      round,
      outcome: 'applied',
      batch: result.batch,
      version: result.version,
      inputRows: 0,
      records: 0,
      changeFiles: result.changeFiles,
      inserted: result.inserted ?? 0,
      updated: result.updated ?? 0,
      deleted: result.deleted ?? 0,
      skipped: null,
      schemaChanges: result.schemaChanges.length,
      rowsWritten: 0,
      ms: result.durationMs,
      rowsPerSecond: 0,
    };
  }
  if (result.outcome === 'already-applied') {
    throw new DemoError(
      DemoErrorCode.applyOutcome,
      `Batch ${result.batch} was applied by another writer while the demo applied it; the demo is the table's only writer, so something else writes to ${TABLE}'s Delta table. Stop it and run the demo again.`,
    );
  }
  if (result.outcome === 'nothing-new') {
    return {
      round,
      outcome: 'nothing-new',
      batch: result.batch,
      version: result.version,
      inputRows: 0,
      records: 0,
      changeFiles: 0,
      inserted: 0,
      updated: 0,
      deleted: 0,
      skipped: null,
      schemaChanges: 0,
      rowsWritten: 0,
      ms: result.durationMs,
      rowsPerSecond: 0,
    };
  }
  const inputRows = (result.snapshot?.items ?? 0) + result.records;
  const optimized = result.optimize?.outcome === 'optimized' ? result.optimize.version : null;
  return {
    round,
    outcome: 'applied',
    batch: result.batch,
    // The table's version the batch left: its optimize's commit when one followed.
    version: optimized ?? result.version,
    inputRows,
    records: result.records,
    changeFiles: result.changeFiles,
    inserted: result.inserted,
    updated: result.updated,
    deleted: result.deleted,
    skipped: result.skipped,
    schemaChanges: result.schemaChanges.length,
    rowsWritten: result.rowsWritten,
    ms: result.durationMs,
    rowsPerSecond: perSecond(inputRows, result.durationMs),
  };
}

function captureTotals(capture: BackgroundCapture): { records: number; files: number } {
  let records = 0;
  let files = 0;
  for (const summary of capture.summaries) {
    records += summary.records;
    files += summary.files;
  }
  return { records, files };
}

function wholeNumber(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new DemoError(
      DemoErrorCode.invalidOption,
      `${name} must be a whole number of at least ${min}, got ${value}.`,
    );
  }
}

function perSecond(amount: number, ms: number): number {
  return Math.round((amount * 1000) / Math.max(ms, 1));
}

function elapsed(since: number): number {
  return Math.round(performance.now() - since);
}
