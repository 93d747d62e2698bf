import { DeltaUnsupportedFeatureError } from '../delta/errors.ts';
import type { DeltaType } from '../delta/schema.ts';
import { quoteIdentifier } from './session.ts';

/*
 * Delta types as DuckDB spells them. DuckDB's TIMESTAMPTZ is written to Parquet as
 * TIMESTAMP(isAdjustedToUTC = true, MICROS) and its DECIMAL(p,s) as Parquet DECIMAL, which is what
 * PROTOCOL.md ("Delta Data Type to Parquet Type Mappings") asks of `timestamp` and `decimal`.
 */

/**
 * The DuckDB SQL type of a Delta type (PROTOCOL.md, "Schema Serialization Format"): long→BIGINT,
 * integer→INTEGER, short→SMALLINT, byte→TINYINT, float→FLOAT, double→DOUBLE, boolean→BOOLEAN,
 * binary→BLOB, date→DATE, timestamp→TIMESTAMPTZ, timestamp_ntz→TIMESTAMP, decimal(p,s)→DECIMAL(p,s),
 * string→VARCHAR, array→T[], map→MAP(K, V), struct→STRUCT("name" T, …). Pure.
 * @throws DeltaUnsupportedFeatureError for `void` and `variant`, which this data plane does not hold.
 */
export function duckdbTypeOf(type: DeltaType): string {
  switch (type.type) {
    case 'primitive':
      switch (type.name) {
        case 'string':
          return 'VARCHAR';
        case 'long':
          return 'BIGINT';
        case 'integer':
          return 'INTEGER';
        case 'short':
          return 'SMALLINT';
        case 'byte':
          return 'TINYINT';
        case 'float':
          return 'FLOAT';
        case 'double':
          return 'DOUBLE';
        case 'boolean':
          return 'BOOLEAN';
        case 'binary':
          return 'BLOB';
        case 'date':
          return 'DATE';
        case 'timestamp':
          return 'TIMESTAMPTZ';
        case 'timestamp_ntz':
          return 'TIMESTAMP';
        case 'void':
        case 'variant':
          throw new DeltaUnsupportedFeatureError(
            'read',
            type.name === 'variant' ? 'variantType' : 'void',
            `Columns of type ${type.name} are not supported by ddb-lake's data plane; drop the column or read the table with Spark.`,
          );
      }
      break;
    case 'decimal':
      return `DECIMAL(${type.precision},${type.scale})`;
    case 'array':
      return `${duckdbTypeOf(type.elementType)}[]`;
    case 'map':
      return `MAP(${duckdbTypeOf(type.keyType)}, ${duckdbTypeOf(type.valueType)})`;
    case 'struct':
      return `STRUCT(${type.fields.map((f) => `${quoteIdentifier(f.name)} ${duckdbTypeOf(f.type)}`).join(', ')})`;
  }
}
