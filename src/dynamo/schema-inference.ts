import { type AttributeValue, attributeType, type DynamoType, type Item } from './attribute-value.ts';
import {
  arrayType,
  DECIMAL_PRECISION,
  decimalType,
  LAKE_BIGINT,
  LAKE_BINARY,
  LAKE_BOOLEAN,
  LAKE_STRING,
  type LakeType,
  lakeTypeSql,
} from './lake-type.ts';
import { numberShape } from './number.ts';

/*
 * Schema inference over a stream of items (DESIGN.md, Formats, "Lake table"): one column per
 * top-level attribute, typed by the rules in lake-type.ts. An attribute seen with two types (NULL
 * aside, which only makes a column nullable) becomes a string column of plain JSON, and the result
 * says which types were seen and how often; nothing is dropped.
 */

/** What the numbers of a column (N values, or NS elements) need. */
export interface NumberStats {
  /** Number values seen: one per N, one per NS element. */
  readonly count: number;
  readonly integerCount: number;
  /** Values with a fractional part. */
  readonly decimalCount: number;
  /** Every value is an integer within −2^63 … 2^63−1. */
  readonly allFitInt64: boolean;
  readonly maxPrecision: number;
  readonly maxScale: number;
  readonly maxIntegerDigits: number;
}

/**
 * How a column's values are written: `value` — as the lake type holds them (a string column of S
 * holds the string itself); `number-text` — numbers that fit no decimal(38, s), as canonical number
 * text; `plain-json` — each value as its plain JSON text (plain-json.ts): M, L, and conflicting types.
 */
export type ColumnEncoding = 'value' | 'number-text' | 'plain-json';

/** Two or more non-NULL types seen for one attribute, in first-seen order with their counts. */
export interface TypeConflict {
  readonly types: readonly { readonly type: DynamoType; readonly count: number }[];
  readonly reason: string;
}

export interface InferredColumn {
  readonly name: string;
  readonly lakeType: LakeType;
  readonly encoding: ColumnEncoding;
  /** Values seen per type, NULL included, in first-seen order. */
  readonly typeCounts: Readonly<Partial<Record<DynamoType, number>>>;
  /** Items that had the attribute (NULL included). */
  readonly presentCount: number;
  /** Items that did not have it. */
  readonly absentCount: number;
  readonly nullCount: number;
  /** Absent from some item, or NULL in some item. */
  readonly nullable: boolean;
  /** Present when N or NS was seen. */
  readonly numbers: NumberStats | null;
  readonly conflict: TypeConflict | null;
  /** Why the column got a type other than the direct one (conflict, numbers that fit no decimal, only NULL). */
  readonly notes: readonly string[];
}

export interface InferredSchema {
  readonly itemCount: number;
  /** In the order attributes were first seen. */
  readonly columns: readonly InferredColumn[];
}

/** One column of an `InferenceSummary`: what `SchemaInference` has accumulated for one attribute. */
export interface ColumnSummary {
  readonly name: string;
  /** Values seen per type, in first-seen order. */
  readonly typeCounts: readonly (readonly [DynamoType, number])[];
  readonly presentCount: number;
  readonly numbers: NumberStats | null;
}

/** The state of a `SchemaInference` as plain data; see `SchemaInference.summary`. */
export interface InferenceSummary {
  readonly itemCount: number;
  /** In first-seen order. */
  readonly columns: readonly ColumnSummary[];
}

interface MutableNumberStats {
  count: number;
  integerCount: number;
  decimalCount: number;
  allFitInt64: boolean;
  maxPrecision: number;
  maxScale: number;
  maxIntegerDigits: number;
}

interface ColumnAccumulator {
  readonly name: string;
  readonly typeCounts: Map<DynamoType, number>;
  presentCount: number;
  numbers: MutableNumberStats | null;
}

