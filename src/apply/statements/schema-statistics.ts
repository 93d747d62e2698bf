import type { StructType } from '../../delta/schema.ts';
import { DYNAMO_TYPES, type DynamoType } from '../../dynamo/attribute-value.ts';
import { DECIMAL_PRECISION, MAX_DECIMAL_SCALE } from '../../dynamo/lake-type.ts';
import { compareUtf8 } from '../../dynamo/plain-json.ts';
import type { ColumnSummary, NumberStats } from '../../dynamo/schema-inference.ts';
import { rowCodec } from '../../lake/item-to-row.ts';
import type { EvolutionSummary } from '../../lake/schema-evolution.ts';
import type { TableLayout } from '../../lake/table-layout.ts';
import {
  attributeCell,
  type BatchStatementInput,
  Parameters,
  type PlannedStatement,
  StatementPlanError,
  winnersQuery,
} from './batch-statements.ts';
import type { SqlDialect } from './sql-dialect.ts';

/*
 * Schema evolution of a batch on the engine (schema-evolution.ts, without reading the data here):
 * one statement that returns what `SchemaEvolution` accumulates from the items the batch writes,
 * as a few rows, and `evolutionSummaryOf`, which turns them into the `EvolutionSummary` that
 * `SchemaEvolution.merge` takes. `new SchemaEvolution(layout, schema)`, `merge` of that summary,
 * then `result()` gives the layout and schema the batch's other statements are rendered with.
 *
 * The items observed are the local engine's (batch-rows.ts `winnerItem`, first-batch.ts and
 * later-batch.ts): each stream winner's item (a put's new image; a delete's old image, else its
 * keys, with soft deletes; its keys with hard deletes), and in the first batch also every item of
 * the snapshot that has the table's key attributes (each of S, N or B). In a later batch with hard
 * deletes, a winner not newer than its key's tombstone is left out, as the MERGE leaves it out.
 *
 * Per item, every attribute: a new one (no column yet) counts its type, and for N and NS what
 * `SchemaInference` counts of the numbers; an attribute with a column counts a conflict when its
 * value does not fit the column (the MERGE's own test, batch-statements.ts `attributeCell`). Each
 * number is taken from its canonical text (ddb-lake's plain JSON of the value; an NS set's plain
 * JSON split at its commas), by string functions only: no number reader, no double. Canonical text
 * has no exponent, no `+`, no leading zero but the one of `0.…`, no trailing fractional zero, and
 * zero is `0`, so: scale = digits after the point; integer digits = digits before it, none when
 * that part is `0`; precision = integer digits + scale, at least 1 (number.ts `numberShape`).
 *
 * Order: `SchemaEvolution.result()` sorts new attributes by name and conflicts by attribute and
 * type, so the layout, the schema, the conflicts and every count do not depend on the order items
 * were seen in. Only the reason text of a new attribute seen with two or more types lists them in
 * the order they were first seen. So that it reads as the local engine's, each (attribute, type)
 * carries the least place of an item holding it: stream winners in the local engine's order
 * (bucket, then key text), after the snapshot's items. Where this can differ from the local engine:
 * - the snapshot's items, which the local engine reads file by file and line by line, all share
 *   one place (no engine here numbers a file's lines): types first seen in the snapshot are listed
 *   in DynamoDB's type order (`DYNAMO_TYPES`: S, N, B, BOOL, NULL, SS, NS, BS, L, M), so a first
 *   batch's reason text may list them in another order than the local engine's;
 * - key texts compare by UTF-8 bytes here and by UTF-16 code units there, which differ only
 *   between a character above U+FFFF and one from U+E000 to U+FFFF;
 * - attributes first seen in one item come in UTF-8 order of their names in the summary, in the
 *   item's own order when observed (the result sorts them by name either way).
 *
 * Which snapshot lines count: those whose key attributes are present and each of type S, N or B,
 * as the local engine's key check; a line it refuses for another reason (a key value that is not
 * valid DynamoDB JSON) would count here. Run the batch's `conflicting-copies` check first: where
 * two copies of a stream record differ, the local engine sets the record aside and observes
 * another winner, and the plan stops instead.
 *
 * Cost on a warehouse: the plain JSON function is asked for N and NS values only (in a CASE, which
 * an engine may still evaluate for every value), the bucket function once per stream winner, as in
 * the MERGE; this statement reads each file once.
 */

