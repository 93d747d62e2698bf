import { execFile } from 'node:child_process';
import { cp, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type AppliedBatch, type ApplyBatchResult, applyBatch } from '../../src/apply/apply-batch.ts';
import {
  COMPACTED_TOMBSTONES_FOLDER,
  compactedTombstonesKey,
  readTombstones,
  type Tombstone,
  tombstonesKey,
} from '../../src/apply/changes/tombstones.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import {
  capture,
  change,
  coverageRecord,
  MINUTE,
  orderKey,
  readTable,
  SAMPLE_T,
  sampleClock,
  sampleLanding,
  seq,
  TABLE,
  tempStore,
} from './run-support.ts';

/*
 * Tombstone compaction (src/apply/changes/tombstone-compaction.ts): every 16th batch writes the newest
 * tombstone of every deleted key so far; reads take it and the per-batch files after it, and
 * answer exactly as a read of every per-batch file.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const AFTER = SAMPLE_T + 30 * MINUTE;
const BATCHES = 40;

/** A folder store that remembers which objects were read. */
class RecordingStore extends LocalFolderStore {
  readonly gets: string[] = [];

  override async get(
    key: string,
    range?: { readonly start: number; readonly end?: number },
  ): Promise<Readable> {
    this.gets.push(key);
    return super.get(key, range);
  }
}

function applied(result: ApplyBatchResult): AppliedBatch {
  expect(result.outcome).toBe('applied');
  return result as AppliedBatch;
}

/**
 * Batch `batch`'s changes: a delete of one of seven keys deleted again and again, an update of
 * another, a new key `u#<batch>` and the delete of the previous batch's (deleted only there).
 */
function batchChanges(batch: number, next: () => bigint): ChangeRecord[] {
  return [
    change({ op: 'REMOVE', pk: `t#${batch % 7}`, sk: 'row', seq: next(), ts: AFTER }),
    change({
      op: 'MODIFY',
      pk: `t#${(batch + 3) % 7}`,
      sk: 'row',
      seq: next(),
      ts: AFTER,
      attributes: { n: { N: String(batch) } },
    }),
    change({
      op: 'INSERT',
      pk: `u#${batch}`,
      sk: 'row',
      seq: next(),
      ts: AFTER,
      attributes: { n: { N: '1' } },
    }),
    change({ op: 'REMOVE', pk: `u#${batch - 1}`, sk: 'row', seq: next(), ts: AFTER }),
  ];
}

interface Pipeline {
  readonly landing: LocalFolderStore;
  readonly delta: RecordingStore;
  counter: number;
  /** The sequence numbers given out, by batch. */
  readonly seqs: Map<number, bigint[]>;
}

async function newPipeline(): Promise<Pipeline> {
  const landing = await sampleLanding();
  const delta = new RecordingStore((await tempStore('delta')).rootDir);
  await capture(landing, [coverageRecord()]);
  applied(await applyBatch({ landing, delta, table: TABLE, now: sampleClock }));
  return { landing, delta, counter: 10, seqs: new Map() };
}

async function captureBatch(pipeline: Pipeline, batch: number): Promise<void> {
  const given: bigint[] = [];
  const next = () => {
    const value = seq(pipeline.counter);
    pipeline.counter += 10;
    given.push(value);
    return value;
  };
  pipeline.seqs.set(batch, given);
  await capture(pipeline.landing, batchChanges(batch, next));
}

/** Batches 2 to `last`, one change file each. */
async function runBatches(pipeline: Pipeline, last: number): Promise<void> {
  for (let batch = 2; batch <= last; batch++) {
    await captureBatch(pipeline, batch);
    expect(
      applied(
        await applyBatch({
          landing: pipeline.landing,
          delta: pipeline.delta,
          table: TABLE,
          now: sampleClock,
        }),
      ).batch,
    ).toBe(batch);
  }
}

function allKeys(last: number): Set<string> {
  const keys = new Set<string>();
  for (let n = 0; n < 7; n++) keys.add(orderKey(`t#${n}`, 'row'));
  for (let batch = 0; batch <= last; batch++) keys.add(orderKey(`u#${batch}`, 'row'));
  return keys;
}

