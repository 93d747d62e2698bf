import { assignColumnNames, COLUMN_NAMES_PROPERTY, columnNameKey } from '../delta/column-names.ts';
import { type DeltaType, deltaTypeOfLakeType, deltaTypeText, type StructType } from '../delta/schema.ts';
import {
  type AttributeValue,
  attributeType,
  DYNAMO_TYPES,
  type DynamoType,
  type Item,
} from '../dynamo/attribute-value.ts';
import { compareUtf8 } from '../dynamo/plain-json.ts';
import { type InferenceSummary, type InferredColumn, SchemaInference } from '../dynamo/schema-inference.ts';
import { valueFits } from './column-fit.ts';
import { type RowCodec, rowCodec } from './item-to-row.ts';
import {
  ALL_SYSTEM_COLUMNS,
  assertDistinctColumns,
  CONFLICT_COLUMN_TYPE,
  type ColumnKind,
  type ConflictColumn,
  conflictEncodingOf,
  layoutSchema,
  type TableLayout,
} from './table-layout.ts';

/*
 * Schema evolution without loss (issue 6, "Schema evolution"; DESIGN.md "Lake table"): over the
 * items a batch writes, which columns the table needs that it does not have.
 *
 * - A new attribute adds a column of one type, typed by SchemaInference over its values in the
 *   batch: the attribute's dominant type (deltaTypeOfLakeType of the inferred lake type; M and L as
 *   plain JSON text of that type; only NULL: string). Its values of other types, its NULLs and its
 *   numbers the column does not hold go to conflict columns in this same batch, as a later batch's
 *   would. New attributes get their names in UTF-8 order of the attribute names, so the result
 *   does not depend on the order the items were seen in.
 * - A value that does not fit its attribute's column (column-fit.ts) needs the conflict column
 *   `<column>__<TYPE>` (string: an S as its own text, others plain JSON text; `_2`, `_3`, … when
 *   the name is taken); a value that fits never creates one. An N that fits no long/decimal column
 *   goes to `<column>__N` as exact number text; NULL goes to `<column>__NULL`. Columns of kind JSON
 *   (tables written before one type per column) take every value, as they did.
 * - Columns are never dropped, renamed or retyped; new columns come after the existing ones.
 * Memory: one small record per distinct attribute and per (attribute, type) conflict.
 */

/** One column added to the table. */
export interface SchemaChange {
  readonly change: 'column-added' | 'conflict-column-added';
  readonly attribute: string;
  readonly column: string;
  /** The column's Delta type as Spark spells it (`decimal(38,2)`, `string`). */
  readonly type: string;
  /** For a conflict column, the DynamoDB type of the values it holds. */
  readonly valueType?: DynamoType;
  /** Why, for the run's report. */
  readonly reason: string;
  /** Items of the batch with a value in this column. */
  readonly rows: number;
}

/** Values of the batch that go to a conflict column (new or existing). */
export interface ConflictCount {
  readonly attribute: string;
  readonly type: DynamoType;
  readonly column: string;
  readonly rows: number;
}

/** The outcome of evolution: the layout and schema the batch's rows are written with. */
export interface SchemaEvolutionPlan {
  /** True when columns were added (for a new table: also its system columns): the commit needs a metaData action. */
  readonly changed: boolean;
  readonly layout: TableLayout;
  readonly schema: StructType;
  /** Columns added, new attributes first (in name order), then conflict columns (by attribute, type). */
  readonly changes: readonly SchemaChange[];
  /** Every conflict of the batch, also in conflict columns that existed, ordered like `changes`. */
  readonly conflicts: readonly ConflictCount[];
}

/** The state of a `SchemaEvolution` as plain data; see `SchemaEvolution.summary`. */
export interface EvolutionSummary {
  /** Of the attributes the table has no column for. */
  readonly inference: InferenceSummary;
  /** Values that fit no existing column, per attribute and type. */
  readonly conflicts: readonly {
    readonly attribute: string;
    readonly type: DynamoType;
    readonly rows: number;
  }[];
}

const TYPE_ORDER = new Map<DynamoType, number>(DYNAMO_TYPES.map((type, index) => [type, index]));

/**
 * The kind of a column created from an inferred column (table-layout.ts, `ddb_lake.columnKinds`):
 * its one DynamoDB type; never JSON, which only older tables have.
 */
function kindOf(column: InferredColumn): ColumnKind {
  return column.valueType === 'NULL' ? 'S' : column.valueType;
}

