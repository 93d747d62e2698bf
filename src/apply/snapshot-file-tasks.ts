import type { StructType } from '../delta/schema.ts';
import type { LakeValue } from '../duckdb/lake-value.ts';
import type { Item } from '../dynamo/attribute-value.ts';
import type { BadLine } from '../formats/bad-line.ts';
import type { ExportDataFile } from '../formats/export-layout.ts';
import { readDataFileItems } from '../formats/export-reader.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { ChangeOrder } from './change-order.ts';
import { ItemSpoolLineEncoder } from './item-spool-line.ts';
import { itemToRow } from './item-to-row.ts';
import { bucketOf, keyText } from './key-identity.ts';
import { KeyAttributeError } from './model-errors.ts';
import { type EvolutionSummary, SchemaEvolution } from './schema-evolution.ts';
import { SpoolFileWriter } from './snapshot-spool-file.ts';
import { systemCells } from './system-cells.ts';
import { SYSTEM_COLUMN, type TableLayout } from './table-layout.ts';

/*
 * The work of the snapshot load (snapshot-load.ts) on one data file, for either pass: everything
 * it needs arrives as plain data (structured-clonable) and everything it returns is plain data, so
 * it runs the same in a worker thread (snapshot-load-worker.ts) as on the main thread.
 */

/** What the schema pass needs for every data file. */
export interface SchemaPassContext {
  readonly pass: 'schema';
  readonly layout: TableLayout;
  readonly schema: StructType;
}

/** What the schema pass learned from one data file. */
export interface SchemaFileResult {
  readonly items: number;
  /** Unreadable lines and items without the table's key, in the order the reader met them. */
  readonly badLines: readonly BadLine[];
  /** The file's items observed by a SchemaEvolution over the context's layout and schema. */
  readonly evolution: EvolutionSummary;
}

/** What the rows pass needs for every data file. */
export interface RowsPassContext {
  readonly pass: 'rows';
  readonly layout: TableLayout;
  readonly schema: StructType;
  /** The version of every snapshot row. */
  readonly order: ChangeOrder;
  /** Keys a change of the batch replaces: their snapshot items get no row here. */
  readonly replaced: readonly string[];
  /** Of those, the keys whose change is a soft delete: their snapshot items are returned. */
  readonly softDeleted: readonly string[];
  /** The folder spool files are written to, and the start of their names. */
  readonly spoolDir: string;
  readonly spoolPrefix: string;
}

/** What the rows pass did with one data file. */
export interface RowsFileResult {
  readonly items: number;
  /** Rows written to spool files. */
  readonly inserted: number;
  /** The replaced keys met in the file. */
  readonly found: readonly string[];
  /** The snapshot items of soft-deleted keys met in the file (their rows are the caller's). */
  readonly before: readonly { readonly key: string; readonly item: Item }[];
}

export type SnapshotPassContext = SchemaPassContext | RowsPassContext;

/**
 * The schema pass over one data file: every readable item with the table's key observed by a
 * fresh SchemaEvolution, the others collected as bad lines (as the reader reports them, then the
 * key check in item order). The file is checked against its MD5 and item count.
 * @throws the export reader's errors (checksum or count mismatch, damaged gzip, the store's).
 */
export async function observeDataFile(
  store: ObjectStore,
  file: ExportDataFile,
  context: SchemaPassContext,
): Promise<SchemaFileResult> {
  const { layout } = context;
  const evolution = new SchemaEvolution(layout, context.schema);
  const badLines: BadLine[] = [];
  let items = 0;
  for await (const { item, line } of readDataFileItems(store, file, {
    onBadLine: (badLine) => {
      badLines.push(badLine);
    },
  })) {
    items++;
    try {
      keyText(item, layout.keys);
    } catch (error) {
      if (!(error instanceof KeyAttributeError)) throw error;
      badLines.push({
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
  return { items, badLines, evolution: evolution.summary() };
}

/** A rows context with its key lists as sets, made once per pass and thread. */
export interface PreparedRowsContext {
  readonly context: RowsPassContext;
  readonly replaced: ReadonlySet<string>;
  readonly softDeleted: ReadonlySet<string>;
  /** The system cells every snapshot row shares (key and bucket are set per row). */
  readonly cells: Readonly<Record<string, LakeValue>>;
  /** Items straight to spool lines (the general path, itemToRow, for what it leaves). */
  readonly lines: ItemSpoolLineEncoder;
}

/** Prepares `context` for `convertDataFile`. Pure. */
export function prepareRowsContext(context: RowsPassContext): PreparedRowsContext {
  const cells = systemCells(
    { key: '', bucket: 0, order: context.order, op: 'put', ttl: false },
    context.layout.deletes,
  );
  delete cells[SYSTEM_COLUMN.key];
  delete cells[SYSTEM_COLUMN.bucket];
  return {
    context,
    replaced: new Set(context.replaced),
    softDeleted: new Set(context.softDeleted),
    cells,
    lines: new ItemSpoolLineEncoder(context.layout, context.schema, cells),
  };
}

/**
 * The rows pass over one data file (the `index`-th of the snapshot): each item with the table's
 * key and not replaced becomes its row (itemToRow plus the snapshot's system cells, or the same
 * line straight from the item: item-spool-line.ts), written to the spool files of its bucket,
 * `<spoolDir>/<spoolPrefix>-<index>-b<bucket>-<n>.csv`; `onSpool` hears of each complete file
 * and owns it from then on. Bad lines and items without the key are skipped (the schema pass
 * quarantined them). On failure the files being written are removed.
 * @throws the export reader's errors; RowShapeError or LakeValueError when an item does not fit
 *   the schema (the schema pass was not run over it).
 */
export async function convertDataFile(
  store: ObjectStore,
  file: ExportDataFile,
  index: number,
  prepared: PreparedRowsContext,
  onSpool: (file: string, rows: number, bucket: number) => void,
): Promise<RowsFileResult> {
  const { context, replaced, softDeleted, cells, lines } = prepared;
  const { layout, schema } = context;
  const writers: SpoolFileWriter[] = [];
  const writerOf = (bucket: number): SpoolFileWriter => {
    let writer = writers[bucket];
    if (writer === undefined) {
      writer = new SpoolFileWriter(
        schema,
        context.spoolDir,
        `${context.spoolPrefix}-${index}-b${bucket}`,
        (spool, rows) => onSpool(spool, rows, bucket),
      );
      writers[bucket] = writer;
    }
    return writer;
  };
  const found: string[] = [];
  const before: { key: string; item: Item }[] = [];
  let items = 0;
  let inserted = 0;
  try {
    for await (const { item } of readDataFileItems(store, file, { onBadLine: () => {} })) {
      items++;
      let key: string;
      try {
        key = keyText(item, layout.keys);
      } catch (error) {
        if (error instanceof KeyAttributeError) continue;
        throw error;
      }
      if (replaced.has(key)) {
        found.push(key);
        if (softDeleted.has(key)) before.push({ key, item });
        continue;
      }
      const bucket = bucketOf(key, layout.buckets);
      const line = lines.line(item, key, bucket);
      if (line !== undefined) {
        writerOf(bucket).appendLine(line);
      } else {
        const row = itemToRow(item, layout, schema).row as Record<string, LakeValue>;
        Object.assign(row, cells);
        row[SYSTEM_COLUMN.key] = key;
        row[SYSTEM_COLUMN.bucket] = bucket;
        writerOf(bucket).append(row);
      }
      inserted++;
    }
    for (const writer of writers) writer?.finishFile();
  } catch (error) {
    for (const writer of writers) writer?.abandon();
    throw error;
  }
  return { items, inserted, found, before };
}
