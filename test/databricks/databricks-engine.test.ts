import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyBatch, type WarehouseDryRun } from '../../src/apply/apply-batch.ts';
import { ApplyRunError, TooManyBadLinesError } from '../../src/apply/apply-errors.ts';
import { completionKey, readBatchCompletion } from '../../src/apply/batch-completion.ts';
import { tombstoneFiles, tombstonesKey } from '../../src/apply/changes/tombstones.ts';
import { quarantineFolder } from '../../src/apply/inputs/quarantine.ts';
import { schemaStatisticsStatement } from '../../src/apply/statements/schema-statistics.ts';
import { databricksEngine } from '../../src/databricks/databricks-engine.ts';
import { createTable } from '../../src/delta/create-table.ts';
import { loadReadSnapshot } from '../../src/delta/load-snapshot.ts';
import { duckdbEngine } from '../../src/duckdb/duckdb-engine.ts';
import { DuckSession } from '../../src/duckdb/session.ts';
import { duckdbStatementDialect, registerStatementFunctions } from '../../src/duckdb/statement-dialect.ts';
import { changeFileKey } from '../../src/formats/change-file-key.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import { readGzipJsonLines } from '../../src/formats/gzip-json-lines.ts';
import {
  layoutConfiguration,
  layoutSchema,
  newTableLayout,
  PARTITION_COLUMNS,
  readTableLayout,
  TABLE_NAME_PROPERTY,
} from '../../src/lake/table-layout.ts';
import {
  S3_SERVER_CREDENTIALS,
  S3_SERVER_REGION,
  type S3Server,
  startS3Server,
} from '../../src/local/s3-server.ts';
import { BATCH_STATEMENTS, FIRST_LOAD_STATEMENTS } from '../../src/plan/databricks-plan.ts';
import { readApplyStatus } from '../../src/status/apply-status.ts';
import type { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { S3Store } from '../../src/storage/s3-store.ts';
import {
  capture,
  change,
  coverageRecord,
  MINUTE,
  SAMPLE_T,
  sampleClock,
  sampleLanding,
  seq,
  TABLE,
  tempStore,
} from '../apply/run-support.ts';
import { harness, patEnv } from './client/client-harness.ts';
import { FakeStatementApi, type FakeStatementScript } from './client/fake-statement-api.ts';
import { expectParses } from './grammar/databricks-sql-grammar.ts';

/*
 * `apply --engine databricks`: the batch planned as for our engine, its statements submitted to the
 * Statement Execution API — here a loopback fake of it, which answers as scripted and records what
 * it received (no workspace can run here; what the statements do is proven by their DuckDB
 * rendering in test/apply/statement-plan-duckdb.test.ts) — and the bookkeeping that lets either
 * engine take the next batch: the batch's tombstones, its completion mark.
 */

const AFTER = SAMPLE_T + 30 * MINUTE;
const TABLE_NAME = { catalog: 'main', schema: 'sales', name: 'orders' };

async function keysOf(store: ObjectStore, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of store.list(prefix)) keys.push(object.key);
  return keys;
}

async function copyStore(from: ObjectStore, to: ObjectStore): Promise<void> {
  for (const key of await keysOf(from)) await to.put(key, await from.getBytes(key));
}

/** The changes of batch 2: an update with a new attribute, an insert, a delete. */
function laterChanges() {
  return [
    change({
      op: 'MODIFY',
      pk: 'customer#2',
      sk: 'profile',
      seq: seq(10),
      ts: AFTER,
      attributes: { vip: { BOOL: true }, loyalty: { N: '12.5' } },
    }),
    change({
      op: 'INSERT',
      pk: 'customer#7',
      sk: 'order#0001',
      seq: seq(11),
      ts: AFTER,
      attributes: { qty: { N: '2' } },
    }),
    change({ op: 'REMOVE', pk: 'customer#3', sk: 'order#0001', seq: seq(12), ts: AFTER + 1000 }),
  ];
}

