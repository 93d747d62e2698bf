import { type DuckDBType, DuckDBTypeId } from '@duckdb/node-api';
import { type ColumnMappingMode, physicalName } from '../delta/reader-features.ts';
import type { DeltaType, StructField } from '../delta/schema.ts';
import { duckdbTypeOf } from './duckdb-type.ts';
import { quoteIdentifier, quoteLiteral } from './session.ts';

/*
 * How one data file's columns become the table's logical columns (PROTOCOL.md, "Column Mapping",
 * "Schema Evolution"): each field is looked up in the file by its physical name (the display name
 * when the table does not map columns), cast to the table's type, and NULL of that type when the
 * file has no such column (it was added after the file was written). Under column mapping, structs
 * are rebuilt field by field, since their fields too carry physical names.
 */

/** A file's columns by name, as DuckDB reads them. */
export type FileColumns = ReadonlyMap<string, DuckDBType>;

/** A name → type map of a file's (or struct's) columns; names compared exactly, then ignoring case. */
export function fileColumnsOf(names: readonly string[], types: readonly DuckDBType[]): FileColumns {
  return new Map(names.map((name, index) => [name, types[index] as DuckDBType]));
}

function lookup(columns: FileColumns, name: string): { name: string; type: DuckDBType } | undefined {
  const exact = columns.get(name);
  if (exact !== undefined) return { name, type: exact };
  // Spark resolves Parquet columns ignoring case, and Delta forbids names that differ only in case.
  const lower = name.toLowerCase();
  for (const [candidate, type] of columns) {
    if (candidate.toLowerCase() === lower) return { name: candidate, type };
  }
  return undefined;
}

function hasStruct(type: DeltaType): boolean {
  switch (type.type) {
    case 'struct':
      return true;
    case 'array':
      return hasStruct(type.elementType);
    case 'map':
      return hasStruct(type.keyType) || hasStruct(type.valueType);
    default:
      return false;
  }
}

function nullOf(type: DeltaType): string {
  return `CAST(NULL AS ${duckdbTypeOf(type)})`;
}

/**
 * `expression` (of DuckDB type `fileType`) as a value of the table type `type`. Without column
 * mapping a cast does it all (DuckDB casts structs by field name and fills missing fields with
 * NULL); with it, structs are rebuilt from their physical field names, also inside lists and maps.
 */
function convert(
  expression: string,
  fileType: DuckDBType,
  type: DeltaType,
  mode: ColumnMappingMode,
  depth: number,
): string {
  if (mode === 'none' || !hasStruct(type)) return `CAST(${expression} AS ${duckdbTypeOf(type)})`;
  const variable = `x${depth}`;
  if (type.type === 'struct' && fileType.typeId === DuckDBTypeId.STRUCT) {
    const columns = fileColumnsOf(fileType.entryNames, fileType.entryTypes);
    const fields = type.fields.map((field) => {
      const found = lookup(columns, physicalName(field, mode));
      const value =
        found === undefined
          ? nullOf(field.type)
          : convert(
              `struct_extract(${expression}, ${quoteLiteral(found.name)})`,
              found.type,
              field.type,
              mode,
              depth + 1,
            );
      return `${quoteIdentifier(field.name)} := ${value}`;
    });
    return `CASE WHEN ${expression} IS NULL THEN ${nullOf(type)} ELSE struct_pack(${fields.join(', ')}) END`;
  }
  if (
    type.type === 'array' &&
    (fileType.typeId === DuckDBTypeId.LIST || fileType.typeId === DuckDBTypeId.ARRAY)
  ) {
    const element = convert(variable, fileType.valueType, type.elementType, mode, depth + 1);
    return `CAST(list_transform(${expression}, lambda ${variable}: ${element}) AS ${duckdbTypeOf(type)})`;
  }
  if (type.type === 'map' && fileType.typeId === DuckDBTypeId.MAP) {
    const key = convert(`${variable}.key`, fileType.keyType, type.keyType, mode, depth + 1);
    const value = convert(`${variable}.value`, fileType.valueType, type.valueType, mode, depth + 1);
    return `CAST(map_from_entries(list_transform(map_entries(${expression}), lambda ${variable}: struct_pack(key := ${key}, value := ${value}))) AS ${duckdbTypeOf(type)})`;
  }
  return `CAST(${expression} AS ${duckdbTypeOf(type)})`;
}

/**
 * The SELECT expression, aliased with the field's logical name, that reads table field `field`
 * from a file with columns `columns`: the file's column cast to the field's type, or NULL of
 * that type when the file lacks it. Pure.
 * @throws DeltaUnsupportedFeatureError when a mapped field has no physical name.
 */
export function columnProjection(field: StructField, columns: FileColumns, mode: ColumnMappingMode): string {
  const found = lookup(columns, physicalName(field, mode));
  const value =
    found === undefined
      ? nullOf(field.type)
      : convert(quoteIdentifier(found.name), found.type, field.type, mode, 0);
  return `${value} AS ${quoteIdentifier(field.name)}`;
}