/** The batch whose items the statement observes, against the table as it is before the batch. */
export interface SchemaStatisticsInput {
  readonly batch: number;
  /** Locations of the tombstone files of the batches before this one (consulted with hard deletes). */
  readonly tombstoneFiles: readonly string[];
  /** The layout and schema before the batch (a new table's: `newTableLayout`, a struct without fields). */
  readonly layout: TableLayout;
  readonly schema: StructType;
  readonly changeFiles: readonly string[];
  readonly snapshot?: BatchStatementInput['snapshot'];
  /** Incremental exports the batch takes: refused, as by `batchStatements`. */
  readonly incrementalExports?: number;
}

/** The columns of the statement's rows (see `evolutionSummaryOf`). */
export const STATISTICS_COLUMNS = {
  /** `items`, `attribute` (a new attribute's type) or `conflict` (values of a type that fit no existing column). */
  entry: 'entry',
  attribute: 'attribute',
  type: 'value_type',
  /** Values (items); for `items` (whose attribute is ''), the items with an attribute the table has no column for. */
  count: 'value_count',
  /** The least place (see the top of the file) of an item with such a value. */
  firstSeen: 'first_seen',
  numbers: 'numbers',
  integers: 'integers',
  maxPrecision: 'max_precision',
  maxScale: 'max_scale',
  maxIntegerDigits: 'max_integer_digits',
  int64Values: 'int64_values',
  decimalValues: (scale: number): string => `decimal_values_${scale}`,
} as const;

const C = STATISTICS_COLUMNS;
const SCALES = Array.from({ length: MAX_DECIMAL_SCALE + 1 }, (_, s) => s);
const BUCKET_DIGITS = 10;

/** Digits of the canonical number text `x` (an SQL expression), as SQL expressions. */
function numberParts(x: string) {
  const magnitude = `replace(${x}, '-', '')`;
  const dot = `instr(${x}, '.')`;
  const scale = `CASE WHEN ${dot} = 0 THEN 0 ELSE length(${x}) - ${dot} END`;
  const wholeLength = `CASE WHEN ${dot} = 0 THEN length(${magnitude}) ELSE instr(${magnitude}, '.') - 1 END`;
  const integerDigits = `CASE WHEN substr(${magnitude}, 1, 1) = '0' THEN 0 ELSE ${wholeLength} END`;
  const limit = `CASE WHEN substr(${x}, 1, 1) = '-' THEN '9223372036854775808' ELSE '9223372036854775807' END`;
  return {
    scale,
    integerDigits,
    precision: `greatest(1, ${integerDigits} + ${scale})`,
    fitsInt64: `(${dot} = 0 AND (length(${magnitude}) < 19 OR (length(${magnitude}) = 19 AND ${magnitude} <= ${limit})))`,
  };
}

/**
 * The statement: one row per (new attribute, type) with the counts and number statistics
 * `SchemaInference` keeps, one per (attribute with a column, type) of the values that fit no
 * column, and one `items` row; read them with `evolutionSummaryOf`. Values of the data and the
 * user are parameters, as in `batchStatements`.
 * @throws StatementPlanError for a batch the plan does not cover (incremental exports; no input).
 */
