import type { DeltaType, StructType } from '../delta/schema.ts';
import { deltaTypeText } from '../delta/schema.ts';
import type { LakeRow, LakeValue } from '../duckdb/lake-value.ts';
import { type AttributeValue, attributeType, type DynamoType, type Item } from '../dynamo/attribute-value.ts';
import { base64ToBytes, compareBase64Bytes } from '../dynamo/base64.ts';
import { normalizeNumber, sortNumbers } from '../dynamo/number.ts';
import { compareUtf8, valueToPlainJson } from '../dynamo/plain-json.ts';
import { valueFits } from './column-fit.ts';
import { RowShapeError } from './model-errors.ts';
import type { ColumnKind, ConflictColumn, TableLayout } from './table-layout.ts';

/*
 * An item as the attribute and conflict cells of its lake row (lake-value.ts gives the JS form of
 * each Delta type):
 *
 *   S → string   N → bigint (long column) | exact decimal text with the column's scale | canonical
 *   number text (string column)   B → Uint8Array   BOOL → boolean   SS → string[] (UTF-8 order)
 *   NS → elements typed as the column's element type (by value)   BS → Uint8Array[] (byte order)
 *   M, L → the value's plain JSON text   JSON column (older tables) → plain JSON text of any value
 *   a value that does not fit (column-fit.ts) → its conflict column: an S as its own text (older
 *   tables' S conflict columns: JSON-quoted), any other type as plain JSON text (NULL as `null`)
 *
 * Sets are written in their canonical order, so one item always gives the same row.
 */

/** One attribute of the table as the row conversions need it. */
export interface AttributeCodec {
  readonly attribute: string;
  readonly column: string;
  readonly kind: ColumnKind;
  readonly type: DeltaType;
  /** Conflict columns of this attribute by DynamoDB type. */
  readonly conflicts: ReadonlyMap<DynamoType, ConflictColumn>;
}

/** The attributes of a layout, checked against a schema. */
export type RowCodec = ReadonlyMap<string, AttributeCodec>;

const codecs = new WeakMap<StructType, WeakMap<TableLayout, RowCodec>>();

/**
 * The attribute codecs of `layout` over `schema`, cached per (schema, layout) object pair. Pure.
 * @throws RowShapeError when a column of the layout is not in the schema, or a conflict column is
 *   not a string column.
 */
export function rowCodec(layout: TableLayout, schema: StructType): RowCodec {
  let byLayout = codecs.get(schema);
  if (byLayout === undefined) {
    byLayout = new WeakMap();
    codecs.set(schema, byLayout);
  }
  const cached = byLayout.get(layout);
  if (cached !== undefined) return cached;
  const types = new Map(schema.fields.map((field) => [field.name, field.type]));
  const typeOf = (column: string, what: string): DeltaType => {
    const type = types.get(column);
    if (type === undefined) {
      throw new RowShapeError(
        `The ${what} column ${JSON.stringify(column)} of the table layout is not in the table's schema; the layout (ddb_lake.*) and the schema disagree. Evolve the schema with the layout (schema-evolution.ts) before writing rows.`,
      );
    }
    return type;
  };
  const conflicts = new Map<string, Map<DynamoType, ConflictColumn>>();
  for (const conflict of layout.conflictColumns) {
    const type = typeOf(conflict.column, 'conflict');
    if (type.type !== 'primitive' || type.name !== 'string') {
      throw new RowShapeError(
        `The conflict column ${JSON.stringify(conflict.column)} is ${deltaTypeText(type)}, not string.`,
      );
    }
    let byType = conflicts.get(conflict.attribute);
    if (byType === undefined) {
      byType = new Map();
      conflicts.set(conflict.attribute, byType);
    }
    byType.set(conflict.type, conflict);
  }
  const codec = new Map<string, AttributeCodec>();
  for (const [attribute, column] of layout.columns) {
    const kind = layout.kinds.get(attribute);
    if (kind === undefined)
      throw new RowShapeError(`The attribute ${JSON.stringify(attribute)} has no column kind in the layout.`);
    codec.set(attribute, {
      attribute,
      column,
      kind,
      type: typeOf(column, 'attribute'),
      conflicts: conflicts.get(attribute) ?? new Map(),
    });
  }
  byLayout.set(layout, codec);
  return codec;
}

