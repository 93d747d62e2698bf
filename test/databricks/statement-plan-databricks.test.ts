import { describe, expect, it } from 'vitest';
import { type BatchStatementInput, batchStatements } from '../../src/apply/statements/batch-statements.ts';
import {
  databricksStatementDialect,
  databricksString,
  databricksTableStatements,
  setLayoutPropertiesStatement,
} from '../../src/databricks/statement-dialect.ts';
import type { Item } from '../../src/dynamo/attribute-value.ts';
import { SchemaEvolution } from '../../src/lake/schema-evolution.ts';
import { layoutConfiguration, layoutSchema, newTableLayout } from '../../src/lake/table-layout.ts';
import { expectParses, parseDatabricksSql } from './grammar/databricks-sql-grammar.ts';

/*
 * The statement plan rendered for Databricks SQL, checked by the databricks grammar (no Spark can
 * run here; the DuckDB rendering of the same plan is run and compared with the local engine in
 * test/apply/statement-plan-duckdb.test.ts).
 */

const T = Date.UTC(2026, 10, 23);
const TABLE = ['main', 'sales', 'orders'];
const dialect = databricksStatementDialect({ catalog: 'main', schema: 'sales' });

/** Items with a value of every DynamoDB type, numbers of three shapes, and one attribute of two types. */
const ITEMS: Item[] = [
  {
    pk: { S: 'customer#1' },
    sk: { N: '7' },
    name: { S: "O'Brien \\ co" },
    qty: { N: '3' },
    price: { N: '19.99' },
    huge: { N: '1E+125' },
    photo: { B: 'AAEC' },
    vip: { BOOL: true },
    tags: { SS: ['b', 'a'] },
    sizes: { NS: ['10', '9.5'] },
    blobs: { BS: ['AAE=', 'AA=='] },
    address: { M: { city: { S: 'Oslo' } } },
    history: { L: [{ N: '1' }, { NULL: true }] },
    note: { NULL: true },
    total: { N: '12' },
  },
  { pk: { S: 'customer#2' }, sk: { N: '8' }, total: { S: 'n/a' } },
];

function evolved(items: readonly Item[], deletes: 'hard' | 'soft', previous?: ReturnType<typeof plan>) {
  const layout =
    previous?.layout ?? newTableLayout({ keys: { partition: 'pk', sort: 'sk' }, exportTime: T, deletes });
  const schema = previous?.schema ?? layoutSchema(layout, new Map());
  const evolution = new SchemaEvolution(layout, schema);
  for (const item of items) evolution.observe(item);
  return evolution.result();
}

function plan(items: readonly Item[], deletes: 'hard' | 'soft') {
  return evolved(items, deletes);
}

function render(input: Omit<BatchStatementInput, 'table' | 'tombstoneFiles'>): string[] {
  const tables = databricksTableStatements({
    location: 's3://lake-bucket/tables/orders',
    properties: { ...layoutConfiguration(input.layout), 'delta.enableDeletionVectors': 'true' },
  });
  const tombstoneFiles =
    input.batch === 1
      ? []
      : ['s3://lake/tables/orders/_ddb_lake/apply/tombstones/00000000000000000001.jsonl.gz'];
  return batchStatements(dialect, tables, { ...input, table: TABLE, tombstoneFiles }).map((s) => s.sql);
}

describe('the statement plan rendered for Databricks SQL', () => {
  for (const deletes of ['hard', 'soft'] as const) {
    it(`parses with the databricks grammar: first batch, later batch, schema change (${deletes} deletes)`, async () => {
      const first = plan(ITEMS, deletes);
      const firstBatch = render({
        batch: 1,
        layout: first.layout,
        schema: first.schema,
        previousSchema: undefined,
        changeFiles: [
          's3://landing/changes/orders/dt=2026-11-23/a.jsonl.gz',
          's3://landing/changes/orders/dt=2026-11-23/b.jsonl.gz',
        ],
        snapshot: { files: ['s3://landing/AWSDynamoDB/0179/data/x.json.gz'], source: 'export' },
      });
      const later = evolved(
        [{ pk: { S: 'c' }, sk: { N: '1' }, added: { S: 'x' }, qty: { N: '1.5' } }],
        deletes,
        first,
      );
      expect(later.schema.fields.length).toBeGreaterThan(first.schema.fields.length);
      const laterBatch = render({
        batch: 2,
        layout: later.layout,
        schema: later.schema,
        previousSchema: first.schema,
        changeFiles: ['s3://landing/changes/orders/dt=2026-11-24/c.jsonl.gz'],
      });
      const statements = [
        ...firstBatch,
        ...laterBatch,
        setLayoutPropertiesStatement(TABLE, layoutConfiguration(later.layout)),
      ];
      expect(statements.some((sql) => sql.startsWith('ALTER TABLE') && sql.includes('ADD COLUMNS'))).toBe(
        true,
      );
      await expectParses(statements);
    });
  }

  it('never writes a value of the data into the statement text: files and attribute names are parameters', () => {
    const first = plan(ITEMS, 'hard');
    const statements = batchStatements(
      dialect,
      databricksTableStatements({
        location: 's3://b/t',
        properties: {},
      }),
      {
        batch: 2,
        table: TABLE,
        tombstoneFiles: ['s3://b/t/_ddb_lake/apply/tombstones/00000000000000000001.jsonl.gz'],
        layout: first.layout,
        schema: first.schema,
        previousSchema: first.schema,
        changeFiles: ["s3://landing/changes/orders/dt=2026-11-24/it's.jsonl.gz"],
      },
    );
    for (const statement of statements) {
      expect(statement.sql).not.toContain("it's");
      expect(statement.sql).not.toContain('customer#');
      for (const parameter of statement.parameters) expect(statement.sql).toContain(`:${parameter.name}`);
    }
    const merge = statements.find((s) => s.purpose === 'merge');
    expect(merge?.parameters.map((p) => p.value)).toContain(
      "s3://landing/changes/orders/dt=2026-11-24/it's.jsonl.gz",
    );
    expect(merge?.parameters.map((p) => p.value)).toContain('name');
  });

  it('quotes DDL literals so that a quote or backslash cannot end them', async () => {
    expect(databricksString("a'b\\c")).toBe("'a\\'b\\\\c'");
    const [result] = await parseDatabricksSql([
      `ALTER TABLE \`t\` SET TBLPROPERTIES ('ddb_lake.columns' = ${databricksString('[["it\'s","a\\\\b"]]')})`,
    ]);
    expect(result?.parsed).toBe(true);
    expect(() => databricksString('a\nb')).toThrow(/control character/);
  });
});
