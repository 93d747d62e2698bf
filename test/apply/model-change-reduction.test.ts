import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChangeReduction, type ReducedChange } from '../../src/apply/changes/change-reduction.ts';
import type { Item } from '../../src/dynamo/attribute-value.ts';
import { itemToPlainJson } from '../../src/dynamo/plain-json.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import { listExports, openExport } from '../../src/formats/export-layout.ts';
import { readExportChanges, readExportItems } from '../../src/formats/export-reader.ts';
import { type ChangeOrder, compareChangeOrder } from '../../src/lake/change-order.ts';
import { itemToRow } from '../../src/lake/item-to-row.ts';
import { KeyAttributeError } from '../../src/lake/model-errors.ts';
import { rowToPlainItem } from '../../src/lake/row-to-item.ts';
import { evolveSchema } from '../../src/lake/schema-evolution.ts';
import { paddedSeq, SNAPSHOT_SEQ } from '../../src/lake/sequence-number.ts';
import { newTableLayout } from '../../src/lake/table-layout.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { SAMPLE_EXPORT } from '../support/fixtures.ts';

const T = Date.parse('2026-11-23T00:00:00Z');
const MARGIN = 15 * 60_000;
const keys = { partition: 'pk', sort: 'sk' };

function reduction(): ChangeReduction {
  return new ChangeReduction({ keys, buckets: 16, exportTime: T, marginMs: MARGIN });
}

/** A stream change record of the item `pk`/`sk` (a record factory, as capture writes them). */
function record(
  op: ChangeRecord['op'],
  pk: string,
  seq: string,
  options: { ts?: number; value?: string; ttl?: boolean; sk?: string } = {},
): ChangeRecord {
  const itemKeys: Item = { pk: { S: pk }, sk: { S: options.sk ?? 'x' } };
  const image: Item = { ...itemKeys, v: { S: options.value ?? `v${seq}` } };
  return {
    op,
    keys: itemKeys,
    new: op === 'REMOVE' ? null : image,
    old: op === 'INSERT' ? null : { ...itemKeys, v: { S: 'before' } },
    seq,
    shard: 'shardId-00000001700000000000-00000001',
    ts: options.ts ?? T + 60_000,
    ttl: options.ttl ?? false,
    eventId: `event-${seq}`,
  };
}

const imageValue = (change: ReducedChange): string | undefined =>
  (change.item?.['v'] as { S?: string } | undefined)?.S;
const sequence = (digits: number, n: bigint): string => (10n ** BigInt(digits - 1) + n).toString();