/** The values of a new column that go to its conflict columns: other types, NULL, numbers it does not hold. */
function newColumnConflicts(column: InferredColumn, kind: ColumnKind): [DynamoType, number][] {
  const conflicts: [DynamoType, number][] = [];
  for (const [type, count] of Object.entries(column.typeCounts) as [DynamoType, number][]) {
    if (type !== kind && count > 0) conflicts.push([type, count]);
  }
  if (column.notHeld > 0) conflicts.push([kind as DynamoType, column.notHeld]);
  return conflicts;
}

function conflictReason(
  type: DynamoType,
  column: string,
  kind: ColumnKind,
  columnType: DeltaType,
  target: string,
): string {
  const shown = `${deltaTypeText(columnType)} column "${column}"`;
  if (type === 'NULL')
    return `NULL values cannot be told from an absent attribute in the ${shown}; kept as null in "${target}"`;
  if (type === kind) {
    const kept = type === 'NS' ? 'as plain JSON arrays of exact numbers' : 'as exact number text';
    return `${type} values with more digits or scale than the ${shown} holds; kept ${kept} in "${target}"`;
  }
  const kept =
    type === 'S' ? 'as their own text' : type === 'N' ? 'as exact number text' : 'as plain JSON text';
  return `${type} values do not fit the ${shown} (it holds ${kind}); kept ${kept} in "${target}"`;
}

/**
 * Accumulates what the items of a batch need from the table's layout and schema. Feed every item
 * the batch writes (new images and snapshot items: validated by `parseItem`) to `observe`, then
 * read `result()`. The result does not depend on the order of the items.
 */
export class SchemaEvolution {
  readonly #layout: TableLayout;
  readonly #schema: StructType;
  readonly #codec: RowCodec;
  readonly #inference = new SchemaInference();
  /** `attribute \0 type` → conflict count. */
  readonly #conflicts = new Map<string, { attribute: string; type: DynamoType; rows: number }>();

  /**
   * @param layout the table's current layout (readTableLayout, or newTableLayout for a new table).
   * @param schema the table's current schema (a struct without fields for a new table).
   * @throws RowShapeError when the layout's columns are not in the schema.
   */
  constructor(layout: TableLayout, schema: StructType) {
    this.#layout = layout;
    this.#schema = schema;
    this.#codec = rowCodec(layout, schema);
  }

  /**
   * Counts one item.
   * @throws InvalidNumberError for an N or NS element that is not a DynamoDB number.
   */
  observe(item: Item): void {
    let fresh: Record<string, AttributeValue> | undefined;
    for (const attribute in item) {
      const value = item[attribute] as AttributeValue;
      const codec = this.#codec.get(attribute);
      if (codec === undefined) {
        fresh ??= {};
        fresh[attribute] = value;
        continue;
      }
      const type = attributeType(value);
      if (valueFits(value, type, codec.kind, codec.type)) continue;
      this.#count(attribute, type, 1);
    }
    if (fresh !== undefined) this.#inference.observe(fresh);
  }

  /**
   * The items observed so far as plain data (structured-clonable), for `merge` into an evolution
   * over the same layout and schema: so several threads can observe parts of a batch. Does not
   * change the state.
   */
  summary(): EvolutionSummary {
    return {
      inference: this.#inference.summary(),
      conflicts: [...this.#conflicts.values()].map((entry) => ({ ...entry })),
    };
  }

  /**
   * Adds the observations of another evolution over the same layout and schema (its `summary`),
   * as if its items had been observed here now: the result is the same as observing them here.
   */
  merge(summary: EvolutionSummary): void {
    this.#inference.merge(summary.inference);
    for (const conflict of summary.conflicts) this.#count(conflict.attribute, conflict.type, conflict.rows);
  }

  #count(attribute: string, type: DynamoType, rows: number): void {
    const id = `${attribute}\u0000${type}`;
    const entry = this.#conflicts.get(id);
    if (entry === undefined) this.#conflicts.set(id, { attribute, type, rows });
    else entry.rows += rows;
  }