function plain(found: Map<string, Tombstone>): [string, string, string, string][] {
  return [...found.values()]
    .map((t): [string, string, string, string] => [
      t.key,
      t.order.source,
      t.order.seq,
      String(t.order.tsMicros),
    ])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

describe('tombstone compaction', () => {
  it('reads through compacted files answer as a read of every per-batch file, for every batch bound', async () => {
    const pipeline = await newPipeline();
    await runBatches(pipeline, BATCHES);
    const { delta } = pipeline;
    expect(await delta.head(compactedTombstonesKey(16))).toBeDefined();
    expect(await delta.head(compactedTombstonesKey(32))).toBeDefined();
    expect(await delta.head(compactedTombstonesKey(17))).toBeUndefined();

    // The same folder without its compacted files is read the way every per-batch file is.
    const full = await tempStore('full');
    await cp(delta.rootDir, full.rootDir, { recursive: true });
    await rm(path.join(full.rootDir, ...COMPACTED_TOMBSTONES_FOLDER.split('/')), { recursive: true });

    const keys = allKeys(BATCHES);
    for (const before of [undefined, ...Array.from({ length: BATCHES + 1 }, (_, index) => index + 1)]) {
      const options = before === undefined ? {} : { before };
      const compacted = await readTombstones(delta, keys, options);
      const everyFile = await readTombstones(full, keys, options);
      expect(plain(compacted), `before ${before}`).toEqual(plain(everyFile));
    }
    const tombstones = await readTombstones(delta, keys);
    expect(tombstones.size).toBe(7 + BATCHES - 1);

    // A read for batch 41 takes the compacted file of batch 32 and the per-batch files after it.
    delta.gets.length = 0;
    await readTombstones(delta, keys, { before: BATCHES + 1 });
    expect([...delta.gets].sort()).toEqual([
      compactedTombstonesKey(32),
      ...Array.from({ length: BATCHES - 32 }, (_, index) => tombstonesKey(33 + index)),
    ]);

    // `before` is respected at the compaction batch itself: the key deleted only in batch 16.
    const onlyIn16 = new Set([orderKey('u#15', 'row')]);
    delta.gets.length = 0;
    expect((await readTombstones(delta, onlyIn16, { before: 16 })).size).toBe(0);
    expect(delta.gets).not.toContain(compactedTombstonesKey(16));
    expect(delta.gets).toContain(tombstonesKey(15));
    expect(
      (await readTombstones(delta, onlyIn16, { before: 17 })).get(orderKey('u#15', 'row'))?.order.seq,
    ).toBe(String(pipeline.seqs.get(16)?.[3]).padStart(40, '0'));
  }, 240_000);

  it('an older record of a key deleted long ago, arriving late, does not bring it back', async () => {
    const pipeline = await newPipeline();
    await runBatches(pipeline, 34);
    // u#2 was inserted in batch 2 and deleted in batch 3; its tombstone now lives in compacted 32.
    const [insertSeq] = pipeline.seqs.get(2)?.slice(2) ?? [];
    const late = change({
      op: 'MODIFY',
      pk: 'u#2',
      sk: 'row',
      seq: (insertSeq as bigint) + 1n,
      ts: AFTER,
      attributes: { n: { N: '99' } },
    });
    await capture(pipeline.landing, [late]);
    pipeline.delta.gets.length = 0;
    const result = applied(
      await applyBatch({ landing: pipeline.landing, delta: pipeline.delta, table: TABLE, now: sampleClock }),
    );
    expect(result).toMatchObject({ batch: 35, inserted: 0, skipped: { tombstoned: 1 } });
    expect(pipeline.delta.gets).not.toContain(tombstonesKey(3));
    expect(pipeline.delta.gets).toContain(compactedTombstonesKey(32));
    expect((await readTable(pipeline.delta)).items.has(orderKey('u#2', 'row'))).toBe(false);
  }, 240_000);

  it('killed after the data files of a compaction batch, a rerun writes the same compacted file', async () => {
    const crashed = await newPipeline();
    const twin = await newPipeline();
    await runBatches(crashed, 15);
    await runBatches(twin, 16);
    await captureBatch(crashed, 16);

    const killed = await runCli(crashed, 'after-data-files');
    expect(killed.signal).toBe('SIGKILL');
    const written = Buffer.from(await crashed.delta.getBytes(compactedTombstonesKey(16)));
    expect(written).toEqual(Buffer.from(await twin.delta.getBytes(compactedTombstonesKey(16))));

    const rerun = await runCli(crashed);
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain('Batch 16 (rebuilt from its record after an interrupted run)');
    expect(Buffer.from(await crashed.delta.getBytes(compactedTombstonesKey(16)))).toEqual(written);
    const keys = allKeys(16);
    expect(plain(await readTombstones(crashed.delta, keys))).toEqual(
      plain(await readTombstones(twin.delta, keys)),
    );
    const [a, b] = [await readTable(crashed.delta), await readTable(twin.delta)];
    expect(new Map(a.items)).toEqual(new Map(b.items));
  }, 180_000);
});

/** `ddb-lake apply` in its own process, killed at `fault` when given. */
function runCli(
  pipeline: Pipeline,
  fault?: string,
): Promise<{ code: number | null; signal: string | null; stdout: string }> {
  return new Promise((done) => {
    execFile(
      path.join(ROOT, 'node_modules/.bin/node'),
      [
        path.join(ROOT, 'src/cli/main.ts'),
        'apply',
        '--landing',
        pipeline.landing.rootDir,
        '--delta',
        pipeline.delta.rootDir,
        '--table',
        TABLE,
      ],
      { cwd: ROOT, env: { ...process.env, CI: '1', DDB_LAKE_FAULT: fault ?? '' } },
      (error, stdout) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        done({ code, signal: error?.signal ?? null, stdout });
      },
    );
  });
}
