import { DeltaLogCorruptError } from '../delta/errors.ts';
import type { DeltaType } from '../delta/schema.ts';
import { duckdbTypeOf } from './duckdb-type.ts';
import { parseDateText, parseDecimalText, parseTimestampText } from './lake-text.ts';
import { quoteLiteral } from './session.ts';

/*
 * A partition value of the log (PROTOCOL.md, "Partition Value Serialization") as a DuckDB constant
 * of the column's type. Values are checked here, exactly, rather than left to a DuckDB cast that
 * would round a decimal with too many digits. The result is SQL text for a view definition, where
 * DuckDB takes no parameters; every value is a quoted literal.
 */

const INTEGER = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|NaN|Infinity|inf|nan)$/i;

function invalid(column: string, text: string, type: DeltaType, file: string): DeltaLogCorruptError {
  return new DeltaLogCorruptError(
    `The partition value ${JSON.stringify(text)} of column "${column}" in the add of ${file} is not a valid ${duckdbTypeOf(type)} (PROTOCOL.md, "Partition Value Serialization").`,
  );
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/**
 * The SQL constant for the serialized partition value `text` (null, or `''`, is NULL) of the column
 * `column` of type `type`, for the data file `file` (for messages). Timestamps without a zone are
 * read as UTC (ddb-lake and Spark in UTC write them so); binary values are the UTF-8 bytes of the
 * text, as Spark writes them. Pure.
 * @throws DeltaLogCorruptError when the text is not a value of the type.
 */
export function partitionValueSql(
  text: string | null | undefined,
  type: DeltaType,
  column: string,
  file: string,
): string {
  const sqlType = duckdbTypeOf(type);
  if (text === null || text === undefined || text === '') return `CAST(NULL AS ${sqlType})`;
  const cast = (value: string): string => `CAST(${quoteLiteral(value)} AS ${sqlType})`;
  switch (type.type) {
    case 'decimal': {
      const unscaled = parseDecimalText(text, type.precision, type.scale);
      if (typeof unscaled === 'string') throw invalid(column, text, type, file);
      return cast(text.trim());
    }
    case 'primitive':
      switch (type.name) {
        case 'string':
          return quoteLiteral(text);
        case 'long':
        case 'integer':
        case 'short':
        case 'byte':
          if (!INTEGER.test(text)) throw invalid(column, text, type, file);
          return cast(text);
        case 'float':
        case 'double':
          if (!FLOAT.test(text)) throw invalid(column, text, type, file);
          return cast(text);
        case 'boolean': {
          const lower = text.toLowerCase();
          if (lower !== 'true' && lower !== 'false') throw invalid(column, text, type, file);
          return lower === 'true' ? 'TRUE' : 'FALSE';
        }
        case 'date':
          if (parseDateText(text) === undefined) throw invalid(column, text, type, file);
          return cast(text);
        case 'timestamp':
        case 'timestamp_ntz':
          if (parseTimestampText(text, type.name === 'timestamp' ? 'optional' : 'none') === undefined) {
            throw invalid(column, text, type, file);
          }
          return cast(text);
        case 'binary':
          return `unhex(${quoteLiteral(hex(new TextEncoder().encode(text)))})`;
        default:
          throw invalid(column, text, type, file);
      }
    default:
      throw invalid(column, text, type, file);
  }
}
