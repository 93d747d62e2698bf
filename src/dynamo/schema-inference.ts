import {
  type AttributeValue,
  attributeType,
  DYNAMO_TYPES,
  type DynamoType,
  type Item,
} from './attribute-value.ts';
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
  MAX_DECIMAL_SCALE,
} from './lake-type.ts';
import { type NumberShape, numberShape } from './number.ts';

/*
 * Schema inference over a stream of items (DESIGN.md, Formats, "Lake table"): one column per
 * top-level attribute, and one type per column. The column holds the attribute's dominant type, the
 * type of the most values (a tie goes to the type DynamoDB lists first: S, N, B, BOOL, SS, NS, BS,
 * L, M), typed by the rules in lake-type.ts; values of every other type, NULL included (a null
 * cell means "absent"), go to conflict columns, which the caller names and counts from the result.
 * A number column is bigint or decimal(38, s) with s ≤ 18, whichever holds the most of the
 * attribute's values (ties: bigint, then the smallest scale); numbers it does not hold go to the
 * conflict column of N (or NS) as exact text. The result says which types were seen and how often;
 * nothing is dropped.
 */

/**
 * What the numbers of one type of values (N values, or NS sets) need. The counts of values a column
 * type holds add up over parts of a batch, so summaries of several readers merge by addition.
 */
export interface NumberStats {
  /** Numbers seen: one per N, one per NS element. */
  readonly count: number;
  readonly integerCount: number;
  /** Numbers with a fractional part. */
  readonly decimalCount: number;
  /** Every number is an integer within −2^63 … 2^63−1. */
  readonly allFitInt64: boolean;
  readonly maxPrecision: number;
  readonly maxScale: number;
  readonly maxIntegerDigits: number;
  /** Values seen: one per N, one per NS set. */
  readonly values: number;
  /** Values a bigint column holds: integers within int64 (a set: every element). */
  readonly int64Values: number;
  /**
   * `decimalValues[s]`: values a decimal(38, s) column holds (at most s fractional and 38 − s
   * integer digits; a set: every element), for s from 0 to MAX_DECIMAL_SCALE.
   */
  readonly decimalValues: readonly number[];
}

/**
 * How a column's values are written: `value` — as the lake type holds them (a string column of S
 * holds the string itself); `plain-json` — each value as its plain JSON text (plain-json.ts): M, L.
 */
export type ColumnEncoding = 'value' | 'plain-json';

/** Two or more non-NULL types seen for one attribute, in first-seen order with their counts. */
export interface TypeConflict {
  readonly types: readonly { readonly type: DynamoType; readonly count: number }[];
  readonly reason: string;
}

export interface InferredColumn {
  readonly name: string;
  /** The DynamoDB type whose values the column holds: the dominant type; S when only NULL was seen. */
  readonly valueType: DynamoType;
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
  /** Of the N values, when some were seen. */
  readonly numbers: NumberStats | null;
  /** Of the NS values, when some were seen. */
  readonly setNumbers: NumberStats | null;
  /**
   * Values of `valueType` (N or NS) whose numbers `lakeType` does not hold: they go to the conflict
   * column of that type. 0 for every other type.
   */
  readonly notHeld: number;
  /** Other non-NULL types seen (they go to conflict columns); null when only one was. */
  readonly conflict: TypeConflict | null;
  /** Why the column got its type, when the values did not all fit it (other types, numbers, only NULL). */
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
  /** Of the N values. */
  readonly numbers: NumberStats | null;
  /** Of the NS values. */
  readonly setNumbers: NumberStats | null;
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
  values: number;
  int64Values: number;
  decimalValues: number[];
}

interface ColumnAccumulator {
  readonly name: string;
  readonly typeCounts: Map<DynamoType, number>;
  presentCount: number;
  numbers: MutableNumberStats | null;
  setNumbers: MutableNumberStats | null;
}

function emptyNumberStats(): MutableNumberStats {
  return {
    count: 0,
    integerCount: 0,
    decimalCount: 0,
    allFitInt64: true,
    maxPrecision: 0,
    maxScale: 0,
    maxIntegerDigits: 0,
    values: 0,
    int64Values: 0,
    decimalValues: new Array<number>(MAX_DECIMAL_SCALE + 1).fill(0),
  };
}

