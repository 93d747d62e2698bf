import { describe, expect, it } from 'vitest';
import { applyBatch } from '../../src/apply/apply-batch.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import { duckdbEngine } from '../../src/duckdb/duckdb-engine.ts';
import { DuckSession } from '../../src/duckdb/session.ts';
import type { Item } from '../../src/dynamo/attribute-value.ts';
import { ExportWriter } from '../../src/formats/export-writer.ts';
import { readTableLayout } from '../../src/lake/table-layout.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import {
  capture,
  change,
  coverageRecord,
  MINUTE,
  orderKey,
  readTable,
  SAMPLE_T,
  sampleClock,
  seq,
  TABLE,
  tempStore,
} from './run-support.ts';

/** An export of `orders` (keys pk, sk) whose items also hold `PK` and `Sk`, taken at SAMPLE_T. */
async function landingWithCaseTwins(items: readonly Item[]) {
  const landing = await tempStore('landing');
  const writer = await ExportWriter.start(landing, {
    tableArn: `arn:aws:dynamodb:us-east-1:111122223333:table/${TABLE}`,
    exportTime: new Date(SAMPLE_T),
  });
  for (const item of items) await writer.write(item);
  await writer.finish();
  await capture(landing, [coverageRecord()]);
  return landing;
}

async function tableColumns(delta: ObjectStore) {
  const session = await DuckSession.open({ threads: 1 });
  try {
    const snapshot = await loadSnapshot(delta, duckdbEngine(session));
    return {
      fields: snapshot.schema.fields.map((field) => field.name),
      columns: Object.fromEntries(readTableLayout(snapshot.metadata.configuration).columns),
    };
  } finally {
    await session.close();
  }
}

describe('key columns', () => {
  it('keep their own names when other attributes differ from them only in case; the others take the suffix', async () => {
    const landing = await landingWithCaseTwins([
      { pk: { S: 'a' }, sk: { S: '1' }, PK: { S: 'upper pk' }, Sk: { N: '7' } },
      { pk: { S: 'b' }, sk: { S: '2' }, PK: { S: 'another' } },
    ]);
    const delta = await tempStore('delta');
    const first = await applyBatch({
      landing,
      delta,
      table: TABLE,
      keys: { partition: 'pk', sort: 'sk' },
      now: sampleClock,
    });
    expect(first.outcome).toBe('applied');

    const { fields, columns } = await tableColumns(delta);
    expect(columns).toEqual({ pk: 'pk', sk: 'sk', PK: 'PK_2', Sk: 'Sk_2' });
    expect(fields).toEqual(expect.arrayContaining(['pk', 'sk', 'PK_2', 'Sk_2']));
    expect(fields).not.toContain('pk_2');
    expect((await readTable(delta)).items.get(orderKey('a', '1'))).toBe(
      '{"PK":"upper pk","Sk":7,"pk":"a","sk":"1"}',
    );
  });

  it('recorded column names never change: a later attribute that differs from a key only in case takes the suffix', async () => {
    const landing = await landingWithCaseTwins([{ pk: { S: 'a' }, sk: { S: '1' } }]);
    const delta = await tempStore('delta');
    await applyBatch({ landing, delta, table: TABLE, now: sampleClock });
    expect((await tableColumns(delta)).columns).toEqual({ pk: 'pk', sk: 'sk' });

    // A later batch brings `PK`: the recorded key columns stay, the newcomer takes the suffix.
    await capture(landing, [
      change({
        op: 'MODIFY',
        pk: 'a',
        sk: '1',
        seq: seq(10),
        ts: SAMPLE_T + 30 * MINUTE,
        attributes: { PK: { S: 'late twin' } },
      }),
    ]);
    expect((await applyBatch({ landing, delta, table: TABLE, now: sampleClock })).outcome).toBe('applied');
    expect((await tableColumns(delta)).columns).toEqual({ pk: 'pk', sk: 'sk', PK: 'PK_2' });
    expect((await readTable(delta)).items.get(orderKey('a', '1'))).toBe(
      '{"PK":"late twin","pk":"a","sk":"1"}',
    );
  });
});
