import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppliedBatch, applyBatch } from '../../src/apply/apply-batch.ts';
import { CaptureQuarantineBlockedError } from '../../src/apply/inputs/capture-quarantine-errors.ts';
import { listCaptureQuarantine } from '../../src/apply/inputs/capture-quarantine-gate.ts';
import {
  CaptureQuarantineObjectUnknownError,
  captureReplayedFolder,
  replayCaptureQuarantine,
} from '../../src/capture/capture-quarantine-replay.ts';
import { readChangeFile } from '../../src/formats/change-file-reader.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import { type S3Server, startS3Server } from '../../src/local/s3-server.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import {
  capture,
  coverageRecord,
  MINUTE,
  orderKey,
  readTable,
  SAMPLE_T,
  sampleLanding,
  seq,
  TABLE,
  tempStore,
} from '../apply/run-support.ts';
import {
  amountChange,
  CHANGES_WRITTEN_AT,
  captureThrough,
  fixInPlace,
  quarantineObjectKey,
  setAmount,
} from '../apply/support/stream-records.ts';
import { s3StoreOn } from '../support/s3-store.ts';
import { FaultyStore } from './support-faulty-store.ts';

/*
 * The replay of the capture quarantine on both real stores (a local folder and the in-process
 * S3-compatible server): what it writes, what it leaves, and that it is safe to run again after it
 * stopped half way.
 */

const WRITTEN = CHANGES_WRITTEN_AT;
const SHARD = 'shardId-00000001795390000000-0000aaaa';

async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of store.list(prefix)) keys.push(object.key);
  return keys;
}

async function linesOf(store: ObjectStore, key: string): Promise<ChangeRecord[]> {
  const records: ChangeRecord[] = [];
  for await (const { record } of readChangeFile(store, key)) records.push(record);
  return records;
}

let server: S3Server;
let prefixes = 0;
beforeAll(async () => {
  server = await startS3Server({ buckets: ['landing'] });
});
afterAll(async () => {
  await server.stop();
});

const backEnds: readonly { name: string; open: () => Promise<ObjectStore> }[] = [
  { name: 'a local folder', open: () => tempStore('replay') },
  {
    name: 'S3',
    open: async () => s3StoreOn(server, 'landing', `areas/${++prefixes}`),
  },
];