export function schemaStatisticsStatement(d: SqlDialect, input: SchemaStatisticsInput): PlannedStatement {
  if ((input.incrementalExports ?? 0) > 0) {
    throw new StatementPlanError(
      `Batch ${input.batch} takes ${input.incrementalExports} incremental export(s); their versions order by write time, which the statement plan does not cover yet. Apply this batch with --engine duckdb.`,
    );
  }
  const { layout } = input;
  const p = new Parameters(d);
  const q = (name: string): string => d.identifier(name);
  const text = d.type({ type: 'primitive', name: 'string' });
  const branches: string[] = [];
  if (input.changeFiles.length > 0) {
    // Without the snapshot: any change beats it, so these are the batch's stream winners.
    const winners = winnersQuery(d, p, { batch: input.batch, layout, changeFiles: input.changeFiles });
    const buckets = p.add('buckets', String(layout.buckets), 'INT');
    const place = `concat('1', ${d.zeroPad(`CAST(${d.bucket('w.k', buckets)} AS ${text})`, BUCKET_DIGITS)}, w.k)`;
    const hard = layout.deletes === 'hard';
    // Soft deletes: `image` is the old image, else the keys (there is no snapshot image here).
    const item = hard ? `CASE WHEN w.op <> 'REMOVE' THEN w.image ELSE w.key_image END` : 'w.image';
    // Soft deletes keep no tombstones: nothing to consult (and no parameter left unused).
    const kept =
      hard && input.tombstoneFiles.length > 0
        ? ` WHERE NOT EXISTS (SELECT 1 FROM ${d.tombstoneLines(input.tombstoneFiles.map((file) => p.add('tombstone_file', file)))} AS g WHERE g.key = w.k AND g.seq >= w.s)`
        : '';
    branches.push(
      `SELECT ${place} AS ord, ${item} AS item, FALSE AS snapshot_line FROM (${winners}) AS w${kept}`,
    );
  }
  if (input.snapshot !== undefined && input.snapshot.files.length > 0) {
    const files = input.snapshot.files.map((file) => p.add('snapshot_file', file));
    branches.push(`SELECT '0' AS ord, item, TRUE AS snapshot_line FROM ${d.exportLines(files)} AS lines`);
  }
  if (branches.length === 0) {
    throw new StatementPlanError(`Batch ${input.batch} has no change file and no snapshot: nothing to plan.`);
  }
  const keyNames = [layout.keys.partition, ...(layout.keys.sort === undefined ? [] : [layout.keys.sort])];
  const hasKeys = keyNames
    .map((name) => `${d.typeTag(d.attribute('m', p.add('key', name)))} IN ('S', 'N', 'B')`)
    .join(' AND ');

  const codecs = [...rowCodec(layout, input.schema).values()];
  const names = codecs.map((codec) => p.add('attribute', codec.attribute));
  const known = (name: string): string => (names.length === 0 ? 'FALSE' : `${name} IN (${names.join(', ')})`);
  const fits =
    codecs.length === 0
      ? 'FALSE'
      : `CASE ${codecs.map((codec, i) => `WHEN name = ${names[i]} THEN ${attributeCell(d, codec, 'v', 't', 'p').fits}`).join(' ')} END`;

  const n = numberParts('p');
  const e = numberParts('e');
  const elements = d.split(`substr(p, 2, length(p) - 2)`, "','");
  const perElement = (part: string): string => d.arrayMax(d.transform(elements, 'e', part));
  const numberColumn = (forN: string, forNS: string, name: string): string =>
    `CASE WHEN entry = 'attribute' AND t = 'N' THEN ${forN} WHEN entry = 'attribute' AND t = 'NS' THEN ${forNS} END AS ${name}`;
  const numberColumns = [
    numberColumn('1', `length(p) - length(replace(p, ',', '')) + 1`, 'number_count'),
    numberColumn(
      `length(p) - length(replace(p, '.', ''))`,
      `length(p) - length(replace(p, '.', ''))`,
      'decimal_count',
    ),
    numberColumn(n.precision, perElement(e.precision), 'number_precision'),
    numberColumn(n.scale, perElement(e.scale), 'number_scale'),
    numberColumn(n.integerDigits, perElement(e.integerDigits), 'integer_digits'),
    numberColumn(n.fitsInt64, d.everyElement(elements, 'e', e.fitsInt64), 'int64_fit'),
  ];
  const count = (condition: string): string => `sum(CASE WHEN ${condition} THEN 1 ELSE 0 END)`;
  const aggregates: [string, string][] = [
    [C.count, 'count(*)'],
    [C.firstSeen, 'min(ord)'],
    [C.numbers, 'sum(number_count)'],
    [C.integers, 'sum(number_count - decimal_count)'],
    [C.maxPrecision, 'max(number_precision)'],
    [C.maxScale, 'max(number_scale)'],
    [C.maxIntegerDigits, 'max(integer_digits)'],
    [C.int64Values, count('int64_fit')],
    ...SCALES.map((s): [string, string] => [
      C.decimalValues(s),
      count(`number_scale <= ${s} AND integer_digits <= ${DECIMAL_PRECISION - s}`),
    ]),
  ];
  // Each item also gives one row of the name '' (no attribute has it): the item's own row, counted
  // when the item has an attribute the table has no column for.
  const sql = `WITH observed AS (
  SELECT ord, m, NOT ${d.everyElement(d.mapKeys('m'), 'e', known('e'))} AS fresh
  FROM (SELECT ord, snapshot_line, ${d.attributeMap('item')} AS m FROM (
    ${branches.join('\n    UNION ALL\n    ')}
  ) AS items) AS mapped
  WHERE NOT snapshot_line OR (${hasKeys})
),
valued AS (
  SELECT ord, name, fresh, CASE WHEN name <> '' THEN ${d.attribute('m', 'name')} END AS v, ${known('name')} AS known
  FROM (SELECT ord, m, fresh, ${d.explode(d.prepend("''", d.mapKeys('m')))} AS name FROM observed) AS named
),
classified AS (
  SELECT ord, name, t, p,
    CASE WHEN name = '' THEN CASE WHEN fresh THEN 'items' END WHEN NOT known THEN 'attribute' WHEN NOT coalesce(${fits}, FALSE) THEN 'conflict' END AS entry
  FROM (SELECT tagged.*, CASE WHEN t IN ('N', 'NS') THEN ${d.plainJson('v')} END AS p
    FROM (SELECT valued.*, ${d.typeTag('v')} AS t FROM valued) AS tagged) AS plained
),
numbered AS (
  SELECT ord, name, t, entry,
    ${numberColumns.join(',\n    ')}
  FROM classified
  WHERE entry IS NOT NULL
)
SELECT entry AS ${q(C.entry)}, name AS ${q(C.attribute)}, t AS ${q(C.type)},
  ${aggregates.map(([column, expression]) => `${expression} AS ${q(column)}`).join(',\n  ')}
FROM numbered
GROUP BY entry, name, t`;
  return { purpose: 'schema-statistics', sql, parameters: p.list, check: false };
}

