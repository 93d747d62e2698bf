import { createTable } from '../../../src/delta/create-table.ts';
import type { StructType } from '../../../src/delta/schema.ts';
import {
  layoutConfiguration,
  layoutSchema,
  newTableLayout,
  PARTITION_COLUMNS,
} from '../../../src/lake/table-layout.ts';
import type { S3Server } from '../../../src/local/s3-server.ts';
import type { S3Store } from '../../../src/storage/s3-store.ts';
import { s3StoreOn } from '../../support/s3-store.ts';
import type { FakeStatementScript } from '../client/fake-statement-api.ts';

/** Creates an empty table as ddb-lake apply lays one out (layout properties, _ddb_bucket partitions). */
export async function lakeTableOn(
  server: S3Server,
  prefix: string,
  options: { deletionVectors: boolean },
): Promise<S3Store> {
  const store = s3StoreOn(server, 'lake', prefix);
  const layout = newTableLayout({
    keys: { partition: 'pk', sort: 'sk' },
    exportTime: Date.UTC(2026, 10, 23),
  });
  await createTable(store, {
    schema: layoutSchema(layout, new Map()),
    partitionColumns: PARTITION_COLUMNS,
    configuration: layoutConfiguration(layout),
    deletionVectors: options.deletionVectors,
    name: 'orders',
  });
  return store;
}

const PLAIN_SCHEMA: StructType = {
  type: 'struct',
  fields: [{ name: 'id', type: { type: 'primitive', name: 'long' }, nullable: true, metadata: {} }],
};

/** Creates a Delta table that another writer made: no ddb_lake.* properties. */
export async function otherTableOn(server: S3Server, prefix: string): Promise<S3Store> {
  const store = s3StoreOn(server, 'lake', prefix);
  await createTable(store, { schema: PLAIN_SCHEMA });
  return store;
}

/** The fake's answer to DESCRIBE DETAIL of a name that names no table, as Databricks words it. */
export function notFound(name: string): FakeStatementScript {
  return {
    states: ['FAILED'],
    error: {
      error_code: 'BAD_REQUEST',
      message: `[TABLE_OR_VIEW_NOT_FOUND] The table or view ${name} cannot be found. Verify the spelling and correctness of the schema and catalog.`,
    },
    sqlState: '42P01',
  };
}

/** The fake's answer to DESCRIBE DETAIL of a table at `location` (the documented columns, in part). */
export function detail(location: string, format = 'delta'): FakeStatementScript {
  return {
    columns: [
      { name: 'format', type_name: 'STRING', type_text: 'string' },
      { name: 'id', type_name: 'STRING', type_text: 'string' },
      { name: 'name', type_name: 'STRING', type_text: 'string' },
      { name: 'location', type_name: 'STRING', type_text: 'string' },
      { name: 'numFiles', type_name: 'LONG', type_text: 'bigint' },
    ],
    rows: [[format, '7d1c3a52-0000-4000-8000-000000000001', 'main.sales.orders', location, '0']],
  };
}
