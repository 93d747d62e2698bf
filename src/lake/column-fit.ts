import type { DeltaType } from '../delta/schema.ts';
import type { AttributeValue, DynamoType } from '../dynamo/attribute-value.ts';
import { numberShape } from '../dynamo/number.ts';
import type { ColumnKind } from './table-layout.ts';

/*
 * Whether a value fits its attribute's column (DESIGN.md "Lake table"): a column takes values of its
 * own DynamoDB type that its Delta type holds exactly (an M column only maps, an L column only
 * lists). Everything else — another type, NULL (a null cell means "attribute absent"), a number
 * with more scale or digits than the column holds — goes to a conflict column. A column of kind
 * JSON, which only tables written before one type per column have, takes every value (as plain
 * JSON text, NULL as `null`). One place decides this, for schema inference (numberLakeType counts
 * values by the same rule), schema evolution and the rows alike.
 */

/**
 * True when the number (DynamoDB number text) is held exactly by a column of this Delta type:
 * `long` for integers within int64, `decimal(p,s)` for at most s fractional and p − s integer
 * digits, `string` (canonical number text) always. Pure.
 * @throws InvalidNumberError when `text` is not a DynamoDB number.
 */
export function numberFits(text: string, type: DeltaType): boolean {
  if (type.type === 'decimal') {
    const shape = numberShape(text);
    return shape.scale <= type.scale && shape.integerDigits <= type.precision - type.scale;
  }
  if (type.type !== 'primitive') return false;
  if (type.name === 'string') return true;
  if (type.name === 'long') {
    const shape = numberShape(text);
    return shape.isInteger && shape.fitsInt64;
  }
  return false;
}

/**
 * True when `value` goes into the attribute column itself (see the top of this file); false when
 * it belongs in the conflict column for its type. Pure.
 * @throws InvalidNumberError for an N or NS element that is not a DynamoDB number.
 */
export function valueFits(
  value: AttributeValue,
  type: DynamoType,
  kind: ColumnKind,
  columnType: DeltaType,
): boolean {
  if (kind === 'JSON') return true;
  if (kind !== type) return false;
  if ('N' in value) return numberFits(value.N, columnType);
  if ('NS' in value) {
    if (columnType.type !== 'array') return false;
    for (const element of value.NS) if (!numberFits(element, columnType.elementType)) return false;
  }
  return true;
}
