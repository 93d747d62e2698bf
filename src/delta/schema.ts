import type { LakeType } from '../dynamo/lake-type.ts';
import { DeltaLogCorruptError } from './errors.ts';

/*
 * The table schema as Delta records it (PROTOCOL.md, "Schema Serialization Format"): a subset of
 * Spark SQL's JSON schema. Readers meet every type Spark writes; ddb-lake writes only the lake
 * types (DESIGN.md), none of which needs a reader feature.
 */

export type PrimitiveTypeName =
  | 'string'
  | 'long'
  | 'integer'
  | 'short'
  | 'byte'
  | 'float'
  | 'double'
  | 'boolean'
  | 'binary'
  | 'date'
  | 'timestamp'
  | 'timestamp_ntz'
  | 'void'
  | 'variant';

const PRIMITIVE_NAMES: ReadonlySet<string> = new Set<PrimitiveTypeName>([
  'string',
  'long',
  'integer',
  'short',
  'byte',
  'float',
  'double',
  'boolean',
  'binary',
  'date',
  'timestamp',
  'timestamp_ntz',
  'void',
  'variant',
]);

export type DeltaType =
  | { readonly type: 'primitive'; readonly name: PrimitiveTypeName }
  | { readonly type: 'decimal'; readonly precision: number; readonly scale: number }
  | { readonly type: 'array'; readonly elementType: DeltaType; readonly containsNull: boolean }
  | {
      readonly type: 'map';
      readonly keyType: DeltaType;
      readonly valueType: DeltaType;
      readonly valueContainsNull: boolean;
    }
  | StructType;

export interface StructField {
  readonly name: string;
  readonly type: DeltaType;
  readonly nullable: boolean;
  /** Column metadata, kept as read (`delta.columnMapping.*`, `delta.invariants`, …). */
  readonly metadata: Readonly<Record<string, unknown>>;
}

export interface StructType {
  readonly type: 'struct';
  readonly fields: readonly StructField[];
}

const DECIMAL_PATTERN = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/;

function fail(source: string, what: string): DeltaLogCorruptError {
  return new DeltaLogCorruptError(`${source}: the table schema (metaData.schemaString) is invalid: ${what}`, {
    file: source,
  });
}

function parseType(value: unknown, source: string, path: string): DeltaType {
  if (typeof value === 'string') {
    if (PRIMITIVE_NAMES.has(value)) return { type: 'primitive', name: value as PrimitiveTypeName };
    if (value === 'decimal') return { type: 'decimal', precision: 10, scale: 0 };
    const decimal = DECIMAL_PATTERN.exec(value);
    if (decimal) {
      const precision = Number(decimal[1]);
      const scale = Number(decimal[2]);
      if (precision < 1 || precision > 38 || scale > precision) {
        throw fail(source, `${path}: ${value} is not a valid decimal (precision 1 to 38, scale ≤ precision)`);
      }
      return { type: 'decimal', precision, scale };
    }
    throw fail(source, `${path}: unknown type "${value}"`);
  }
  if (typeof value !== 'object' || value === null)
    throw fail(source, `${path}: a type must be a string or an object`);
  const object = value as Record<string, unknown>;
  switch (object.type) {
    case 'struct':
      return parseStruct(object, source, path);
    case 'array':
      return {
        type: 'array',
        elementType: parseType(object.elementType, source, `${path}.element`),
        containsNull: object.containsNull !== false,
      };
    case 'map':
      return {
        type: 'map',
        keyType: parseType(object.keyType, source, `${path}.key`),
        valueType: parseType(object.valueType, source, `${path}.value`),
        valueContainsNull: object.valueContainsNull !== false,
      };
    default:
      throw fail(source, `${path}: unknown type ${JSON.stringify(object.type)}`);
  }
}

