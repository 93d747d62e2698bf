import { cp } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { applyBatch } from '../../src/apply/apply-batch.ts';
import { batchRecordKey, readBatchRecord } from '../../src/apply/batch-record.ts';
import { REPLAN_FAULT_POINTS } from '../../src/apply/fault-points.ts';
import { supersededRecordKey } from '../../src/apply/replan-record.ts';
import { readTakenIndex } from '../../src/apply/taken-index.ts';
import type { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import {
  capture,
  change,
  coverageRecord,
  MINUTE,
  readTable,
  sampleLanding,
  seq,
  TABLE,
  type TableState,
  tempStore,
} from '../apply/run-support.ts';
import { runApply } from './apply-process.ts';

/*
 * `apply --replan-without` through the CLI, killed at every point of the re-plan (fault points,
 * src/apply/fault-points.ts): whatever the point, the batch is whole afterwards (the old plan or
 * the new one), and running again ends with the same table as a re-plan that was not killed. The
 * uncommitted batch is made by a process killed after its record. Change files of later batches
 * are dated from the clock, as the child processes read it.
 */

const NOW = Date.now();

/** Batch 1 committed; batch 2 (two change files) planned by a killed run; its first file lost. */
async function lostInputOfBatch2() {
  const landing = await sampleLanding();
  await capture(landing, [coverageRecord()]);
  const delta = await tempStore('delta');
  expect(await applyBatch({ landing, delta, table: TABLE, now: () => NOW })).toMatchObject({ batch: 1 });
  const lost = await capture(landing, [
    change({
      op: 'MODIFY',
      pk: 'customer#4',
      sk: 'order#0001',
      seq: seq(30),
      ts: NOW - MINUTE,
      attributes: { lost: { BOOL: true } },
      shard: 'shardId-00000001795390000000-0000aaaa',
    }),
  ]);
  const kept = await capture(landing, [
    change({
      op: 'INSERT',
      pk: 'customer#7',
      sk: 'order#0001',
      seq: seq(31),
      ts: NOW - MINUTE,
      attributes: { kept: { BOOL: true } },
      shard: 'shardId-00000001795390000000-0000bbbb',
    }),
  ]);
  const where = { landing: landing.rootDir, delta: delta.rootDir, table: TABLE };
  const killed = await runApply(where, [], { fault: 'after-batch-record' });
  expect(killed.signal).toBe('SIGKILL');
  await landing.delete(lost.key);
  return { landing, delta, where, lost: lost.key, kept: kept.key };
}

async function twin(landing: LocalFolderStore, delta: LocalFolderStore) {
  const twinLanding = await tempStore('landing');
  const twinDelta = await tempStore('delta');
  await cp(landing.rootDir, twinLanding.rootDir, { recursive: true });
  await cp(delta.rootDir, twinDelta.rootDir, { recursive: true });
  return {
    landing: twinLanding,
    delta: twinDelta,
    where: { landing: twinLanding.rootDir, delta: twinDelta.rootDir, table: TABLE },
  };
}

function expectSameTable(actual: TableState, expected: TableState): void {
  expect(new Map(actual.items)).toEqual(new Map(expected.items));
  expect(new Map(actual.system)).toEqual(new Map(expected.system));
}

describe('apply --replan-without', () => {
  it('names the record and the file when a lost input pins the batch, then re-plans without it (exit 3, then 0; --json reports the drop)', async () => {
    const { where, lost, kept, delta } = await lostInputOfBatch2();
    const pinned = await runApply(where, ['--max-bad', '10', '--json']);
    expect(pinned.code).toBe(3);
    expect(pinned.stderr).toContain(`its record ${batchRecordKey(2)} beside the table`);
    expect(pinned.stderr).toContain(`--replan-without ${lost}`);
    const error = JSON.parse(pinned.stdout).error;
    expect(error).toMatchObject({ code: 'APPLY_INPUT_PINNED', batch: 2, file: lost, problem: 'missing' });

    const replanned = await runApply(where, ['--replan-without', lost, '--json']);
    expect(replanned.code).toBe(0);
    expect(replanned.stderr).toBe('');
    const [batch] = JSON.parse(replanned.stdout).batches;
    expect(batch).toMatchObject({
      outcome: 'applied',
      batch: 2,
      changeFiles: 1,
      inserted: 1,
      dropped: [{ file: lost, state: 'missing', replan: 1 }],
      replans: [{ superseded: supersededRecordKey(2, 1), dropped: [lost] }],
    });
    expect((await readBatchRecord(delta, 2))?.changeFiles).toEqual([kept]);

    const text = await runApply(where, ['--replan-without', lost]);
    expect(text.code).toBe(2);
    expect(text.stderr).toContain('There is no uncommitted batch to re-plan');
  });

  for (const point of REPLAN_FAULT_POINTS) {
    it(`killed ${point}, the batch is whole, and running again ends with the table of an uninterrupted re-plan`, async () => {
      const { landing, delta, where, lost, kept } = await lostInputOfBatch2();
      const reference = await twin(landing, delta);
      const uninterrupted = await runApply(reference.where, ['--replan-without', lost]);
      expect(uninterrupted.code).toBe(0);
      expect(uninterrupted.stdout).toContain('Batch 2 committed as version 2');
      expect(uninterrupted.stdout).toContain(`dropped     ${lost} (missing), by re-plan 1 of`);
      expect(uninterrupted.stdout).toContain(`the record before it is ${supersededRecordKey(2, 1)}`);
      expect(uninterrupted.stderr).toContain(`Batch 2 re-planned: dropped ${lost} (missing)`);

      const killed = await runApply(where, ['--replan-without', lost], { fault: point });
      expect(killed.signal).toBe('SIGKILL');
      expect(await delta.head(supersededRecordKey(2, 1))).toBeDefined();
      const inForce = await readBatchRecord(delta, 2);
      if (point === 'replan-after-copy') {
        // The old plan is still in force: a plain run is pinned as before.
        expect(inForce?.changeFiles).toEqual([lost, kept]);
        const plain = await runApply(where);
        expect(plain.code).toBe(3);
        expect(plain.stderr).toContain(`lists the change file ${lost}`);
        expect((await runApply(where, ['--replan-without', lost])).code).toBe(0);
      } else {
        // The new plan is in force; the taken index is still the old plan's until the next run.
        expect(inForce?.changeFiles).toEqual([kept]);
        expect(inForce?.dropped).toEqual([{ file: lost, state: 'missing', replan: 1 }]);
        expect((await readTakenIndex(delta, 2))?.changeFiles.has(lost)).toBe(true);
        const plain = await runApply(where);
        expect(plain.stderr).toBe('');
        expect(plain.code).toBe(0);
        expect(plain.stdout).toContain('Batch 2 (rebuilt from its record after an interrupted run)');
      }
      expect((await readTakenIndex(delta, 2))?.changeFiles.has(lost)).toBe(false);
      // One re-plan, one kept record, whatever the kill.
      expect((await readBatchRecord(delta, 2))?.replans).toHaveLength(1);
      expect(await delta.head(supersededRecordKey(2, 2))).toBeUndefined();
      expectSameTable(await readTable(delta), await readTable(reference.delta));
    });
  }
});
