import { columnNameKey, invalidColumnNameReason } from './column-names.ts';
import { DeltaInvalidWriteError } from './errors.ts';
import {
  type DeltaType,
  deltaTypeEquals,
  deltaTypeText,
  type StructField,
  type StructType,
} from './schema.ts';

/*
 * Which schemas ddb-lake writes (PROTOCOL.md, "Schema Serialization Format", "Consistency Between
 * Table Metadata and Data Files"; DESIGN.md rule 5) and which schema changes: column names Spark
 * accepts, no type that needs a reader feature, and evolution by adding nullable columns only, so
 * every data file already in the table stays readable (its missing columns read as null).
 */

/** Types that need a table feature (timestamp_ntz, variant) or that Parquet cannot hold (void). */
const UNWRITABLE_TYPES: ReadonlySet<string> = new Set(['timestamp_ntz', 'variant', 'void']);

function unwritableType(type: DeltaType): string | undefined {
  switch (type.type) {
    case 'primitive':
      return UNWRITABLE_TYPES.has(type.name) ? type.name : undefined;
    case 'decimal':
      return undefined;
    case 'array':
      return unwritableType(type.elementType);
    case 'map':
      return unwritableType(type.keyType) ?? unwritableType(type.valueType);
    case 'struct':
      for (const field of type.fields) {
        const found = unwritableType(field.type);
        if (found !== undefined) return found;
      }
      return undefined;
  }
}

function checkFields(
  fields: readonly StructField[],
  prefix: string,
  seen: Map<string, string> = new Map(),
): void {
  for (const field of fields) {
    const path = prefix === '' ? field.name : `${prefix}.${field.name}`;
    const reason = invalidColumnNameReason(field.name);
    if (reason !== undefined) {
      throw new DeltaInvalidWriteError(
        `The column name ${JSON.stringify(path)} cannot be written: ${reason}. Map attribute names to column names with assignColumnNames.`,
      );
    }
    const clash = seen.get(columnNameKey(field.name));
    if (clash !== undefined) {
      throw new DeltaInvalidWriteError(
        `The columns ${JSON.stringify(clash)} and ${JSON.stringify(path)} differ only in case, which Spark refuses. Map attribute names to column names with assignColumnNames.`,
      );
    }
    seen.set(columnNameKey(field.name), path);
    const deltaKey = Object.keys(field.metadata).find((key) => key.startsWith('delta.'));
    if (deltaKey !== undefined) {
      throw new DeltaInvalidWriteError(
        `The column ${JSON.stringify(path)} carries the metadata ${deltaKey}, which needs a table feature ddb-lake does not write.`,
      );
    }
    const bad = unwritableType(field.type);
    if (bad !== undefined) {
      throw new DeltaInvalidWriteError(
        `The column ${JSON.stringify(path)} has the type ${deltaTypeText(field.type)}; ddb-lake does not write ${bad} (it needs a reader feature or has no Parquet form).`,
      );
    }
    let inner = field.type;
    while (inner.type === 'array' || inner.type === 'map') {
      inner = inner.type === 'array' ? inner.elementType : inner.valueType;
    }
    if (inner.type === 'struct') checkFields(inner.fields, path);
  }
}

/**
 * Checks a schema ddb-lake is about to write (a new table, or the new fields of a schema change):
 * names Spark accepts, unique ignoring case, no `delta.*` column metadata, no timestamp_ntz, variant
 * or void. Partition columns must be top-level columns of a primitive or decimal type, each once.
 * @throws DeltaInvalidWriteError naming the column.
 */
export function assertSchemaWritable(schema: StructType, partitionColumns: readonly string[]): void {
  checkFields(schema.fields, '');
  const seen = new Set<string>();
  for (const column of partitionColumns) {
    const field = schema.fields.find((f) => f.name === column);
    if (field === undefined) {
      throw new DeltaInvalidWriteError(
        `The partition column ${JSON.stringify(column)} is not a column of the schema (${schema.fields.map((f) => f.name).join(', ')}).`,
      );
    }
    if (field.type.type !== 'primitive' && field.type.type !== 'decimal') {
      throw new DeltaInvalidWriteError(
        `The partition column ${JSON.stringify(column)} has the type ${deltaTypeText(field.type)}; partition columns must be of a primitive type.`,
      );
    }
    if (seen.has(column))
      throw new DeltaInvalidWriteError(`The partition column ${JSON.stringify(column)} is listed twice.`);
    seen.add(column);
  }
}

/**
 * Checks a schema change: every column of `before` is still in `after`, in the same place, with the
 * same type, nullability and metadata; columns `after` adds come after them, are nullable, and
 * pass the checks of `assertSchemaWritable` (their names also against the existing columns).
 * Partition columns cannot change, so they stay valid.
 * @throws DeltaInvalidWriteError naming the column dropped, retyped, reordered or added not nullable.
 */
export function assertSchemaEvolution(before: StructType, after: StructType): void {
  for (const [index, old] of before.fields.entries()) {
    const now = after.fields[index];
    const found = after.fields.find((f) => f.name === old.name);
    if (found === undefined) {
      throw new DeltaInvalidWriteError(
        `The schema change drops the column ${JSON.stringify(old.name)}; ddb-lake only adds columns (dropping one needs column mapping, which it does not write).`,
      );
    }
    if (now === undefined || now.name !== old.name) {
      throw new DeltaInvalidWriteError(
        `The schema change moves the column ${JSON.stringify(old.name)}; new columns go after the existing ones.`,
      );
    }
    if (!deltaTypeEquals(old.type, now.type)) {
      throw new DeltaInvalidWriteError(
        `The schema change retypes the column ${JSON.stringify(old.name)} from ${deltaTypeText(old.type)} to ${deltaTypeText(now.type)}; ddb-lake only adds columns (files already written hold the old type).`,
      );
    }
    if (old.nullable !== now.nullable) {
      throw new DeltaInvalidWriteError(
        `The schema change makes the column ${JSON.stringify(old.name)} ${now.nullable ? 'nullable' : 'not nullable'}; ddb-lake only adds columns.`,
      );
    }
    if (JSON.stringify(old.metadata) !== JSON.stringify(now.metadata)) {
      throw new DeltaInvalidWriteError(
        `The schema change alters the metadata of the column ${JSON.stringify(old.name)}.`,
      );
    }
  }
  const added = after.fields.slice(before.fields.length);
  for (const field of added) {
    if (!field.nullable) {
      throw new DeltaInvalidWriteError(
        `The schema change adds the column ${JSON.stringify(field.name)} as not nullable; the rows already in the table have no value for it, so it must be nullable.`,
      );
    }
  }
  // Existing columns are the table's own (a Spark table may carry delta.* metadata there and keep
  // it); only the added ones are checked, against every name the table already has.
  const seen = new Map(before.fields.map((field) => [columnNameKey(field.name), field.name] as const));
  checkFields(added, '', seen);
}
