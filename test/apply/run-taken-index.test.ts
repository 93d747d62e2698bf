import { execFile } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type AppliedBatch, type ApplyBatchResult, applyBatch } from '../../src/apply/apply-batch.ts';
import {
  BATCH_RECORDS_FOLDER,
  batchRecordKey,
  readBatchRecord,
  readBatchRecords,
} from '../../src/apply/batch-record.ts';
import type { FaultPoint } from '../../src/apply/fault-points.ts';
import {
  advanceTakenIndex,
  readTakenIndex,
  serializeTakenIndex,
  settledBeforeAt,
  TAKEN_INDEX_FOLDER,
  type TakenIndex,
  takenIndexKey,
} from '../../src/apply/taken-index.ts';
import { parseChangeFileKey } from '../../src/formats/change-file-key.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import type { ObjectInfo } from '../../src/storage/object-store.ts';
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
  type TableState,
  tempStore,
} from './run-support.ts';

/*
 * The taken index (src/apply/taken-index.ts): batch after batch over change files spread over many
 * days, planning reads the previous batch's index instead of every record and lists only the
 * partitions that can still receive files; the table ends the same as with full rescans.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const MAIN_SHARD = 'shardId-00000001795390000000-0000aaaa';
const LATE_SHARD = 'shardId-00000001795390000000-0000bbbb';

/** A folder store that remembers what was listed and read (our own store interface, real files). */
class RecordingStore extends LocalFolderStore {
  readonly lists: { prefix: string; startAfter: string | undefined; keys: string[] }[] = [];
  readonly reads: string[] = [];

  override async *list(
    prefix: string,
    options?: { readonly startAfter?: string },
  ): AsyncIterable<ObjectInfo> {
    const call = { prefix, startAfter: options?.startAfter, keys: [] as string[] };
    this.lists.push(call);
    for await (const object of super.list(prefix, options)) {
      call.keys.push(object.key);
      yield object;
    }
  }

  override async getBytes(key: string): Promise<Uint8Array> {
    this.reads.push(key);
    return super.getBytes(key);
  }

  forget(): void {
    this.lists.length = 0;
    this.reads.length = 0;
  }
}

async function recordingStore(label: string): Promise<RecordingStore> {
  return new RecordingStore((await tempStore(label)).rootDir);
}

function applied(result: ApplyBatchResult): AppliedBatch {
  expect(result.outcome).toBe('applied');
  return result as AppliedBatch;
}

/**
 * The changes captured before step `step` (run at `at`): on the main shard an update, an insert
 * and the delete of an earlier insert, dated half an hour before `at`; on a second shard a file
 * whose records are 20 hours old, written late as a retried Lambda batch would (its partition is
 * the day before when `at` is early in the day).
 */
function stepChanges(
  step: number,
  at: number,
  next: () => bigint,
): { main: ChangeRecord[]; late: ChangeRecord[] } {
  const ts = at - 30 * MINUTE;
  const main: ChangeRecord[] = [
    change({
      op: 'MODIFY',
      pk: `acct#${step % 5}`,
      sk: 'row',
      seq: next(),
      ts,
      shard: MAIN_SHARD,
      attributes: { qty: { N: String(step) } },
    }),
    change({
      op: 'INSERT',
      pk: `new#${step}`,
      sk: 'row',
      seq: next(),
      ts,
      shard: MAIN_SHARD,
      attributes: { step: { N: String(step) } },
    }),
  ];
  if (step >= 2)
    main.push(change({ op: 'REMOVE', pk: `new#${step - 2}`, sk: 'row', seq: next(), ts, shard: MAIN_SHARD }));
  const lateTs = at - 20 * HOUR;
  const late: ChangeRecord[] =
    step % 3 === 0
      ? [
          change({
            op: 'REMOVE',
            pk: `late#${step % 4}`,
            sk: 'row',
            seq: next(),
            ts: lateTs,
            shard: LATE_SHARD,
          }),
        ]
      : [
          change({
            op: 'MODIFY',
            pk: `late#${step % 4}`,
            sk: 'row',
            seq: next(),
            ts: lateTs,
            shard: LATE_SHARD,
            attributes: { note: { S: `step ${step}` } },
          }),
        ];
  return { main, late };
}

