import {
  type DuckDBArrayValue,
  type DuckDBBlobValue,
  type DuckDBDateValue,
  type DuckDBDecimalValue,
  type DuckDBListValue,
  type DuckDBMapValue,
  type DuckDBStructValue,
  type DuckDBTimestampTZValue,
  type DuckDBTimestampValue,
  type DuckDBType,
  DuckDBTypeId,
  type DuckDBValue,
} from '@duckdb/node-api';
import { LakeValueError } from './errors.ts';
import { formatDate, formatDecimal, formatTimestampMicros } from './lake-text.ts';
import type { LakeValue } from './lake-value.ts';

/*
 * A DuckDB value back as a lake value (lake-value.ts), by the DuckDB type of its column: exact for
 * every type a Delta column maps to (duckdb-type.ts). Types with no lake form are refused.
 */

function finiteOrThrow(finite: boolean, column: string, row: number | undefined, what: string): void {
  if (!finite) throw new LakeValueError(column, row, `the ${what} is infinite, which no Delta type holds`);
}

/**
 * The lake value of `value`, read from a column of DuckDB type `type`. Pure.
 * @throws LakeValueError naming `column` and `row` for a type without a lake form (INTERVAL, UUID,
 * TIME, HUGEINT, …) or an infinite date or timestamp.
 */
export function duckdbValueToLake(
  value: DuckDBValue,
  type: DuckDBType,
  column: string,
  row?: number,
): LakeValue {
  if (value === null) return null;
  switch (type.typeId) {
    case DuckDBTypeId.VARCHAR:
    case DuckDBTypeId.BOOLEAN:
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      return value as string | boolean | bigint | number;
    case DuckDBTypeId.DECIMAL: {
      const decimal = value as DuckDBDecimalValue;
      return formatDecimal(decimal.value, decimal.scale);
    }
    case DuckDBTypeId.BLOB:
      return new Uint8Array((value as DuckDBBlobValue).bytes);
    case DuckDBTypeId.DATE: {
      const date = value as DuckDBDateValue;
      finiteOrThrow(date.isFinite, column, row, 'date');
      return formatDate(date.days);
    }
    case DuckDBTypeId.TIMESTAMP_TZ:
    case DuckDBTypeId.TIMESTAMP: {
      const timestamp = value as DuckDBTimestampTZValue | DuckDBTimestampValue;
      finiteOrThrow(timestamp.isFinite, column, row, 'timestamp');
      return formatTimestampMicros(timestamp.micros, type.typeId === DuckDBTypeId.TIMESTAMP_TZ);
    }
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY: {
      const items = (value as DuckDBListValue | DuckDBArrayValue).items;
      return items.map((item, index) => duckdbValueToLake(item, type.valueType, `${column}[${index}]`, row));
    }
    case DuckDBTypeId.MAP: {
      const map = new Map<LakeValue, LakeValue>();
      for (const entry of (value as DuckDBMapValue).entries) {
        const key = duckdbValueToLake(entry.key, type.keyType, `${column}.key`, row);
        map.set(key, duckdbValueToLake(entry.value, type.valueType, `${column}[${String(key)}]`, row));
      }
      return map;
    }
    case DuckDBTypeId.STRUCT: {
      const entries = (value as DuckDBStructValue).entries;
      const result: Record<string, LakeValue> = {};
      type.entryNames.forEach((name, index) => {
        result[name] = duckdbValueToLake(
          entries[name] ?? null,
          type.entryTypes[index] as DuckDBType,
          `${column}.${name}`,
          row,
        );
      });
      return result;
    }
    case DuckDBTypeId.SQLNULL:
      return null;
    default:
      throw new LakeValueError(
        column,
        row,
        `DuckDB type ${type.toString()} has no lake representation; cast it in the query`,
      );
  }
}
