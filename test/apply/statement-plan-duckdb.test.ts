import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyBatch } from '../../src/apply/apply-batch.ts';
import { readBatchRecord } from '../../src/apply/batch-record.ts';
import {
  parseTombstone,
  type Tombstone,
  tombstoneFiles,
  tombstonesKey,
} from '../../src/apply/changes/tombstones.ts';
import { batchStatements, StatementPlanError } from '../../src/apply/statements/batch-statements.ts';
import { loadReadSnapshot } from '../../src/delta/load-snapshot.ts';
import type { StructType } from '../../src/delta/schema.ts';
import { duckdbEngine } from '../../src/duckdb/duckdb-engine.ts';
import { DuckSession, quoteIdentifier } from '../../src/duckdb/session.ts';
import {
  duckdbStatementDialect,
  duckdbTableStatements,
  registerStatementFunctions,
} from '../../src/duckdb/statement-dialect.ts';
import { createSnapshotView } from '../../src/duckdb/table-scan.ts';
import type { AttributeValue, Item } from '../../src/dynamo/attribute-value.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import { openExport } from '../../src/formats/export-layout.ts';
import { readGzipJsonLines } from '../../src/formats/gzip-json-lines.ts';
import { newTableLayout, readTableLayout } from '../../src/lake/table-layout.ts';
import type { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
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
} from './run-support.ts';
import { randomNumber, randomValue, VALUE_TYPES } from './support/random-values.ts';
import { SeededRandom } from './support/seeded-random.ts';

/*
 * The statement plan rendered for DuckDB, run over the same change files and export as the local
 * engine, batch after batch, must leave a table equal to the local engine's, row for row and cell
 * for cell (system columns, typed attribute columns, conflict columns). This is how the repository
 * proves what the plan — and so its Databricks rendering — does.
 */

const LAKE = 'lake';

async function readAll(
  session: DuckSession,
  sql: string,
  parameters?: Record<string, string>,
): Promise<unknown[]> {
  return (await session.all(sql, parameters)).getRowObjects();
}

/** Runs the plan of `batch` (as the local engine recorded and evolved it) on the DuckDB tables. */
async function runPlan(
  session: DuckSession,
  landing: LocalFolderStore,
  delta: LocalFolderStore,
  batch: number,
  previousSchema: StructType | undefined,
): Promise<StructType> {
  const record = await readBatchRecord(delta, batch);
  if (record === undefined) throw new Error(`no record of batch ${batch}`);
  const table = await loadReadSnapshot(delta, duckdbEngine(session));
  const layout = readTableLayout(table.metadata.configuration);
  const at = (key: string): string => path.join(landing.rootDir, key);
  let snapshot: { files: string[]; source: 'export' | 'scan' } | undefined;
  if (record.snapshot !== undefined) {
    const opened = await openExport(landing, `AWSDynamoDB/${record.snapshot.exportId}/`);
    snapshot = { files: opened.files.map((file) => at(file.key)), source: record.snapshot.kind };
  }
  const statements = batchStatements(duckdbStatementDialect, duckdbTableStatements, {
    batch,
    table: [LAKE],
    tombstoneFiles: await tombstoneFilesBefore(delta, batch),
    layout,
    schema: table.schema,
    previousSchema,
    changeFiles: record.changeFiles.map(at),
    ...(snapshot === undefined ? {} : { snapshot }),
  });
  for (const statement of statements) {
    const parameters = Object.fromEntries(statement.parameters.map((p) => [p.name, p.value]));
    if (statement.check) {
      const rows = await readAll(session, statement.sql, parameters);
      expect(rows, `${statement.purpose} of batch ${batch}`).toEqual([]);
    } else if (statement.purpose === 'batch-tombstones') {
      // The tombstones the plan returns are the ones the local engine wrote for the batch.
      const rows = (await readAll(session, statement.sql, parameters)) as {
        key: string;
        seq: string;
        source: string;
        ts: bigint;
      }[];
      const returned = rows.map((row) => ({
        key: row.key,
        order: { source: row.source, seq: row.seq, tsMicros: BigInt(row.ts) * 1000n },
      }));
      expect(await tombstonesOfBatch(delta, batch), `tombstones of batch ${batch}`).toEqual(
        new Map(returned.map((t) => [t.key, t])),
      );
    } else {
      await session.run(statement.sql, parameters);
    }
  }
  return table.schema;
}