/** When step `step` runs: batch 1 an hour after T, then twice a day (02:00 and 14:00). */
function stepTime(step: number): number {
  return step === 0
    ? SAMPLE_T + HOUR
    : SAMPLE_T + Math.ceil(step / 2) * DAY + (step % 2 === 1 ? 2 : 14) * HOUR;
}

interface Pipeline {
  readonly landing: RecordingStore;
  readonly delta: RecordingStore;
  counter: number;
}

async function newPipeline(): Promise<Pipeline> {
  const sample = await sampleLanding();
  const landing = new RecordingStore(sample.rootDir);
  const delta = await recordingStore('delta');
  await capture(landing, [coverageRecord()]);
  return { landing, delta, counter: 10 };
}

/** Captures step `step`'s changes and applies one batch at its time. */
async function runStep(pipeline: Pipeline, step: number, options: { rescan?: boolean } = {}) {
  const at = stepTime(step);
  const next = () => seq(pipeline.counter++);
  const { main, late } = stepChanges(step, at, next);
  await capture(pipeline.landing, main);
  if (step > 0) await capture(pipeline.landing, late);
  pipeline.landing.forget();
  pipeline.delta.forget();
  return applied(
    await applyBatch({
      landing: pipeline.landing,
      delta: pipeline.delta,
      table: TABLE,
      now: () => at,
      ...(options.rescan === undefined ? {} : { rescan: options.rescan }),
    }),
  );
}

function expectSameTable(actual: TableState, expected: TableState): void {
  expect(actual.rows).toBe(actual.items.size);
  expect(new Map(actual.items)).toEqual(new Map(expected.items));
  expect(new Map(actual.system)).toEqual(new Map(expected.system));
}

/** The change-file listings a batch made: the listings of `changes/<table>/`. */
function changeListings(store: RecordingStore) {
  return store.lists.filter((call) => call.prefix === `changes/${TABLE}/`);
}

async function changeFileDates(store: LocalFolderStore): Promise<string[]> {
  const dates: string[] = [];
  for await (const object of store.list(`changes/${TABLE}/`)) {
    const parsed = parseChangeFileKey(object.key);
    if (parsed !== undefined) dates.push(parsed.date);
  }
  return dates;
}

/** The index folded from every stored record up to `batch`, as the first index would be. */
async function foldedIndex(delta: LocalFolderStore, batch: number): Promise<TakenIndex | undefined> {
  let index: TakenIndex | undefined;
  for (const record of await readBatchRecords(delta, batch)) index = advanceTakenIndex(index, record);
  return index;
}

const STEPS = 14;