/** Counts one number (an N, or an element of an NS) in the per-number fields; returns its shape. */
function observeNumber(stats: MutableNumberStats, text: string): NumberShape {
  const shape = numberShape(text);
  stats.count++;
  if (shape.isInteger) stats.integerCount++;
  else stats.decimalCount++;
  if (shape.precision > stats.maxPrecision) stats.maxPrecision = shape.precision;
  return shape;
}

/** Counts one value (an N, or a whole NS) whose numbers need `scale`, `integerDigits` and fit int64 or not. */
function observeValue(stats: MutableNumberStats, scale: number, integerDigits: number, int64: boolean): void {
  stats.values++;
  if (!int64) stats.allFitInt64 = false;
  else stats.int64Values++;
  if (scale > stats.maxScale) stats.maxScale = scale;
  if (integerDigits > stats.maxIntegerDigits) stats.maxIntegerDigits = integerDigits;
  // decimal(38, s) holds the value for scale ≤ s ≤ 38 − integer digits.
  const last = Math.min(MAX_DECIMAL_SCALE, DECIMAL_PRECISION - integerDigits);
  for (let s = scale; s <= last; s++) (stats.decimalValues[s] as number)++;
}

function observeN(stats: MutableNumberStats, text: string): void {
  const shape = observeNumber(stats, text);
  observeValue(stats, shape.scale, shape.integerDigits, shape.fitsInt64);
}

function observeNS(stats: MutableNumberStats, texts: readonly string[]): void {
  let scale = 0;
  let integerDigits = 0;
  let int64 = true;
  for (const text of texts) {
    const shape = observeNumber(stats, text);
    if (!shape.fitsInt64) int64 = false;
    if (shape.scale > scale) scale = shape.scale;
    if (shape.integerDigits > integerDigits) integerDigits = shape.integerDigits;
  }
  observeValue(stats, scale, integerDigits, int64);
}

function mergeNumberStats(
  into: MutableNumberStats | null,
  from: NumberStats | null,
): MutableNumberStats | null {
  if (from === null) return into;
  const stats = into ?? emptyNumberStats();
  stats.count += from.count;
  stats.integerCount += from.integerCount;
  stats.decimalCount += from.decimalCount;
  stats.allFitInt64 &&= from.allFitInt64;
  stats.maxPrecision = Math.max(stats.maxPrecision, from.maxPrecision);
  stats.maxScale = Math.max(stats.maxScale, from.maxScale);
  stats.maxIntegerDigits = Math.max(stats.maxIntegerDigits, from.maxIntegerDigits);
  stats.values += from.values;
  stats.int64Values += from.int64Values;
  for (let s = 0; s <= MAX_DECIMAL_SCALE; s++) {
    stats.decimalValues[s] = (stats.decimalValues[s] as number) + (from.decimalValues[s] ?? 0);
  }
  return stats;
}

function copyNumberStats(stats: MutableNumberStats | null): NumberStats | null {
  return stats === null ? null : { ...stats, decimalValues: [...stats.decimalValues] };
}

