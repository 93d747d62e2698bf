import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyBatch } from '../../src/apply/apply-batch.ts';
import { readBatchRecord } from '../../src/apply/batch-record.ts';
import { batchStatements, StatementPlanError } from '../../src/apply/statements/batch-statements.ts';
import { loadReadSnapshot } from '../../src/delta/load-snapshot.ts';
import { duckdbEngine } from '../../src/duckdb/duckdb-engine.ts';
import { DuckSession } from '../../src/duckdb/session.ts';
import {
  duckdbStatementDialect,
  duckdbTableStatements,
  registerStatementFunctions,
} from '../../src/duckdb/statement-dialect.ts';
import type { AttributeValue, Item } from '../../src/dynamo/attribute-value.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import { newTableLayout, readTableLayout } from '../../src/lake/table-layout.ts';
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
import { StatementPlanCheck } from './support/statement-plan-check.ts';

/*
 * The statement plan rendered for DuckDB, run over the same change files and export as the local
 * engine, batch after batch, must leave a table equal to the local engine's, row for row and cell
 * for cell (system columns, typed attribute columns, conflict columns). This is how the repository
 * proves what the plan — and so its Databricks rendering — does.
 */

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
        const plan = new StatementPlanCheck(session, landing, delta, expect);
        for (let batch = 1; batch <= 4; batch++) {
          if (batch > 1) {
            // Two files per batch; the second repeats records of the first (a Lambda retry).
            const records = randomChanges(random, batch * 1000, 40);
            await capture(landing, records.slice(0, 25));
            await capture(landing, records.slice(20));
          }
          const result = await applyBatch({ landing, delta, table: TABLE, now: sampleClock, deletes });
          expect(result.outcome).toBe('applied');
          await plan.afterBatch(batch);
        }
        const rows = (await session.all(`SELECT count(*) AS n FROM ${plan.lake}`)).getRowObjects();
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
      const plan = new StatementPlanCheck(session, landing, delta, expect);
      expect((await applyBatch({ landing, delta, table: TABLE, now: sampleClock })).outcome).toBe('applied');
      await plan.afterBatch(1);
      await capture(landing, randomChanges(random, 5000, 40));
      expect((await applyBatch({ landing, delta, table: TABLE, now: sampleClock })).outcome).toBe('applied');
      await plan.afterBatch(2);
      // Run again (the schema is the table's now): nothing changes, the same tombstones come back.
      await plan.runPlan(2, (await loadReadSnapshot(delta, duckdbEngine(session))).schema);
      expect(await plan.differences()).toEqual([]);
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
        table: ['lake'],
        tombstoneFiles: [],
        layout,
        schema: (await loadReadSnapshot(delta, duckdbEngine(session))).schema,
        previousSchema: undefined,
        changeFiles: (record?.changeFiles ?? []).map((key) => path.join(landing.rootDir, key)),
      }).find((statement) => statement.purpose === 'conflicting-copies');
      if (check === undefined) throw new Error('no check statement');
      const rows = (
        await session.all(check.sql, Object.fromEntries(check.parameters.map((p) => [p.name, p.value])))
      ).getRowObjects();
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
        table: ['lake'],
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
