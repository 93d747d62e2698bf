import {
  blobValue,
  type DuckDBMapEntry,
  type DuckDBValue,
  dateValue,
  decimalValue,
  listValue,
  mapValue,
  structValue,
  timestampTZValue,
  timestampValue,
} from '@duckdb/node-api';
import type { DeltaType } from '../delta/schema.ts';
import { LakeValueError } from './errors.ts';
import { parseDateText, parseDecimalText, parseTimestampText } from './lake-text.ts';
import type { LakeStruct, LakeValue } from './lake-value.ts';

/*
 * A lake value (lake-value.ts) as the DuckDB value of its Delta type, for the appender. Strict:
 * a value of the wrong JS type is an error, never coerced, so a long given as a JS number (already
 * rounded past 2^53) is refused instead of stored.
 */

/** Where a value sits, for error messages: the column path (`items[3].price`) and the row index. */
export interface ValuePosition {
  readonly column: string;
  readonly row: number | undefined;
}

const INTEGER_RANGES = {
  integer: [-2147483648, 2147483647],
  short: [-32768, 32767],
  byte: [-128, 127],
} as const;

function describe(value: LakeValue): string {
  if (value instanceof Uint8Array) return 'bytes';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Map) return 'a Map';
  if (typeof value === 'bigint') return `the bigint ${value}`;
  if (typeof value === 'object' && value !== null) return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function isStruct(value: LakeValue): value is LakeStruct {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Map)
  );
}

/**
 * The DuckDB value for `value` in a column of Delta type `type`. Pure.
 * @throws LakeValueError naming `at` when the value does not fit the type (see lake-value.ts).
 */
export function lakeValueToDuckdb(value: LakeValue, type: DeltaType, at: ValuePosition): DuckDBValue {
  if (value === null || value === undefined) return null;
  const wrong = (expected: string): LakeValueError =>
    new LakeValueError(at.column, at.row, `expected ${expected}, got ${describe(value)}`);
  switch (type.type) {
    case 'primitive':
      switch (type.name) {
        case 'string':
          if (typeof value !== 'string') throw wrong('a string');
          return value;
        case 'long':
          if (typeof value !== 'bigint') throw wrong('a bigint (longs never travel as JS numbers)');
          if (value < -(2n ** 63n) || value >= 2n ** 63n) throw wrong('a bigint within the 64-bit range');
          return value;
        case 'integer':
        case 'short':
        case 'byte': {
          const [low, high] = INTEGER_RANGES[type.name];
          if (typeof value !== 'number' || !Number.isInteger(value) || value < low || value > high) {
            throw wrong(`an integer number from ${low} to ${high}`);
          }
          return value;
        }
        case 'float':
        case 'double':
          if (typeof value !== 'number') throw wrong('a number');
          return value;
        case 'boolean':
          if (typeof value !== 'boolean') throw wrong('true or false');
          return value;
        case 'binary':
          if (!(value instanceof Uint8Array)) throw wrong('a Uint8Array');
          return blobValue(value);
        case 'date': {
          const days = typeof value === 'string' ? parseDateText(value) : undefined;
          if (days === undefined) throw wrong('a date as "YYYY-MM-DD"');
          return dateValue(days);
        }
        case 'timestamp':
        case 'timestamp_ntz': {
          const utc = type.name === 'timestamp';
          const micros =
            typeof value === 'string' ? parseTimestampText(value, utc ? 'required' : 'none') : undefined;
          if (micros === undefined) {
            throw wrong(
              utc
                ? 'ISO-8601 UTC text like 2026-11-23T00:00:00.123456Z'
                : 'text like 2026-11-23T00:00:00.123456',
            );
          }
          return utc ? timestampTZValue(micros) : timestampValue(micros);
        }
        default:
          throw new LakeValueError(at.column, at.row, `columns of type ${type.name} cannot hold values`);
      }
    case 'decimal': {
      if (typeof value === 'bigint')
        return decimalValue(value * 10n ** BigInt(type.scale), type.precision, type.scale);
      if (typeof value !== 'string') throw wrong('decimal text (a string)');
      const unscaled = parseDecimalText(value, type.precision, type.scale);
      if (typeof unscaled === 'string') throw new LakeValueError(at.column, at.row, unscaled);
      return decimalValue(unscaled, type.precision, type.scale);
    }
    case 'array': {
      if (!Array.isArray(value)) throw wrong('an array');
      const items = value as readonly LakeValue[];
      return listValue(
        items.map((item, index) =>
          lakeValueToDuckdb(item, type.elementType, { ...at, column: `${at.column}[${index}]` }),
        ),
      );
    }
    case 'map': {
      if (!(value instanceof Map)) throw wrong('a Map');
      const entries: DuckDBMapEntry[] = [];
      for (const [key, entry] of value as ReadonlyMap<LakeValue, LakeValue>) {
        if (key === null) throw new LakeValueError(at.column, at.row, 'a map key cannot be null');
        const keyAt = { ...at, column: `${at.column}[${String(key)}]` };
        entries.push({
          key: lakeValueToDuckdb(key, type.keyType, keyAt),
          value: lakeValueToDuckdb(entry, type.valueType, keyAt),
        });
      }
      return mapValue(entries);
    }
    case 'struct': {
      if (!isStruct(value)) throw wrong('an object');
      const known = new Set(type.fields.map((field) => field.name));
      const unknown = Object.keys(value).find((name) => !known.has(name));
      if (unknown !== undefined) throw wrong(`an object without the field "${unknown}" (not in the struct)`);
      const entries: Record<string, DuckDBValue> = {};
      for (const field of type.fields) {
        entries[field.name] = lakeValueToDuckdb(value[field.name] ?? null, field.type, {
          ...at,
          column: `${at.column}.${field.name}`,
        });
      }
      return structValue(entries);
    }
  }
}
