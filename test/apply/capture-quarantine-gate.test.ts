import { describe, expect, it } from 'vitest';
import { storeBatchRecord } from '../../src/apply/batch-record.ts';
import {
  acceptedCaptureQuarantine,
  listCaptureQuarantine,
} from '../../src/apply/inputs/capture-quarantine-gate.ts';
import { takenIndexKey, writeTakenIndex } from '../../src/apply/taken-index.ts';
import { change, MINUTE, SAMPLE_T, seq, tempStore } from './run-support.ts';
import { captureThrough } from './support/stream-records.ts';

const SHARD = 'shardId-00000001795390000000-0000aaaa';
const at = SAMPLE_T + 10 * MINUTE;

function put(n: number, total: string) {
  return change({
    op: 'INSERT',
    pk: `customer#${n}`,
    sk: 'order#1',
    seq: seq(n),
    ts: at,
    attributes: { total: { N: total } },
  });
}

describe('the capture quarantine as apply lists it', () => {
  it('lists each object capture wrote with its shard, sequence number, eventID and reason', async () => {
    const landing = await tempStore('gate-list');
    const result = await captureThrough(landing, [put(1, '1'), put(2, '2'), put(3, '3')], { damage: [1] });
    expect(result.quarantined).toHaveLength(1);

    const entries = await listCaptureQuarantine(landing, 'orders');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      key: `_ddb_lake/quarantine/capture/orders/${seq(2)}.json`,
      shard: SHARD,
      seq: String(seq(2)),
      eventId: `event-${seq(2)}`,
      path: 'dynamodb.NewImage.amount',
      damaged: false,
    });
    expect(entries[0]?.reason).toMatch(/twelve/);
    // Another table's quarantine is not this table's.
    expect(await listCaptureQuarantine(landing, 'orders2')).toEqual([]);
  });

  it('lists a damaged object with what its name tells and a reason saying it is damaged', async () => {
    const landing = await tempStore('gate-damaged');
    await landing.put(`_ddb_lake/quarantine/capture/orders/${seq(7)}.json`, '{"reason": "cut off');
    await landing.put('_ddb_lake/quarantine/capture/orders/event-abc.json', '{"shard":"s-1","record":{}}');

    const entries = await listCaptureQuarantine(landing, 'orders');
    expect(entries.map((entry) => [entry.key, entry.seq, entry.eventId, entry.shard, entry.damaged])).toEqual(
      [
        ['_ddb_lake/quarantine/capture/orders/100000000000000000700.json', String(seq(7)), null, null, true],
        ['_ddb_lake/quarantine/capture/orders/event-abc.json', null, 'event-abc', 's-1', true],
      ],
    );
    expect(entries[0]?.reason).toMatch(/damaged \(not JSON/);
    expect(entries[1]?.reason).toMatch(/damaged \(it has no reason\)/);
  });
});

describe('which capture quarantine objects batches accepted', () => {
  const accepted = (key: string) => ({ key, shard: SHARD, seq: null, reason: 'bad' });
  const record = (batch: number, keys: string[]) => ({
    batch,
    appId: 'ddb-lake-apply',
    createdAt: new Date(at + batch * MINUTE).toISOString(),
    incrementalExports: [],
    changeFiles: [],
    ...(keys.length === 0 ? {} : { acceptedCaptureQuarantine: keys.map(accepted) }),
  });

  it('is the union of the batch records up to the batch, from the taken index or the records alike', async () => {
    const delta = await tempStore('gate-accepted');
    for (const [batch, keys] of [
      [1, ['q/a.json']],
      [2, []],
      [3, ['q/c.json', 'q/b.json']],
    ] as const) {
      const stored = await storeBatchRecord(delta, record(batch, [...keys]));
      await writeTakenIndex(delta, stored.record);
    }
    expect([...(await acceptedCaptureQuarantine(delta, 0))]).toEqual([]);
    expect([...(await acceptedCaptureQuarantine(delta, 2))]).toEqual(['q/a.json']);
    expect([...(await acceptedCaptureQuarantine(delta, 3))].sort()).toEqual([
      'q/a.json',
      'q/b.json',
      'q/c.json',
    ]);
    const index = JSON.parse(Buffer.from(await delta.getBytes(takenIndexKey(3))).toString('utf8'));
    expect(index.acceptedCaptureQuarantine).toEqual(['q/a.json', 'q/b.json', 'q/c.json']);

    // A table whose indexes are gone (or predate them): the records say the same.
    for (const batch of [1, 2, 3]) await delta.delete(takenIndexKey(batch));
    expect([...(await acceptedCaptureQuarantine(delta, 3))].sort()).toEqual([
      'q/a.json',
      'q/b.json',
      'q/c.json',
    ]);
  });
});
