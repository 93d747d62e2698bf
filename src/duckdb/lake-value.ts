/*
 * The JS representation of one lake value (a cell of a Delta table read or written through DuckDB).
 * Exact by construction: nothing numeric that can exceed 2^53 or carries decimal digits passes
 * through a JS `number`.
 *
 *   Delta type              LakeValue
 *   ----------------------  -----------------------------------------------------------------
 *   any type, null          null
 *   string                  string
 *   long                    bigint
 *   integer, short, byte    number (always a safe integer)
 *   float, double           number (NaN and ±Infinity included)
 *   decimal(p,s)            string: exact decimal text, e.g. "-12.50" (written back with `s` digits)
 *   boolean                 boolean
 *   binary                  Uint8Array
 *   date                    string "YYYY-MM-DD"
 *   timestamp               string: ISO-8601 UTC with microseconds, "2026-11-23T00:00:00.123456Z"
 *   timestamp_ntz           string: "2026-11-23T00:00:00.123456" (no zone)
 *   array<T>                readonly LakeValue[]
 *   map<K,V>                ReadonlyMap<LakeValue, LakeValue>
 *   struct<…>               { readonly [field: string]: LakeValue } (a plain object)
 */

export type LakeValue =
  | null
  | string
  | bigint
  | number
  | boolean
  | Uint8Array
  | readonly LakeValue[]
  | ReadonlyMap<LakeValue, LakeValue>
  | LakeStruct;

export interface LakeStruct {
  readonly [field: string]: LakeValue;
}

/** One row: column name → value. */
export type LakeRow = Readonly<Record<string, LakeValue>>;