function observeNumber(accumulator: ColumnAccumulator, text: string): void {
  const shape = numberShape(text);
  let stats = accumulator.numbers;
  if (stats === null) {
    stats = {
      count: 0,
      integerCount: 0,
      decimalCount: 0,
      allFitInt64: true,
      maxPrecision: 0,
      maxScale: 0,
      maxIntegerDigits: 0,
    };
    accumulator.numbers = stats;
  }
  stats.count++;
  if (shape.isInteger) stats.integerCount++;
  else stats.decimalCount++;
  if (!shape.fitsInt64) stats.allFitInt64 = false;
  if (shape.precision > stats.maxPrecision) stats.maxPrecision = shape.precision;
  if (shape.scale > stats.maxScale) stats.maxScale = shape.scale;
  if (shape.integerDigits > stats.maxIntegerDigits) stats.maxIntegerDigits = shape.integerDigits;
}

const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`;

/**
 * The lake type of a column's numbers: bigint when all are integers that fit int64; else
 * decimal(38, s) with s the largest scale, when every value also has at most 38 − s integer digits;
 * else string (canonical number text), with the reason. Pure.
 */
export function numberLakeType(stats: NumberStats): {
  readonly type: LakeType;
  readonly note: string | null;
} {
  if (stats.decimalCount === 0 && stats.allFitInt64) return { type: LAKE_BIGINT, note: null };
  const scale = stats.maxScale;
  if (scale <= DECIMAL_PRECISION && stats.maxIntegerDigits <= DECIMAL_PRECISION - scale) {
    return { type: decimalType(scale), note: null };
  }
  return {
    type: LAKE_STRING,
    note:
      `numbers need scale ${scale} and ${plural(stats.maxIntegerDigits, 'integer digit')}, ` +
      `more than decimal(${DECIMAL_PRECISION},s) holds; stored as exact number text`,
  };
}

function finish(accumulator: ColumnAccumulator, itemCount: number): InferredColumn {
  const typeCounts: Partial<Record<DynamoType, number>> = {};
  const seen: { type: DynamoType; count: number }[] = [];
  for (const [type, count] of accumulator.typeCounts) {
    typeCounts[type] = count;
    if (type !== 'NULL') seen.push({ type, count });
  }
  const nullCount = accumulator.typeCounts.get('NULL') ?? 0;
  const absentCount = itemCount - accumulator.presentCount;
  const numbers = accumulator.numbers === null ? null : { ...accumulator.numbers };
  const notes: string[] = [];
  let lakeType: LakeType = LAKE_STRING;
  let encoding: ColumnEncoding = 'value';
  let conflict: TypeConflict | null = null;

  const only = seen.length === 1 ? (seen[0] as { type: DynamoType }).type : null;
  if (seen.length === 0) {
    notes.push('only NULL seen; typed string until a value arrives');
  } else if (only === 'N' || only === 'NS') {
    const inferred = numberLakeType(numbers as NumberStats);
    if (inferred.note !== null) notes.push(inferred.note);
    if (inferred.type.kind === 'string') encoding = 'number-text';
    lakeType = only === 'N' ? inferred.type : arrayType(inferred.type);
  } else if (only === 'S') {
    lakeType = LAKE_STRING;
  } else if (only === 'B') {
    lakeType = LAKE_BINARY;
  } else if (only === 'BOOL') {
    lakeType = LAKE_BOOLEAN;
  } else if (only === 'SS') {
    lakeType = arrayType(LAKE_STRING);
  } else if (only === 'BS') {
    lakeType = arrayType(LAKE_BINARY);
  } else if (only === 'M' || only === 'L') {
    encoding = 'plain-json';
  } else {
    encoding = 'plain-json';
    const counts = seen.map(({ type, count }) => `${type} in ${plural(count, 'item')}`);
    const reason =
      `seen as ${counts.slice(0, -1).join(', ')} and ${counts[counts.length - 1]}; ` +
      'typed string holding each value as plain JSON';
    conflict = { types: seen, reason };
    notes.push(reason);
  }
  return {
    name: accumulator.name,
    lakeType,
    encoding,
    typeCounts,
    presentCount: accumulator.presentCount,
    absentCount,
    nullCount,
    nullable: absentCount > 0 || nullCount > 0,
    numbers,
    conflict,
    notes,
  };
}

/**
 * Accumulates what the items of a table need from the lake schema. Feed it every item with
 * `observe`, then read `result()`; results can be read at any point and observing may go on.
 * Memory is one small record per distinct top-level attribute, whatever the item count.
 */
export class SchemaInference {
  readonly #columns = new Map<string, ColumnAccumulator>();
  #itemCount = 0;

  /**
   * Counts one item. Expects an item validated by `parseItem`.
   * @throws InvalidNumberError when an N or NS element is not a valid number.
   */
  observe(item: Item): void {
    this.#itemCount++;
    for (const name in item) {
      const value = item[name] as AttributeValue;
      let accumulator = this.#columns.get(name);
      if (accumulator === undefined) {
        accumulator = { name, typeCounts: new Map(), presentCount: 0, numbers: null };
        this.#columns.set(name, accumulator);
      }
      accumulator.presentCount++;
      const type = attributeType(value);
      accumulator.typeCounts.set(type, (accumulator.typeCounts.get(type) ?? 0) + 1);
      if ('N' in value) {
        observeNumber(accumulator, value.N);
      } else if ('NS' in value) {
        for (const element of value.NS) observeNumber(accumulator, element);
      }
    }
  }

  /** Items observed so far. */
  get itemCount(): number {
    return this.#itemCount;
  }

  /**
   * The accumulated state as plain data (it survives structured cloning, e.g. `postMessage`), for
   * `merge` into another inference. Does not change the state.
   */
  summary(): InferenceSummary {
    const columns: ColumnSummary[] = [];
    for (const accumulator of this.#columns.values()) {
      columns.push({
        name: accumulator.name,
        typeCounts: [...accumulator.typeCounts],
        presentCount: accumulator.presentCount,
        numbers: accumulator.numbers === null ? null : { ...accumulator.numbers },
      });
    }
    return { itemCount: this.#itemCount, columns };
  }

  /**
   * Adds the observations `summary` describes, as if its items had been observed now, one by one:
   * observing items A then B gives the same state (first-seen orders included) as observing A in
   * one inference, B in another, and merging the second's summary into the first.
   */
  merge(summary: InferenceSummary): void {
    this.#itemCount += summary.itemCount;
    for (const column of summary.columns) {
      let accumulator = this.#columns.get(column.name);
      if (accumulator === undefined) {
        accumulator = { name: column.name, typeCounts: new Map(), presentCount: 0, numbers: null };
        this.#columns.set(column.name, accumulator);
      }
      accumulator.presentCount += column.presentCount;
      for (const [type, count] of column.typeCounts) {
        accumulator.typeCounts.set(type, (accumulator.typeCounts.get(type) ?? 0) + count);
      }
      const numbers = column.numbers;
      if (numbers === null) continue;
      const stats = accumulator.numbers;
      if (stats === null) {
        accumulator.numbers = { ...numbers };
        continue;
      }
      stats.count += numbers.count;
      stats.integerCount += numbers.integerCount;
      stats.decimalCount += numbers.decimalCount;
      stats.allFitInt64 &&= numbers.allFitInt64;
      stats.maxPrecision = Math.max(stats.maxPrecision, numbers.maxPrecision);
      stats.maxScale = Math.max(stats.maxScale, numbers.maxScale);
      stats.maxIntegerDigits = Math.max(stats.maxIntegerDigits, numbers.maxIntegerDigits);
    }
  }

  /** The inferred columns so far, in first-seen order. Does not change the accumulated state. */
  result(): InferredSchema {
    const columns: InferredColumn[] = [];
    for (const accumulator of this.#columns.values()) columns.push(finish(accumulator, this.#itemCount));
    return { itemCount: this.#itemCount, columns };
  }
}

/** Infers the schema of a finite sequence of (validated) items; see `SchemaInference`. */
export function inferSchema(items: Iterable<Item>): InferredSchema {
  const inference = new SchemaInference();
  for (const item of items) inference.observe(item);
  return inference.result();
}

/** One line per column, `name: sql type` plus nullability and notes, for reports and logs. Pure. */
export function describeSchema(schema: InferredSchema): string[] {
  return schema.columns.map(
    (column) =>
      `${column.name}: ${lakeTypeSql(column.lakeType)}${column.nullable ? '' : ' not null'}` +
      (column.notes.length > 0 ? ` (${column.notes.join('; ')})` : ''),
  );
}
