import { cp } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type AppliedBatch, type ApplyBatchResult, applyBatch } from '../../src/apply/apply-batch.ts';
import { readBatchRecord } from '../../src/apply/batch-record.ts';
import { LeaseHeldError } from '../../src/apply/table-lease.ts';
import { itemToPlainJson } from '../../src/dynamo/plain-json.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import type { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import {
  capture,
  change,
  coverageRecord,
  MINUTE,
  orderKey,
  orderKeys,
  readTable,
  SAMPLE_INCREMENTAL_ID,
  SAMPLE_T,
  sampleClock,
  sampleLanding,
  seq,
  TABLE,
  tempStore,
} from './run-support.ts';

const AFTER = SAMPLE_T + 30 * MINUTE;

/** A table after its first batch from the sample export (hard or soft deletes). */
async function loadedTable(deletes: 'hard' | 'soft' = 'hard') {
  const landing = await sampleLanding();
  await capture(landing, [coverageRecord()]);
  const delta = await tempStore('delta');
  const first = await applyBatch({ landing, delta, table: TABLE, now: sampleClock, deletes });
  expect(first.outcome).toBe('applied');
  return { landing, delta };
}

function applied(result: ApplyBatchResult): AppliedBatch {
  expect(result.outcome).toBe('applied');
  return result as AppliedBatch;
}

async function apply(landing: LocalFolderStore, delta: LocalFolderStore, deletes?: 'hard' | 'soft') {
  return applyBatch({
    landing,
    delta,
    table: TABLE,
    now: sampleClock,
    ...(deletes === undefined ? {} : { deletes }),
  });
}

