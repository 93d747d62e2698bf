import { cp } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { applyBatch } from '../../src/apply/apply-batch.ts';
import { readBatchRecord } from '../../src/apply/batch-record.ts';
import { FAULT_POINTS, type FaultPoint } from '../../src/apply/fault-points.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import { duckdbEngine } from '../../src/duckdb/duckdb-engine.ts';
import { DuckSession } from '../../src/duckdb/session.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import type { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
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
  type TableState,
  tempStore,
} from '../apply/run-support.ts';
import { type ApplyRun, runApply as runApplyProcess } from './apply-process.ts';

/**
 * T of the sample export, moved to two hours before the clock that the ddb-lake processes read:
 * apply dates its batches by that clock, so inputs dated on a fixed day would age into settled
 * partitions two days later.
 */
const T = Math.floor(Date.now() / MINUTE) * MINUTE - 120 * MINUTE;
const AFTER = T + 30 * MINUTE;

/** The flags `runApply` passes, for runs in this process: one bucket, no automatic optimize. */
const IN_PROCESS = { buckets: 1, autoOptimize: false } as const;

/**
 * `ddb-lake apply` of the test's table in its own process, killed at `fault` when one is given. One
 * bucket, so the rows share a file and the later batch marks rows in a deletion vector (with more
 * buckets each file holds one row and is removed whole); no automatic optimize, which would rewrite
 * the file right after (its fault points are tested with `table optimize`).
 */
function runApply(landing: LocalFolderStore, delta: LocalFolderStore, fault?: FaultPoint): Promise<ApplyRun> {
  return runApplyProcess(
    { landing: landing.rootDir, delta: delta.rootDir, table: TABLE },
    ['--buckets', '1', '--no-auto-optimize'],
    fault === undefined ? {} : { fault },
  );
}

/** A batch's worth of changes of the sample table: updates, a delete, inserts, a re-insert. */
function secondBatch(): ChangeRecord[] {
  return [
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
      attributes: { n: { N: '5' } },
    }),
    change({ op: 'REMOVE', pk: 'customer#3', sk: 'order#0001', seq: seq(12), ts: AFTER }),
    change({
      op: 'INSERT',
      pk: 'customer#1',
      sk: 'order#0002',
      seq: seq(13),
      ts: AFTER,
      attributes: { n: { N: '2' } },
    }),
  ];
}

function firstBatch(): ChangeRecord[] {
  return [
    coverageRecord(1, T),
    change({
      op: 'MODIFY',
      pk: 'customer#4',
      sk: 'order#0001',
      seq: seq(5),
      ts: T + MINUTE,
      attributes: { total: { N: '6' } },
    }),
  ];
}

/** The latest txn of the table, or undefined without a table. */
async function latestTxn(delta: LocalFolderStore): Promise<number | undefined> {
  const session = await DuckSession.open({ threads: 1 });
  try {
    const snapshot = await loadSnapshot(delta, duckdbEngine(session)).catch(() => undefined);
    return snapshot?.txns.get('ddb-lake-apply')?.version;
  } finally {
    await session.close();
  }
}

function expectSameTable(actual: TableState, expected: TableState): void {
  expect(actual.rows).toBe(actual.items.size);
  expect(new Map(actual.items)).toEqual(new Map(expected.items));
  expect(new Map(actual.system)).toEqual(new Map(expected.system));
}

/** Two batches through the CLI without a fault: the table every interrupted run must end with. */
async function reference(): Promise<TableState> {
  const landing = await sampleLanding({ exportTime: T });
  const delta = await tempStore('delta');
  await capture(landing, firstBatch());
  expect((await runApply(landing, delta)).code).toBe(0);
  await capture(landing, secondBatch());
  expect((await runApply(landing, delta)).code).toBe(0);
  const table = await readTable(delta);
  // The later batch is a merge-on-read batch: it left a deletion vector.
  expect(table.snapshot.files.some((file) => file.deletionVector != null)).toBe(true);
  return table;
}

