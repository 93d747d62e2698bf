import { describe, expect, it } from 'vitest';
import { schemaStatisticsStatement } from '../../src/apply/statements/schema-statistics.ts';
import { databricksStatementDialect } from '../../src/databricks/statement-dialect.ts';
import type { Item } from '../../src/dynamo/attribute-value.ts';
import { SchemaEvolution } from '../../src/lake/schema-evolution.ts';
import { layoutSchema, newTableLayout } from '../../src/lake/table-layout.ts';
import { expectParses } from './grammar/databricks-sql-grammar.ts';

/*
 * The schema statistics statement (schema-statistics.ts) rendered for Databricks SQL, checked by
 * the databricks grammar; test/apply/schema-statistics-duckdb.test.ts runs the DuckDB rendering.
 */

const T = Date.UTC(2026, 10, 23);
const TOMBSTONE_FILES = ['s3://lake/tables/orders/_ddb_lake/apply/tombstones/00000000000000000001.jsonl.gz'];
const dialect = databricksStatementDialect({ catalog: 'main', schema: 'sales' });

/** An item with a column of every kind, so that the later batch tests a value against each. */
const ITEM: Item = {
  pk: { S: 'customer#1' },
  sk: { N: '7' },
  name: { S: 'x' },
  qty: { N: '3' },
  price: { N: '19.99' },
  huge: { N: '1E+125' },
  photo: { B: 'AAEC' },
  vip: { BOOL: true },
  tags: { SS: ['a'] },
  sizes: { NS: ['10', '9.5'] },
  blobs: { BS: ['AAE='] },
  address: { M: {} },
  history: { L: [] },
  note: { NULL: true },
};

describe('the schema statistics statement rendered for Databricks SQL', () => {
  for (const deletes of ['hard', 'soft'] as const) {
    it(`renders values as parameters, and parses with the databricks grammar (${deletes === 'soft' ? 'a new table with a snapshot' : 'an existing table'}, ${deletes} deletes)`, async () => {
      const layout = newTableLayout({ keys: { partition: 'pk', sort: 'sk' }, exportTime: T, deletes });
      const schema = layoutSchema(layout, new Map());
      const first = schemaStatisticsStatement(dialect, {
        batch: 1,
        layout,
        schema,
        tombstoneFiles: [],
        changeFiles: ['s3://landing/changes/orders/dt=2026-11-23/a.jsonl.gz'],
        snapshot: { files: ['s3://landing/AWSDynamoDB/0179/data/x.json.gz'], source: 'export' },
      });
      const evolution = new SchemaEvolution(layout, schema);
      evolution.observe(ITEM);
      const plan = evolution.result();
      const later = schemaStatisticsStatement(dialect, {
        batch: 2,
        layout: plan.layout,
        schema: plan.schema,
        tombstoneFiles: TOMBSTONE_FILES,
        changeFiles: [
          "s3://landing/changes/orders/dt=2026-11-24/it's.jsonl.gz",
          's3://landing/changes/orders/dt=2026-11-24/d.jsonl.gz',
        ],
      });
      expect(later.sql.includes('NOT EXISTS')).toBe(deletes === 'hard');
      for (const statement of [first, later]) {
        expect(statement.sql).not.toContain("it's");
        expect(statement.sql).not.toContain('\\');
        for (const parameter of statement.parameters) expect(statement.sql).toContain(`:${parameter.name}`);
      }
      expect(later.parameters.map((p) => p.value)).toEqual(
        expect.arrayContaining(["s3://landing/changes/orders/dt=2026-11-24/it's.jsonl.gz", 'price', 'sizes']),
      );
      // sqlfluff takes about ten seconds a statement of this size: the new table parses with soft
      // deletes, the existing one with hard deletes (its tombstone filter), which covers both shapes.
      await expectParses([deletes === 'soft' ? first.sql : later.sql]);
    });
  }
});
