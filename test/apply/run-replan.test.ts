import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApplyOptions, applyBatch } from '../../src/apply/apply-batch.ts';
import { ApplyErrorCode, ApplyRunError, PinnedInputError } from '../../src/apply/apply-errors.ts';
import { ApplyEventCode } from '../../src/apply/apply-events.ts';
import { batchRecordKey, parseBatchRecord, readBatchRecord } from '../../src/apply/batch-record.ts';
import { supersededRecordKey } from '../../src/apply/replan-record.ts';
import { readTakenIndex } from '../../src/apply/taken-index.ts';
import { writeChangeFile } from '../../src/formats/change-file-writer.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import { type S3Server, startS3Server } from '../../src/local/s3-server.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { s3StoreOn } from '../support/s3-store.ts';
import {
  capture,
  change,
  coverageRecord,
  MINUTE,
  orderKey,
  readTable,
  sampleLanding,
  seq,
  TABLE,
  tempStore,
} from './run-support.ts';

/*
 * Re-planning an uncommitted batch whose record lists a change file that is lost or damaged
 * (batch-replan.ts), on real stores: a folder, and S3 through the in-process S3-compatible server.
 * An uncommitted batch is made as a crash makes it: the run stops right after its record and taken
 * index are stored (an event callback that throws, where the `after-batch-record` fault point
 * sits). The clock is injected, and later change files are dated from it.
 */

const NOW = Date.now();
const SHARD_A = 'shardId-00000001795390000000-0000aaaa';
const SHARD_B = 'shardId-00000001795390000000-0000bbbb';

function modify(pk: string, sk: string, n: number, shard: string): ChangeRecord {
  return change({
    op: 'MODIFY',
    pk,
    sk,
    seq: seq(n),
    ts: NOW - 10 * MINUTE,
    attributes: { n: { N: String(n) } },
    shard,
  });
}

class Stop extends Error {}

/** Runs a batch that stops right after its record is stored, as a run killed there would. */
async function planAndStop(options: ApplyOptions): Promise<void> {
  const stopped = await applyBatch({
    ...options,
    onEvent: (event) => {
      if (event.code === ApplyEventCode.batchPlanned) throw new Stop();
    },
  }).catch((error: unknown) => error);
  expect(stopped).toBeInstanceOf(Stop);
}

/** Copies every object of `from` to `to`. */
async function copyStore(from: ObjectStore, to: ObjectStore): Promise<void> {
  for await (const object of from.list('')) await to.put(object.key, await from.getBytes(object.key));
}

/**
 * Batch 1 committed; batch 2 planned from two change files (A: customer#4, B: customer#2) and not
 * committed. Returns the stores and the two files' keys.
 */
async function uncommittedBatch2(stores?: { landing: ObjectStore; delta: ObjectStore }) {
  const local = await sampleLanding();
  await capture(local, [coverageRecord()]);
  const delta = stores?.delta ?? (await tempStore('delta'));
  // The handoff check dates capture's start by the change files' modification times, which a copy
  // to S3 does not keep: batch 1 reads the folder, and the landing area moves to S3 after it.
  expect(await applyBatch({ landing: local, delta, table: TABLE, now: () => NOW })).toMatchObject({
    outcome: 'applied',
    batch: 1,
  });
  const landing = stores?.landing ?? local;
  if (stores !== undefined) await copyStore(local, landing);
  const base = { landing, delta, table: TABLE, now: () => NOW };
  const recordsA = [modify('customer#4', 'order#0001', 20, SHARD_A)];
  const recordsB = [modify('customer#2', 'profile', 21, SHARD_B)];
  const a = await writeChangeFile(landing, TABLE, recordsA);
  const b = await writeChangeFile(landing, TABLE, recordsB);
  await planAndStop(base);
  expect((await readBatchRecord(delta, 2))?.changeFiles).toEqual([a.key, b.key]);
  return { landing, delta, base, a: a.key, b: b.key, recordsA, before: await readTable(delta) };
}

async function failure(run: Promise<unknown>): Promise<unknown> {
  return run.then(
    () => {
      throw new Error('the run did not fail');
    },
    (error: unknown) => error,
  );
}