/** The locations of the tombstone files of the batches before `batch`. */
async function tombstoneFilesBefore(delta: LocalFolderStore, batch: number): Promise<string[]> {
  const files = await tombstoneFiles(delta, batch - 1);
  return [...(files.compacted === undefined ? [] : [files.compacted]), ...files.perBatch].map((key) =>
    path.join(delta.rootDir, key),
  );
}

/** The tombstones the local engine wrote for `batch` (none when it wrote no file). */
async function tombstonesOfBatch(delta: LocalFolderStore, batch: number): Promise<Map<string, Tombstone>> {
  const found = new Map<string, Tombstone>();
  if ((await delta.head(tombstonesKey(batch))) === undefined) return found;
  for await (const { line, value } of readGzipJsonLines(delta, tombstonesKey(batch))) {
    const tombstone = parseTombstone(value, tombstonesKey(batch), line);
    found.set(tombstone.key, tombstone);
  }
  return found;
}

/** Rows of the local engine's table that the plan's table lacks, and the other way round. */
async function differences(session: DuckSession, delta: LocalFolderStore): Promise<unknown[]> {
  const table = await loadReadSnapshot(delta, duckdbEngine(session));
  await createSnapshotView(session, delta, table, 'engine_rows');
  const columns = table.schema.fields.map((field) => quoteIdentifier(field.name)).join(', ');
  return readAll(
    session,
    `(SELECT 'only in the engine''s table' AS side, ${columns} FROM engine_rows EXCEPT ALL SELECT 'only in the engine''s table', ${columns} FROM ${LAKE})
     UNION ALL
     (SELECT 'only in the plan''s table', ${columns} FROM ${LAKE} EXCEPT ALL SELECT 'only in the plan''s table', ${columns} FROM engine_rows)`,
  );
}

const AFTER = SAMPLE_T + 30 * MINUTE;

/** A random item of the orders table: a few attributes of random types, and some of fixed types. */
function randomAttributes(random: SeededRandom): Item {
  const item: Record<string, AttributeValue> = {};
  const count = random.int(5);
  for (let i = 0; i < count; i++) {
    const type = VALUE_TYPES[random.int(VALUE_TYPES.length)];
    item[`attr${random.int(6)}`] = randomValue(random, type);
  }
  if (random.int(2) === 0) item['total'] = { N: randomNumber(random) };
  if (random.int(3) === 0) item['status'] = { S: random.int(2) === 0 ? 'open' : 'shipped' };
  return item;
}

/** `count` random changes on a small key space, from sequence number `from` on, in one shard. */
function randomChanges(random: SeededRandom, from: number, count: number): ChangeRecord[] {
  const records: ChangeRecord[] = [];
  for (let i = 0; i < count; i++) {
    const pk = `customer#${random.between(1, 6)}`;
    const sk = random.int(3) === 0 ? 'profile' : `order#000${random.between(1, 3)}`;
    const remove = random.int(5) === 0;
    records.push(
      change({
        op: remove ? 'REMOVE' : 'MODIFY',
        pk,
        sk,
        seq: seq(from + i),
        ts: AFTER + i * 1000,
        ...(remove ? { old: randomAttributes(random) } : { attributes: randomAttributes(random) }),
        ttl: remove && random.int(4) === 0,
      }),
    );
  }
  return records;
}