/** A row of the statement's result, by column name (DuckDB's values or the text a warehouse returns). */
export type StatisticsRow = Readonly<Record<string, unknown>>;

const TYPE_ORDER = new Map<DynamoType, number>(DYNAMO_TYPES.map((type, index) => [type, index]));

function refuse(row: StatisticsRow, why: string): never {
  throw new StatementPlanError(
    `A row of the schema statistics is not one the statement returns (${why}): ${JSON.stringify(row, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))}.`,
  );
}

/** A count of the row: a non-negative safe integer, from a number, a bigint or decimal text; NULL is 0. */
function countOf(row: StatisticsRow, column: string): number {
  const value = row[column];
  if (value === null || value === undefined) return 0;
  const digits =
    typeof value === 'bigint' || typeof value === 'number' || typeof value === 'string' ? String(value) : '';
  const count = /^[0-9]+$/.test(digits) ? Number(digits) : Number.NaN;
  if (!Number.isSafeInteger(count)) refuse(row, `${column} is not a count`);
  return count;
}

function textOf(row: StatisticsRow, column: string): string {
  const value = row[column];
  if (typeof value !== 'string') refuse(row, `${column} is not text`);
  return value;
}

function typeOf(row: StatisticsRow): DynamoType {
  const type = textOf(row, C.type) as DynamoType;
  if (!TYPE_ORDER.has(type)) refuse(row, `${type} is not a DynamoDB type`);
  return type;
}