describe('the taken index', () => {
  it('batch after batch over eight days, a run planned from the index ends with the same batches and table as one that rescans everything', async () => {
    const indexed = await newPipeline();
    const rescanned = await newPipeline();
    for (let step = 0; step <= STEPS; step++) {
      const a = await runStep(indexed, step);
      const b = await runStep(rescanned, step, { rescan: true });
      expect(a.batch).toBe(step + 1);
      expect(b.batch).toBe(step + 1);
      expect(a.changeFiles).toBe(2);
      const recordA = await readBatchRecord(indexed.delta, a.batch);
      const recordB = await readBatchRecord(rescanned.delta, b.batch);
      expect(recordA?.changeFiles).toEqual(recordB?.changeFiles);
      // The index is the same bytes whichever way the batch was planned, and the same as the one
      // folded from every record.
      const stored = await indexed.delta.getBytes(takenIndexKey(a.batch));
      expect(Buffer.from(stored).toString()).toBe(
        Buffer.from(await rescanned.delta.getBytes(takenIndexKey(b.batch))).toString(),
      );
      expect(Buffer.from(stored).toString()).toBe(
        serializeTakenIndex((await foldedIndex(indexed.delta, a.batch)) as TakenIndex),
      );
    }
    expectSameTable(await readTable(indexed.delta), await readTable(rescanned.delta));
    const table = await readTable(indexed.delta);
    expect(table.items.has(orderKey(`new#${STEPS}`, 'row'))).toBe(true);
    expect(table.items.has(orderKey(`new#${STEPS - 2}`, 'row'))).toBe(false);

    // The last index keeps only the partitions from its watermark on, which is two days before the
    // last batch's start, and it holds every file of those partitions.
    const last = (await readTakenIndex(indexed.delta, STEPS + 1)) as TakenIndex;
    expect(last.settledBefore).toBe(settledBeforeAt(new Date(stepTime(STEPS)).toISOString()));
    const dates = await changeFileDates(indexed.landing);
    const recent = dates.filter((date) => date >= (last.settledBefore as string));
    expect(last.changeFiles.size).toBe(recent.length);
    expect(recent.length).toBeLessThan(dates.length / 2);
  }, 240_000);

  it('a later batch lists only the unsettled partitions and reads no earlier batch record', async () => {
    const pipeline = await newPipeline();
    for (let step = 0; step < 8; step++) await runStep(pipeline, step);
    const previous = (await readTakenIndex(pipeline.delta, 8)) as TakenIndex;
    const watermark = previous.settledBefore as string;
    expect(watermark).toBe(settledBeforeAt(new Date(stepTime(7)).toISOString()));
    expect(
      (await changeFileDates(pipeline.landing)).filter((date) => date < watermark).length,
    ).toBeGreaterThan(4);

    const ninth = await runStep(pipeline, 8);
    expect(ninth.changeFiles).toBe(2);
    const listings = changeListings(pipeline.landing);
    expect(listings).toHaveLength(1);
    expect(listings[0]?.startAfter).toBe(`changes/${TABLE}/dt=${watermark}`);
    const listed = (listings[0]?.keys ?? []).map((key) => parseChangeFileKey(key)?.date ?? '');
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.every((date) => date >= watermark)).toBe(true);
    expect(pipeline.delta.lists.some((call) => call.prefix.startsWith(BATCH_RECORDS_FOLDER))).toBe(false);
    expect(pipeline.delta.reads.filter((key) => key.startsWith(BATCH_RECORDS_FOLDER))).toEqual([]);
    expect(pipeline.delta.reads).toContain(takenIndexKey(8));
  }, 120_000);

  it('a change file planted in a settled partition is not taken, until a run with rescan takes it once', async () => {
    const pipeline = await newPipeline();
    for (let step = 0; step < 6; step++) await runStep(pipeline, step);
    const index = (await readTakenIndex(pipeline.delta, 6)) as TakenIndex;
    const plantedAt = SAMPLE_T + 10 * HOUR;
    expect(new Date(plantedAt).toISOString().slice(0, 10) < (index.settledBefore as string)).toBe(true);
    const planted = await capture(pipeline.landing, [
      change({
        op: 'INSERT',
        pk: 'restored#1',
        sk: 'row',
        seq: seq(pipeline.counter++),
        ts: plantedAt,
        shard: 'shardId-00000001795390000000-0000cccc',
        attributes: { note: { S: 'restored' } },
      }),
    ]);
    const at = stepTime(6);
    const options = { landing: pipeline.landing, delta: pipeline.delta, table: TABLE, now: () => at };

    expect(await applyBatch(options)).toMatchObject({ outcome: 'nothing-new', batch: 6 });
    expect((await readTable(pipeline.delta)).items.has(orderKey('restored#1', 'row'))).toBe(false);

    const rescan = applied(await applyBatch({ ...options, rescan: true }));
    expect(rescan).toMatchObject({ batch: 7, changeFiles: 1, inserted: 1 });
    expect((await readBatchRecord(pipeline.delta, 7))?.changeFiles).toEqual([planted.key]);
    expect((await readTable(pipeline.delta)).items.get(orderKey('restored#1', 'row'))).toBe(
      '{"note":"restored","pk":"restored#1","sk":"row"}',
    );
    expect(await applyBatch(options)).toMatchObject({ outcome: 'nothing-new', batch: 7 });
    expect(await applyBatch({ ...options, rescan: true })).toMatchObject({
      outcome: 'nothing-new',
      batch: 7,
    });
  }, 120_000);

  it('a table written before the index existed goes on from every batch record and then from its index', async () => {
    const old = await newPipeline();
    const twin = await newPipeline();
    for (let step = 0; step < 6; step++) {
      await runStep(old, step);
      await runStep(twin, step);
    }
    // The state files apply wrote before the index existed are the same minus the index.
    await rm(path.join(old.delta.rootDir, ...TAKEN_INDEX_FOLDER.split('/')), { recursive: true });

    const seventh = await runStep(old, 6);
    expect(seventh.changeFiles).toBe(2);
    expect(changeListings(old.landing)[0]?.startAfter).toBeUndefined();
    const recordsRead = new Set(old.delta.reads.filter((key) => key.startsWith(BATCH_RECORDS_FOLDER)));
    expect([...recordsRead].sort()).toEqual([1, 2, 3, 4, 5, 6].map((batch) => batchRecordKey(batch)));
    await runStep(twin, 6);
    expect(Buffer.from(await old.delta.getBytes(takenIndexKey(7))).toString()).toBe(
      Buffer.from(await twin.delta.getBytes(takenIndexKey(7))).toString(),
    );

    const eighth = await runStep(old, 7);
    expect(eighth.changeFiles).toBe(2);
    expect(changeListings(old.landing)[0]?.startAfter).toBeDefined();
    await runStep(twin, 7);
    expectSameTable(await readTable(old.delta), await readTable(twin.delta));
  }, 180_000);

  it('settledBefore never moves back, and a quarantine replay batch does not move it', () => {
    const base = { appId: 'ddb-lake-apply', incrementalExports: [] as string[] };
    const file = (date: string, n: number) =>
      `changes/${TABLE}/dt=${date}/${MAIN_SHARD}/${seq(n)}-${seq(n)}.jsonl.gz`;
    const one = advanceTakenIndex(undefined, {
      ...base,
      batch: 1,
      createdAt: '2026-12-10T05:00:00.000Z',
      changeFiles: [file('2026-12-07', 1), file('2026-12-08', 2), file('2026-12-10', 3)],
    });
    expect(one.settledBefore).toBe('2026-12-08');
    expect([...one.changeFiles]).toEqual([file('2026-12-08', 2), file('2026-12-10', 3)]);
    const replay = advanceTakenIndex(one, {
      ...base,
      batch: 2,
      createdAt: '2026-12-20T05:00:00.000Z',
      changeFiles: [],
      replayQuarantine: 1,
    });
    expect(replay.settledBefore).toBe('2026-12-08');
    expect(replay.changeFiles).toEqual(one.changeFiles);
    const clockBack = advanceTakenIndex(replay, {
      ...base,
      batch: 3,
      createdAt: '2026-12-01T05:00:00.000Z',
      changeFiles: [file('2026-11-30', 4)],
      incrementalExports: ['01795392900000-c07e5b19'],
    });
    expect(clockBack.settledBefore).toBe('2026-12-08');
    expect(clockBack.changeFiles.has(file('2026-11-30', 4))).toBe(false);
    expect([...clockBack.incrementalExports]).toEqual(['01795392900000-c07e5b19']);
  });
});

