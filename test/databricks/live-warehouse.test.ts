import { describe, expect, it } from 'vitest';
import { resolveDatabricksConfig } from '../../src/databricks/databricks-config.ts';
import { databricksEngine } from '../../src/databricks/databricks-engine.ts';
import { StatementExecutionClient } from '../../src/databricks/statement-execution.ts';
import { runDemo } from '../../src/local/demo.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { openStore } from '../../src/storage/open-store.ts';

/*
 * The live suite: the demo's table through a real Databricks SQL warehouse, then verify. It runs
 * only when a workspace is configured (DATABRICKS_HOST and DATABRICKS_WAREHOUSE_ID), and then
 * needs, besides credentials as the Databricks CLI reads them and AWS credentials for the bucket:
 *
 *   DDB_LAKE_LIVE_LANDING   an empty s3:// prefix for the landing area
 *   DDB_LAKE_LIVE_DELTA     an empty s3:// prefix for the table
 *   DDB_LAKE_LIVE_CATALOG   the Unity Catalog catalog, and DDB_LAKE_LIVE_SCHEMA its schema,
 *                           where the table and ddb-lake's functions are created
 *
 * Both prefixes must be covered by an external location the warehouse's principal may read and
 * write (`ddb-lake plan --databricks-name` prints the SQL). README.md, "Databricks", says how to
 * run it. What it proves that nothing else here can: that Databricks runs every generated
 * statement, and that the table it writes equals the DynamoDB table item for item.
 */

const env = process.env;
const configured = (env['DATABRICKS_HOST'] ?? '') !== '' && (env['DATABRICKS_WAREHOUSE_ID'] ?? '') !== '';

function required(name: string): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new Error(
      `The live Databricks suite runs because DATABRICKS_HOST and DATABRICKS_WAREHOUSE_ID are set, and it also needs ${name} (see test/databricks/live-warehouse.test.ts and README.md, "Databricks").`,
    );
  }
  return value;
}

async function assertEmpty(store: ObjectStore): Promise<void> {
  for await (const object of store.list('')) {
    throw new Error(
      `${store.url} is not empty (it holds ${object.key}): the live suite needs an empty prefix.`,
    );
  }
}

describe.runIf(configured)(
  'the demo through a real Databricks SQL warehouse (live; needs a workspace)',
  () => {
    it(
      'applies every batch on the warehouse and verify finds the Delta table equal to the DynamoDB table',
      async () => {
        const landing = openStore(required('DDB_LAKE_LIVE_LANDING'));
        const delta = openStore(required('DDB_LAKE_LIVE_DELTA'));
        await assertEmpty(landing);
        await assertEmpty(delta);
        const runner = new StatementExecutionClient({
          config: resolveDatabricksConfig(),
          warehouseId: required('DATABRICKS_WAREHOUSE_ID'),
        });
        const engine = databricksEngine({
          table: {
            catalog: required('DDB_LAKE_LIVE_CATALOG'),
            schema: required('DDB_LAKE_LIVE_SCHEMA'),
            name: `orders_live_${Date.now()}`,
          },
          runner,
        });
        const result = await runDemo({ items: 2000, rounds: 1, stores: { landing, delta }, engine });
        expect(result.batches.filter((batch) => batch.outcome === 'applied').length).toBeGreaterThan(1);
        expect(result.verify).toMatchObject({ equal: true });
      },
      45 * 60_000,
    );
  },
);
