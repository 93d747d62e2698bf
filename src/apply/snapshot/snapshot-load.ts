import { rm } from 'node:fs/promises';
import type { StructType } from '../../delta/schema.ts';
import type { DuckSession } from '../../duckdb/session.ts';
import { quoteIdentifier } from '../../duckdb/session.ts';
import type { Item } from '../../dynamo/attribute-value.ts';
import type { BadLine } from '../../formats/bad-line.ts';
import type { ExportDataFile } from '../../formats/export-layout.ts';
import { readDataFileItems } from '../../formats/export-reader.ts';
import { keyText } from '../../lake/key-identity.ts';
import { KeyAttributeError } from '../../lake/model-errors.ts';
import { SchemaEvolution, type SchemaEvolutionPlan } from '../../lake/schema-evolution.ts';
import { SNAPSHOT_SEQ } from '../../lake/sequence-number.ts';
import { SYSTEM_COLUMN, type TableLayout } from '../../lake/table-layout.ts';
import { mapLimited } from '../../map-limited.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { ApplyErrorCode, ApplyRunError } from '../apply-errors.ts';
import { type ApplyEvent, ApplyEventCode } from '../apply-events.ts';
import type { WrittenBuckets } from '../bucket-files.ts';
import { type RowShape, winnerItem, winnerRow } from '../changes/batch-rows.ts';
import type { ReducedChange } from '../changes/change-reduction.ts';
import type { FoundSnapshot } from '../inputs/input-discovery.ts';
import { BucketRowSpool } from './bucket-row-spool.ts';
import type { RowsFileResult, RowsGuess, SchemaFileResult } from './snapshot-file-tasks.ts';
import { SnapshotWorkers, snapshotThreads } from './snapshot-workers.ts';

/*
 * The first batch's bulk load (DESIGN.md rule 2): the snapshot export streamed twice, data file by
 * data file, never held in memory. The first pass infers the schema (schema-evolution.ts) over
 * every item and the batch's winning changes, so the table's columns are known before a row is
 * written; the second converts each item to its row (item-to-row.ts, or straight to its spool
 * line: item-spool-line.ts) in the spool files of its bucket (bucket-row-spool.ts), leaving out
 * the keys a change of the batch replaces (any change beats the snapshot), and then the winners'
 * rows. Every bucket is then loaded by DuckDB alone, checked and written as key-sorted files, so
 * DuckDB holds one bucket's rows at a time.
 *
 * Each pass runs its per-data-file work in worker threads (snapshot-workers.ts), one file per
 * thread at a time: the workers parse, validate and observe (first pass) or convert and write spool
 * files (second pass), and the main thread merges what they observed, in manifest order.
 */

/** Items of the first data file the schema pass reads first, to guess the plan its first files are converted under. */
export const SAMPLE_ITEMS = 2000;

/** The start of the names of the bulk load's spool files and DuckDB tables. */
export const NEW_ROWS_TABLE = '__ddb_lake_apply_new';

export interface SnapshotPassOptions {
  readonly session: DuckSession;
  readonly landing: ObjectStore;
  readonly snapshot: FoundSnapshot;
  readonly emit: (event: ApplyEvent) => void;
  /** Worker threads per pass (0: on the calling thread); default: one per core, no more than data files. */
  readonly threads?: number;
}

/** What the first pass learned. */
export interface SchemaPass {
  readonly plan: SchemaEvolutionPlan;
  readonly items: number;
  /** Bad lines of the export (unreadable, or without the table's key), in file and line order. */
  readonly badLines: readonly BadLine[];
  /** The data files whose rows the pass already wrote under the plan's layout and schema. */
  readonly early: EarlyRows;
}

/** Rows the schema pass converted, per data file (its index in the snapshot), under one shape. */
export interface EarlyRows {
  /** The shape (`shapeFingerprint`) the rows were converted under. */
  readonly shape: string;
  readonly files: ReadonlyMap<number, ConvertedFile>;
}

interface ConvertedFile {
  readonly result: RowsFileResult;
  readonly spools: readonly { readonly file: string; readonly bucket: number; readonly rows: number }[];
}

/** A text equal for two shapes exactly when rows converted under one are those of the other. Pure. */
export function shapeFingerprint(shape: {
  readonly layout: TableLayout;
  readonly schema: StructType;
}): string {
  return JSON.stringify([shape.layout, shape.schema], (_key, value: unknown) =>
    value instanceof Map ? [...value] : value instanceof Set ? [...value] : value,
  );
}

/** The rows context both passes share: the snapshot rows' version and the keys the winners replace. */
function rowsContext(snapshot: FoundSnapshot, layout: TableLayout, winners: readonly ReducedChange[]) {
  return {
    order: { source: snapshot.kind, seq: SNAPSHOT_SEQ, tsMicros: BigInt(snapshot.exportTimeMs) * 1000n },
    replaced: winners.map((winner) => winner.key),
    softDeleted: layout.deletes === 'soft' ? winners.filter((w) => w.op === 'delete').map((w) => w.key) : [],
  };
}