function dryRunOf(result: Awaited<ReturnType<typeof applyBatch>>): WarehouseDryRun {
  expect(result.outcome).toBe('dry-run');
  return result as WarehouseDryRun;
}

describe('apply --engine databricks, dry run (no workspace)', () => {
  it("prints every statement of the first and a later batch in order, writes nothing, and the engine's own statements parse", async () => {
    const landing = await sampleLanding({ incremental: false });
    await capture(landing, [coverageRecord()]);
    const delta = await tempStore('delta');
    const engine = databricksEngine({ table: TABLE_NAME });
    const first = dryRunOf(
      await applyBatch({ landing, delta, table: TABLE, now: sampleClock, engine, dryRun: true }),
    );
    expect(first.statements.map((s) => s.purpose)).toEqual([
      'create-function',
      'create-function',
      'bad-records',
      'conflicting-copies',
      'schema-statistics',
      'create-table',
      'merge',
      'batch-tombstones',
    ]);
    // What plan's warehouse time estimate counts.
    expect(first.statements).toHaveLength(FIRST_LOAD_STATEMENTS);
    expect(first.statements.find((s) => s.purpose === 'create-table')?.sql).toContain(
      `LOCATION '${delta.url}'`,
    );
    expect(await keysOf(delta)).toEqual([]);

    expect((await applyBatch({ landing, delta, table: TABLE, now: sampleClock })).outcome).toBe('applied');
    // The warehouse would create the table our engine created: the same columns, in the same order.
    const created = first.statements.find((s) => s.purpose === 'create-table')?.sql ?? '';
    const columnsOf = (sql: string) => [...sql.matchAll(/`([^`]+)` [A-Z]/g)].map((m) => m[1]);
    const reader = await DuckSession.open({ threads: 1 });
    const local = await loadReadSnapshot(delta, duckdbEngine(reader)).finally(() => reader.close());
    expect(columnsOf(created.slice(created.indexOf('('), created.indexOf('USING')))).toEqual(
      local.schema.fields.map((field) => field.name),
    );
    await capture(landing, laterChanges());
    const before = await keysOf(delta);
    const later = dryRunOf(
      await applyBatch({ landing, delta, table: TABLE, now: sampleClock, engine, dryRun: true }),
    );
    expect(later.batch).toBe(2);
    expect(later.statements.map((s) => s.purpose)).toEqual([
      'create-function',
      'create-function',
      'register-table',
      'table-location',
      'bad-records',
      'conflicting-copies',
      'schema-statistics',
      'add-columns',
      'set-properties',
      'merge',
      'batch-tombstones',
    ]);
    const withoutSchemaChange = later.statements.filter(
      (s) => !['add-columns', 'set-properties'].includes(s.purpose),
    );
    expect(withoutSchemaChange).toHaveLength(BATCH_STATEMENTS);
    expect(later.schemaChanges.map((c) => c.column).sort()).toEqual(['loyalty', 'vip']);
    expect(await keysOf(delta)).toEqual(before);
    // The plan's own statements are parsed by the plan's tests (statement-plan-databricks,
    // schema-statistics-databricks); here the engine's: functions, table, registration, properties.
    const planned = new Set([
      'bad-records',
      'conflicting-copies',
      'schema-statistics',
      'merge',
      'batch-tombstones',
    ]);
    await expectParses(
      [...first.statements, ...later.statements].filter((s) => !planned.has(s.purpose)).map((s) => s.sql),
    );
  });

  it('loads the snapshot again when a run was killed after the warehouse created the table (batch 1 not done)', async () => {
    const landing = await sampleLanding({ incremental: false });
    await capture(landing, [coverageRecord()]);
    const delta = await tempStore('delta');
    // What CREATE TABLE left: the table with the layout in its properties, no batch in it.
    const layout = newTableLayout({ keys: { partition: 'pk', sort: 'sk' }, exportTime: SAMPLE_T });
    await createTable(delta, {
      schema: layoutSchema(layout, new Map()),
      partitionColumns: PARTITION_COLUMNS,
      configuration: layoutConfiguration(layout, { [TABLE_NAME_PROPERTY]: TABLE }),
      now: SAMPLE_T,
      deletionVectors: true,
    });
    const again = dryRunOf(
      await applyBatch({
        landing,
        delta,
        table: TABLE,
        now: sampleClock,
        engine: databricksEngine({ table: TABLE_NAME }),
        dryRun: true,
      }),
    );
    expect(again.batch).toBe(1);
    const purposes = again.statements.map((s) => s.purpose);
    expect(purposes).toContain('register-table');
    expect(purposes).not.toContain('create-table');
    const merge = again.statements.find((s) => s.purpose === 'merge');
    expect(merge?.parameters.filter((p) => p.name.startsWith('snapshot_file')).length).toBeGreaterThan(0);
  });

  it('is refused for our own engine, which has none', async () => {
    const landing = await sampleLanding({ incremental: false });
    await capture(landing, [coverageRecord()]);
    const delta = await tempStore('delta');
    await expect(
      applyBatch({ landing, delta, table: TABLE, now: sampleClock, dryRun: true } as never),
    ).rejects.toThrow(/A dry run needs an engine that has one/);
  });
});

describe('apply --engine databricks against a loopback fake of the Statement Execution API', () => {
  let server: S3Server;
  let fake: FakeStatementApi;
  beforeAll(async () => {
    server = await startS3Server({ buckets: ['lake'] });
    fake = await FakeStatementApi.start({ pat: 'dapi-fake-pat' });
  });
  afterAll(async () => {
    await fake.close();
    await server.stop();
  });

  let tables = 0;
  /**
   * A table on S3 after batch 1 by our engine, and an S3 landing area holding batch 2's changes.
   * Batch 1 reads a local copy of the landing area, whose files carry the times of their records
   * (the handoff check reads them); later batches need no handoff check.
   */
  async function tableAfterFirstBatch() {
    const local = await sampleLanding({ incremental: false });
    await capture(local, [coverageRecord()]);
    tables++;
    const s3 = (prefix: string) =>
      new S3Store({
        bucket: 'lake',
        prefix,
        endpointUrl: server.endpoint,
        region: S3_SERVER_REGION,
        credentials: S3_SERVER_CREDENTIALS,
      });
    const landing = s3(`landing-${tables}`);
    const delta = s3(`tables/orders-${tables}`);
    expect((await applyBatch({ landing: local, delta, table: TABLE, now: sampleClock })).outcome).toBe(
      'applied',
    );
    await capture(local, laterChanges());
    await copyStore(local, landing);
    // What batch 2 will submit, as its dry run lists it.
    const planned = dryRunOf(
      await applyBatch({
        landing,
        delta,
        table: TABLE,
        now: sampleClock,
        engine: databricksEngine({ table: TABLE_NAME }),
        dryRun: true,
      }),
    );
    return { landing, delta, planned, statistics: await statisticsOnDuckDB(local, delta) };
  }

  /**
   * What a warehouse answers to batch 2's schema statistics: the same statement rendered for DuckDB
   * and run here over the local copies of the change files (the fake only replays answers).
   */
  async function statisticsOnDuckDB(
    local: LocalFolderStore,
    delta: ObjectStore,
  ): Promise<FakeStatementScript> {
    const session = await DuckSession.open({ threads: 1 });
    try {
      registerStatementFunctions(session);
      const table = await loadReadSnapshot(delta, duckdbEngine(session));
      expect((await tombstoneFiles(delta, 1)).perBatch).toEqual([]);
      const changeFiles = (await keysOf(local, 'changes/'))
        .slice(-1)
        .map((key) => path.join(local.rootDir, key));
      const statement = schemaStatisticsStatement(duckdbStatementDialect, {
        batch: 2,
        tombstoneFiles: [],
        layout: readTableLayout(table.metadata.configuration),
        schema: table.schema,
        changeFiles,
      });
      const reader = await session.all(
        statement.sql,
        Object.fromEntries(statement.parameters.map((p) => [p.name, p.value])),
      );
      const names = reader.columnNames();
      return {
        columns: names.map((name) => ({ name, type_name: 'STRING', type_text: 'STRING' })),
        rows: reader.getRows().map((row) => row.map((value) => (value === null ? null : String(value)))),
      };
    } finally {
      await session.close();
    }
  }

  /** Scripts the fake for the statements a dry run lists: the table's location, the MERGE's counts, the tombstones. */
  function scriptFor(
    statements: WarehouseDryRun['statements'],
    location: string,
    statistics: FakeStatementScript,
    overrides: Record<string, FakeStatementScript> = {},
  ) {
    for (const statement of statements) {
      const column = (name: string) => ({ name, type_name: 'STRING', type_text: 'STRING' });
      const scripted: FakeStatementScript =
        overrides[statement.purpose] ??
        (statement.purpose === 'schema-statistics'
          ? statistics
          : statement.purpose === 'table-location'
            ? { columns: [column('format'), column('location')], rows: [['delta', location]] }
            : statement.purpose === 'merge'
              ? {
                  columns: [
                    'num_affected_rows',
                    'num_updated_rows',
                    'num_deleted_rows',
                    'num_inserted_rows',
                  ].map(column),
                  rows: [['3', '1', '1', '1']],
                }
              : statement.purpose === 'batch-tombstones'
                ? {
                    columns: ['key', 'seq', 'source', 'ts'].map(column),
                    rows: [
                      [
                        '{"pk":"customer#3","sk":"order#0001"}',
                        seq(12).toString().padStart(40, '0'),
                        'stream',
                        String(AFTER + 1000),
                      ],
                    ],
                  }
                : { states: ['PENDING', 'RUNNING', 'SUCCEEDED'] });
      fake.script(scripted);
    }
  }

  /** Batch 2 (or 1) applied by the Databricks engine through a client of the fake. */
  function applyOnWarehouse(landing: ObjectStore, delta: ObjectStore) {
    const { client } = harness(patEnv(fake));
    return applyBatch({
      landing,
      delta,
      table: TABLE,
      now: sampleClock,
      engine: databricksEngine({ table: TABLE_NAME, runner: client }),
    });
  }

  it('submits the planned statements with typed parameters, writes the tombstones and the mark, and our engine takes the next batch', async () => {
    const { landing, delta, planned, statistics } = await tableAfterFirstBatch();
    scriptFor(planned.statements, delta.url, statistics);
    const submittedBefore = fake.requestsTo('/api/2.0/sql/statements', 'POST').length;
    const result = await applyOnWarehouse(landing, delta);
    expect(result).toMatchObject({
      outcome: 'applied',
      engine: 'databricks',
      batch: 2,
      inserted: 1,
      updated: 1,
      deleted: 1,
      tombstones: 1,
    });

    // What the warehouse received: the dry run's statements, in order, values only as typed parameters.
    const submitted = fake.requestsTo('/api/2.0/sql/statements', 'POST').slice(submittedBefore);
    const bodies = submitted.map(
      (request) =>
        request.body as {
          statement: string;
          warehouse_id: string;
          parameters?: { name: string; value: string; type: string }[];
        },
    );
    expect(bodies.map((body) => body.statement)).toEqual(planned.statements.map((s) => s.sql));
    expect(new Set(bodies.map((body) => body.warehouse_id))).toEqual(new Set(['fake-warehouse']));
    const merge = bodies[planned.statements.findIndex((s) => s.purpose === 'merge')];
    expect(merge?.parameters?.find((p) => p.value.endsWith('.jsonl.gz'))).toMatchObject({ type: 'STRING' });
    expect(merge?.parameters?.find((p) => p.name.startsWith('buckets'))).toMatchObject({
      value: '16',
      type: 'INT',
    });
    expect(merge?.statement).not.toContain('customer#');
    expect(merge?.statement).not.toContain('s3://');

    // The bookkeeping beside the table, where our engine reads it.
    const mark = await readBatchCompletion(delta, 2);
    expect(mark?.statements.map((s) => s.purpose)).toEqual(planned.statements.map((s) => s.purpose));
    const lines = [];
    for await (const { value } of readGzipJsonLines(delta, tombstonesKey(2))) lines.push(value);
    expect(lines).toEqual([
      {
        key: '{"pk":"customer#3","sk":"order#0001"}',
        seq: seq(12).toString().padStart(40, '0'),
        source: 'stream',
        ts: String(BigInt(AFTER + 1000) * 1000n),
      },
    ]);

    // status reports the warehouse's batch as the last one, at the version its mark names.
    const reader = await DuckSession.open({ threads: 1 });
    const status = await readApplyStatus(delta, landing, TABLE, {
      now: sampleClock(),
      engine: duckdbEngine(reader),
    }).finally(() => reader.close());
    expect(status.lastBatch).toMatchObject({ batch: 2, version: mark?.version });
    expect(status.pendingBatch).toBeNull();

    // Our engine takes the batch after the warehouse's: batch 3, not batch 2 again.
    const local = await tempStore('landing-more');
    await capture(local, [
      change({
        op: 'MODIFY',
        pk: 'customer#1',
        sk: 'profile',
        seq: seq(20),
        ts: AFTER + 5000,
        attributes: { note: { S: 'later' } },
      }),
    ]);
    await copyStore(local, landing);
    expect(await applyBatch({ landing, delta, table: TABLE, now: sampleClock })).toMatchObject({
      outcome: 'applied',
      batch: 3,
    });
    await landing.close();
    await delta.close();
  });

  it('stops before the MERGE when a check returns rows, marks nothing, and the next run applies the batch from its record', async () => {
    const { landing, delta, planned, statistics } = await tableAfterFirstBatch();
    const engine = (runner: ReturnType<typeof harness>['client']) =>
      databricksEngine({ table: TABLE_NAME, runner });
    const checkAt = planned.statements.findIndex((s) => s.purpose === 'conflicting-copies');
    scriptFor(planned.statements.slice(0, checkAt + 1), delta.url, statistics, {
      'conflicting-copies': {
        columns: ['key', 'seq', 'copies'].map((name) => ({ name, type_name: 'STRING', type_text: 'STRING' })),
        rows: [['{"pk":"customer#2","sk":"profile"}', seq(10).toString(), '2']],
      },
    });
    const { client } = harness(patEnv(fake));
    const before = fake.requestsTo('/api/2.0/sql/statements', 'POST').length;
    const error = await applyBatch({
      landing,
      delta,
      table: TABLE,
      now: sampleClock,
      engine: engine(client),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplyRunError);
    expect((error as Error).message).toMatch(
      /share a key and sequence number with a copy that differs.*customer#2/,
    );
    const sent = fake.requestsTo('/api/2.0/sql/statements', 'POST').slice(before);
    expect(sent).toHaveLength(checkAt + 1);
    expect(await delta.head(completionKey(2))).toBeUndefined();
    expect(await delta.head('_ddb_lake/apply/batches/00000000000000000002.json')).toBeDefined();

    scriptFor(planned.statements, delta.url, statistics);
    const again = await applyBatch({
      landing,
      delta,
      table: TABLE,
      now: sampleClock,
      engine: engine(client),
    });
    expect(again).toMatchObject({ outcome: 'applied', batch: 2, rebuilt: true });
    expect(await delta.head(completionKey(2))).toBeDefined();
    await landing.close();
    await delta.close();
  });

  it('a copy of a record that differs stops the batch before anything is merged, and goes to the batch quarantine with its file and line', async () => {
    const { landing, delta } = await tableAfterFirstBatch();
    const [original] = laterChanges();
    const copy = { ...original, new: { ...original?.new, vip: { BOOL: false } } } as ChangeRecord;
    const local = await tempStore('landing-copy');
    await capture(local, [copy]);
    await copyStore(local, landing);
    const column = (name: string) => ({ name, type_name: 'STRING', type_text: 'STRING' });
    // What the warehouse answers up to the check (the fake only replays answers).
    for (const script of [
      {},
      {},
      {},
      { columns: [column('location')], rows: [[delta.url]] },
      {},
      {
        columns: ['key', 'seq', 'copies'].map(column),
        rows: [['{"pk":"customer#2","sk":"profile"}', seq(10).toString(), '2']],
      },
    ] as FakeStatementScript[])
      fake.script(script);
    const before = fake.requestsTo('/api/2.0/sql/statements', 'POST').length;
    const error = await applyOnWarehouse(landing, delta).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TooManyBadLinesError);
    const sent = fake.requestsTo('/api/2.0/sql/statements', 'POST').slice(before);
    expect(sent.map((r) => (r.body as { statement: string }).statement.split('\n')[0])).not.toContainEqual(
      expect.stringMatching(/^MERGE/),
    );
    const quarantined = await keysOf(delta, quarantineFolder(2));
    expect(quarantined.length).toBeGreaterThan(0);
    const lines = Buffer.from(await delta.getBytes(quarantined[0] as string)).toString('utf8');
    expect(lines).toContain('changes/orders/');
    expect(await delta.head(completionKey(2))).toBeUndefined();
    await landing.close();
    await delta.close();
  });

  it("a line that is not JSON fails the warehouse's check (FAILFAST) and goes to the batch quarantine with its file and line", async () => {
    const { landing, delta } = await tableAfterFirstBatch();
    const key = changeFileKey({
      table: TABLE,
      shard: 'shardId-bad',
      firstSeq: seq(30).toString(),
      lastSeq: seq(30).toString(),
      firstTs: AFTER,
    });
    await landing.put(key, gzipSync('{"op": "MODIFY", not json\n'));
    const column = (name: string) => ({ name, type_name: 'STRING', type_text: 'STRING' });
    for (const script of [
      {},
      {},
      {},
      { columns: [column('location')], rows: [[delta.url]] },
      {
        states: ['RUNNING', 'FAILED'],
        error: {
          error_code: 'BAD_REQUEST',
          message: '[MALFORMED_RECORD_IN_PARSING] Malformed records are detected in record parsing',
        },
      },
    ] as FakeStatementScript[])
      fake.script(script);
    const error = await applyOnWarehouse(landing, delta).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TooManyBadLinesError);
    const [quarantined] = await keysOf(delta, quarantineFolder(2));
    expect(Buffer.from(await delta.getBytes(quarantined as string)).toString('utf8')).toContain(key);
    expect(await delta.head(completionKey(2))).toBeUndefined();
    await landing.close();
    await delta.close();
  });

  it('refuses a Unity Catalog table of that name at another location, before the MERGE', async () => {
    const { landing, delta, planned, statistics } = await tableAfterFirstBatch();
    const at = planned.statements.findIndex((s) => s.purpose === 'table-location');
    scriptFor(planned.statements.slice(0, at + 1), 's3://elsewhere/orders', statistics);
    const before = fake.requestsTo('/api/2.0/sql/statements', 'POST').length;
    await expect(applyOnWarehouse(landing, delta)).rejects.toThrow(
      /is at s3:\/\/elsewhere\/orders, not at --delta/,
    );
    expect(fake.requestsTo('/api/2.0/sql/statements', 'POST').slice(before)).toHaveLength(at + 1);
    await landing.close();
    await delta.close();
  });

  it('refuses a local landing area or table: a warehouse reads S3', async () => {
    const landing = await sampleLanding({ incremental: false });
    await capture(landing, [coverageRecord()]);
    const delta = await tempStore('delta');
    await expect(applyOnWarehouse(landing, delta)).rejects.toThrow(
      /--engine databricks needs --landing on S3/,
    );
  });
});
