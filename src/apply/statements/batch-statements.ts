import type { DeltaType, StructField, StructType } from '../../delta/schema.ts';
import { compareUtf8 } from '../../dynamo/plain-json.ts';
import { DdbLakeError } from '../../errors.ts';
import { type AttributeCodec, rowCodec } from '../../lake/item-to-row.ts';
import { SEQ_DIGITS } from '../../lake/sequence-number.ts';
import { SYSTEM_COLUMN, type TableLayout } from '../../lake/table-layout.ts';
import type { SqlDialect } from './sql-dialect.ts';

/*
 * The rules of an exact result (DESIGN.md rules 1–3) written once, as the statements of one batch,
 * for any engine that renders them (sql-dialect.ts): DuckDB here, Databricks SQL on a warehouse.
 *
 *   versions  every stream record of the batch's change files from T − margin on (rule 2), and for
 *             the first batch every snapshot item (seq 40 zeros, time T), as (`_ddb_key`, padded
 *             seq, op, image);
 *   winners   per key the greatest sequence number (rule 1); copies of one (key, seq) collapse, and
 *             copies that differ are found by the `conflicting-copies` check, which must return no
 *             row before anything is written;
 *   kept      hard deletes: winners not newer than their key's tombstone are dropped (rule 3);
 *   merge     one MERGE per batch, guarded by `_ddb_seq`: a row changes only for a newer version,
 *             so the statement run again after a crash changes nothing;
 *   tombstones the batch's deletes that took effect, returned by a query run after the MERGE (run
 *             again, it returns the same rows), for ddb-lake to write as the batch's tombstone file.
 *
 * Tombstones live where the local engine keeps them (`_ddb_lake/apply/tombstones/`, gzip JSON
 * lines, tombstones.ts): the plan reads the files of earlier batches and returns the batch's own,
 * so there is one copy of the state and either engine can take the next batch.
 *
 * Every statement stands alone (no temporary view, no session setting): a SQL warehouse may run
 * each statement of the Statement Execution API in a session of its own. Values from the data or
 * the user (file locations, attribute names, times) are named parameters, never SQL text.
 *
 * Not covered yet, and refused: incremental exports (their versions order by write time, rule 4
 * of change-order.ts) — such a batch needs the local engine.
 */

/** A named, typed statement parameter; the value as text (numbers in decimal). */
export interface StatementParameter {
  readonly name: string;
  readonly value: string;
  readonly type: 'STRING' | 'BIGINT' | 'INT';
}

/** What a statement is for: its place in the batch. */
export type StatementPurpose =
  | 'create-table'
  | 'add-columns'
  | 'bad-records'
  | 'conflicting-copies'
  | 'merge'
  | 'batch-tombstones'
  | 'schema-statistics';

/** One statement of the plan, in the order it runs. */
export interface PlannedStatement {
  readonly purpose: StatementPurpose;
  readonly sql: string;
  readonly parameters: readonly StatementParameter[];
  /** A check: the statement returns the rows that stop the batch (none when all is well). */
  readonly check: boolean;
}

/** The batch to render. */
export interface BatchStatementInput {
  readonly batch: number;
  /** The lake table, as name parts (catalog, schema, table on Databricks). */
  readonly table: readonly string[];
  /** Locations of the tombstone files of the batches before this one (tombstoneFiles in tombstones.ts). */
  readonly tombstoneFiles: readonly string[];
  /** The layout and schema after this batch's schema evolution. */
  readonly layout: TableLayout;
  readonly schema: StructType;
  /** The schema before the batch; undefined when the batch creates the table (batch 1). */
  readonly previousSchema: StructType | undefined;
  /** The change files' locations as the engine reads them, in the batch record's order. */
  readonly changeFiles: readonly string[];
  /** The first batch: the snapshot's data files and whether it came from a native export or a Scan. */
  readonly snapshot?: { readonly files: readonly string[]; readonly source: 'export' | 'scan' };
  /** Incremental exports the batch takes: refused (see the top of this file). */
  readonly incrementalExports?: number;
}

