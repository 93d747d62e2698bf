import { describe, expect, it } from 'vitest';
import { type AppliedBatch, applyBatch, type LocalBatchResult } from '../../src/apply/apply-batch.ts';
import { batchRecordKey, readBatchRecord } from '../../src/apply/batch-record.ts';
import {
  CaptureQuarantineBlockedError,
  CaptureQuarantineUnknownError,
} from '../../src/apply/inputs/capture-quarantine-errors.ts';
import { listCaptureQuarantine } from '../../src/apply/inputs/capture-quarantine-gate.ts';
import { readTakenIndex, takenIndexKey } from '../../src/apply/taken-index.ts';
import { captureQuarantineBody, captureQuarantineKey } from '../../src/capture/capture-quarantine.ts';
import { replayCaptureQuarantine } from '../../src/capture/capture-quarantine-replay.ts';
import { parseChangeFileKey } from '../../src/formats/change-file-key.ts';
import type { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import {
  capture,
  change,
  coverageRecord,
  MINUTE,
  orderKey,
  readTable,
  SAMPLE_T,
  sampleLanding,
  seq,
  TABLE,
  tempStore,
} from './run-support.ts';
import {
  captureThrough,
  fixInPlace,
  lambdaRecord,
  ORDERS_STREAM_ARN,
  setAmount,
} from './support/stream-records.ts';

/*
 * The capture quarantine gate end to end on real stores (DESIGN.md rule 7): change files and
 * quarantine objects written by capture's own code (captureBatch), batches applied by applyBatch
 * with an injected clock, rows read back from the Delta table.
 */

const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const SHARD = 'shardId-00000001795390000000-0000aaaa';
/** When the records of these tests were written: whole seconds, after T − margin. */
const WRITTEN = SAMPLE_T + HOUR;

const at = (ms: number) => () => ms;

function put(pk: string, n: number, amount: string, ts = WRITTEN) {
  return change({ op: 'MODIFY', pk, sk: 'order#1', seq: seq(n), ts, attributes: { amount: { N: amount } } });
}

function quarantineKey(n: number): string {
  return `_ddb_lake/quarantine/capture/${TABLE}/${seq(n)}.json`;
}

function applied(result: LocalBatchResult): AppliedBatch {
  expect(result.outcome).toBe('applied');
  return result as AppliedBatch;
}

/** A table after its first batch from the sample export, applied at T + 2 h. */
async function loadedTable(): Promise<{ landing: LocalFolderStore; delta: LocalFolderStore }> {
  const landing = await sampleLanding();
  await capture(landing, [coverageRecord()]);
  const delta = await tempStore('delta');
  applied(await applyBatch({ landing, delta, table: TABLE, now: at(SAMPLE_T + 2 * HOUR) }));
  return { landing, delta };
}

async function amountOf(delta: LocalFolderStore, pk: string): Promise<unknown> {
  const item = (await readTable(delta)).items.get(orderKey(pk, 'order#1'));
  return item === undefined ? undefined : JSON.parse(item).amount;
}

describe('a record capture quarantined holds apply', () => {
  it('every later batch is refused naming the shard, sequence number and reason, and nothing is written', async () => {
    const { landing, delta } = await loadedTable();
    await captureThrough(landing, [put('customer#7', 20, '1'), put('customer#7', 21, '2')], { damage: [1] });

    const run = applyBatch({ landing, delta, table: TABLE, now: at(SAMPLE_T + 3 * HOUR) });
    await expect(run).rejects.toThrow(CaptureQuarantineBlockedError);
    const error = (await run.catch((e: unknown) => e)) as CaptureQuarantineBlockedError;
    expect(error.code).toBe('APPLY_CAPTURE_QUARANTINE');
    expect(error.batch).toBe(2);
    expect(error.entries).toHaveLength(1);
    expect(error.entries[0]).toMatchObject({ key: quarantineKey(21), shard: SHARD, seq: String(seq(21)) });
    expect(error.message).toContain(`shard ${SHARD}, sequence number ${seq(21)} (${quarantineKey(21)})`);
    expect(error.message).toMatch(/twelve/);
    expect(error.message).toContain('ddb-lake quarantine replay');
    expect(error.message).toContain('--accept-capture-quarantine');

    // The table is unchanged, and nothing of batch 2 is stored beside it.
    const table = await readTable(delta);
    expect(table.snapshot.version).toBe(1);
    expect(table.items.has(orderKey('customer#7', 'order#1'))).toBe(false);
    expect(await delta.head(batchRecordKey(2))).toBeUndefined();
    expect(await delta.head(takenIndexKey(2))).toBeUndefined();

    // Also when nothing else is new: the hole is still a hole.
    await expect(applyBatch({ landing, delta, table: TABLE, now: at(SAMPLE_T + 4 * HOUR) })).rejects.toThrow(
      CaptureQuarantineBlockedError,
    );
  });

  it('the first batch is held too, and no table is created', async () => {
    const landing = await sampleLanding();
    await capture(landing, [coverageRecord()]);
    await captureThrough(landing, [put('customer#7', 20, '1')], { damage: [0] });
    const delta = await tempStore('delta');

    await expect(applyBatch({ landing, delta, table: TABLE, now: at(SAMPLE_T + HOUR) })).rejects.toThrow(
      CaptureQuarantineBlockedError,
    );
    expect(await delta.head('_delta_log/00000000000000000000.json')).toBeUndefined();
    expect(await delta.head(batchRecordKey(1))).toBeUndefined();
  });
});

describe('replayed records', () => {
  it('land in sequence order: a fixed newer record wins, a fixed older one changes nothing, one valid as it was lands as it is', async () => {
    const { landing, delta } = await loadedTable();
    // customer#7: 30 captured, 31 quarantined (newer). customer#8: 32 quarantined (older), 33 captured.
    await captureThrough(
      landing,
      [
        put('customer#7', 30, '1'),
        put('customer#7', 31, '2'),
        put('customer#8', 32, '3'),
        put('customer#8', 33, '4'),
      ],
      { damage: [1, 2] },
    );
    // customer#9: a record an earlier capture build quarantined although it is valid, written by
    // capture's own quarantine writer.
    const valid = lambdaRecord(put('customer#9', 34, '5'));
    await landing.put(
      captureQuarantineKey(TABLE, valid),
      captureQuarantineBody(
        valid,
        { problem: 'invalid-record', reason: 'refused by an earlier capture build', path: undefined },
        { table: TABLE, streamArn: ORDERS_STREAM_ARN, shard: SHARD },
      ),
    );
    await expect(
      applyBatch({ landing, delta, table: TABLE, now: at(SAMPLE_T + 3 * HOUR) }),
    ).rejects.toMatchObject({
      entries: [{ seq: String(seq(31)) }, { seq: String(seq(32)) }, { seq: String(seq(34)) }],
    });

    await fixInPlace(landing, quarantineKey(31), setAmount('2'));
    await fixInPlace(landing, quarantineKey(32), setAmount('3'));
    const replay = await replayCaptureQuarantine({ landing, table: TABLE, now: at(SAMPLE_T + 3 * HOUR) });
    expect(replay.outcomes.map((outcome) => outcome.outcome)).toEqual(['replayed', 'replayed', 'replayed']);
    expect(await listCaptureQuarantine(landing, TABLE)).toEqual([]);

    const second = applied(await applyBatch({ landing, delta, table: TABLE, now: at(SAMPLE_T + 4 * HOUR) }));
    expect(second).toMatchObject({
      batch: 2,
      changeFiles: 4,
      replayedCaptureRecords: 3,
      acceptedCaptureQuarantine: [],
    });
    expect(await amountOf(delta, 'customer#7')).toBe(2);
    expect(await amountOf(delta, 'customer#8')).toBe(4);
    expect(await amountOf(delta, 'customer#9')).toBe(5);
    const system = (await readTable(delta)).system;
    expect(system.get(orderKey('customer#7', 'order#1'))?.[0]).toBe(String(seq(31)).padStart(40, '0'));
    expect(system.get(orderKey('customer#8', 'order#1'))?.[0]).toBe(String(seq(33)).padStart(40, '0'));

    // Replayed once, taken once: running both again changes nothing.
    expect((await replayCaptureQuarantine({ landing, table: TABLE })).outcomes).toEqual([]);
    const again = await applyBatch({ landing, delta, table: TABLE, now: at(SAMPLE_T + 5 * HOUR) });
    expect(again.outcome).toBe('nothing-new');
  });

  it('a replayed record more than two days old is taken though its partition is settled, and only once', async () => {
    const { landing, delta } = await loadedTable();
    await captureThrough(landing, [put('customer#7', 40, '1'), put('customer#8', 41, '2')], { damage: [0] });
    // Four days later a person accepts the record; the batch settles every partition up to two days back.
    const second = applied(
      await applyBatch({
        landing,
        delta,
        table: TABLE,
        now: at(SAMPLE_T + 4 * DAY),
        acceptCaptureQuarantine: [quarantineKey(40)],
      }),
    );
    expect(second.acceptedCaptureQuarantine.map((entry) => entry.key)).toEqual([quarantineKey(40)]);
    const settledBefore = (await readTakenIndex(delta, 2))?.settledBefore as string;
    const recordDate = new Date(WRITTEN).toISOString().slice(0, 10);
    expect(recordDate < settledBefore).toBe(true);

    // Then finds how to fix it, and replays it: its change file lands in the settled partition.
    await fixInPlace(landing, quarantineKey(40), setAmount('7'));
    const replay = await replayCaptureQuarantine({ landing, table: TABLE, keys: [`${seq(40)}.json`] });
    const outcome = replay.outcomes[0];
    expect(outcome?.outcome).toBe('replayed');
    const changeFile = (outcome as { changeFile: string }).changeFile;
    expect(parseChangeFileKey(changeFile)?.date).toBe(recordDate);

    const third = applied(
      await applyBatch({ landing, delta, table: TABLE, now: at(SAMPLE_T + 4 * DAY + HOUR) }),
    );
    expect(third).toMatchObject({ batch: 3, changeFiles: 1, replayedCaptureRecords: 1 });
    expect((await readBatchRecord(delta, 3))?.changeFiles).toEqual([changeFile]);
    expect(await amountOf(delta, 'customer#7')).toBe(7);
    expect(await amountOf(delta, 'customer#8')).toBe(2);

    const fourth = await applyBatch({ landing, delta, table: TABLE, now: at(SAMPLE_T + 4 * DAY + 2 * HOUR) });
    expect(fourth.outcome).toBe('nothing-new');
  });
});

describe('accepted records', () => {
  it('are recorded in the batch record and the result, committed with no other input, and hold no later batch', async () => {
    const { landing, delta } = await loadedTable();
    await captureThrough(landing, [put('customer#7', 50, '1')], { damage: [0] });
    await expect(applyBatch({ landing, delta, table: TABLE, now: at(SAMPLE_T + 3 * HOUR) })).rejects.toThrow(
      CaptureQuarantineBlockedError,
    );

    const second = applied(
      await applyBatch({
        landing,
        delta,
        table: TABLE,
        now: at(SAMPLE_T + 3 * HOUR),
        acceptCaptureQuarantine: ['all'],
      }),
    );
    const accepted = { key: quarantineKey(50), shard: SHARD, seq: String(seq(50)) };
    expect(second).toMatchObject({ batch: 2, version: 2, changeFiles: 0, records: 0 });
    expect(second.acceptedCaptureQuarantine).toEqual([
      { ...accepted, reason: expect.stringMatching(/twelve/) },
    ]);
    const record = await readBatchRecord(delta, 2);
    expect(record?.changeFiles).toEqual([]);
    expect(record?.acceptedCaptureQuarantine).toEqual(second.acceptedCaptureQuarantine);
    expect([...((await readTakenIndex(delta, 2))?.acceptedCaptureQuarantine ?? [])]).toEqual([
      quarantineKey(50),
    ]);
    // The object stays where capture put it: accepted, not replayed.
    expect(await landing.head(quarantineKey(50))).toBeDefined();

    await captureThrough(landing, [put('customer#7', 51, '9')]);
    const third = applied(await applyBatch({ landing, delta, table: TABLE, now: at(SAMPLE_T + 4 * HOUR) }));
    expect(third).toMatchObject({ batch: 3, changeFiles: 1, acceptedCaptureQuarantine: [] });
    expect(await amountOf(delta, 'customer#7')).toBe(9);
    // Accepting it again records nothing new.
    const again = await applyBatch({
      landing,
      delta,
      table: TABLE,
      now: at(SAMPLE_T + 5 * HOUR),
      acceptCaptureQuarantine: [quarantineKey(50)],
    });
    expect(again.outcome).toBe('nothing-new');
  });

  it('accepting an object that is not in the quarantine is refused by name, and nothing is written', async () => {
    const { landing, delta } = await loadedTable();
    await captureThrough(landing, [put('customer#7', 60, '1')], { damage: [0] });
    const run = applyBatch({
      landing,
      delta,
      table: TABLE,
      now: at(SAMPLE_T + 3 * HOUR),
      acceptCaptureQuarantine: [quarantineKey(60), 'no-such-record'],
    });
    await expect(run).rejects.toThrow(CaptureQuarantineUnknownError);
    await expect(run).rejects.toMatchObject({
      code: 'APPLY_CAPTURE_QUARANTINE_UNKNOWN',
      keys: [`_ddb_lake/quarantine/capture/${TABLE}/no-such-record.json`],
    });
    expect(await delta.head(batchRecordKey(2))).toBeUndefined();
  });
});
