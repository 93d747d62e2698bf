import { DdbLakeError } from '../errors.ts';

/*
 * The column types of the lake table (DESIGN.md, Formats, "Lake table"), as small immutable values.
 * Only types that need no Delta reader feature: no VARIANT, no TIMESTAMP_NTZ.
 *
 *   S → string   N → bigint | decimal(38, s ≤ 18)   B → binary   BOOL → boolean
 *   SS → array<string>   NS → array<number type>   BS → array<binary>   M, L → string (plain JSON)
 *
 * (Tables written before scale was capped may have an N column of string, number text, or a decimal
 * with a larger scale; they keep them: columns are never retyped.)
 *
 * `timestamp` (microseconds, UTC) is not an attribute type: it types the `_ddb_ts` column.
 */

export type LakeType =
  | { readonly kind: 'string' }
  | { readonly kind: 'bigint' }
  | { readonly kind: 'decimal'; readonly precision: 38; readonly scale: number }
  | { readonly kind: 'binary' }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'timestamp' }
  | { readonly kind: 'array'; readonly element: LakeType };

/** The precision of every decimal column: DynamoDB's 38 significant digits. */
export const DECIMAL_PRECISION = 38;

/**
 * The largest scale schema inference gives a decimal column (DESIGN.md, "Lake table"): at least 20
 * integer digits stay, room for sums. Engines type `sum()` of decimal(38, s) as decimal(38, s), so a
 * column of decimal(38,37) overflows at a sum of 10 (and DuckDB 1.5 has returned a wrong sum then).
 * Numbers that need more scale go to the conflict column as exact text.
 */
export const MAX_DECIMAL_SCALE = 18;

export const LAKE_STRING: LakeType = Object.freeze({ kind: 'string' });
export const LAKE_BIGINT: LakeType = Object.freeze({ kind: 'bigint' });
export const LAKE_BINARY: LakeType = Object.freeze({ kind: 'binary' });
export const LAKE_BOOLEAN: LakeType = Object.freeze({ kind: 'boolean' });
export const LAKE_TIMESTAMP: LakeType = Object.freeze({ kind: 'timestamp' });

/**
 * decimal(38, scale).
 * @throws DdbLakeError (code INVALID_LAKE_TYPE) when scale is not an integer from 0 to 38.
 */
export function decimalType(scale: number): LakeType {
  if (!Number.isInteger(scale) || scale < 0 || scale > DECIMAL_PRECISION) {
    throw new DdbLakeError(
      'INVALID_LAKE_TYPE',
      `decimal scale must be an integer from 0 to ${DECIMAL_PRECISION}, got ${scale}`,
    );
  }
  return Object.freeze({ kind: 'decimal', precision: DECIMAL_PRECISION, scale });
}

/** array<element>. */
export function arrayType(element: LakeType): LakeType {
  return Object.freeze({ kind: 'array', element });
}

/**
 * The SQL name of a lake type as Spark, Databricks and DuckDB spell it: `string`, `bigint`,
 * `decimal(38,2)`, `binary`, `boolean`, `array<string>`. Pure.
 */
export function lakeTypeSql(type: LakeType): string {
  switch (type.kind) {
    case 'decimal':
      return `decimal(${type.precision},${type.scale})`;
    case 'array':
      return `array<${lakeTypeSql(type.element)}>`;
    default:
      return type.kind;
  }
}

/** True when both describe the same column type. Pure. */
export function lakeTypeEquals(a: LakeType, b: LakeType): boolean {
  return lakeTypeSql(a) === lakeTypeSql(b);
}