/** A batch the statement plan cannot express. */
export class StatementPlanError extends DdbLakeError {
  constructor(message: string) {
    super('STATEMENT_PLAN', message);
  }
}

/** The named parameters of one statement: each value added once, referenced by the name it gets. */
export class Parameters {
  readonly list: StatementParameter[] = [];
  readonly #dialect: SqlDialect;

  constructor(dialect: SqlDialect) {
    this.#dialect = dialect;
  }

  add(prefix: string, value: string, type: StatementParameter['type'] = 'STRING'): string {
    const name = `${prefix}_${this.list.length}`;
    this.list.push({ name, value, type });
    const reference = this.#dialect.parameter(name);
    return type === 'STRING' ? reference : `CAST(${reference} AS ${type})`;
  }
}

/** The cell of a number text `text` in a column of this number type, and whether it fits (column-fit.ts). */
function numberCell(d: SqlDialect, text: string, type: DeltaType): { fits: string; cell: string } {
  if (type.type === 'decimal') {
    const whole = type.precision - type.scale;
    const fraction = type.scale === 0 ? '' : `([.][0-9]{1,${type.scale}})?`;
    const integer = whole === 0 ? '0' : `[0-9]{1,${whole}}`;
    return {
      fits: d.matches(text, `'^-?${integer}${fraction}$'`),
      cell: `CAST(${text} AS ${d.type(type)})`,
    };
  }
  if (type.type === 'primitive' && type.name === 'long') {
    return {
      fits: `(${d.matches(text, `'^-?[0-9]{1,18}$'`)} OR (${d.matches(text, `'^[0-9]{19}$'`)} AND ${text} <= '9223372036854775807') OR (${d.matches(text, `'^-[0-9]{19}$'`)} AND ${text} <= '-9223372036854775808'))`,
      cell: `CAST(${text} AS ${d.type(type)})`,
    };
  }
  if (type.type === 'primitive' && type.name === 'string') return { fits: 'TRUE', cell: text };
  throw new StatementPlanError(`A number column of type ${JSON.stringify(type)} is not one apply writes.`);
}

/**
 * The attribute column's cell of the attribute value `v` (type tag `t`, plain JSON `plain`), and
 * whether the value fits it (column-fit.ts); `plain` is only read for N and NS values.
 */
export function attributeCell(
  d: SqlDialect,
  codec: AttributeCodec,
  v: string,
  t: string,
  plain: string,
): { fits: string; cell: string } {
  const own = `${t} = '${codec.kind}'`;
  switch (codec.kind) {
    case 'JSON':
      return { fits: `${v} IS NOT NULL`, cell: plain };
    case 'M':
    case 'L':
      return { fits: own, cell: plain };
    case 'S':
      return { fits: own, cell: d.member(v, 'S') };
    case 'B':
      return { fits: own, cell: d.fromBase64(d.member(v, 'B')) };
    case 'BOOL':
      return { fits: own, cell: `(${d.member(v, 'BOOL')} = 'true')` };
    case 'N': {
      const number = numberCell(d, plain, codec.type);
      return { fits: `(${own} AND ${number.fits})`, cell: number.cell };
    }
    case 'SS':
      return { fits: own, cell: d.stringArray(plain) };
    case 'BS':
      return { fits: own, cell: d.transform(d.stringArray(plain), 'e', d.fromBase64('e')) };
    case 'NS': {
      if (codec.type.type !== 'array') {
        throw new StatementPlanError(`The NS column ${JSON.stringify(codec.column)} is not an array column.`);
      }
      const element = numberCell(d, 'e', codec.type.elementType);
      // Canonical numbers hold no comma and no space: the set's plain JSON splits into their texts
      // without a JSON parser, which could read them as doubles.
      const json = plain;
      const array = d.split(`substr(${json}, 2, length(${json}) - 2)`, "','");
      return {
        fits: `(${own} AND ${d.everyElement(array, 'e', element.fits)})`,
        cell: d.transform(array, 'e', element.cell),
      };
    }
  }
}