describe('the statement plan rendered for DuckDB', () => {
  for (const deletes of ['hard', 'soft'] as const) {
    it(`gives the local engine's table, batch after batch, with ${deletes} deletes (seeded random changes)`, async () => {
      const landing = await sampleLanding({ incremental: false });
      const delta = await tempStore('delta');
      const random = new SeededRandom(deletes === 'hard' ? 1401 : 1402);
      await capture(landing, [coverageRecord(), ...randomChanges(random, 10, 30)]);
      const session = await DuckSession.open({ threads: 1 });
      try {
        registerStatementFunctions(session);
        let schema: StructType | undefined;
        for (let batch = 1; batch <= 4; batch++) {
          if (batch > 1) {
            // Two files per batch; the second repeats records of the first (a Lambda retry).
            const records = randomChanges(random, batch * 1000, 40);
            await capture(landing, records.slice(0, 25));
            await capture(landing, records.slice(20));
          }
          const result = await applyBatch({ landing, delta, table: TABLE, now: sampleClock, deletes });
          expect(result.outcome).toBe('applied');
          schema = await runPlan(session, landing, delta, batch, schema);
          expect(await differences(session, delta), `after batch ${batch}`).toEqual([]);
        }
        const rows = await readAll(session, `SELECT count(*) AS n FROM ${LAKE}`);
        expect(Number((rows[0] as { n: bigint }).n)).toBeGreaterThan(5);
      } finally {
        await session.close();
      }
    });
  }

  it('runs again after a crash and changes nothing: the MERGE is guarded by _ddb_seq, the tombstone query returns the same deletes', async () => {
    const landing = await sampleLanding({ incremental: false });
    const delta = await tempStore('delta');
    const random = new SeededRandom(1403);
    await capture(landing, [coverageRecord(), ...randomChanges(random, 10, 30)]);
    const session = await DuckSession.open({ threads: 1 });
    try {
      registerStatementFunctions(session);
      expect((await applyBatch({ landing, delta, table: TABLE, now: sampleClock })).outcome).toBe('applied');
      const schema = await runPlan(session, landing, delta, 1, undefined);
      await capture(landing, randomChanges(random, 5000, 40));
      expect((await applyBatch({ landing, delta, table: TABLE, now: sampleClock })).outcome).toBe('applied');
      await runPlan(session, landing, delta, 2, schema);
      // Run again (the schema is the table's now): nothing changes, the same tombstones come back.
      await runPlan(
        session,
        landing,
        delta,
        2,
        (await loadReadSnapshot(delta, duckdbEngine(session))).schema,
      );
      expect(await differences(session, delta)).toEqual([]);
    } finally {
      await session.close();
    }
  });

  it('finds two copies of one (key, seq) that differ, before anything is written', async () => {
    const landing = await sampleLanding({ incremental: false });
    const delta = await tempStore('delta');
    const first = change({
      op: 'MODIFY',
      pk: 'customer#1',
      sk: 'profile',
      seq: seq(7),
      ts: AFTER,
      attributes: { a: { S: 'x' } },
    });
    const copy = { ...first, new: { ...(first.new as Item), a: { S: 'y' } } };
    await capture(landing, [coverageRecord(), first]);
    await capture(landing, [copy]);
    const session = await DuckSession.open({ threads: 1 });
    try {
      registerStatementFunctions(session);
      const layout = {
        ...readTableLayout(
          (
            await (async () => {
              await applyBatch({ landing, delta, table: TABLE, now: sampleClock, maxBad: 10 });
              return loadReadSnapshot(delta, duckdbEngine(session));
            })()
          ).metadata.configuration,
        ),
      };
      const record = await readBatchRecord(delta, 1);
      const check = batchStatements(duckdbStatementDialect, duckdbTableStatements, {
        batch: 1,
        table: [LAKE],
        tombstoneFiles: [],
        layout,
        schema: (await loadReadSnapshot(delta, duckdbEngine(session))).schema,
        previousSchema: undefined,
        changeFiles: (record?.changeFiles ?? []).map((key) => path.join(landing.rootDir, key)),
      }).find((statement) => statement.purpose === 'conflicting-copies');
      if (check === undefined) throw new Error('no check statement');
      const rows = await readAll(
        session,
        check.sql,
        Object.fromEntries(check.parameters.map((p) => [p.name, p.value])),
      );
      expect(rows).toEqual([
        { key: '{"pk":"customer#1","sk":"profile"}', seq: seq(7).toString(), copies: 2n },
      ]);
    } finally {
      await session.close();
    }
  });

  it('refuses a batch with incremental exports, naming the engine that can apply it', () => {
    expect(() =>
      batchStatements(duckdbStatementDialect, duckdbTableStatements, {
        batch: 3,
        table: [LAKE],
        tombstoneFiles: [],
        layout: newTableLayout({ keys: { partition: 'pk' }, exportTime: SAMPLE_T }),
        schema: { type: 'struct', fields: [] },
        previousSchema: { type: 'struct', fields: [] },
        changeFiles: ['x'],
        incrementalExports: 1,
      }),
    ).toThrow(StatementPlanError);
  });
});