describe('later batches', () => {
  it('update, insert, delete and re-insert rows, one commit with its txn per batch', async () => {
    const { landing, delta } = await loadedTable();
    const before = await readTable(delta);
    await capture(landing, [
      change({
        op: 'MODIFY',
        pk: 'customer#2',
        sk: 'profile',
        seq: seq(10),
        ts: AFTER,
        attributes: { vip: { BOOL: true } },
      }),
      change({
        op: 'INSERT',
        pk: 'customer#5',
        sk: 'order#0001',
        seq: seq(11),
        ts: AFTER,
        attributes: { qty: { N: '2' } },
      }),
      change({ op: 'REMOVE', pk: 'customer#3', sk: 'order#0001', seq: seq(12), ts: AFTER }),
    ]);

    const second = applied(await apply(landing, delta));
    expect(second).toMatchObject({
      batch: 2,
      version: 2,
      inserted: 1,
      updated: 1,
      deleted: 1,
      tombstones: 1,
    });
    expect(second.schemaChanges).toEqual([
      expect.objectContaining({
        kind: 'column',
        attribute: 'vip',
        column: 'vip',
        type: 'boolean',
        added: true,
        rows: 1,
      }),
    ]);
    // Merge-on-read: no file rewritten; the replaced and deleted rows marked (or their one-row files removed).
    expect(second.filesRewritten).toBe(0);
    expect(second.rowsMarked).toBe(2);

    const afterSecond = await readTable(delta);
    expect(afterSecond.items.get(orderKey('customer#2', 'profile'))).toBe(
      itemToPlainJson({ ...orderKeys('customer#2', 'profile'), vip: { BOOL: true } }),
    );
    expect(afterSecond.items.get(orderKey('customer#5', 'order#0001'))).toBe(
      '{"pk":"customer#5","qty":2,"sk":"order#0001"}',
    );
    expect(afterSecond.items.has(orderKey('customer#3', 'order#0001'))).toBe(false);
    // The rows no change touched are exactly as before.
    for (const key of [orderKey('customer#1', 'order#0001'), orderKey('customer#4', 'order#0001')]) {
      expect(afterSecond.items.get(key)).toBe(before.items.get(key));
    }

    await capture(landing, [
      change({
        op: 'INSERT',
        pk: 'customer#3',
        sk: 'order#0001',
        seq: seq(20),
        ts: AFTER + MINUTE,
        attributes: { qty: { N: '7' } },
      }),
    ]);
    const third = applied(await apply(landing, delta));
    expect(third).toMatchObject({ batch: 3, version: 3, inserted: 1, updated: 0, deleted: 0 });
    const afterThird = await readTable(delta);
    expect(afterThird.items.get(orderKey('customer#3', 'order#0001'))).toBe(
      '{"pk":"customer#3","qty":7,"sk":"order#0001"}',
    );
    expect(afterThird.snapshot.txns.get('ddb-lake-apply')?.version).toBe(3);
    expect((await readBatchRecord(delta, 3))?.changeFiles).toHaveLength(1);

    const idle = await apply(landing, delta);
    expect(idle).toMatchObject({ outcome: 'nothing-new', batch: 3, version: 3 });
  });

  it('an incremental export landed after the first batch is applied as changes by the next one', async () => {
    const landing = await sampleLanding({ incremental: false });
    await capture(landing, [coverageRecord()]);
    const delta = await tempStore('delta');
    applied(await apply(landing, delta));
    const withIncremental = await sampleLanding();
    for (const folder of [`AWSDynamoDB/${SAMPLE_INCREMENTAL_ID}`, 'AWSDynamoDB/data']) {
      await cp(path.join(withIncremental.rootDir, folder), path.join(landing.rootDir, folder), {
        recursive: true,
      });
    }

    const repaired = applied(await apply(landing, delta));
    expect(repaired).toMatchObject({
      batch: 2,
      incrementalExports: 1,
      changeFiles: 0,
      inserted: 1,
      updated: 1,
      deleted: 1,
    });
    expect((await readBatchRecord(delta, 2))?.incrementalExports).toEqual([SAMPLE_INCREMENTAL_ID]);
    const table = await readTable(delta);
    expect(table.items.get(orderKey('customer#1', 'order#0001'))).toContain('"paid":false');
    expect(table.items.has(orderKey('customer#1', 'order#0002'))).toBe(false);
    expect(table.items.get(orderKey('customer#4', 'order#0001'))).toBe(
      '{"pk":"customer#4","sk":"order#0001","total":5}',
    );
    expect(table.system.get(orderKey('customer#4', 'order#0001'))?.[1]).toBe('incremental-export');
    expect(await apply(landing, delta)).toMatchObject({ outcome: 'nothing-new' });
  });

  it('a REMOVE followed by a late, older MODIFY in a later batch does not bring the row back', async () => {
    const { landing, delta } = await loadedTable();
    await capture(landing, [
      change({ op: 'REMOVE', pk: 'customer#2', sk: 'profile', seq: seq(50), ts: AFTER }),
    ]);
    applied(await apply(landing, delta));
    await capture(landing, [
      change({
        op: 'MODIFY',
        pk: 'customer#2',
        sk: 'profile',
        seq: seq(40),
        ts: AFTER - MINUTE,
        attributes: { late: { S: 'older than the delete' } },
        shard: 'shardId-00000001795390000000-0000bbbb',
      }),
    ]);
    const late = applied(await apply(landing, delta));
    expect(late.skipped.tombstoned).toBe(1);
    expect(late).toMatchObject({ inserted: 0, updated: 0, deleted: 0, filesWritten: 0 });
    const table = await readTable(delta);
    expect(table.items.has(orderKey('customer#2', 'profile'))).toBe(false);
  });

  it('with soft deletes the row stays flagged, and a late older MODIFY does not revive it', async () => {
    const { landing, delta } = await loadedTable('soft');
    await capture(landing, [
      change({ op: 'REMOVE', pk: 'customer#2', sk: 'profile', seq: seq(50), ts: AFTER, ttl: true }),
    ]);
    const removed = applied(await apply(landing, delta));
    expect(removed.deleted).toBe(1);
    const before = await readTable(delta);
    expect(before.system.get(orderKey('customer#2', 'profile'))).toEqual([
      seq(50).toString().padStart(40, '0'),
      'stream',
      true,
    ]);
    await capture(landing, [
      change({
        op: 'MODIFY',
        pk: 'customer#2',
        sk: 'profile',
        seq: seq(40),
        ts: AFTER - MINUTE,
        attributes: { late: { S: 'older than the delete' } },
        shard: 'shardId-00000001795390000000-0000bbbb',
      }),
    ]);
    const late = applied(await apply(landing, delta));
    expect(late.skipped.olderThanRow).toBe(1);
    const after = await readTable(delta);
    expect(after.system.get(orderKey('customer#2', 'profile'))?.[2]).toBe(true);
    // The flagged row keeps the attributes the item had before the delete.
    expect(after.items.get(orderKey('customer#2', 'profile'))).toBe(
      before.items.get(orderKey('customer#2', 'profile')),
    );
  });

  it('duplicated and reordered change files give the same table as the files applied once in order', async () => {
    const shardA = 'shardId-00000001795390000000-0000aaaa';
    const shardB = 'shardId-00000001795390000000-0000bbbb';
    const records: ChangeRecord[] = [
      change({
        op: 'INSERT',
        pk: 'customer#7',
        sk: 'a',
        seq: seq(101),
        ts: AFTER,
        attributes: { n: { N: '1' } },
        shard: shardA,
      }),
      change({
        op: 'MODIFY',
        pk: 'customer#7',
        sk: 'a',
        seq: seq(102),
        ts: AFTER,
        attributes: { n: { N: '2' } },
        shard: shardA,
      }),
      change({
        op: 'MODIFY',
        pk: 'customer#1',
        sk: 'order#0001',
        seq: seq(103),
        ts: AFTER,
        attributes: { total: { N: '1.5' } },
        shard: shardA,
      }),
      change({ op: 'REMOVE', pk: 'customer#7', sk: 'a', seq: seq(104), ts: AFTER, shard: shardA }),
      change({
        op: 'INSERT',
        pk: 'customer#7',
        sk: 'a',
        seq: seq(105),
        ts: AFTER,
        attributes: { n: { N: '5' } },
        shard: shardA,
      }),
      change({ op: 'REMOVE', pk: 'customer#2', sk: 'profile', seq: seq(106), ts: AFTER, shard: shardA }),
    ];
    const other: ChangeRecord[] = [
      change({
        op: 'MODIFY',
        pk: 'customer#2',
        sk: 'profile',
        seq: seq(99),
        ts: AFTER - MINUTE,
        attributes: { n: { N: '0' } },
        shard: shardB,
      }),
      change({
        op: 'INSERT',
        pk: 'customer#8',
        sk: 'b',
        seq: seq(201),
        ts: AFTER,
        attributes: { n: { N: '8' } },
        shard: shardB,
      }),
    ];

    const inOrder = await loadedTable();
    await capture(inOrder.landing, records);
    await capture(inOrder.landing, other);
    applied(await apply(inOrder.landing, inOrder.delta));

    const shuffled = await loadedTable();
    // The newest records first, in their own batch; then the older ones, in overlapping files.
    await capture(shuffled.landing, records.slice(3));
    await capture(shuffled.landing, other.slice(1));
    applied(await apply(shuffled.landing, shuffled.delta));
    await capture(shuffled.landing, records.slice(0, 3));
    await capture(shuffled.landing, records.slice(1, 5));
    await capture(shuffled.landing, other);
    const replayed = applied(await apply(shuffled.landing, shuffled.delta));
    expect(replayed.skipped.duplicates).toBeGreaterThan(0);

    const expected = await readTable(inOrder.delta);
    const actual = await readTable(shuffled.delta);
    expect(actual.rows).toBe(actual.items.size);
    expect(new Map(actual.items)).toEqual(new Map(expected.items));
    expect(new Map(actual.system)).toEqual(new Map(expected.system));
    expect(expected.items.get(orderKey('customer#7', 'a'))).toBe('{"n":5,"pk":"customer#7","sk":"a"}');
    expect(expected.items.has(orderKey('customer#2', 'profile'))).toBe(false);
  });

  it('a value that does not fit its column goes to a conflict column, named in the report', async () => {
    const { landing, delta } = await loadedTable();
    const before = await readTable(delta);
    const qty = before.snapshot.schema.fields.find((field) => field.name === 'qty');
    expect(qty?.type).toEqual({ type: 'decimal', precision: 38, scale: 37 });
    await capture(landing, [
      change({
        op: 'MODIFY',
        pk: 'customer#4',
        sk: 'order#0001',
        seq: seq(300),
        ts: AFTER,
        attributes: { qty: { N: '12' } },
      }),
    ]);
    const result = applied(await apply(landing, delta));
    expect(result.schemaChanges).toEqual([
      expect.objectContaining({
        kind: 'conflict',
        attribute: 'qty',
        column: 'qty__N',
        valueType: 'N',
        added: true,
        rows: 1,
      }),
    ]);
    const after = await readTable(delta);
    expect(after.snapshot.schema.fields.map((field) => field.name)).toContain('qty__N');
    expect(after.items.get(orderKey('customer#4', 'order#0001'))).toBe(
      '{"pk":"customer#4","qty":12,"sk":"order#0001"}',
    );
  });

  it('two runs at once: one applies the batch, the other is refused by the lease (or finds nothing new)', async () => {
    const { landing, delta } = await loadedTable();
    await capture(landing, [
      change({
        op: 'INSERT',
        pk: 'customer#6',
        sk: 'order#0001',
        seq: seq(400),
        ts: AFTER,
        attributes: { n: { N: '6' } },
      }),
    ]);
    const results = await Promise.allSettled([apply(landing, delta), apply(landing, delta)]);
    const outcomes = results.map((result) =>
      result.status === 'fulfilled'
        ? result.value.outcome
        : result.reason instanceof LeaseHeldError
          ? 'lease-held'
          : String(result.reason),
    );
    expect(outcomes).toContain('applied');
    expect(outcomes.filter((outcome) => outcome !== 'applied')).toEqual([
      expect.stringMatching(/^(lease-held|nothing-new)$/),
    ]);
    const table = await readTable(delta);
    expect(table.snapshot.version).toBe(2);
    expect(table.rows).toBe(table.items.size);
    expect(table.items.get(orderKey('customer#6', 'order#0001'))).toBe(
      '{"n":6,"pk":"customer#6","sk":"order#0001"}',
    );
  });
});