/** `ddb-lake <args>` in its own process (the real clock). */
function runCli(args: readonly string[]): Promise<Run & { readonly stdout: string }> {
  return new Promise((done) => {
    execFile(
      path.join(ROOT, 'node_modules/.bin/node'),
      [path.join(ROOT, 'src/cli/main.ts'), ...args],
      { cwd: ROOT, env: { ...process.env, CI: '1', DDB_LAKE_FAULT: '' } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        done({ code, signal: error?.signal ?? null, stdout, stderr });
      },
    );
  });
}

describe('ddb-lake apply --rescan', () => {
  it('takes a change file restored into a settled partition that a plain run leaves, and says so in --help', async () => {
    const pipeline = await newPipeline();
    for (let step = 0; step < 6; step++) await runStep(pipeline, step);
    const planted = await capture(pipeline.landing, [
      change({
        op: 'INSERT',
        pk: 'restored#2',
        sk: 'row',
        seq: seq(pipeline.counter++),
        ts: SAMPLE_T + 10 * HOUR,
        shard: 'shardId-00000001795390000000-0000dddd',
        attributes: { note: { S: 'restored' } },
      }),
    ]);
    const args = [
      'apply',
      '--landing',
      pipeline.landing.rootDir,
      '--delta',
      pipeline.delta.rootDir,
      '--table',
      TABLE,
    ];

    const plain = await runCli(args);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('Nothing new to apply: the table holds batch 6');
    const rescan = await runCli([...args, '--rescan']);
    expect(rescan.stderr).toBe('');
    expect(rescan.code).toBe(0);
    expect(rescan.stdout).toContain('Batch 7 committed');
    expect((await readBatchRecord(pipeline.delta, 7))?.changeFiles).toEqual([planted.key]);
    expect((await readTable(pipeline.delta)).items.has(orderKey('restored#2', 'row'))).toBe(true);

    const help = await runCli(['apply', '--help']);
    expect(help.stdout).toContain('--rescan');
    expect(help.stdout).toMatch(/settled/);
  }, 120_000);
});