interface ColumnExpression {
  readonly column: string;
  readonly expression: string;
}

/** Whether the attribute's cells need its value's plain JSON (numbers, containers, sets, conflicts). */
function needsPlainJson(codec: AttributeCodec): boolean {
  if (!['S', 'B', 'BOOL'].includes(codec.kind)) return true;
  for (const [type, conflict] of codec.conflicts)
    if (!(type === 'S' && conflict.encoding === 'text')) return true;
  return false;
}

/**
 * Every attribute and conflict column of the layout, over a relation that has each attribute's
 * value (`ddb_v_<i>`), its type tag (`ddb_t_<i>`) and, where needed, its plain JSON (`ddb_p_<i>`):
 * the layers below (`valueLayers`) take each value apart once.
 */
function attributeColumns(d: SqlDialect, layout: TableLayout, schema: StructType): ColumnExpression[] {
  const columns: ColumnExpression[] = [];
  [...rowCodec(layout, schema).values()].forEach((codec, i) => {
    const v = `ddb_v_${i}`;
    const t = `ddb_t_${i}`;
    const plain = needsPlainJson(codec) ? `ddb_p_${i}` : d.plainJson(v);
    const { fits, cell } = attributeCell(d, codec, v, t, plain);
    columns.push({ column: codec.column, expression: `CASE WHEN ${fits} THEN ${cell} END` });
    for (const [type, conflict] of codec.conflicts) {
      const text = conflict.encoding === 'text' && type === 'S' ? d.member(v, 'S') : plain;
      columns.push({
        column: conflict.column,
        expression: `CASE WHEN ${t} = '${type}' AND NOT (${fits}) THEN ${text} END`,
      });
    }
  });
  return columns;
}

/**
 * `relation` (with an `image` column) widened by each attribute's value, type tag and plain JSON
 * (see `attributeColumns`), in two layers, so that each is computed once per row.
 */
function valueLayers(
  d: SqlDialect,
  p: Parameters,
  layout: TableLayout,
  schema: StructType,
  relation: string,
): string {
  const codecs = [...rowCodec(layout, schema).values()];
  if (codecs.length === 0) return relation;
  const values = codecs
    .map((codec, i) => `${d.attribute('ddb_image_map', p.add('attribute', codec.attribute))} AS ddb_v_${i}`)
    .join(', ');
  const tags = codecs
    .map((codec, i) => {
      const tag = `${d.typeTag(`ddb_v_${i}`)} AS ddb_t_${i}`;
      return needsPlainJson(codec) ? `${tag}, ${d.plainJson(`ddb_v_${i}`)} AS ddb_p_${i}` : tag;
    })
    .join(',\n      ');
  return `(SELECT valued.*,
      ${tags}
    FROM (SELECT mapped.*, ${values} FROM (SELECT source_rows.*, ${d.attributeMap('image')} AS ddb_image_map FROM ${relation} AS source_rows) AS mapped) AS valued)`;
}

/** `_ddb_key` from a map of an image's attributes: its key attributes' plain JSON, names sorted by UTF-8 bytes. */
function keyExpression(d: SqlDialect, p: Parameters, layout: TableLayout, map: string): string {
  const names = [layout.keys.partition, ...(layout.keys.sort === undefined ? [] : [layout.keys.sort])].sort(
    compareUtf8,
  );
  const parts = names.map((name, i) => {
    const label = p.add('key_label', `${i === 0 ? '{' : ','}${JSON.stringify(name)}:`);
    return `${label}, ${d.plainJson(d.attribute(map, p.add('key', name)))}`;
  });
  return `concat(${parts.join(', ')}, '}')`;
}

/**
 * The winners of the batch (one per key) with the columns `k`, `s` (padded seq), `op` (`REMOVE`
 * for deletes), `ts` (epoch ms), `ttl`, `source`, `image` (the item a row of the winner holds:
 * the new image of a put; for a delete the snapshot item of the key, else its old image, else its
 * keys) and `key_image` (the record's keys), as a subquery.
 */
