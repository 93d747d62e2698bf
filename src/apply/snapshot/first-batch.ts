import { createTable } from '../../delta/create-table.ts';
import type { StructType } from '../../delta/schema.ts';
import type { ReadSnapshot } from '../../delta/snapshot.ts';
import {
  layoutConfiguration,
  newTableLayout,
  PARTITION_COLUMNS,
  ROWS_PER_FILE_PROPERTY,
  TABLE_NAME_PROPERTY,
  type TableLayout,
} from '../../lake/table-layout.ts';
import { ApplyErrorCode, ApplyRunError } from '../apply-errors.ts';
import { commitBatch } from '../batch-commit.ts';
import type { BatchContext } from '../batch-context.ts';
import { foldChanges, quarantineBadLines, rowsPerFileOf, writeTombstonesOf } from '../batch-context.ts';
import type { BatchRecord, BatchSettings } from '../batch-record.ts';
import type { ApplyBatchResult } from '../batch-result.ts';
import { recordInputsOf, schemaChangesOf } from '../batch-result.ts';
import { faultPoint } from '../fault-points.ts';
import { reopenSnapshot } from '../inputs/input-discovery.ts';
import { discardEarlyRows, inferSnapshotSchema, loadSnapshotRows } from './snapshot-load.ts';

/*
 * The first batch (DESIGN.md rule 2): the snapshot bulk-loaded with every change from T − margin
 * on, into a table created with the layout the batch record fixes.
 */

const EMPTY_SCHEMA: StructType = { type: 'struct', fields: [] };

/** The layout batch 1's record fixes: its settings, T of its snapshot, its appId. Pure. */
export function firstBatchLayout(
  record: BatchRecord,
  settings: BatchSettings,
  exportTimeMs: number,
): TableLayout {
  return newTableLayout({
    keys: settings.keys,
    exportTime: exportTimeMs,
    buckets: settings.buckets,
    deletes: settings.deletes,
    marginMs: settings.marginMs,
    appId: record.appId,
  });
}

/**
 * Runs batch 1 from its record: reopens the snapshot, folds the change inputs, infers the schema
 * over the snapshot and the winners, quarantines bad lines (failing past `maxBad` before anything
 * else is written), creates the table unless a crashed run did, loads and writes the rows and the
 * tombstones, and commits.
 * @throws ApplyRunError for a record without snapshot or settings; the steps' errors.
 */
export async function firstBatch(
  context: BatchContext,
  record: BatchRecord,
  rebuilt: boolean,
  table: ReadSnapshot | undefined,
  existingLayout: TableLayout | undefined,
): Promise<ApplyBatchResult> {
  const { options, session, name, clock } = context;
  const { landing, delta } = options;
  if (record.snapshot === undefined || record.settings === undefined) {
    throw new ApplyRunError(
      ApplyErrorCode.batchRecordCorrupt,
      `The record of batch 1 beside the table at ${delta.url} names no snapshot or settings; it was not written by this version of ddb-lake apply. Move _ddb_lake/apply/ and the table away and start over.`,
    );
  }
  const found = await reopenSnapshot(landing, name, record.snapshot);
  const settings = record.settings;
  const layout = existingLayout ?? firstBatchLayout(record, settings, found.exportTimeMs);
  const { winners, counts, read } = await foldChanges(context, record, layout);
  const pass = { session, landing, snapshot: found, emit: context.emit };
  const schemaPass = await inferSnapshotSchema(pass, layout, table?.schema ?? EMPTY_SCHEMA, winners);
  const plan = schemaPass.plan;
  const rowsPerFile = rowsPerFileOf(table, options);
  const quarantineAndCreate = async () => {
    const bad = await quarantineBadLines(context, 1, [...read.badLines, ...schemaPass.badLines]);
    const base =
      table ??
      (await createTable(delta, {
        schema: plan.schema,
        partitionColumns: PARTITION_COLUMNS,
        configuration: layoutConfiguration(plan.layout, {
          [TABLE_NAME_PROPERTY]: name,
          [ROWS_PER_FILE_PROPERTY]: String(rowsPerFile),
        }),
        name,
        description: `DynamoDB table ${name}, kept by ddb-lake apply`,
        now: clock(),
        deletionVectors: settings.deletionVectors === true,
      }));
    return { bad, base };
  };
  // The rows the first pass already converted wait in the scratch folder: gone if nothing follows.
  const { bad, base } = await quarantineAndCreate().catch(async (error: unknown) => {
    await discardEarlyRows(schemaPass.early);
    throw error;
  });
  const load = await loadSnapshotRows(
    pass,
    delta,
    { layout: plan.layout, schema: plan.schema },
    winners,
    rowsPerFile,
    schemaPass.early,
  );
  const tombstones = await writeTombstonesOf(context, 1, plan.layout, winners, undefined);
  faultPoint('after-data-files');
  const committed = await commitBatch(context, {
    base,
    plan,
    removed: [],
    adds: load.written.adds,
    batch: 1,
    appId: record.appId,
  });
  if (committed.outcome === 'already-applied') {
    return {
      outcome: 'already-applied',
      batch: 1,
      version: committed.version,
      durationMs: clock() - context.started,
    };
  }
  return {
    outcome: 'applied',
    batch: 1,
    version: committed.version,
    appId: record.appId,
    rebuilt,
    snapshot: {
      exportId: found.exportId,
      kind: found.kind,
      exportTime: found.exportTime,
      items: schemaPass.items,
    },
    ...recordInputsOf(record),
    records: read.records,
    inserted: load.inserted,
    updated: load.updated,
    deleted: load.deleted,
    skipped: {
      olderThanRow: 0,
      tombstoned: 0,
      beforeWindow: counts.skipped,
      duplicates: counts.duplicates + counts.superseded,
    },
    quarantined: bad.count,
    quarantine: bad.location,
    schemaChanges: schemaChangesOf(plan),
    bucketsRewritten: new Set(load.written.adds.map((add) => add.partitionValues['_ddb_bucket'])).size,
    filesRewritten: 0,
    filesMarked: 0,
    rowsMarked: 0,
    bytesRewritten: 0,
    filesWritten: load.written.adds.length,
    bytesWritten: load.written.bytes,
    rowsWritten: load.written.rows,
    tombstones,
    checkpoint: committed.checkpoint,
    optimize: null,
    durationMs: clock() - context.started,
  };
}