/** A value written to a conflict column: which attribute, which type, where. */
export interface RowConflict {
  readonly attribute: string;
  readonly type: DynamoType;
  readonly column: string;
}

/** The attribute and conflict cells of one item. */
export interface ItemRow {
  /** Column → value for every attribute of the item; the item's absent attributes are absent here (null). */
  readonly row: LakeRow;
  /** The attributes that went to a conflict column, in the item's attribute order. */
  readonly conflicts: readonly RowConflict[];
}

/**
 * Decimal text of a number with exactly `scale` fractional digits, from its canonical text by
 * padding (canonical text has no exponent and no trailing fractional zeros); the caller has checked
 * that the number fits (column-fit.ts).
 */
function decimalText(canonical: string, scale: number): string {
  const dot = canonical.indexOf('.');
  if (dot < 0) return scale === 0 ? canonical : `${canonical}.${'0'.repeat(scale)}`;
  return canonical + '0'.repeat(scale - (canonical.length - dot - 1));
}

function numberCell(text: string, type: DeltaType): LakeValue {
  const canonical = normalizeNumber(text);
  if (type.type === 'decimal') return decimalText(canonical, type.scale);
  if (type.type === 'primitive' && type.name === 'long') return BigInt(canonical);
  return canonical;
}

/** The cell of a value that fits its column (column-fit.ts). */
function cellOf(value: AttributeValue, codec: AttributeCodec): LakeValue {
  switch (codec.kind) {
    case 'JSON':
    case 'M':
    case 'L':
      return valueToPlainJson(value, codec.attribute);
    case 'S':
      return (value as { S: string }).S;
    case 'N':
      return numberCell((value as { N: string }).N, codec.type);
    case 'B':
      return base64ToBytes((value as { B: string }).B);
    case 'BOOL':
      return (value as { BOOL: boolean }).BOOL;
    case 'SS':
      return (value as { SS: readonly string[] }).SS.slice().sort(compareUtf8);
    case 'NS': {
      const element = codec.type.type === 'array' ? codec.type.elementType : codec.type;
      return sortNumbers((value as { NS: readonly string[] }).NS).map((text) => numberCell(text, element));
    }
    case 'BS':
      return (value as { BS: readonly string[] }).BS.slice().sort(compareBase64Bytes).map(base64ToBytes);
  }
}

/** The cell of a value in its conflict column: an S as its own text when the column says so, else plain JSON. */
export function conflictCell(value: AttributeValue, conflict: ConflictColumn): string {
  if (conflict.encoding === 'text' && 'S' in value) return value.S;
  return valueToPlainJson(value, conflict.attribute);
}

/**
 * The attribute and conflict cells of `item` (see the top of this file); the system columns are the
 * caller's. Expects an item validated by `parseItem` (every reader yields those) and a layout and
 * schema already evolved for it (schema-evolution.ts). Deterministic: one item, one row.
 * @throws RowShapeError naming the attribute when it has no column, or its value fits neither the
 *   column nor an existing conflict column — evolve the schema over the batch first.
 */
export function itemToRow(item: Item, layout: TableLayout, schema: StructType): ItemRow {
  const codec = rowCodec(layout, schema);
  const row: Record<string, LakeValue> = {};
  const conflicts: RowConflict[] = [];
  for (const attribute in item) {
    const value = item[attribute] as AttributeValue;
    const attributeCodec = codec.get(attribute);
    if (attributeCodec === undefined) {
      throw new RowShapeError(
        `The attribute ${JSON.stringify(attribute)} has no column in the table; evolve the schema over the batch's items (SchemaEvolution) before converting them to rows.`,
      );
    }
    const type = attributeType(value);
    if (valueFits(value, type, attributeCodec.kind, attributeCodec.type)) {
      row[attributeCodec.column] = cellOf(value, attributeCodec);
      continue;
    }
    const conflict = attributeCodec.conflicts.get(type);
    if (conflict === undefined) {
      throw new RowShapeError(
        `The ${type} value of the attribute ${JSON.stringify(attribute)} does not fit its ${deltaTypeText(attributeCodec.type)} column ${JSON.stringify(attributeCodec.column)} and the table has no conflict column for ${type}; evolve the schema over the batch's items (SchemaEvolution) before converting them to rows.`,
      );
    }
    row[conflict.column] = conflictCell(value, conflict);
    conflicts.push({ attribute, type, column: conflict.column });
  }
  return { row, conflicts };
}