export function winnersQuery(
  d: SqlDialect,
  p: Parameters,
  input: Pick<BatchStatementInput, 'batch' | 'layout' | 'changeFiles' | 'snapshot'>,
): string {
  const { layout } = input;
  const files = input.changeFiles.map((file) => p.add('change_file', file));
  const horizon = p.add('horizon_ms', String(layout.exportTime - layout.marginMs), 'BIGINT');
  const branches: string[] = [];
  if (files.length > 0) {
    branches.push(
      `SELECT 'stream' AS source, op, keys AS key_image, new AS new_image, old AS old_image, seq, ts, ttl FROM ${d.changeLines(files)} WHERE ts >= ${horizon}`,
    );
  }
  if (input.snapshot !== undefined && input.snapshot.files.length > 0) {
    const exportMs = p.add('export_ms', String(layout.exportTime), 'BIGINT');
    const snapshotFiles = input.snapshot.files.map((file) => p.add('snapshot_file', file));
    branches.push(
      `SELECT '${input.snapshot.source}' AS source, 'SNAPSHOT' AS op, item AS key_image, item AS new_image, CAST(NULL AS ${d.type({ type: 'primitive', name: 'string' })}) AS old_image, '0' AS seq, ${exportMs} AS ts, FALSE AS ttl FROM ${d.exportLines(snapshotFiles)}`,
    );
  }
  if (branches.length === 0) {
    throw new StatementPlanError(`Batch ${input.batch} has no change file and no snapshot: nothing to plan.`);
  }
  const key = keyExpression(d, p, layout, 'key_map');
  return `SELECT k, s, op, ts, ttl, source,
      CASE WHEN op <> 'REMOVE' THEN new_image ELSE coalesce(snapshot_image, old_image, key_image) END AS image, key_image
    FROM (
      SELECT keyed.*, max(CASE WHEN source IN ('export', 'scan') THEN new_image END) OVER (PARTITION BY k) AS snapshot_image
      FROM (
        SELECT ${key} AS k, ${d.zeroPad('seq', SEQ_DIGITS)} AS s, op, ts, ttl, source, key_image, new_image, old_image
        FROM (SELECT lines.*, ${d.attributeMap('key_image')} AS key_map FROM (${branches.join('\n        UNION ALL\n        ')}) AS lines) AS mapped
      ) AS keyed
    ) AS versions
    QUALIFY row_number() OVER (PARTITION BY k ORDER BY s DESC) = 1`;
}

function checkQuery(d: SqlDialect, p: Parameters, input: BatchStatementInput): string {
  const files = input.changeFiles.map((file) => p.add('change_file', file));
  const key = keyExpression(d, p, input.layout, 'key_map');
  const horizon = p.add('horizon_ms', String(input.layout.exportTime - input.layout.marginMs), 'BIGINT');
  const content = `concat(op, '|', coalesce(new, ''), '|', coalesce(old, ''), '|', CASE WHEN ttl THEN 'ttl' ELSE '' END)`;
  return `SELECT k AS ${d.identifier('key')}, seq, count(*) AS copies
FROM (
  SELECT ${key} AS k, seq, ${content} AS content
  FROM (SELECT lines.*, ${d.attributeMap('keys')} AS key_map FROM ${d.changeLines(files)} AS lines WHERE ts >= ${horizon}) AS mapped
) AS copies
GROUP BY k, seq
HAVING count(DISTINCT content) > 1`;
}

/**
 * The change-file lines that are no record of this table (rule 7): a key attribute missing or not
 * S, N or B, a sequence number that is not 1 to 40 digits, an unknown op, a put without its image,
 * no time. Their `seq`, `op` and `keys` as the file holds them.
 */