interface Run {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stderr: string;
}

/** One applyBatch at `at` in a process of its own, killed at `fault` when given. */
function applyInProcess(pipeline: Pipeline, at: number, fault?: FaultPoint): Promise<Run> {
  const script = `
    const { applyBatch } = await import(${JSON.stringify(path.join(ROOT, 'src/apply/apply-batch.ts'))});
    const { LocalFolderStore } = await import(${JSON.stringify(path.join(ROOT, 'src/storage/local-folder-store.ts'))});
    const [landing, delta, table, at] = process.argv.slice(1);
    await applyBatch({ landing: new LocalFolderStore(landing), delta: new LocalFolderStore(delta), table, now: () => Number(at) });
  `;
  return new Promise((done) => {
    execFile(
      path.join(ROOT, 'node_modules/.bin/node'),
      [
        '--input-type=module',
        '-e',
        script,
        pipeline.landing.rootDir,
        pipeline.delta.rootDir,
        TABLE,
        String(at),
      ],
      { cwd: ROOT, env: { ...process.env, DDB_LAKE_FAULT: fault ?? '' } },
      (error, _stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        done({ code, signal: error?.signal ?? null, stderr });
      },
    );
  });
}

async function stateFiles(delta: LocalFolderStore): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const folder of ['batches', 'taken']) {
    const dir = path.join(delta.rootDir, '_ddb_lake', 'apply', folder);
    for (const name of await readdir(dir)) {
      files.set(
        `${folder}/${name}`,
        Buffer.from(await delta.getBytes(`_ddb_lake/apply/${folder}/${name}`)).toString(),
      );
    }
  }
  return files;
}

describe('the taken index across a crash', () => {
  const cases: { point: FaultPoint; dropIndex: boolean }[] = [
    { point: 'after-batch-record', dropIndex: false },
    { point: 'after-batch-record', dropIndex: true },
    { point: 'before-commit', dropIndex: false },
  ];
  for (const { point, dropIndex } of cases) {
    it(`killed ${point}${dropIndex ? ' before its index was written' : ''}, a rerun rebuilds the same batch, index and table`, async () => {
      const crashed = await newPipeline();
      const twin = await newPipeline();
      for (let step = 0; step < 5; step++) {
        await runStep(crashed, step);
        await runStep(twin, step);
      }
      const at = stepTime(5);
      const next = (pipeline: Pipeline) => () => seq(pipeline.counter++);
      for (const pipeline of [crashed, twin]) {
        const { main, late } = stepChanges(5, at, next(pipeline));
        await capture(pipeline.landing, main);
        await capture(pipeline.landing, late);
      }
      expect((await applyInProcess(twin, at)).code).toBe(0);

      const killed = await applyInProcess(crashed, at, point);
      expect(killed.signal).toBe('SIGKILL');
      expect(await readBatchRecord(crashed.delta, 6)).toBeDefined();
      const index = Buffer.from(await crashed.delta.getBytes(takenIndexKey(6))).toString();
      if (dropIndex) await crashed.delta.delete(takenIndexKey(6));

      const rerun = await applyInProcess(crashed, at + HOUR);
      expect(rerun.stderr).toBe('');
      expect(rerun.code).toBe(0);
      expect(Buffer.from(await crashed.delta.getBytes(takenIndexKey(6))).toString()).toBe(index);
      expect(await stateFiles(crashed.delta)).toEqual(await stateFiles(twin.delta));
      expectSameTable(await readTable(crashed.delta), await readTable(twin.delta));
      expect(
        await applyBatch({
          landing: crashed.landing,
          delta: crashed.delta,
          table: TABLE,
          now: () => at + DAY,
        }),
      ).toMatchObject({
        outcome: 'nothing-new',
        batch: 6,
      });
    }, 180_000);
  }
});