function parseStruct(object: Record<string, unknown>, source: string, path: string): StructType {
  if (!Array.isArray(object.fields)) throw fail(source, `${path || 'the schema'}: a struct needs "fields"`);
  const fields = object.fields.map((field: unknown, index: number): StructField => {
    if (typeof field !== 'object' || field === null) throw fail(source, `${path}[${index}] is not an object`);
    const f = field as Record<string, unknown>;
    if (typeof f.name !== 'string') throw fail(source, `${path}[${index}] has no name`);
    const fieldPath = path === '' ? f.name : `${path}.${f.name}`;
    const metadata = f.metadata;
    return {
      name: f.name,
      type: parseType(f.type, source, fieldPath),
      nullable: f.nullable !== false,
      metadata:
        typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata)
          ? (metadata as Record<string, unknown>)
          : {},
    };
  });
  return { type: 'struct', fields };
}

/**
 * The schema of `metaData.schemaString`.
 * @throws DeltaLogCorruptError naming `source` (the log file) for text that is not a Spark JSON struct.
 */
export function parseSchemaString(text: string, source: string): StructType {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw fail(source, `not JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || (value as Record<string, unknown>).type !== 'struct') {
    throw fail(source, 'the top level must be {"type":"struct","fields":[…]}');
  }
  return parseStruct(value as Record<string, unknown>, source, '');
}

function typeJson(type: DeltaType): unknown {
  switch (type.type) {
    case 'primitive':
      return type.name;
    case 'decimal':
      return `decimal(${type.precision},${type.scale})`;
    case 'array':
      return { type: 'array', elementType: typeJson(type.elementType), containsNull: type.containsNull };
    case 'map':
      return {
        type: 'map',
        keyType: typeJson(type.keyType),
        valueType: typeJson(type.valueType),
        valueContainsNull: type.valueContainsNull,
      };
    case 'struct':
      return structJson(type);
  }
}

function structJson(struct: StructType): unknown {
  return {
    type: 'struct',
    fields: struct.fields.map((field) => ({
      name: field.name,
      type: typeJson(field.type),
      nullable: field.nullable,
      metadata: field.metadata,
    })),
  };
}

/**
 * `metaData.schemaString` for a schema: Spark's JSON, `metadata: {}` on every field, decimals
 * always as `decimal(p,s)`. Deterministic.
 */
export function serializeSchema(schema: StructType): string {
  return JSON.stringify(structJson(schema));
}

/** The Delta type of a lake type (DESIGN.md, "Lake table"): bigint is `long`, arrays may hold nulls. */
export function deltaTypeOfLakeType(type: LakeType): DeltaType {
  switch (type.kind) {
    case 'string':
      return { type: 'primitive', name: 'string' };
    case 'bigint':
      return { type: 'primitive', name: 'long' };
    case 'decimal':
      return { type: 'decimal', precision: type.precision, scale: type.scale };
    case 'binary':
      return { type: 'primitive', name: 'binary' };
    case 'boolean':
      return { type: 'primitive', name: 'boolean' };
    case 'timestamp':
      return { type: 'primitive', name: 'timestamp' };
    case 'array':
      return { type: 'array', elementType: deltaTypeOfLakeType(type.element), containsNull: true };
  }
}

/** The Spark SQL spelling of a Delta type, for messages and `table describe`: `decimal(38,2)`, `array<string>`. */
export function deltaTypeText(type: DeltaType): string {
  switch (type.type) {
    case 'primitive':
      return type.name === 'long' ? 'bigint' : type.name === 'integer' ? 'int' : type.name;
    case 'decimal':
      return `decimal(${type.precision},${type.scale})`;
    case 'array':
      return `array<${deltaTypeText(type.elementType)}>`;
    case 'map':
      return `map<${deltaTypeText(type.keyType)},${deltaTypeText(type.valueType)}>`;
    case 'struct':
      return `struct<${type.fields.map((f) => `${f.name}:${deltaTypeText(f.type)}`).join(',')}>`;
  }
}

/** True when both are the same type (nullability of elements included). */
export function deltaTypeEquals(a: DeltaType, b: DeltaType): boolean {
  return JSON.stringify(typeJson(a)) === JSON.stringify(typeJson(b));
}