for (const backEnd of backEnds) {
  describe(`replaying the capture quarantine in ${backEnd.name}`, () => {
    it('writes a fixed record as the change file capture would write for it, and moves its object to a marker naming it', async () => {
      const landing = await backEnd.open();
      await captureThrough(
        landing,
        [amountChange('customer#7', 1, '1'), amountChange('customer#7', 2, '2')],
        { damage: [1] },
      );
      await fixInPlace(landing, quarantineObjectKey(2), setAmount('2'));

      const result = await replayCaptureQuarantine({ landing, table: TABLE, now: () => WRITTEN + MINUTE });
      expect(result.outcomes).toHaveLength(1);
      const outcome = result.outcomes[0] as { changeFile: string; marker: string };
      expect(outcome).toMatchObject({
        outcome: 'replayed',
        key: quarantineObjectKey(2),
        shard: SHARD,
        seq: String(seq(2)),
      });
      expect(outcome.changeFile).toBe(
        `changes/${TABLE}/dt=${new Date(WRITTEN).toISOString().slice(0, 10)}/${SHARD}/${seq(2)}-${seq(2)}.jsonl.gz`,
      );
      expect(await linesOf(landing, outcome.changeFile)).toEqual([amountChange('customer#7', 2, '2')]);
      expect(await keysUnder(landing, '_ddb_lake/quarantine/capture/')).toEqual([]);
      expect(await keysUnder(landing, captureReplayedFolder(TABLE))).toEqual([outcome.marker]);
      const marker = JSON.parse(Buffer.from(await landing.getBytes(outcome.marker)).toString('utf8'));
      expect(marker).toMatchObject({
        changeFile: outcome.changeFile,
        replayedAt: new Date(WRITTEN + MINUTE).toISOString(),
        shard: SHARD,
        table: TABLE,
      });
      expect(marker.reason).toMatch(/twelve/);
      await landing.close();
    });

    it('leaves a record still invalid in place with its reason, and writes nothing in a dry run', async () => {
      const landing = await backEnd.open();
      await captureThrough(
        landing,
        [amountChange('customer#7', 1, '1'), amountChange('customer#8', 2, '2')],
        {
          damage: [0, 1],
        },
      );
      await fixInPlace(landing, quarantineObjectKey(2), setAmount('2'));
      const before = await keysUnder(landing, '');

      const dry = await replayCaptureQuarantine({ landing, table: TABLE, dryRun: true });
      expect(dry.outcomes.map((outcome) => outcome.outcome)).toEqual(['invalid', 'would-replay']);
      expect(await keysUnder(landing, '')).toEqual(before);

      const result = await replayCaptureQuarantine({ landing, table: TABLE });
      expect(result.outcomes[0]).toMatchObject({
        outcome: 'invalid',
        key: quarantineObjectKey(1),
        shard: SHARD,
        seq: String(seq(1)),
        path: 'dynamodb.NewImage.amount',
        reason: expect.stringMatching(/twelve/),
      });
      expect((await listCaptureQuarantine(landing, TABLE)).map((entry) => entry.key)).toEqual([
        quarantineObjectKey(1),
      ]);
      await landing.close();
    });

    it('run again after it stopped half way, it finishes; until then the object still holds apply', async () => {
      const landing = await backEnd.open();
      await captureThrough(landing, [amountChange('customer#7', 1, '1')], { damage: [0] });
      await fixInPlace(landing, quarantineObjectKey(1), setAmount('5'));
      // The change-file write fails after the marker is written, as a kill there would leave it.
      const failing = FaultyStore.failingPutsUnder(landing, 'changes/');
      await expect(replayCaptureQuarantine({ landing: failing, table: TABLE })).rejects.toThrow(
        /injected fault/,
      );
      expect(await keysUnder(landing, captureReplayedFolder(TABLE))).toHaveLength(1);
      expect(await keysUnder(landing, 'changes/')).toEqual([]);
      expect((await listCaptureQuarantine(landing, TABLE)).map((entry) => entry.key)).toEqual([
        quarantineObjectKey(1),
      ]);

      const again = await replayCaptureQuarantine({ landing, table: TABLE });
      expect(again.outcomes.map((outcome) => outcome.outcome)).toEqual(['replayed']);
      expect(await keysUnder(landing, 'changes/')).toHaveLength(1);
      expect(await listCaptureQuarantine(landing, TABLE)).toEqual([]);
      await landing.close();
    });

    it('a record quarantined again after its replay: the same content finishes quietly, other content is refused', async () => {
      const landing = await backEnd.open();
      await captureThrough(landing, [amountChange('customer#7', 1, '1')], { damage: [0] });
      const original = await landing.getBytes(quarantineObjectKey(1));
      await fixInPlace(landing, quarantineObjectKey(1), setAmount('5'));
      const fixed = await landing.getBytes(quarantineObjectKey(1));
      const first = await replayCaptureQuarantine({ landing, table: TABLE });
      const changeFile = (first.outcomes[0] as { changeFile: string }).changeFile;
      const bytes = await landing.getBytes(changeFile);

      // Named again once replayed: nothing to do.
      const named = await replayCaptureQuarantine({ landing, table: TABLE, keys: [quarantineObjectKey(1)] });
      expect(named.outcomes).toEqual([
        { outcome: 'already-replayed', key: quarantineObjectKey(1), marker: expect.any(String), changeFile },
      ]);

      // Capture retried the batch and quarantined the record again; fixed the same way, it replays to the same bytes.
      await landing.put(quarantineObjectKey(1), original);
      await landing.put(quarantineObjectKey(1), fixed);
      expect((await replayCaptureQuarantine({ landing, table: TABLE })).outcomes[0]?.outcome).toBe(
        'replayed',
      );
      expect(Buffer.from(await landing.getBytes(changeFile)).equals(Buffer.from(bytes))).toBe(true);

      // Fixed another way, it would replace a change file a batch may have taken: refused, left in place.
      await landing.put(quarantineObjectKey(1), original);
      await fixInPlace(landing, quarantineObjectKey(1), setAmount('6'));
      const refused = await replayCaptureQuarantine({ landing, table: TABLE });
      expect(refused.outcomes[0]).toMatchObject({
        outcome: 'invalid',
        reason: expect.stringMatching(/replayed before/),
      });
      expect(Buffer.from(await landing.getBytes(changeFile)).equals(Buffer.from(bytes))).toBe(true);
      expect(await landing.head(quarantineObjectKey(1))).toBeDefined();

      await expect(replayCaptureQuarantine({ landing, table: TABLE, keys: ['missing'] })).rejects.toThrow(
        CaptureQuarantineObjectUnknownError,
      );
      await landing.close();
    });
  });
}

describe('apply with the landing area on S3', () => {
  it('is held by a quarantined record there, then takes it once replayed', async () => {
    // The first batch from the sample export in a folder; the next batches from an S3 landing area.
    const folder = await sampleLanding({ incremental: false });
    await capture(folder, [coverageRecord()]);
    const delta = await tempStore('delta');
    await applyBatch({ landing: folder, delta, table: TABLE, now: () => SAMPLE_T + 2 * 60 * MINUTE });
    const landing = s3StoreOn(server, 'landing', `areas/${++prefixes}`);
    await captureThrough(
      landing,
      [amountChange('customer#7', 10, '1'), amountChange('customer#7', 11, '2')],
      { damage: [1] },
    );
    const now = () => SAMPLE_T + 3 * 60 * MINUTE;

    await expect(applyBatch({ landing, delta, table: TABLE, now })).rejects.toThrow(
      CaptureQuarantineBlockedError,
    );
    await fixInPlace(landing, quarantineObjectKey(11), setAmount('2'));
    await replayCaptureQuarantine({ landing, table: TABLE });
    const second = (await applyBatch({ landing, delta, table: TABLE, now })) as AppliedBatch;
    expect(second).toMatchObject({ outcome: 'applied', batch: 2, changeFiles: 2, replayedCaptureRecords: 1 });
    const item = (await readTable(delta)).items.get(orderKey('customer#7', 'order#1'));
    expect(JSON.parse(item as string).amount).toBe(2);
    await landing.close();
  });
});