const BEFORE_COMMIT: readonly FaultPoint[] = ['after-batch-record', 'after-data-files', 'before-commit'];

describe('apply killed at a fault point, then run again', () => {
  let expected: TableState | undefined;
  const expectedTable = async () => {
    expected ??= await reference();
    return expected;
  };

  for (const point of FAULT_POINTS.filter((p) => p !== 'mid-checkpoint')) {
    it(`killed ${point} in the first and in a later batch, a rerun ends with the same table`, async () => {
      const landing = await sampleLanding({ exportTime: T });
      const delta = await tempStore('delta');
      await capture(landing, firstBatch());

      for (const batch of [1, 2]) {
        if (batch === 2) await capture(landing, secondBatch());
        const killed = await runApply(landing, delta, point);
        expect(killed.signal).toBe('SIGKILL');
        expect(killed.stdout).toBe('');
        expect(await readBatchRecord(delta, batch)).toBeDefined();
        expect(await latestTxn(delta)).toBe(point === 'after-commit' ? batch : batch === 1 ? undefined : 1);

        const rerun = await runApply(landing, delta);
        expect(rerun.stderr).toBe('');
        expect(rerun.code).toBe(0);
        if (BEFORE_COMMIT.includes(point)) {
          expect(rerun.stdout).toContain(`Batch ${batch} (rebuilt from its record after an interrupted run)`);
        } else {
          expect(rerun.stdout).toContain(`Nothing new to apply: the table holds batch ${batch}`);
        }
        expect(await latestTxn(delta)).toBe(batch);
      }
      const final = await readTable(delta);
      expect(final.snapshot.files.some((file) => file.deletionVector != null)).toBe(true);
      expectSameTable(final, await expectedTable());
    });
  }

  it('killed between the checkpoint file and _last_checkpoint, the table reads the same and the next run goes on', async () => {
    // Batches 1 to 9 in this process (versions 1 to 9), in two twin folders.
    const landing = await sampleLanding({ exportTime: T });
    const delta = await tempStore('delta');
    await capture(landing, firstBatch());
    await applyBatch({ landing, delta, table: TABLE, ...IN_PROCESS });
    for (let batch = 2; batch <= 9; batch++) {
      await capture(landing, [
        change({
          op: 'MODIFY',
          pk: 'customer#4',
          sk: 'order#0001',
          seq: seq(100 + batch),
          ts: AFTER,
          attributes: { n: { N: String(batch) } },
        }),
      ]);
      await applyBatch({ landing, delta, table: TABLE, ...IN_PROCESS });
    }
    await capture(landing, secondBatch());
    const twinLanding = await tempStore('landing');
    const twinDelta = await tempStore('delta');
    await cp(landing.rootDir, twinLanding.rootDir, { recursive: true });
    await cp(delta.rootDir, twinDelta.rootDir, { recursive: true });

    const killed = await runApply(landing, delta, 'mid-checkpoint');
    expect(killed.signal).toBe('SIGKILL');
    expect(await delta.head('_delta_log/00000000000000000010.checkpoint.parquet')).toBeDefined();
    expect(await delta.head('_delta_log/_last_checkpoint')).toBeUndefined();
    expect(await latestTxn(delta)).toBe(10);

    const rerun = await runApply(landing, delta);
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain('Nothing new to apply: the table holds batch 10 at version 10.');

    const uninterrupted = await applyBatch({
      landing: twinLanding,
      delta: twinDelta,
      table: TABLE,
      ...IN_PROCESS,
    });
    expect(uninterrupted).toMatchObject({ outcome: 'applied', version: 10, checkpoint: 'written' });
    const table = await readTable(delta);
    expect(table.snapshot.checkpointVersion).toBe(10);
    expectSameTable(table, await readTable(twinDelta));
    expect(table.items.get(orderKey('customer#5', 'order#0001'))).toBe(
      '{"n":5,"pk":"customer#5","sk":"order#0001"}',
    );
  });
});
