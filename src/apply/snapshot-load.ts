import type { StructType } from '../delta/schema.ts';
import type { DuckSession } from '../duckdb/session.ts';
import { quoteIdentifier } from '../duckdb/session.ts';
import type { Item } from '../dynamo/attribute-value.ts';
import type { BadLine } from '../formats/bad-line.ts';
import type { ExportDataFile } from '../formats/export-layout.ts';
import { readDataFileItems } from '../formats/export-reader.ts';
import { mapLimited } from '../map-limited.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { ApplyErrorCode, ApplyRunError } from './apply-errors.ts';
import { type ApplyEvent, ApplyEventCode } from './apply-events.ts';
import { type RowShape, winnerItem, winnerRow } from './batch-rows.ts';
import { type WrittenBuckets, writeBuckets } from './bucket-files.ts';
import type { ChangeOrder } from './change-order.ts';
import type { ReducedChange } from './change-reduction.ts';
import type { FoundSnapshot } from './input-discovery.ts';
import { itemToRow } from './item-to-row.ts';
import { bucketOf, keyText } from './key-identity.ts';
import { openRowTable } from './lake-row-spool.ts';
import { KeyAttributeError } from './model-errors.ts';
import { SchemaEvolution, type SchemaEvolutionPlan } from './schema-evolution.ts';
import { SNAPSHOT_SEQ } from './sequence-number.ts';
import { systemCells } from './system-cells.ts';
import { SYSTEM_COLUMN, type TableLayout } from './table-layout.ts';

/*
 * The first batch's bulk load (DESIGN.md rule 2): the snapshot export streamed twice, data file by
 * data file, never held in memory. The first pass infers the schema (schema-evolution.ts) over
 * every item and the batch's winning changes, so the table's columns are known before a row is
 * written; the second converts each item to its row (item-to-row.ts) and appends it to a DuckDB
 * table, leaving out the keys a change of the batch replaces (any change beats the snapshot), and
 * then the winners' rows. Every bucket is then written as key-sorted files.
 */

/** Data files read at once in each pass: gunzip runs off the main thread, parsing on it. */
const FILES_IN_FLIGHT = 2;

/** The DuckDB table the new content of the batch is built in. */
export const NEW_ROWS_TABLE = '__ddb_lake_apply_new';

export interface SnapshotPassOptions {
  readonly session: DuckSession;
  readonly landing: ObjectStore;
  readonly snapshot: FoundSnapshot;
  readonly emit: (event: ApplyEvent) => void;
}

/** What the first pass learned. */
export interface SchemaPass {
  readonly plan: SchemaEvolutionPlan;
  readonly items: number;
  /** Bad lines of the export (unreadable, or without the table's key), in file and line order. */
  readonly badLines: readonly BadLine[];
}

/**
 * The first pass: every item of the snapshot and every winner's item through schema evolution
 * over `layout` and `schema` (the table's, or a new table's empty ones). Items without the table's
 * key attributes are bad lines. Data files are checked against their MD5 and item count.
 * @throws the export readers' errors (checksum or count mismatch, damaged gzip).
 */
export async function inferSnapshotSchema(
  options: SnapshotPassOptions,
  layout: TableLayout,
  schema: StructType,
  winners: readonly ReducedChange[],
): Promise<SchemaPass> {
  const evolution = new SchemaEvolution(layout, schema);
  const files = options.snapshot.opened.files;
  const started = Date.now();
  let items = 0;
  let bytes = 0;
  let filesDone = 0;
  const perFile = await mapLimited(files, FILES_IN_FLIGHT, async (file) => {
    const size = (await options.landing.head(file.key))?.size ?? 0;
    const bad: BadLine[] = [];
    for await (const { item, line } of readDataFileItems(options.landing, file, {
      onBadLine: (badLine) => {
        bad.push(badLine);
      },
    })) {
      items++;
      try {
        keyText(item, layout.keys);
      } catch (error) {
        if (!(error instanceof KeyAttributeError)) throw error;
        bad.push({
          file: file.key,
          line,
          reason: error.message,
          path: `Item.${error.attribute}`,
          text: JSON.stringify({ Item: item }),
        });
        continue;
      }
      evolution.observe(item);
    }
    bytes += size;
    filesDone++;
    options.emit({
      code: ApplyEventCode.snapshotFileLoaded,
      pass: 'schema',
      file: file.key,
      items,
      filesDone,
      files: files.length,
      bytes,
      elapsedMs: Date.now() - started,
    });
    return bad;
  });
  for (const winner of winners) evolution.observe(winnerItem(winner, layout.deletes));
  return { plan: evolution.result(), items, badLines: perFile.flat() };
}