/**
 * The first pass: every item of the snapshot and every winner's item through schema evolution
 * over `layout` and `schema` (the table's, or a new table's empty ones). Items without the table's
 * key attributes are bad lines. Data files are checked against their MD5 and item count.
 *
 * So that most data files are parsed once, each file is also converted to rows (as
 * `loadSnapshotRows` converts them) under the plan of the files finished before it and the
 * winners (the first files: of the first SAMPLE_ITEMS items and the winners): when that is the
 * final plan, which it is once every attribute and type has been met, the file's rows are kept
 * (`early`) and the rows pass skips it; otherwise they are removed. A file whose items stop
 * fitting its plan stops converting at the first such item.
 * @throws the export readers' errors (checksum or count mismatch, damaged gzip).
 */
export async function inferSnapshotSchema(
  options: SnapshotPassOptions,
  layout: TableLayout,
  schema: StructType,
  winners: readonly ReducedChange[],
): Promise<SchemaPass> {
  const { landing, emit, session, snapshot } = options;
  const files = snapshot.opened.files;
  const progress = fileProgress('schema', files.length, emit);
  const workers = SnapshotWorkers.start(
    landing,
    {
      pass: 'schema',
      layout,
      schema,
      rows: {
        ...rowsContext(snapshot, layout, winners),
        spoolDir: session.scratchDir,
        spoolPrefix: `${NEW_ROWS_TABLE}-early`,
      },
    },
    options.threads ?? snapshotThreads(files.length),
  );
  // The plan of the files finished so far and the winners: the guess each next file is converted under.
  const sofar = new SchemaEvolution(layout, schema);
  for (const winner of winners) sofar.observe(winnerItem(winner, layout.deletes));
  const guesses: string[] = [];
  let guess: RowsGuess | undefined;
  const guessFrom = (evolution: SchemaEvolution): void => {
    const next = evolution.result();
    const fingerprint = shapeFingerprint(next);
    if (guesses.at(-1) === fingerprint) return;
    guess = { id: guesses.length, layout: next.layout, schema: next.schema };
    guesses.push(fingerprint);
  };
  // The first files start before any file is finished: they are converted under the plan of the
  // first items of the snapshot, which most often already meet every attribute and type.
  const first = files[0];
  if (first !== undefined) {
    try {
      const sample = new SchemaEvolution(layout, schema);
      for (const winner of winners) sample.observe(winnerItem(winner, layout.deletes));
      let sampled = 0;
      for await (const { item } of readDataFileItems(landing, first, { onBadLine: () => {} })) {
        if (hasKeys(item, layout)) sample.observe(item);
        if (++sampled >= SAMPLE_ITEMS) break;
      }
      guessFrom(sample);
    } catch {
      // No guess for the first files: the pass itself reads the file and reports what is wrong.
    }
  }
  const spoolsOf = new Map<number, { file: string; bucket: number; rows: number }[]>();
  let perFile: SchemaFileResult[];
  try {
    perFile = await mapLimited(files, workers.concurrency, async (file, index) => {
      const spools: { file: string; bucket: number; rows: number }[] = [];
      spoolsOf.set(index, spools);
      const [info, result] = await Promise.all([
        landing.head(file.key),
        workers.observe(file, index, guess, (spool, rows, bucket) =>
          spools.push({ file: spool, bucket, rows }),
        ),
      ]);
      sofar.merge(result.evolution);
      guessFrom(sofar);
      progress.fileDone(file.key, result.items, info?.size ?? 0);
      return result;
    });
  } catch (error) {
    await removeSpools([...spoolsOf.values()].flat());
    throw error;
  } finally {
    await workers.close();
  }
  // Merged in manifest order: the state is the one a single reader of the files in order builds.
  const evolution = new SchemaEvolution(layout, schema);
  for (const result of perFile) evolution.merge(result.evolution);
  for (const winner of winners) evolution.observe(winnerItem(winner, layout.deletes));
  const plan = evolution.result();
  const shape = shapeFingerprint(plan);
  const early = new Map<number, ConvertedFile>();
  const stale: { file: string }[] = [];
  for (const [index, result] of perFile.entries()) {
    const spools = spoolsOf.get(index) ?? [];
    if (result.rows !== undefined && guesses[result.rows.guess] === shape) {
      early.set(index, { result: result.rows, spools });
    } else {
      stale.push(...spools);
    }
  }
  await removeSpools(stale);
  return {
    plan,
    items: progress.items,
    badLines: perFile.flatMap((result) => result.badLines),
    early: { shape, files: early },
  };
}

/** True when `item` has the table's key attributes (the others are bad lines). */
function hasKeys(item: Item, layout: TableLayout): boolean {
  try {
    keyText(item, layout.keys);
    return true;
  } catch (error) {
    if (error instanceof KeyAttributeError) return false;
    throw error;
  }
}

/** Removes the spool files of `early` (after a failure between the passes). */
export async function discardEarlyRows(early: EarlyRows): Promise<void> {
  await removeSpools([...early.files.values()].flatMap((file) => file.spools));
}

