import type { StructType } from '../../delta/schema.ts';
import { LakeValueError } from '../../duckdb/errors.ts';
import type { LakeValue } from '../../duckdb/lake-value.ts';
import type { Item } from '../../dynamo/attribute-value.ts';
import type { BadLine } from '../../formats/bad-line.ts';
import type { ExportDataFile } from '../../formats/export-layout.ts';
import { readDataFileItems } from '../../formats/export-reader.ts';
import type { ChangeOrder } from '../../lake/change-order.ts';
import { itemToRow } from '../../lake/item-to-row.ts';
import { bucketOf, keyText } from '../../lake/key-identity.ts';
import { KeyAttributeError, RowShapeError } from '../../lake/model-errors.ts';
import { type EvolutionSummary, SchemaEvolution } from '../../lake/schema-evolution.ts';
import { systemCells } from '../../lake/system-cells.ts';
import { SYSTEM_COLUMN, type TableLayout } from '../../lake/table-layout.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { ItemSpoolLineEncoder } from './item-spool-line.ts';
import { SpoolFileWriter } from './snapshot-spool-file.ts';

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
  /**
   * When set, the pass also converts each file's items to rows under the schema a task guesses
   * (`RowsGuess`), so that a file whose guess turns out to be the final schema is read once.
   */
  readonly rows?: Omit<RowsPassContext, 'pass' | 'layout' | 'schema'>;
}

/** A layout and schema a schema pass task converts its rows under; `id` names it for reuse. */
export interface RowsGuess {
  readonly id: number;
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
  /** Given a guess: its id and the rows pass's result, when every row of the file fit the guess. */
  readonly rows?: RowsFileResult & { readonly guess: number };
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
 * key check in item order). The file is checked against its MD5 and item count. With `convert`
 * (a prepared guess, `index` the file's place in the snapshot), each observed item is also
 * written as the rows pass writes it (`convertDataFile`); at the first item whose row does not fit
 * the guess the conversion stops, its spool files are removed, and the result has no `rows`.
 * @throws the export reader's errors (checksum or count mismatch, damaged gzip, the store's).
 */
export async function observeDataFile(
  store: ObjectStore,
  file: ExportDataFile,
  context: SchemaPassContext,
  convert?: {
    readonly guess: number;
    readonly prepared: PreparedRowsContext;
    readonly index: number;
    readonly onSpool: (file: string, rows: number, bucket: number) => void;
  },
): Promise<SchemaFileResult> {
  const { layout } = context;
  const evolution = new SchemaEvolution(layout, context.schema);
  const badLines: BadLine[] = [];
  let rows =
    convert === undefined ? undefined : new FileRows(convert.prepared, convert.index, convert.onSpool);
  let items = 0;
  try {
    for await (const { item, line } of readDataFileItems(store, file, {
      onBadLine: (badLine) => {
        badLines.push(badLine);
      },
    })) {
      items++;
      let key: string;
      try {
        key = keyText(item, layout.keys);
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
      if (rows === undefined) continue;
      try {
        rows.add(item, key);
      } catch (error) {
        // The guess does not hold this item: the final schema differs, the file is converted later.
        if (!(error instanceof RowShapeError || error instanceof LakeValueError)) throw error;
        rows.abandon();
        rows = undefined;
      }
    }
  } catch (error) {
    rows?.abandon();
    throw error;
  }
  const converted = rows === undefined ? undefined : { ...rows.finish(items), guess: convert?.guess ?? -1 };
  return {
    items,
    badLines,
    evolution: evolution.summary(),
    ...(converted === undefined ? {} : { rows: converted }),
  };
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
 * A schema pass's guess prepared for converting rows (`observeDataFile`), or undefined when the
 * context converts nothing or the guess is a schema no row can be written under. Pure.
 */
export function prepareGuess(context: SchemaPassContext, guess: RowsGuess): PreparedRowsContext | undefined {
  if (context.rows === undefined) return undefined;
  try {
    return prepareRowsContext({ ...context.rows, pass: 'rows', layout: guess.layout, schema: guess.schema });
  } catch (error) {
    if (error instanceof RangeError || error instanceof RowShapeError) return undefined;
    throw error;
  }
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
  const { layout } = prepared.context;
  const rows = new FileRows(prepared, index, onSpool);
  let items = 0;
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
      rows.add(item, key);
    }
  } catch (error) {
    rows.abandon();
    throw error;
  }
  return rows.finish(items);
}

/** One data file's rows on their way to the spool files of their buckets. */
class FileRows {
  readonly #prepared: PreparedRowsContext;
  readonly #index: number;
  readonly #onSpool: (file: string, rows: number, bucket: number) => void;
  readonly #writers: SpoolFileWriter[] = [];
  readonly #found: string[] = [];
  readonly #before: { key: string; item: Item }[] = [];
  #inserted = 0;

  constructor(
    prepared: PreparedRowsContext,
    index: number,
    onSpool: (file: string, rows: number, bucket: number) => void,
  ) {
    this.#prepared = prepared;
    this.#index = index;
    this.#onSpool = onSpool;
  }

  #writerOf(bucket: number): SpoolFileWriter {
    let writer = this.#writers[bucket];
    if (writer === undefined) {
      const { context } = this.#prepared;
      writer = new SpoolFileWriter(
        context.schema,
        context.spoolDir,
        `${context.spoolPrefix}-${this.#index}-b${bucket}`,
        (spool, rows) => this.#onSpool(spool, rows, bucket),
      );
      this.#writers[bucket] = writer;
    }
    return writer;
  }

  /**
   * The row of `item` (key `key`), or its key noted when a change replaces it.
   * @throws RowShapeError or LakeValueError when the item does not fit the schema; nothing of it is written.
   */
  add(item: Item, key: string): void {
    const { context, replaced, softDeleted, cells, lines } = this.#prepared;
    if (replaced.has(key)) {
      this.#found.push(key);
      if (softDeleted.has(key)) this.#before.push({ key, item });
      return;
    }
    const { layout, schema } = context;
    const bucket = bucketOf(key, layout.buckets);
    const line = lines.line(item, key, bucket);
    if (line !== undefined) {
      this.#writerOf(bucket).appendLine(line);
    } else {
      const row = itemToRow(item, layout, schema).row as Record<string, LakeValue>;
      Object.assign(row, cells);
      row[SYSTEM_COLUMN.key] = key;
      row[SYSTEM_COLUMN.bucket] = bucket;
      this.#writerOf(bucket).append(row);
    }
    this.#inserted++;
  }

  /** Completes every spool file (each handed to `onSpool`) and says what was done. */
  finish(items: number): RowsFileResult {
    for (const writer of this.#writers) writer?.finishFile();
    return { items, inserted: this.#inserted, found: this.#found, before: this.#before };
  }

  /** Removes the files being written; files already handed over are the receiver's. */
  abandon(): void {
    for (const writer of this.#writers) writer?.abandon();
  }
}