/** What the load wrote and did. */
export interface SnapshotLoad {
  readonly written: WrittenBuckets;
  readonly inserted: number;
  readonly updated: number;
  readonly deleted: number;
}

/**
 * The second pass and the writes: the snapshot's rows (at version 0, time T, source export or
 * scan) except keys a winner replaces, then the winners' rows, into DuckDB; a check that no key
 * occurs twice; then every bucket written to `delta` as key-sorted files. Counts: snapshot items
 * and winners of new keys are inserted, winners of snapshot keys updated or deleted.
 * @throws ApplyRunError when the snapshot holds a key twice (the export is inconsistent); the
 *   readers' and writers' errors.
 */
export async function loadSnapshotRows(
  options: SnapshotPassOptions,
  delta: ObjectStore,
  shape: RowShape,
  winners: readonly ReducedChange[],
  rowsPerFile: number,
): Promise<SnapshotLoad> {
  const { session, landing, snapshot, emit } = options;
  const { layout } = shape;
  const byKey = new Map(winners.map((winner) => [winner.key, winner]));
  const seen = new Set<string>();
  const order: ChangeOrder = {
    source: snapshot.kind,
    seq: SNAPSHOT_SEQ,
    tsMicros: BigInt(snapshot.exportTimeMs) * 1000n,
  };
  const started = Date.now();
  const files = snapshot.opened.files;
  let items = 0;
  let bytes = 0;
  let filesDone = 0;
  let inserted = 0;
  const sink = await openRowTable(session, NEW_ROWS_TABLE, shape.schema);
  try {
    const appendItem = (item: Item): void => {
      let key: string;
      try {
        key = keyText(item, layout.keys);
      } catch (error) {
        // Quarantined by the first pass.
        if (error instanceof KeyAttributeError) return;
        throw error;
      }
      const winner = byKey.get(key);
      if (winner !== undefined) {
        seen.add(key);
        if (winner.op === 'delete' && layout.deletes === 'soft') sink.append(winnerRow(shape, winner, item));
        return;
      }
      const bucket = bucketOf(key, layout.buckets);
      const { row } = itemToRow(item, layout, shape.schema);
      sink.append({ ...row, ...systemCells({ key, bucket, order, op: 'put', ttl: false }, layout.deletes) });
      inserted++;
    };
    await mapLimited(files, FILES_IN_FLIGHT, async (file: ExportDataFile) => {
      const size = (await landing.head(file.key))?.size ?? 0;
      for await (const { item } of readDataFileItems(landing, file, { onBadLine: () => {} })) {
        items++;
        appendItem(item);
      }
      bytes += size;
      filesDone++;
      emit({
        code: ApplyEventCode.snapshotFileLoaded,
        pass: 'rows',
        file: file.key,
        items,
        filesDone,
        files: files.length,
        bytes,
        elapsedMs: Date.now() - started,
      });
    });
    for (const winner of winners) {
      if (winner.op === 'put') {
        sink.append(winnerRow(shape, winner));
        if (!seen.has(winner.key)) inserted++;
      } else if (layout.deletes === 'soft' && !seen.has(winner.key)) {
        sink.append(winnerRow(shape, winner));
      }
    }
  } catch (error) {
    await sink.abandon();
    throw error;
  }
  await sink.close();
  let updated = 0;
  let deleted = 0;
  for (const winner of winners) {
    if (!seen.has(winner.key)) continue;
    if (winner.op === 'put') updated++;
    else deleted++;
  }
  await assertUniqueKeys(session, snapshot.exportId);
  const buckets = Array.from({ length: layout.buckets }, (_, bucket) => bucket);
  const written = await writeBuckets(
    session,
    delta,
    NEW_ROWS_TABLE,
    shape.schema,
    buckets,
    rowsPerFile,
    emit,
  );
  return { written, inserted, updated, deleted };
}

async function assertUniqueKeys(session: DuckSession, exportId: string): Promise<void> {
  const key = quoteIdentifier(SYSTEM_COLUMN.key);
  const rows = (
    await session.all(
      `SELECT ${key}, count(*) AS n FROM ${quoteIdentifier(NEW_ROWS_TABLE)} GROUP BY ${key} HAVING count(*) > 1 LIMIT 3`,
    )
  ).getRows();
  if (rows.length === 0) return;
  throw new ApplyRunError(
    ApplyErrorCode.noSnapshot,
    `The snapshot ${exportId} holds the same item more than once (${rows.map((row) => `${String(row[0])} ${String(row[1])} times`).join(', ')}); an export holds each item once, so it is damaged or mixes two exports. Nothing was committed. Take a new export, or name another with --snapshot.`,
  );
}
