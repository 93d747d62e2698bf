import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  parseUnityCatalogName,
  registerTable,
  registerTableStatement,
  TableRegisterError,
  TableRegisterErrorCode,
  type TableRegisterEvent,
  TableRegisterEventCode,
} from '../../../src/databricks/table-register.ts';
import { createTable } from '../../../src/delta/create-table.ts';
import { duckdbEngine } from '../../../src/duckdb/duckdb-engine.ts';
import { DuckSession } from '../../../src/duckdb/session.ts';
import {
  layoutConfiguration,
  layoutSchema,
  newTableLayout,
  PARTITION_COLUMNS,
} from '../../../src/lake/table-layout.ts';
import { type S3Server, startS3Server } from '../../../src/local/s3-server.ts';
import { LocalFolderStore } from '../../../src/storage/local-folder-store.ts';
import { harness, patEnv, rejectionOf } from '../client/client-harness.ts';
import { FakeStatementApi } from '../client/fake-statement-api.ts';
import { expectParses } from '../grammar/databricks-sql-grammar.ts';
import { detail, lakeTableOn, notFound, otherTableOn } from './register-support.ts';

const STATEMENTS = '/api/2.0/sql/statements';
const NAME = parseUnityCatalogName('main.sales.orders');
const NAME_SQL = '`main`.`sales`.`orders`';

let server: S3Server;
let session: DuckSession;
beforeAll(async () => {
  server = await startS3Server({ buckets: ['lake'] });
  session = await DuckSession.open({ threads: 1 });
});
afterAll(async () => {
  await session.close();
  await server.stop();
});

let fake: FakeStatementApi;
beforeEach(async () => {
  fake = await FakeStatementApi.start();
});
afterEach(async () => {
  await fake.close();
});

/** The statements the fake received, in order. */
function submitted(): string[] {
  return fake.requestsTo(STATEMENTS, 'POST').map((r) => (r.body as { statement: string }).statement);
}