describe('a change file an uncommitted batch lists is lost', () => {
  it('every run stops naming the batch record and the file, with --max-bad and --rescan too; nothing is written', async () => {
    const { landing, delta, base, a, before } = await uncommittedBatch2();
    await landing.delete(a);
    for (const extra of [{}, { maxBad: 100 }, { rescan: true }]) {
      const error = await failure(applyBatch({ ...base, ...extra }));
      expect(error).toBeInstanceOf(PinnedInputError);
      const pinned = error as PinnedInputError;
      expect(pinned).toMatchObject({ batch: 2, record: batchRecordKey(2), file: a, problem: 'missing' });
      expect(pinned.message).toContain(`its record ${batchRecordKey(2)} beside the table at ${delta.url}`);
      expect(pinned.message).toContain(`lists the change file ${a}, which is no longer in the landing area`);
      expect(pinned.message).toContain(`--replan-without ${a}`);
    }
    expect((await readTable(delta)).snapshot.version).toBe(before.snapshot.version);
  });

  it('re-planned without it, the batch commits the other file, records the drop, keeps the old record beside, and a restored copy is applied later', async () => {
    const { landing, delta, base, a, b, recordsA, before } = await uncommittedBatch2();
    const oldBytes = await delta.getBytes(batchRecordKey(2));
    await landing.delete(a);
    const events: string[] = [];
    const applied = await applyBatch({
      ...base,
      replanWithout: [a],
      onEvent: (event) => {
        events.push(event.code);
      },
    });
    expect(events[0]).toBe(ApplyEventCode.replanned);
    expect(applied).toMatchObject({
      outcome: 'applied',
      batch: 2,
      rebuilt: false,
      changeFiles: 1,
      updated: 1,
      dropped: [{ file: a, state: 'missing', replan: 1 }],
      replans: [{ superseded: supersededRecordKey(2, 1), dropped: [a] }],
    });
    // The old record, byte for byte, beside the new one; the new one says what it dropped.
    expect(Buffer.from(await delta.getBytes(supersededRecordKey(2, 1)))).toEqual(Buffer.from(oldBytes));
    const record = parseBatchRecord(await delta.getBytes(batchRecordKey(2)), batchRecordKey(2));
    expect(record.changeFiles).toEqual([b]);
    expect(record.dropped).toEqual([{ file: a, state: 'missing', replan: 1 }]);
    expect(record.replans?.[0]?.at).toBe(new Date(NOW).toISOString());
    // The taken index follows the new record: a missing file is not taken.
    expect([...((await readTakenIndex(delta, 2))?.changeFiles ?? [])]).toEqual([b]);
    const table = await readTable(delta);
    expect(table.items.get(orderKey('customer#2', 'profile'))).toContain('"n":21');
    expect(table.items.get(orderKey('customer#4', 'order#0001'))).toBe(
      before.items.get(orderKey('customer#4', 'order#0001')),
    );

    // Asked again, there is nothing to re-plan: the batch is committed.
    const again = await failure(applyBatch({ ...base, replanWithout: [a] }));
    expect(again).toBeInstanceOf(ApplyRunError);
    expect((again as ApplyRunError).code).toBe(ApplyErrorCode.replanRefused);
    expect((again as Error).message).toContain(
      `${a} was already dropped by a re-plan of batch 2, which is committed`,
    );

    // The file restored from a backup is new to the next batch, and its record applies.
    await writeChangeFile(landing, TABLE, recordsA);
    expect(await applyBatch(base)).toMatchObject({
      outcome: 'applied',
      batch: 3,
      changeFiles: 1,
      updated: 1,
    });
    expect((await readTable(delta)).items.get(orderKey('customer#4', 'order#0001'))).toContain('"n":20');
  });

  it('a damaged (truncated) file is named as such; dropped, it counts as taken and is not planned again', async () => {
    const { landing, delta, base, a } = await uncommittedBatch2();
    const bytes = await landing.getBytes(a);
    await landing.put(a, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const error = await failure(applyBatch(base));
    expect(error).toMatchObject({ file: a, problem: 'damaged' });
    expect((error as Error).message).toContain('which cannot be read in the landing area');

    expect(await applyBatch({ ...base, replanWithout: [a] })).toMatchObject({
      outcome: 'applied',
      batch: 2,
      dropped: [{ file: a, state: 'present', replan: 1 }],
    });
    expect((await readTakenIndex(delta, 2))?.changeFiles.has(a)).toBe(true);
    expect(await applyBatch(base)).toMatchObject({ outcome: 'nothing-new', batch: 2 });
    expect(await applyBatch({ ...base, rescan: true })).toMatchObject({ outcome: 'nothing-new', batch: 2 });
  });

  it('refuses a re-plan that would drop what nobody named, a file of a committed batch, a file no batch lists, or no uncommitted batch at all', async () => {
    const { landing, delta, base, a, b } = await uncommittedBatch2();
    await landing.delete(a);
    await landing.delete(b);
    const unnamed = await failure(applyBatch({ ...base, replanWithout: [a] }));
    expect((unnamed as ApplyRunError).code).toBe(ApplyErrorCode.replanRefused);
    expect((unnamed as Error).message).toContain(`the change file ${b}, no longer in the landing area`);
    const stranger = 'changes/orders/dt=2026-01-01/shardId-x/100-200.jsonl.gz';
    const none = await failure(applyBatch({ ...base, replanWithout: [a, stranger] }));
    expect((none as Error).message).toContain(`No batch record beside the table lists ${stranger}`);
    // Nothing was replaced by the refusals.
    expect(await delta.head(supersededRecordKey(2, 1))).toBeUndefined();
    expect((await readBatchRecord(delta, 2))?.changeFiles).toEqual([a, b]);

    // Both dropped, the batch commits nothing but its txn.
    expect(await applyBatch({ ...base, replanWithout: [a, b] })).toMatchObject({
      outcome: 'applied',
      batch: 2,
      changeFiles: 0,
      dropped: [
        { file: a, state: 'missing' },
        { file: b, state: 'missing' },
      ],
    });
    const firstFile = (await readBatchRecord(delta, 1))?.changeFiles[0] as string;
    const committed = await failure(applyBatch({ ...base, replanWithout: [firstFile] }));
    expect((committed as Error).message).toContain(
      `${firstFile} was read by batch 1, which is committed: its records are in the table, and a committed batch is never re-planned.`,
    );
    const nothing = await failure(applyBatch({ ...base, replan: true }));
    expect((nothing as Error).message).toContain(
      'There is no uncommitted batch to re-plan beside the table at',
    );
    expect((nothing as Error).message).toContain('the table holds batch 2, and batch 3 has no record yet');
  });
});

describe('on S3', () => {
  let server: S3Server;
  beforeAll(async () => {
    server = await startS3Server({ buckets: ['lake'] });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('a lost change file of an S3 landing area pins the batch of an S3 table until it is re-planned without it', async () => {
    const s3 = (prefix: string) => s3StoreOn(server, 'lake', prefix);
    const landing = s3('landing');
    const delta = s3('tables/orders');
    try {
      const { base, a, b } = await uncommittedBatch2({ landing, delta });
      await landing.delete(a);
      const error = await failure(applyBatch(base));
      expect(error).toBeInstanceOf(PinnedInputError);
      expect((error as Error).message).toContain(
        `lists the change file ${a}, which is no longer in the landing area s3://lake/landing`,
      );
      expect(await applyBatch({ ...base, replanWithout: [a] })).toMatchObject({
        outcome: 'applied',
        batch: 2,
        dropped: [{ file: a, state: 'missing', replan: 1 }],
      });
      expect(await delta.head(supersededRecordKey(2, 1))).toBeDefined();
      expect((await readBatchRecord(delta, 2))?.changeFiles).toEqual([b]);
      expect((await readTable(delta)).items.get(orderKey('customer#2', 'profile'))).toContain('"n":21');
    } finally {
      await landing.close();
      await delta.close();
    }
  });
});