describe('ChangeReduction', () => {
  it('keeps the record with the greatest sequence number, compared as integers', () => {
    const fold = reduction();
    // 21 digits against 40: as text "9…" > "1…", as numbers the 40-digit one is far greater.
    fold.addStreamRecord(record('MODIFY', 'a', `9${'0'.repeat(20)}`));
    fold.addStreamRecord(record('MODIFY', 'a', `1${'0'.repeat(39)}`));
    fold.addStreamRecord(record('MODIFY', 'a', `8${'0'.repeat(20)}`));
    const [winner] = fold.winners();
    expect(winner?.order.seq).toBe(`1${'0'.repeat(39)}`);
    expect(fold.counts()).toMatchObject({ records: 3, superseded: 2, keys: 1, duplicates: 0, skipped: 0 });
  });

  it('gives the same winners in any order of the records', () => {
    const recordArb = fc.record({
      op: fc.constantFrom('INSERT' as const, 'MODIFY' as const, 'REMOVE' as const),
      pk: fc.constantFrom('a', 'b', 'c'),
      digits: fc.integer({ min: 21, max: 40 }),
      n: fc.bigInt({ min: 0n, max: 999n }),
    });
    fc.assert(
      // One record per (key, seq): records sharing both are duplicates, whichever comes first is kept.
      fc.property(
        fc.uniqueArray(recordArb, {
          minLength: 1,
          maxLength: 30,
          selector: (s) => `${s.pk}:${sequence(s.digits, s.n)}`,
        }),
        fc.integer(),
        (specs, seed) => {
          const records = specs.map((s) => record(s.op, s.pk, sequence(s.digits, s.n)));
          const forward = reduction();
          for (const r of records) forward.addStreamRecord(r);
          const shuffled = records
            .map((r, i) => ({ r, k: Math.imul(i + 1, seed | 1) ^ (seed >>> 3) }))
            .sort((x, y) => x.k - y.k)
            .map((x) => x.r);
          const other = reduction();
          for (const r of shuffled) other.addStreamRecord(r);
          const winners = forward.winners();
          expect(other.winners().map((w) => [w.key, w.op, w.order.seq])).toEqual(
            winners.map((w) => [w.key, w.op, w.order.seq]),
          );
          // Each winner is the greatest sequence number of its key, by BigInt.
          for (const winner of winners) {
            const pk = JSON.parse(winner.key).pk as string;
            const max = records
              .filter((r) => r.keys['pk'] && (r.keys['pk'] as { S: string }).S === pk)
              .reduce((m, r) => (BigInt(r.seq) > m ? BigInt(r.seq) : m), -1n);
            expect(BigInt(winner.order.seq)).toBe(max);
          }
          const counts = forward.counts();
          expect(counts.records).toBe(
            counts.skipped + counts.duplicates + counts.conflicting + counts.superseded + counts.keys,
          );
          expect(counts.deletes).toBe(winners.filter((w) => w.op === 'delete').length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('lists each stream record seen more than once with where every copy came from, in key and sequence order whatever the order added', () => {
    const s1 = '100000000000000000001';
    const s2 = '100000000000000000002';
    const add = (fold: ChangeReduction, r: ChangeRecord, file: string, line: number) =>
      fold.addStreamRecord(r, { file, line });
    const forward = reduction();
    add(forward, record('MODIFY', 'b', s1), 'f1', 1);
    add(forward, record('MODIFY', 'a', s1), 'f1', 2);
    add(forward, record('MODIFY', 'a', s2), 'f1', 3);
    add(forward, record('MODIFY', 'a', s1), 'f2', 1);
    add(forward, record('MODIFY', 'b', s1), 'f2', 2);
    add(forward, record('MODIFY', 'a', s1), 'f3', 7);
    const repeats = forward.repeatedStreamRecords();
    expect(repeats.map((r) => [r.key, r.seq, r.copies.map((c) => `${c.file}:${c.line}`)])).toEqual([
      ['{"pk":"a","sk":"x"}', s1, ['f1:2', 'f2:1', 'f3:7']],
      ['{"pk":"b","sk":"x"}', s1, ['f1:1', 'f2:2']],
    ]);
    expect(forward.counts()).toMatchObject({ duplicates: 3, conflicting: 0 });
  });

  it('a voided (key, seq) is no winner, nor is any older stream record of the key; a newer one, the snapshot or the table row still is', () => {
    const fold = reduction();
    const s = (n: number) => `10000000000000000000${n}`;
    fold.addStreamRecord(record('MODIFY', 'a', s(4)), { file: 'f1', line: 1 });
    fold.addStreamRecord(record('MODIFY', 'a', s(5), { value: 'x' }), { file: 'f1', line: 2 });
    fold.addStreamRecord(record('MODIFY', 'a', s(5), { value: 'y' }), { file: 'f2', line: 1 });
    fold.addStreamRecord(record('MODIFY', 'b', s(5), { value: 'x' }), { file: 'f1', line: 3 });
    fold.addStreamRecord(record('MODIFY', 'b', s(5), { value: 'y' }), { file: 'f2', line: 2 });
    fold.addStreamRecord(record('MODIFY', 'b', s(6)), { file: 'f2', line: 3 });
    fold.addStreamRecord(record('MODIFY', 'c', s(5), { value: 'x' }), { file: 'f1', line: 4 });
    fold.addStreamRecord(record('MODIFY', 'c', s(5), { value: 'y' }), { file: 'f2', line: 4 });
    fold.addSnapshotItem({ pk: { S: 'c' }, sk: { S: 'x' }, v: { S: 'snapshot' } });
    for (const pk of ['a', 'b', 'c']) fold.voidStreamRecord(`{"pk":"${pk}","sk":"x"}`, s(5), 2);
    fold.voidStreamRecord('{"pk":"a","sk":"x"}', s(5), 2);
    expect(fold.winners().map((w) => [w.key, imageValue(w)])).toEqual(
      expect.arrayContaining([
        ['{"pk":"b","sk":"x"}', `v${s(6)}`],
        ['{"pk":"c","sk":"x"}', 'snapshot'],
      ]),
    );
    expect(fold.winners()).toHaveLength(2);
    const counts = fold.counts();
    expect(counts).toMatchObject({ records: 9, conflicting: 6, duplicates: 0, keys: 2, superseded: 1 });
    expect(counts.records).toBe(
      counts.skipped + counts.duplicates + counts.conflicting + counts.superseded + counts.keys,
    );
  });

  it('collapses repeats of (key, seq) and counts them', () => {
    const fold = reduction();
    const first = record('INSERT', 'a', '100000000000000000001');
    fold.addStreamRecord(first);
    fold.addStreamRecord(first);
    fold.addStreamRecord(record('MODIFY', 'a', '100000000000000000002'));
    fold.addStreamRecord(first);
    fold.addStreamRecord(record('MODIFY', 'b', '100000000000000000001'));
    expect(fold.counts()).toMatchObject({ records: 5, duplicates: 2, superseded: 1, keys: 2 });
    expect(fold.winners().map(imageValue)).toEqual(
      expect.arrayContaining(['v100000000000000000002', 'v100000000000000000001']),
    );
  });

  it('skips records from before T − margin and counts them', () => {
    const fold = reduction();
    fold.addStreamRecord(record('MODIFY', 'a', '100000000000000000001', { ts: T - MARGIN - 1 }));
    fold.addStreamRecord(record('MODIFY', 'b', '100000000000000000002', { ts: T - MARGIN }));
    expect(fold.counts()).toMatchObject({ records: 2, skipped: 1, keys: 1 });
    expect(fold.winners().map((w) => JSON.parse(w.key).pk)).toEqual(['b']);
  });

  it('a REMOVE followed by a late older MODIFY stays deleted, with its TTL flag', () => {
    const fold = reduction();
    fold.addStreamRecord(record('REMOVE', 'a', '100000000000000000005', { ttl: true }));
    fold.addStreamRecord(record('MODIFY', 'a', '100000000000000000004'));
    const [winner] = fold.winners();
    expect(winner).toMatchObject({ op: 'delete', item: null, ttl: true });
    expect(winner?.oldImage).toEqual({ pk: { S: 'a' }, sk: { S: 'x' }, v: { S: 'before' } });
    expect(fold.counts().deletes).toBe(1);
  });

  it('lets every change beat the snapshot item, and keeps snapshot items without changes', () => {
    const fold = reduction();
    fold.addSnapshotItem({ pk: { S: 'a' }, sk: { S: 'x' }, v: { S: 'snapshot' } }, 'scan', {
      file: 'data/1.json.gz',
      line: 1,
    });
    fold.addSnapshotItem({ pk: { S: 'b' }, sk: { S: 'x' }, v: { S: 'snapshot' } }, 'scan');
    fold.addStreamRecord(record('MODIFY', 'a', '1', { ts: T - 1 }));
    const winners = fold.winners();
    const a = winners.find((w) => JSON.parse(w.key).pk === 'a');
    const b = winners.find((w) => JSON.parse(w.key).pk === 'b');
    expect(imageValue(a as ReducedChange)).toBe('v1');
    expect(b?.order).toEqual({ source: 'scan', seq: SNAPSHOT_SEQ, tsMicros: BigInt(T) * 1000n });
    expect(b?.origin).toBeUndefined();
    expect(winners.map((w) => w.bucket)).toEqual([...winners.map((w) => w.bucket)].sort((x, y) => x - y));
  });

  it('refuses a record whose keys are not the table keys', () => {
    const fold = reduction();
    const wrong = { ...record('MODIFY', 'a', '1'), keys: { id: { S: 'a' } } };
    expect(() => fold.addStreamRecord(wrong)).toThrow(KeyAttributeError);
    expect(() => fold.addStreamRecord({ ...record('MODIFY', 'a', '1'), keys: { pk: { S: 'a' } } })).toThrow(
      /"sk" is missing/,
    );
    expect(() => fold.addStreamRecord({ ...record('MODIFY', 'a', '1'), seq: '12x' })).toThrow(
      /not 1 to 40 decimal digits/,
    );
    expect(fold.counts().records).toBe(0);
  });
});

describe('incremental exports against stream records (change-order.ts, rule 4)', () => {
  const W = BigInt(T) * 1000n + 120_000_001n; // 00:02:00.000001
  const line = {
    keys: { pk: { S: 'a' }, sk: { S: 'x' } },
    newImage: { pk: { S: 'a' }, sk: { S: 'x' }, v: { S: 'incremental' } },
    writeTimestampMicros: W.toString(),
  };

  it('replaces stream records up to its write time and gives way to later ones', () => {
    const before = reduction();
    before.addIncrementalChange(line);
    // Same second as W, rounded down by DynamoDB Streams: written before W.
    before.addStreamRecord(record('MODIFY', 'a', '900000000000000000000', { ts: T + 120_000 }));
    expect(imageValue(before.winners()[0] as ReducedChange)).toBe('incremental');

    const after = reduction();
    after.addStreamRecord(record('MODIFY', 'a', '100000000000000000000', { ts: T + 121_000 }));
    after.addIncrementalChange(line);
    expect(imageValue(after.winners()[0] as ReducedChange)).toBe('v100000000000000000000');
  });

  it('deletes when the line has no NewImage, and a later line of another export wins', () => {
    const fold = reduction();
    fold.addIncrementalChange({ keys: line.keys, writeTimestampMicros: W.toString() });
    fold.addIncrementalChange({ ...line, writeTimestampMicros: (W - 5n).toString() });
    fold.addIncrementalChange({ keys: line.keys, writeTimestampMicros: W.toString() });
    expect(fold.winners()[0]).toMatchObject({
      op: 'delete',
      order: { source: 'incremental-export', seq: paddedSeq(W.toString()) },
    });
    expect(fold.counts()).toMatchObject({ duplicates: 1, superseded: 1 });
  });

  it('orders versions as the rule says, never a snapshot above a change', () => {
    const v = (source: ChangeOrder['source'], seq: string, tsMicros: bigint): ChangeOrder => ({
      source,
      seq: paddedSeq(seq),
      tsMicros,
    });
    expect(compareChangeOrder(v('export', '0', 9n), v('stream', '1', 0n))).toBe(-1);
    expect(compareChangeOrder(v('stream', '2', 0n), v('stream', '1', 99n))).toBe(1);
    expect(compareChangeOrder(v('stream', '1', 10n), v('incremental-export', '10', 10n))).toBe(-1);
    expect(compareChangeOrder(v('stream', '1', 11n), v('incremental-export', '10', 10n))).toBe(1);
    expect(compareChangeOrder(v('incremental-export', '10', 10n), v('stream', '1', 10n))).toBe(1);
    expect(compareChangeOrder(v('scan', '0', 1n), v('export', '0', 2n))).toBe(0);
  });
});

describe('the sample exports (test/fixtures/export)', () => {
  it('the incremental export on top of its full export gives the state the fixtures README states', async () => {
    const store = new LocalFolderStore(SAMPLE_EXPORT);
    const listings = await listExports(store);
    const full = listings.find((l) => l.summary.exportType === 'FULL_EXPORT');
    const incremental = listings.find((l) => l.summary.exportType === 'INCREMENTAL_EXPORT');
    if (full === undefined || incremental === undefined) throw new Error('the sample exports are missing');
    const exportTime = Date.parse((full.summary as { exportTime: string }).exportTime);
    expect(exportTime).toBe(T);

    const fold = reduction();
    for await (const { item, file, line } of readExportItems(store, await openExport(store, full.dir))) {
      fold.addSnapshotItem(item, 'export', { file, line });
    }
    for await (const change of readExportChanges(store, await openExport(store, incremental.dir))) {
      fold.addIncrementalChange(change, { file: change.file, line: change.line });
    }
    const winners = fold.winners();
    expect(fold.counts()).toMatchObject({
      records: 7,
      snapshotItems: 4,
      incrementalChanges: 3,
      skipped: 0,
      keys: 5,
      deletes: 1,
      superseded: 2,
    });
    const byKey = new Map(winners.map((w) => [w.key, w]));
    const order1 = byKey.get('{"pk":"customer#1","sk":"order#0001"}');
    expect(order1?.op).toBe('put');
    expect(order1?.item?.['total']).toEqual({ N: '139.95' });
    expect(order1?.item?.['paid']).toEqual({ BOOL: false });
    expect(order1?.order.source).toBe('incremental-export');
    expect(byKey.get('{"pk":"customer#1","sk":"order#0002"}')?.op).toBe('delete');
    expect(byKey.get('{"pk":"customer#4","sk":"order#0001"}')?.item).toEqual({
      pk: { S: 'customer#4' },
      sk: { S: 'order#0001' },
      total: { N: '5' },
    });
    expect(byKey.get('{"pk":"customer#2","sk":"profile"}')?.order.source).toBe('export');
    expect(byKey.get('{"pk":"customer#3","sk":"order#0001"}')?.item?.['total']).toEqual({ S: 'n/a' });

    // The rows of the puts give back every item exactly.
    const puts = winners.filter((w) => w.op === 'put').map((w) => w.item as Item);
    const plan = evolveSchema(newTableLayout({ keys, exportTime: T }), { type: 'struct', fields: [] }, puts);
    for (const item of puts) {
      expect(rowToPlainItem(itemToRow(item, plan.layout, plan.schema).row, plan.layout, plan.schema)).toBe(
        itemToPlainJson(item),
      );
    }
    // One type per column: total holds the N values (decimal(38,2)), n/a goes to total__S as its text.
    expect(plan.layout.kinds.get('total')).toBe('N');
    expect(plan.schema.fields.find((field) => field.name === 'total')?.type).toEqual({
      type: 'decimal',
      precision: 38,
      scale: 2,
    });
    // qty's 37 decimal places and the scores set holding -1E-130 fit no decimal(38, s ≤ 18).
    expect(plan.conflicts).toEqual([
      { attribute: 'qty', type: 'N', column: 'qty__N', rows: 1 },
      { attribute: 'scores', type: 'NS', column: 'scores__NS', rows: 1 },
      { attribute: 'total', type: 'S', column: 'total__S', rows: 1 },
    ]);
  });
});