describe('parseUnityCatalogName', () => {
  it('takes three plain parts, or parts in backticks with a doubled backtick, and spells them backticked', () => {
    expect(parseUnityCatalogName('main.sales.orders')).toEqual({
      catalog: 'main',
      schema: 'sales',
      table: 'orders',
    });
    expect(parseUnityCatalogName('`dev-cat`.`sales``eu`.orders_2')).toEqual({
      catalog: 'dev-cat',
      schema: 'sales`eu',
      table: 'orders_2',
    });
    expect(registerTableStatement(parseUnityCatalogName('`dev-cat`.`sales``eu`.o'), "s3://b/it's")).toBe(
      "CREATE TABLE IF NOT EXISTS `dev-cat`.`sales``eu`.`o`\nUSING DELTA\nLOCATION 's3://b/it\\'s'",
    );
  });

  it.each([
    ['orders', '1 part, not 3'],
    ['sales.orders', '2 parts, not 3'],
    ['a.b.c.d', '4 parts, not 3'],
    ['main..orders', 'the schema name is empty'],
    ['main.sales.', 'the table name is empty'],
    ['main.my sales.orders', 'holds " "'],
    ['main.`a/b`.orders', 'holds "/"'],
    ['main.`sales.orders', 'a backtick is not closed'],
    ['main.sa`les.orders', 'has a backtick inside'],
    [`main.sales.${'x'.repeat(256)}`, 'has 256 characters; Unity Catalog allows at most 255'],
  ])('refuses %j, saying why', (text, why) => {
    let error: unknown;
    try {
      parseUnityCatalogName(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TableRegisterError);
    expect((error as TableRegisterError).code).toBe(TableRegisterErrorCode.invalidName);
    expect((error as Error).message).toContain(why);
  });

  it('accepts a part of 255 characters', () => {
    expect(parseUnityCatalogName(`main.sales.${'x'.repeat(255)}`).table).toHaveLength(255);
  });
});

describe('registerTable against a loopback fake of the Statement Execution API', () => {
  it('creates the table at the --delta location when the name is free, and checks it afterwards', async () => {
    const delta = await lakeTableOn(server, 'tables/orders-new', { deletionVectors: false });
    const location = delta.url;
    expect(location).toBe('s3://lake/tables/orders-new');
    fake.script(notFound(NAME_SQL)).script({}).script(detail(location));
    const { client } = harness(patEnv(fake));
    const events: TableRegisterEvent[] = [];

    const result = await registerTable({
      delta,
      engine: duckdbEngine(session),
      name: NAME,
      client,
      onEvent: (event) => events.push(event),
    });

    const create = `CREATE TABLE IF NOT EXISTS ${NAME_SQL}\nUSING DELTA\nLOCATION 's3://lake/tables/orders-new'`;
    expect(submitted()).toEqual([`DESCRIBE DETAIL ${NAME_SQL}`, create, `DESCRIBE DETAIL ${NAME_SQL}`]);
    expect(result).toMatchObject({
      outcome: 'registered',
      name: NAME_SQL,
      location,
      statement: create,
      version: 0,
      deletionVectors: false,
      minimumRuntime: null,
      warehouseId: 'fake-warehouse',
      statementIds: ['fake-statement-1', 'fake-statement-2', 'fake-statement-3'],
    });
    expect(events.map((e) => e.code)).toEqual([
      TableRegisterEventCode.tableRead,
      TableRegisterEventCode.created,
    ]);
  });

  it('does nothing more on a rerun: the name already names this location (a trailing slash aside)', async () => {
    const delta = await lakeTableOn(server, 'tables/orders-again', { deletionVectors: false });
    fake.script(detail(`${delta.url}/`));
    const { client } = harness(patEnv(fake));
    const result = await registerTable({ delta, engine: duckdbEngine(session), name: NAME, client });
    expect(result.outcome).toBe('already-registered');
    expect(submitted()).toEqual([`DESCRIBE DETAIL ${NAME_SQL}`]);
  });

  it('refuses a name already used by a table at another location, and creates nothing', async () => {
    const delta = await lakeTableOn(server, 'tables/orders-mine', { deletionVectors: false });
    fake.script(detail('s3://other-bucket/warehouse/orders'));
    const { client } = harness(patEnv(fake));
    const error = await rejectionOf(
      registerTable({ delta, engine: duckdbEngine(session), name: NAME, client }),
    );
    expect(error).toBeInstanceOf(TableRegisterError);
    expect((error as TableRegisterError).code).toBe(TableRegisterErrorCode.nameTaken);
    expect(error.message).toContain('s3://other-bucket/warehouse/orders');
    expect(error.message).toContain('s3://lake/tables/orders-mine');
    expect(submitted()).toEqual([`DESCRIBE DETAIL ${NAME_SQL}`]);
  });

  it('refuses a name that holds a table of another format', async () => {
    const delta = await lakeTableOn(server, 'tables/orders-parquet', { deletionVectors: false });
    fake.script(detail(delta.url, 'parquet'));
    const { client } = harness(patEnv(fake));
    const error = await rejectionOf(
      registerTable({ delta, engine: duckdbEngine(session), name: NAME, client }),
    );
    expect((error as TableRegisterError).code).toBe(TableRegisterErrorCode.nameTaken);
    expect(error.message).toContain('as a parquet table');
    expect(submitted()).toHaveLength(1);
  });

  it('refuses when someone created the name elsewhere between the check and CREATE (IF NOT EXISTS did nothing)', async () => {
    const delta = await lakeTableOn(server, 'tables/orders-race', { deletionVectors: false });
    fake.script(notFound(NAME_SQL)).script({}).script(detail('s3://lake/tables/someone-else'));
    const { client } = harness(patEnv(fake));
    const error = await rejectionOf(
      registerTable({ delta, engine: duckdbEngine(session), name: NAME, client }),
    );
    expect((error as TableRegisterError).code).toBe(TableRegisterErrorCode.nameTaken);
    expect(error.message).toContain('created by someone else meanwhile');
    expect(submitted()).toHaveLength(3);
  });

  it('passes on a DESCRIBE DETAIL failure other than a missing table, without creating anything', async () => {
    const delta = await lakeTableOn(server, 'tables/orders-denied', { deletionVectors: false });
    fake.script({
      states: ['FAILED'],
      error: {
        error_code: 'PERMISSION_DENIED',
        message: 'User does not have USE SCHEMA on Schema main.sales.',
      },
    });
    const { client } = harness(patEnv(fake));
    const error = await rejectionOf(
      registerTable({ delta, engine: duckdbEngine(session), name: NAME, client }),
    );
    expect(error.message).toContain('USE SCHEMA');
    expect(submitted()).toEqual([`DESCRIBE DETAIL ${NAME_SQL}`]);
  });

  it('refuses a Delta table ddb-lake did not write, before submitting anything', async () => {
    const delta = await otherTableOn(server, 'tables/not-ours');
    const { client } = harness(patEnv(fake));
    const error = await rejectionOf(
      registerTable({ delta, engine: duckdbEngine(session), name: NAME, client }),
    );
    expect((error as TableRegisterError).code).toBe(TableRegisterErrorCode.notALakeTable);
    expect(error.message).toContain('ddb_lake.keys');
    expect(fake.requests).toEqual([]);
  });

  it('refuses a local folder, even one holding a ddb-lake table, before submitting anything', async () => {
    const folder = await mkdtemp(path.join(tmpdir(), 'ddb-lake-register-'));
    try {
      const delta = new LocalFolderStore(folder);
      const layout = newTableLayout({ keys: { partition: 'pk' }, exportTime: 0 });
      await createTable(delta, {
        schema: layoutSchema(layout, new Map()),
        partitionColumns: PARTITION_COLUMNS,
        configuration: layoutConfiguration(layout),
      });
      const { client } = harness(patEnv(fake));
      const error = await rejectionOf(
        registerTable({ delta, engine: duckdbEngine(session), name: NAME, client }),
      );
      expect((error as TableRegisterError).code).toBe(TableRegisterErrorCode.notCloudStorage);
      expect(error.message).toContain('not on S3');
      expect(fake.requests).toEqual([]);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('in a dry run reads the table and returns the statement, with no client and no request', async () => {
    const delta = await lakeTableOn(server, 'tables/orders-dv', { deletionVectors: true });
    const events: TableRegisterEvent[] = [];
    const result = await registerTable({
      delta,
      engine: duckdbEngine(session),
      name: NAME,
      dryRun: true,
      onEvent: (event) => events.push(event),
    });
    expect(result).toMatchObject({
      outcome: 'dry-run',
      statement: `CREATE TABLE IF NOT EXISTS ${NAME_SQL}\nUSING DELTA\nLOCATION 's3://lake/tables/orders-dv'`,
      deletionVectors: true,
      minimumRuntime: '12.2 LTS',
      warehouseId: null,
      statementIds: [],
    });
    const warning = events.find((e) => e.code === TableRegisterEventCode.deletionVectors);
    expect(warning).toMatchObject({ minimumRuntime: '12.2 LTS', location: 's3://lake/tables/orders-dv' });
    expect(fake.requests).toEqual([]);
  });
});

describe('the statements of table register', () => {
  it('parse as Databricks SQL', async () => {
    const name = parseUnityCatalogName('`dev-cat`.sales.orders');
    await expectParses([
      registerTableStatement(name, 's3://lake/tables/orders'),
      `DESCRIBE DETAIL ${'`dev-cat`.`sales`.`orders`'}`,
    ]);
  });
});