  /**
   * The evolved layout and schema, the columns added and the batch's conflicts. Does not change
   * the accumulated state. Deterministic: the same items (in any order) give the same plan.
   * @throws TableLayoutError when the evolved layout would be inconsistent (never for a valid input).
   */
  result(): SchemaEvolutionPlan {
    const layout = this.#layout;
    const inferred = this.#inference
      .result()
      .columns.slice()
      .sort((a, b) => compareUtf8(a.name, b.name));

    const taken = new Set<string>(
      [...ALL_SYSTEM_COLUMNS, ...this.#schema.fields.map((f) => f.name)].map(columnNameKey),
    );
    for (const conflict of layout.conflictColumns) taken.add(columnNameKey(conflict.column));
    for (const column of layout.columns.values()) taken.add(columnNameKey(column));
    const base: Record<string, string> =
      layout.columns.size === 0 ? {} : { [COLUMN_NAMES_PROPERTY]: JSON.stringify([...layout.columns]) };
    // Key attributes are named first, so that they keep their own names and another attribute that
    // differs from one only in case (`PK` beside `pk`) takes the suffix.
    const keyNames = [layout.keys.partition, layout.keys.sort].filter((name) => name !== undefined);
    const assignment = assignColumnNames(
      base,
      [
        ...keyNames.filter((name) => inferred.some((column) => column.name === name)),
        ...inferred.map((column) => column.name).filter((name) => !keyNames.includes(name)),
      ],
      [
        ...ALL_SYSTEM_COLUMNS,
        ...this.#schema.fields.map((f) => f.name),
        ...layout.conflictColumns.map((c) => c.column),
      ],
    );
    const columns = new Map(assignment.columns);
    const kinds = new Map(layout.kinds);
    const types = new Map<string, DeltaType>();
    const changes: SchemaChange[] = [];
    const pending = new Map(this.#conflicts);
    for (const column of inferred) {
      const name = columns.get(column.name) as string;
      taken.add(columnNameKey(name));
      const kind = kindOf(column);
      const type = deltaTypeOfLakeType(column.lakeType);
      kinds.set(column.name, kind);
      types.set(name, type);
      const notes = column.notes.length > 0 ? ` (${column.notes.join('; ')})` : '';
      const conflicting = newColumnConflicts(column, kind);
      changes.push({
        change: 'column-added',
        attribute: column.name,
        column: name,
        type: deltaTypeText(type),
        reason: `new attribute, ${kind} values${kind === 'M' || kind === 'L' ? ' as plain JSON text' : ''}${notes}`,
        rows: conflicting.reduce((rows, [, count]) => rows - count, column.presentCount),
      });
      for (const [conflictType, rows] of conflicting) {
        pending.set(`${column.name}\u0000${conflictType}`, {
          attribute: column.name,
          type: conflictType,
          rows,
        });
      }
    }

    const existing = new Map(layout.conflictColumns.map((c) => [`${c.attribute}\u0000${c.type}`, c.column]));
    const needed = [...pending.values()].sort(
      (a, b) =>
        compareUtf8(a.attribute, b.attribute) ||
        (TYPE_ORDER.get(a.type) as number) - (TYPE_ORDER.get(b.type) as number),
    );
    const conflictColumns: ConflictColumn[] = [...layout.conflictColumns];
    const conflicts: ConflictCount[] = [];
    const conflictChanges: SchemaChange[] = [];
    for (const need of needed) {
      const id = `${need.attribute}\u0000${need.type}`;
      let target = existing.get(id);
      if (target === undefined) {
        const column = columns.get(need.attribute) as string;
        const stem = `${column}__${need.type}`;
        target = stem;
        for (let suffix = 2; taken.has(columnNameKey(target)); suffix++) target = `${stem}_${suffix}`;
        taken.add(columnNameKey(target));
        conflictColumns.push({
          attribute: need.attribute,
          type: need.type,
          column: target,
          encoding: conflictEncodingOf(need.type),
        });
        const kind = kinds.get(need.attribute) as ColumnKind;
        const columnType = types.get(column) ?? (this.#codec.get(need.attribute)?.type as DeltaType);
        conflictChanges.push({
          change: 'conflict-column-added',
          attribute: need.attribute,
          column: target,
          type: deltaTypeText(CONFLICT_COLUMN_TYPE),
          valueType: need.type,
          reason: conflictReason(need.type, column, kind, columnType, target),
          rows: need.rows,
        });
      }
      conflicts.push({ attribute: need.attribute, type: need.type, column: target, rows: need.rows });
    }
    changes.push(...conflictChanges);

    const evolved: TableLayout =
      changes.length === 0 ? layout : { ...layout, columns, kinds, conflictColumns };
    if (evolved !== layout) assertDistinctColumns(evolved);
    // A new table also gains its system columns here, even from a batch without items.
    const schema = layoutSchema(evolved, types, this.#schema);
    const changed = schema.fields.length !== this.#schema.fields.length;
    return { changed, layout: evolved, schema: changed ? schema : this.#schema, changes, conflicts };
  }
}

/**
 * Evolves a layout and schema for a finite sequence of items; see `SchemaEvolution`.
 * @throws RowShapeError when the layout's columns are not in the schema.
 */
export function evolveSchema(
  layout: TableLayout,
  schema: StructType,
  items: Iterable<Item>,
): SchemaEvolutionPlan {
  const evolution = new SchemaEvolution(layout, schema);
  for (const item of items) evolution.observe(item);
  return evolution.result();
}
