import { describe, expect, it } from 'vitest';
import { applyBatch } from '../../src/apply/apply-batch.ts';
import { HandoffRefusedError } from '../../src/apply/apply-errors.ts';
import { readBatchRecord } from '../../src/apply/batch-record.ts';
import { LEASE_FOLDER } from '../../src/apply/table-lease.ts';
import { itemToPlainJson } from '../../src/dynamo/plain-json.ts';
import { openExport } from '../../src/formats/export-layout.ts';
import { readExportChanges, readExportItems } from '../../src/formats/export-reader.ts';
import type { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import {
  capture,
  change,
  coverageRecord,
  MINUTE,
  orderKey,
  readTable,
  SAMPLE_EXPORT_ID,
  SAMPLE_INCREMENTAL_ID,
  SAMPLE_T,
  sampleClock,
  sampleLanding,
  seq,
  TABLE,
  tempStore,
} from './run-support.ts';

/**
 * The sample's final state per key, from the readers alone: the full export's items, with the
 * incremental export's lines applied (NewImage replaces, no NewImage deletes).
 */
async function expectedSampleState(landing: LocalFolderStore): Promise<Map<string, string>> {
  const state = new Map<string, string>();
  const full = await openExport(landing, `AWSDynamoDB/${SAMPLE_EXPORT_ID}/`);
  for await (const { item } of readExportItems(landing, full)) {
    state.set(
      orderKey((item['pk'] as { S: string }).S, (item['sk'] as { S: string }).S),
      itemToPlainJson(item),
    );
  }
  const incremental = await openExport(landing, `AWSDynamoDB/${SAMPLE_INCREMENTAL_ID}/`);
  for await (const line of readExportChanges(landing, incremental)) {
    const key = orderKey((line.keys['pk'] as { S: string }).S, (line.keys['sk'] as { S: string }).S);
    if (line.newImage === undefined) state.delete(key);
    else state.set(key, itemToPlainJson(line.newImage));
  }
  return state;
}

describe('the first batch', () => {
  it('loads the sample full export and its incremental export into the state the fixtures README states', async () => {
    const landing = await sampleLanding();
    await capture(landing, [coverageRecord()]);
    const delta = await tempStore('delta');

    const result = await applyBatch({ landing, delta, table: TABLE, now: sampleClock });

    expect(result.outcome).toBe('applied');
    if (result.outcome !== 'applied') return;
    expect(result).toMatchObject({
      batch: 1,
      version: 1,
      rebuilt: false,
      snapshot: {
        exportId: SAMPLE_EXPORT_ID,
        kind: 'export',
        exportTime: '2026-11-23T00:00:00.000Z',
        items: 4,
      },
      incrementalExports: 1,
      changeFiles: 1,
      quarantined: 0,
    });
    expect(result.skipped.beforeWindow).toBe(1);
    // Two snapshot items stay as they are, one changed, one deleted; customer#4 is new.
    expect(result.inserted).toBe(3);
    expect(result.updated).toBe(1);
    expect(result.deleted).toBe(1);

    const table = await readTable(delta);
    expect(table.rows).toBe(table.items.size);
    expect([...table.items.keys()].sort()).toEqual(
      [
        orderKey('customer#1', 'order#0001'),
        orderKey('customer#2', 'profile'),
        orderKey('customer#3', 'order#0001'),
        orderKey('customer#4', 'order#0001'),
      ].sort(),
    );
    // The README's statements, and every other item exactly as the export holds it.
    const order1 = JSON.parse(table.items.get(orderKey('customer#1', 'order#0001')) as string);
    expect(order1.paid).toBe(false);
    expect(table.items.get(orderKey('customer#1', 'order#0001'))).toContain('"total":139.95');
    const expected = await expectedSampleState(landing);
    expect(new Map(table.items)).toEqual(expected);

    const record = await readBatchRecord(delta, 1);
    expect(record?.snapshot).toEqual({
      exportId: SAMPLE_EXPORT_ID,
      kind: 'export',
      exportTime: '2026-11-23T00:00:00.000Z',
    });
    expect(record?.incrementalExports).toEqual([SAMPLE_INCREMENTAL_ID]);
    expect(table.snapshot.txns.get('ddb-lake-apply')?.version).toBe(1);
  });

  it('takes a Scan export as the snapshot with T its start time, and marks its rows scan', async () => {
    const landing = await sampleLanding({ incremental: false });
    const summaryKey = `AWSDynamoDB/${SAMPLE_EXPORT_ID}/manifest-summary.json`;
    const summary = JSON.parse(Buffer.from(await landing.getBytes(summaryKey)).toString('utf8'));
    const scanStart = '2026-11-23T00:10:00.000Z';
    await landing.put(
      summaryKey,
      JSON.stringify({
        ...summary,
        exportTime: scanStart,
        ddbLakeScan: {
          startTime: scanStart,
          endTime: '2026-11-23T00:12:00.000Z',
          segments: 4,
          consistentRead: false,
        },
      }),
    );
    await landing.delete(`AWSDynamoDB/${SAMPLE_EXPORT_ID}/manifest-summary.md5`);
    await capture(landing, [
      coverageRecord(),
      // After T − margin (00:10 − 15 min): replayed on top of the scanned item.
      change({
        op: 'MODIFY',
        pk: 'customer#3',
        sk: 'order#0001',
        seq: seq(2),
        ts: SAMPLE_T,
        attributes: { qty: { N: '3' } },
      }),
    ]);
    const delta = await tempStore('delta');

    const result = await applyBatch({ landing, delta, table: TABLE, now: sampleClock });

    expect(result).toMatchObject({
      outcome: 'applied',
      snapshot: { kind: 'scan', exportTime: scanStart },
      updated: 1,
    });
    const table = await readTable(delta);
    expect(table.system.get(orderKey('customer#2', 'profile'))?.[1]).toBe('scan');
    expect(table.system.get(orderKey('customer#3', 'order#0001'))?.[1]).toBe('stream');
    expect(table.items.get(orderKey('customer#3', 'order#0001'))).toBe(
      '{"pk":"customer#3","qty":3,"sk":"order#0001"}',
    );
    // The coverage record at T − 20 min is before T − margin of the scan too: skipped.
    expect(table.items.has(orderKey('customer#9', 'coverage'))).toBe(false);
  });

  it('refuses a handoff the change files do not reach back to T − margin, writing nothing', async () => {
    const landing = await sampleLanding();
    await capture(landing, [
      change({ op: 'MODIFY', pk: 'customer#9', sk: 'late', seq: seq(1), ts: SAMPLE_T - 5 * MINUTE }),
    ]);
    const delta = await tempStore('delta');

    const error = await applyBatch({ landing, delta, table: TABLE, now: sampleClock }).catch(
      (caught: unknown) => caught,
    );

    expect(error).toBeInstanceOf(HandoffRefusedError);
    expect((error as HandoffRefusedError).problems.map((problem) => problem.code)).toEqual([
      'CAPTURE_STARTED_LATE',
    ]);
    expect((error as Error).message).toContain('T − margin = 2026-11-22T23:45:00.000Z');
    // Nothing but the writer's lease, given back.
    const written: string[] = [];
    for await (const object of delta.list('')) written.push(object.key);
    expect(written).toEqual([`${LEASE_FOLDER}00000000000000000001.json`]);
    const lease = JSON.parse(new TextDecoder().decode(await delta.getBytes(written[0] as string)));
    expect(lease.released).toBe(true);
  });
});