function badRecordsQuery(d: SqlDialect, p: Parameters, input: BatchStatementInput): string {
  const files = input.changeFiles.map((file) => p.add('change_file', file));
  const { keys } = input.layout;
  const keyChecks = [keys.partition, ...(keys.sort === undefined ? [] : [keys.sort])].map(
    (name) => `${d.typeTag(d.attribute('key_map', p.add('key', name)))} IN ('S', 'N', 'B')`,
  );
  const valid = [
    ...keyChecks,
    d.matches('seq', "'^[0-9]{1,40}$'"),
    "op IN ('INSERT', 'MODIFY', 'REMOVE')",
    'ts IS NOT NULL',
    "(op = 'REMOVE' OR new IS NOT NULL)",
  ].join(' AND ');
  return `SELECT seq, op, keys
FROM (SELECT lines.*, ${d.attributeMap('keys')} AS key_map FROM ${d.changeLines(files)} AS lines) AS mapped
WHERE NOT coalesce(${valid}, FALSE)`;
}

function columnDefinitions(d: SqlDialect, fields: readonly StructField[]): string {
  // System columns are not nullable in the Delta schema our engine writes: the same here.
  return fields
    .map((field) => `${d.identifier(field.name)} ${d.type(field.type)}${field.nullable ? '' : ' NOT NULL'}`)
    .join(', ');
}

/**
 * The winners a batch applies: with hard deletes, those newer than their key's tombstone from an
 * earlier batch (rule 3; a tombstone at the same sequence number is the winner's own delete, from
 * an earlier run of this batch's plan, or an older copy).
 */
function keptQuery(d: SqlDialect, p: Parameters, input: BatchStatementInput, winners: string): string {
  if (input.layout.deletes === 'soft' || input.tombstoneFiles.length === 0) return winners;
  const files = input.tombstoneFiles.map((file) => p.add('tombstone_file', file));
  return `SELECT w.* FROM (${winners}) AS w WHERE NOT EXISTS (SELECT 1 FROM ${d.tombstoneLines(files)} AS g WHERE g.key = w.k AND g.seq >= w.s)`;
}

/** The parts of the Databricks- or DuckDB-specific DDL the plan leaves to the caller. */
export interface TableStatements {
  /** CREATE TABLE of the lake table with these columns (system columns first, in schema order). */
  createTable(table: string, columns: string): string;
  /** Statements adding these columns (definitions) to the table. */
  addColumns(table: string, columns: readonly string[]): string[];
}

/**
 * The statements of one batch, in order: (batch 1) the lake table; the columns the batch adds; the
 * checks of bad records and of conflicting copies (each must return nothing); the MERGE; with hard deletes, the query of
 * the batch's tombstones (`key`, `seq` padded, `source`, `ts` epoch ms), run after the MERGE. Pure:
 * the same input renders the same statements.
 * @throws StatementPlanError for a batch the plan does not cover (incremental exports; no input).
 */
