import type { DeltaType, StructType } from '../delta/schema.ts';
import type { LakeRow, LakeValue } from '../duckdb/lake-value.ts';
import { bytesToBase64, compareBase64Bytes } from '../dynamo/base64.ts';
import { normalizeNumber, sortNumbers } from '../dynamo/number.ts';
import { compareUtf8 } from '../dynamo/plain-json.ts';
import { type AttributeCodec, rowCodec } from './item-to-row.ts';
import { RowShapeError } from './model-errors.ts';
import type { TableLayout } from './table-layout.ts';

/*
 * The reverse of item-to-row.ts for comparison: the canonical plain JSON (plain-json.ts) of the
 * DynamoDB item a lake row stands for — exactly `itemToPlainJson` of the item the row was written
 * from, so `verify` and the tests compare a table with DynamoDB key by key as text. Decimal cells
 * come back as canonical numbers ("3.00" → 3), sets in their canonical order, binary as base64,
 * M, L, JSON and conflict cells as the plain JSON they hold (an S conflict column of `text`
 * encoding holds the string itself, which is quoted here).
 */

function wrong(codec: AttributeCodec, column: string, what: string): RowShapeError {
  return new RowShapeError(
    `The cell of column ${JSON.stringify(column)} (attribute ${JSON.stringify(codec.attribute)}, kind ${codec.kind}) ${what}; the row does not match the table's layout.`,
  );
}

function numberText(cell: LakeValue, type: DeltaType, codec: AttributeCodec): string {
  if (typeof cell === 'bigint') return cell.toString();
  if (typeof cell === 'string') {
    try {
      return normalizeNumber(cell);
    } catch (error) {
      throw wrong(
        codec,
        codec.column,
        `holds ${JSON.stringify(cell)}, not a number (${(error as Error).message})`,
      );
    }
  }
  throw wrong(codec, codec.column, `holds ${typeof cell}, not a number of a ${type.type} column`);
}

function arrayOf(cell: LakeValue, codec: AttributeCodec): readonly LakeValue[] {
  if (!Array.isArray(cell)) throw wrong(codec, codec.column, 'is not an array');
  const array = cell as readonly LakeValue[];
  if (array.length === 0) throw wrong(codec, codec.column, 'is an empty set, which DynamoDB never holds');
  return array;
}

function bytesOf(cell: LakeValue, codec: AttributeCodec): string {
  if (!(cell instanceof Uint8Array)) throw wrong(codec, codec.column, 'is not binary');
  return bytesToBase64(cell);
}

/** The plain JSON text of a non-null attribute cell. */
function cellText(cell: LakeValue, codec: AttributeCodec): string {
  switch (codec.kind) {
    case 'JSON':
    case 'M':
    case 'L':
      if (typeof cell !== 'string') throw wrong(codec, codec.column, 'is not JSON text');
      return cell;
    case 'S':
      if (typeof cell !== 'string') throw wrong(codec, codec.column, 'is not a string');
      return JSON.stringify(cell);
    case 'N':
      return numberText(cell, codec.type, codec);
    case 'B':
      return JSON.stringify(bytesOf(cell, codec));
    case 'BOOL':
      if (typeof cell !== 'boolean') throw wrong(codec, codec.column, 'is not a boolean');
      return cell ? 'true' : 'false';
    case 'SS': {
      const elements = arrayOf(cell, codec).map((element) => {
        if (typeof element !== 'string') throw wrong(codec, codec.column, 'holds a non-string element');
        return element;
      });
      return `[${elements
        .sort(compareUtf8)
        .map((element) => JSON.stringify(element))
        .join(',')}]`;
    }
    case 'NS': {
      const element = codec.type.type === 'array' ? codec.type.elementType : codec.type;
      const texts = arrayOf(cell, codec).map((value) => numberText(value, element, codec));
      return `[${sortNumbers(texts).join(',')}]`;
    }
    case 'BS': {
      const texts = arrayOf(cell, codec).map((value) => bytesOf(value, codec));
      return `[${texts
        .sort(compareBase64Bytes)
        .map((text) => JSON.stringify(text))
        .join(',')}]`;
    }
  }
}

/**
 * The canonical plain JSON of the item `row` stands for (see the top of this file). Reads the
 * attribute and conflict columns of the layout; other columns (system columns) are ignored. A row
 * with no attribute at all gives `{}`. Pure.
 * @throws RowShapeError when a cell does not hold what its column kind says, or an attribute has
 *   values in two of its columns (its column and a conflict column, or two conflict columns).
 */
export function rowToPlainItem(row: LakeRow, layout: TableLayout, schema: StructType): string {
  const codec = rowCodec(layout, schema);
  const attributes: [string, string][] = [];
  for (const attributeCodec of codec.values()) {
    let text: string | undefined;
    let from = '';
    const cell = row[attributeCodec.column];
    if (cell !== undefined && cell !== null) {
      text = cellText(cell, attributeCodec);
      from = attributeCodec.column;
    }
    for (const conflict of attributeCodec.conflicts.values()) {
      const column = conflict.column;
      const conflictCell = row[column];
      if (conflictCell === undefined || conflictCell === null) continue;
      if (typeof conflictCell !== 'string') throw wrong(attributeCodec, column, 'is not text');
      if (text !== undefined) {
        throw wrong(
          attributeCodec,
          column,
          `holds a value while the column ${JSON.stringify(from)} holds one too`,
        );
      }
      text = conflict.encoding === 'text' ? JSON.stringify(conflictCell) : conflictCell;
      from = column;
    }
    if (text !== undefined) attributes.push([attributeCodec.attribute, text]);
  }
  attributes.sort((a, b) => compareUtf8(a[0], b[0]));
  let json = '{';
  for (let i = 0; i < attributes.length; i++) {
    const [name, text] = attributes[i] as [string, string];
    if (i > 0) json += ',';
    json += `${JSON.stringify(name)}:${text}`;
  }
  return `${json}}`;
}