async function removeSpools(spools: readonly { readonly file: string }[]): Promise<void> {
  await Promise.all(spools.map((spool) => rm(spool.file, { force: true })));
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
 * scan) except keys a winner replaces, then the winners' rows, into spool files by bucket; then
 * bucket by bucket a check that no key occurs twice and the bucket written to `delta` as
 * key-sorted files (a duplicate found in a later bucket leaves the files of earlier ones
 * unreferenced: nothing is committed). Counts: snapshot items
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
  early?: EarlyRows,
): Promise<SnapshotLoad> {
  const { session, landing, snapshot, emit } = options;
  const { layout } = shape;
  const byKey = new Map(winners.map((winner) => [winner.key, winner]));
  const seen = new Set<string>();
  const files = snapshot.opened.files;
  const progress = fileProgress('rows', files.length, emit);
  let inserted = 0;
  let written: WrittenBuckets;
  // The rows wait in spool files, bucket by bucket (bucket-row-spool.ts): the workers write them.
  const spool = new BucketRowSpool(session, shape.schema, NEW_ROWS_TABLE);
  const ready =
    early !== undefined && early.shape === shapeFingerprint(shape)
      ? early.files
      : new Map<number, ConvertedFile>();
  if (early !== undefined && ready !== early.files)
    await removeSpools([...early.files.values()].flatMap((f) => f.spools));
  const took = (result: RowsFileResult): void => {
    for (const key of result.found) seen.add(key);
    // A snapshot item of a soft-deleted key stays as the deleted row's content.
    for (const { key, item } of result.before) {
      spool.append(winnerRow(shape, byKey.get(key) as ReducedChange, item));
    }
    inserted += result.inserted;
  };
  try {
    for (const [index, converted] of ready) {
      const file = files[index] as ExportDataFile;
      for (const { file: spoolFile, bucket, rows } of converted.spools) spool.add(bucket, spoolFile, rows);
      took(converted.result);
      progress.fileDone(file.key, converted.result.items, (await landing.head(file.key))?.size ?? 0);
    }
    const rest = files.map((file, index) => ({ file, index })).filter(({ index }) => !ready.has(index));
    if (rest.length > 0) {
      const workers = SnapshotWorkers.start(
        landing,
        {
          pass: 'rows',
          layout,
          schema: shape.schema,
          ...rowsContext(snapshot, layout, winners),
          spoolDir: session.scratchDir,
          spoolPrefix: `${NEW_ROWS_TABLE}-snapshot`,
        },
        options.threads ?? snapshotThreads(rest.length),
      );
      try {
        await mapLimited(rest, workers.concurrency, async ({ file, index }) => {
          const [info, result] = await Promise.all([
            landing.head(file.key),
            workers.convert(file, index, (spoolFile, rows, bucket) => spool.add(bucket, spoolFile, rows)),
          ]);
          took(result);
          progress.fileDone(file.key, result.items, info?.size ?? 0);
        });
      } finally {
        await workers.close();
      }
    }
    for (const winner of winners) {
      if (winner.op === 'put') {
        spool.append(winnerRow(shape, winner));
        if (!seen.has(winner.key)) inserted++;
      } else if (layout.deletes === 'soft' && !seen.has(winner.key)) {
        spool.append(winnerRow(shape, winner));
      }
    }
    const buckets = Array.from({ length: layout.buckets }, (_, bucket) => bucket);
    written = await spool.write(delta, buckets, rowsPerFile, emit, (table) =>
      assertUniqueKeys(session, table, snapshot.exportId),
    );
  } catch (error) {
    await spool.abandon();
    throw error;
  }
  let updated = 0;
  let deleted = 0;
  for (const winner of winners) {
    if (!seen.has(winner.key)) continue;
    if (winner.op === 'put') updated++;
    else deleted++;
  }
  return { written, inserted, updated, deleted };
}

async function assertUniqueKeys(session: DuckSession, table: string, exportId: string): Promise<void> {
  const key = quoteIdentifier(SYSTEM_COLUMN.key);
  const rows = (
    await session.all(
      `SELECT ${key}, count(*) AS n FROM ${quoteIdentifier(table)} GROUP BY ${key} HAVING count(*) > 1 LIMIT 3`,
    )
  ).getRows();
  if (rows.length === 0) return;
  throw new ApplyRunError(
    ApplyErrorCode.noSnapshot,
    `The snapshot ${exportId} holds the same item more than once (${rows.map((row) => `${String(row[0])} ${String(row[1])} times`).join(', ')}); an export holds each item once, so it is damaged or mixes two exports. Nothing was committed. Take a new export, or name another with --snapshot.`,
  );
}

/** Counts a pass's finished data files and reports each (`snapshotFileLoaded`). */
function fileProgress(pass: 'schema' | 'rows', files: number, emit: (event: ApplyEvent) => void) {
  const started = Date.now();
  let bytes = 0;
  let filesDone = 0;
  const progress = {
    items: 0,
    fileDone(file: string, items: number, size: number): void {
      progress.items += items;
      bytes += size;
      filesDone++;
      emit({
        code: ApplyEventCode.snapshotFileLoaded,
        pass,
        file,
        items: progress.items,
        filesDone,
        files,
        bytes,
        elapsedMs: Date.now() - started,
      });
    },
  };
  return progress;
}