export function batchStatements(
  d: SqlDialect,
  tables: TableStatements,
  input: BatchStatementInput,
): PlannedStatement[] {
  if ((input.incrementalExports ?? 0) > 0) {
    throw new StatementPlanError(
      `Batch ${input.batch} takes ${input.incrementalExports} incremental export(s); their versions order by write time, which the statement plan does not cover yet. Apply this batch with --engine duckdb.`,
    );
  }
  const { layout, schema } = input;
  const table = input.table.map((part) => d.identifier(part)).join('.');
  const statements: PlannedStatement[] = [];
  const plain = (purpose: StatementPurpose, sql: string, parameters: StatementParameter[] = []): void => {
    statements.push({ purpose, sql, parameters, check: false });
  };
  if (input.previousSchema === undefined) {
    plain('create-table', tables.createTable(table, columnDefinitions(d, schema.fields)));
  } else {
    const before = new Set(input.previousSchema.fields.map((field) => field.name));
    const added = schema.fields.filter((field) => !before.has(field.name));
    if (added.length > 0) {
      for (const sql of tables.addColumns(
        table,
        added.map((field) => columnDefinitions(d, [field])),
      )) {
        plain('add-columns', sql);
      }
    }
  }
  if (input.changeFiles.length > 0) {
    const b = new Parameters(d);
    statements.push({
      purpose: 'bad-records',
      sql: badRecordsQuery(d, b, input),
      parameters: b.list,
      check: true,
    });
    const p = new Parameters(d);
    statements.push({
      purpose: 'conflicting-copies',
      sql: checkQuery(d, p, input),
      parameters: p.list,
      check: true,
    });
  }

  const p = new Parameters(d);
  const winners = winnersQuery(d, p, input);
  const hard = layout.deletes === 'hard';
  const q = (name: string): string => d.identifier(name);
  const kept = keptQuery(d, p, input, winners);
  const valued = valueLayers(d, p, layout, schema, `(${kept})`);
  const attributes = attributeColumns(d, layout, schema);
  const buckets = p.add('buckets', String(layout.buckets), 'INT');
  const system: ColumnExpression[] = [
    { column: SYSTEM_COLUMN.key, expression: 'k' },
    { column: SYSTEM_COLUMN.bucket, expression: d.bucket('k', buckets) },
    { column: SYSTEM_COLUMN.seq, expression: 's' },
    { column: SYSTEM_COLUMN.ts, expression: d.timestampFromMillis('ts') },
    { column: SYSTEM_COLUMN.source, expression: 'source' },
  ];
  const softFlags: ColumnExpression[] = hard
    ? []
    : [
        { column: SYSTEM_COLUMN.deleted, expression: `op = 'REMOVE'` },
        { column: SYSTEM_COLUMN.ttlExpired, expression: `(op = 'REMOVE' AND ttl)` },
      ];
  const rowColumns = [...system, ...softFlags, ...attributes];
  const source = `SELECT op, ${rowColumns.map((c) => `${c.expression} AS ${q(c.column)}`).join(',\n    ')}
  FROM ${valued} AS kept`;
  const newer = `s.${q(SYSTEM_COLUMN.seq)} > t.${q(SYSTEM_COLUMN.seq)}`;
  const setAll = rowColumns.map((c) => `${q(c.column)} = s.${q(c.column)}`).join(', ');
  const setVersion = [
    ...system.filter((c) => c.column !== SYSTEM_COLUMN.key && c.column !== SYSTEM_COLUMN.bucket),
    ...softFlags,
  ]
    .map((c) => `${q(c.column)} = s.${q(c.column)}`)
    .join(', ');
  const insertColumns = rowColumns.map((c) => q(c.column)).join(', ');
  const insertValues = rowColumns.map((c) => `s.${q(c.column)}`).join(', ');
  const whenDeleted = hard
    ? `WHEN MATCHED AND ${newer} AND s.op = 'REMOVE' THEN DELETE`
    : `WHEN MATCHED AND ${newer} AND s.op = 'REMOVE' THEN UPDATE SET ${setVersion}`;
  const notMatched = hard ? `WHEN NOT MATCHED AND s.op <> 'REMOVE'` : 'WHEN NOT MATCHED';
  statements.push({
    purpose: 'merge',
    sql: `MERGE INTO ${table} AS t
USING (
  ${source}
) AS s
ON t.${q(SYSTEM_COLUMN.key)} = s.${q(SYSTEM_COLUMN.key)}
${whenDeleted}
WHEN MATCHED AND ${newer} THEN UPDATE SET ${setAll}
${notMatched} THEN INSERT (${insertColumns}) VALUES (${insertValues})`,
    parameters: p.list,
    check: false,
  });

  if (hard) {
    const r = new Parameters(d);
    statements.push({
      purpose: 'batch-tombstones',
      sql: `SELECT w.k AS ${q('key')}, w.s AS ${q('seq')}, w.source AS ${q('source')}, w.ts AS ${q('ts')}
FROM (${keptQuery(d, r, input, winnersQuery(d, r, input))}) AS w
LEFT JOIN ${table} AS t ON t.${q(SYSTEM_COLUMN.key)} = w.k
WHERE w.op = 'REMOVE' AND (t.${q(SYSTEM_COLUMN.key)} IS NULL OR w.s > t.${q(SYSTEM_COLUMN.seq)})`,
      parameters: r.list,
      check: false,
    });
  }
  return statements;
}