const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`;

/**
 * The lake type of a column of numbers: of bigint and decimal(38, s) for s from 0 to 18, the one
 * that holds the most values; on a tie bigint, then the smallest scale (the most integer digits,
 * room for sums). `held` is how many values it holds; the others (`values − held`) go to the
 * conflict column as exact text, and `note` says why. Pure.
 */
export function numberLakeType(stats: NumberStats): {
  readonly type: LakeType;
  readonly held: number;
  readonly note: string | null;
} {
  let type: LakeType = LAKE_BIGINT;
  let held = stats.int64Values;
  for (let s = 0; s <= MAX_DECIMAL_SCALE; s++) {
    const count = stats.decimalValues[s] ?? 0;
    if (count > held) {
      held = count;
      type = decimalType(s);
    }
  }
  const left = stats.values - held;
  if (left === 0) return { type, held, note: null };
  return {
    type,
    held,
    note:
      `${plural(left, 'value')} of ${stats.values} ${left === 1 ? 'needs' : 'need'} more than ${lakeTypeSql(type)} holds ` +
      `(numbers with up to ${plural(stats.maxScale, 'decimal place')} and ` +
      `${plural(stats.maxIntegerDigits, 'integer digit')}; a number column has a scale of at most ` +
      `${MAX_DECIMAL_SCALE}); they are kept as exact number text in the conflict column`,
  };
}

const TYPE_ORDER = new Map<DynamoType, number>(DYNAMO_TYPES.map((type, index) => [type, index]));

/** The lake type of a column of one DynamoDB type other than N and NS. */
const DIRECT_TYPES: Partial<Record<DynamoType, LakeType>> = {
  S: LAKE_STRING,
  B: LAKE_BINARY,
  BOOL: LAKE_BOOLEAN,
  SS: arrayType(LAKE_STRING),
  BS: arrayType(LAKE_BINARY),
  M: LAKE_STRING,
  L: LAKE_STRING,
};

function finish(accumulator: ColumnAccumulator, itemCount: number): InferredColumn {
  const typeCounts: Partial<Record<DynamoType, number>> = {};
  const seen: { type: DynamoType; count: number }[] = [];
  for (const [type, count] of accumulator.typeCounts) {
    typeCounts[type] = count;
    if (type !== 'NULL') seen.push({ type, count });
  }
  const nullCount = accumulator.typeCounts.get('NULL') ?? 0;
  const absentCount = itemCount - accumulator.presentCount;
  const numbers = copyNumberStats(accumulator.numbers);
  const setNumbers = copyNumberStats(accumulator.setNumbers);
  const notes: string[] = [];

  // The dominant type: the most values; a tie goes to the type DynamoDB lists first.
  let valueType: DynamoType = 'S';
  let most = 0;
  for (const { type, count } of seen) {
    if (
      count > most ||
      (count === most && (TYPE_ORDER.get(type) as number) < (TYPE_ORDER.get(valueType) as number))
    ) {
      valueType = type;
      most = count;
    }
  }
  let lakeType: LakeType = LAKE_STRING;
  let notHeld = 0;
  if (seen.length === 0) {
    notes.push('only NULL seen: a string column, the NULL values in the NULL column');
  } else if (valueType === 'N' || valueType === 'NS') {
    const stats = (valueType === 'N' ? numbers : setNumbers) as NumberStats;
    const inferred = numberLakeType(stats);
    if (inferred.note !== null) notes.push(inferred.note);
    notHeld = stats.values - inferred.held;
    lakeType = valueType === 'N' ? inferred.type : arrayType(inferred.type);
  } else {
    lakeType = DIRECT_TYPES[valueType] as LakeType;
  }
  let conflict: TypeConflict | null = null;
  if (seen.length > 1) {
    const counts = seen.map(({ type, count }) => `${type} in ${plural(count, 'item')}`);
    const tie = seen.filter(({ count }) => count === most).length > 1;
    const reason =
      `seen as ${counts.slice(0, -1).join(', ')} and ${counts[counts.length - 1]}; ` +
      `the column holds ${valueType}, the type of the most items` +
      (tie ? ' (a tie, which goes to the type DynamoDB lists first)' : '') +
      ', and each other type goes to a column of its own';
    conflict = { types: seen, reason };
    notes.push(reason);
  }
  return {
    name: accumulator.name,
    valueType,
    lakeType,
    encoding: valueType === 'M' || valueType === 'L' ? 'plain-json' : 'value',
    typeCounts,
    presentCount: accumulator.presentCount,
    absentCount,
    nullCount,
    nullable: absentCount > 0 || nullCount > 0,
    numbers,
    setNumbers,
    notHeld,
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
        accumulator = { name, typeCounts: new Map(), presentCount: 0, numbers: null, setNumbers: null };
        this.#columns.set(name, accumulator);
      }
      accumulator.presentCount++;
      const type = attributeType(value);
      accumulator.typeCounts.set(type, (accumulator.typeCounts.get(type) ?? 0) + 1);
      if ('N' in value) {
        accumulator.numbers ??= emptyNumberStats();
        observeN(accumulator.numbers, value.N);
      } else if ('NS' in value) {
        accumulator.setNumbers ??= emptyNumberStats();
        observeNS(accumulator.setNumbers, value.NS);
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
        numbers: copyNumberStats(accumulator.numbers),
        setNumbers: copyNumberStats(accumulator.setNumbers),
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
        accumulator = {
          name: column.name,
          typeCounts: new Map(),
          presentCount: 0,
          numbers: null,
          setNumbers: null,
        };
        this.#columns.set(column.name, accumulator);
      }
      accumulator.presentCount += column.presentCount;
      for (const [type, count] of column.typeCounts) {
        accumulator.typeCounts.set(type, (accumulator.typeCounts.get(type) ?? 0) + count);
      }
      accumulator.numbers = mergeNumberStats(accumulator.numbers, column.numbers);
      accumulator.setNumbers = mergeNumberStats(accumulator.setNumbers, column.setNumbers);
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