function numberStatsOf(row: StatisticsRow): NumberStats {
  const values = countOf(row, C.count);
  const count = countOf(row, C.numbers);
  const integerCount = countOf(row, C.integers);
  const int64Values = countOf(row, C.int64Values);
  return {
    count,
    integerCount,
    decimalCount: count - integerCount,
    allFitInt64: int64Values === values,
    maxPrecision: countOf(row, C.maxPrecision),
    maxScale: countOf(row, C.maxScale),
    maxIntegerDigits: countOf(row, C.maxIntegerDigits),
    values,
    int64Values,
    decimalValues: SCALES.map((s) => countOf(row, C.decimalValues(s))),
  };
}

interface Seen {
  readonly row: StatisticsRow;
  readonly attribute: string;
  readonly type: DynamoType;
  readonly first: string;
}

/** First seen first; on a tie, DynamoDB's type order (and for attributes, UTF-8 order of names). */
function compareSeen(a: Seen, b: Seen): number {
  return (
    compareUtf8(a.first, b.first) ||
    compareUtf8(a.attribute, b.attribute) ||
    (TYPE_ORDER.get(a.type) as number) - (TYPE_ORDER.get(b.type) as number)
  );
}

/**
 * The `EvolutionSummary` of the statistics statement's rows, for `SchemaEvolution.merge` into an
 * evolution over the same `layout` and `schema` the statement was rendered with. Types and
 * attributes come in the order they were first seen (see the top of the file).
 * @throws StatementPlanError for rows the statement does not return (an attribute counted as new
 *   that has a column, or the other way round; a count that is not one).
 */
export function evolutionSummaryOf(
  rows: readonly StatisticsRow[],
  layout: TableLayout,
  schema: StructType,
): EvolutionSummary {
  const codec = rowCodec(layout, schema);
  let itemCount = 0;
  const fresh: Seen[] = [];
  const conflicts: Seen[] = [];
  for (const row of rows) {
    const entry = row[C.entry];
    if (entry === 'items') {
      itemCount += countOf(row, C.count);
      continue;
    }
    if (entry !== 'attribute' && entry !== 'conflict') refuse(row, 'unknown entry');
    const seen: Seen = {
      row,
      attribute: textOf(row, C.attribute),
      type: typeOf(row),
      first: textOf(row, C.firstSeen),
    };
    if (codec.has(seen.attribute) !== (entry === 'conflict')) {
      refuse(row, entry === 'conflict' ? 'the attribute has no column' : 'the attribute has a column');
    }
    (entry === 'attribute' ? fresh : conflicts).push(seen);
  }
  const byAttribute = new Map<string, Seen[]>();
  for (const seen of fresh.sort(compareSeen)) {
    const types = byAttribute.get(seen.attribute);
    if (types === undefined) byAttribute.set(seen.attribute, [seen]);
    else types.push(seen);
  }
  const columns: ColumnSummary[] = [...byAttribute.values()]
    .sort((a, b) => compareSeen(a[0] as Seen, b[0] as Seen))
    .map((types) => {
      const n = types.find((seen) => seen.type === 'N');
      const ns = types.find((seen) => seen.type === 'NS');
      const typeCounts = types.map((seen): [DynamoType, number] => [seen.type, countOf(seen.row, C.count)]);
      return {
        name: (types[0] as Seen).attribute,
        typeCounts,
        presentCount: typeCounts.reduce((sum, [, count]) => sum + count, 0),
        numbers: n === undefined ? null : numberStatsOf(n.row),
        setNumbers: ns === undefined ? null : numberStatsOf(ns.row),
      };
    });
  return {
    inference: { itemCount, columns },
    conflicts: conflicts
      .sort(compareSeen)
      .map((seen) => ({ attribute: seen.attribute, type: seen.type, rows: countOf(seen.row, C.count) })),
  };
}
