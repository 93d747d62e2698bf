import { cp } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { applyBatch } from '../../src/apply/apply-batch.ts';
import type { FaultPoint } from '../../src/apply/fault-points.ts';
import { readLastCheckpoint } from '../../src/delta/last-checkpoint.ts';
import type { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import {
  capture,
  change,
  coverageRecord,
  MINUTE,
  readTable,
  SAMPLE_T,
  sampleLanding,
  seq,
  TABLE,
  tempStore,
} from '../apply/run-support.ts';
import { type ApplyRun, runApply as runApplyProcess } from './apply-process.ts';

/*
 * A checkpoint that a killed run skipped (killed between the commit of a version due one and its
 * checkpoint) is written by the next run, not an interval later. The clock is the test's: batches
 * in this process get `now`, and the change files of later batches are dated from it, so the
 * settled-partition rule never hides them whatever the date.
 */

const NOW = Date.now();

/** `ddb-lake apply` of the test's table in its own process, killed at `fault` when one is given. */
function runApply(landing: LocalFolderStore, delta: LocalFolderStore, fault?: FaultPoint): Promise<ApplyRun> {
  return runApplyProcess(
    { landing: landing.rootDir, delta: delta.rootDir, table: TABLE },
    [],
    fault === undefined ? {} : { fault },
  );
}

/** A change of one order, dated a minute before the test's clock. */
function orderChange(n: number) {
  return change({
    op: 'MODIFY',
    pk: 'customer#4',
    sk: 'order#0001',
    seq: seq(100 + n),
    ts: NOW - MINUTE,
    attributes: { n: { N: String(n) } },
  });
}

describe('a checkpoint skipped by a killed run', () => {
  it('is written by the next run, whether it finds nothing new or commits the next batch', async () => {
    const landing = await sampleLanding();
    const delta = await tempStore('delta');
    await capture(landing, [coverageRecord(), { ...orderChange(0), ts: SAMPLE_T + MINUTE }]);
    for (let batch = 1; batch <= 9; batch++) {
      if (batch > 1) await capture(landing, [orderChange(batch)]);
      const result = await applyBatch({ landing, delta, table: TABLE, now: () => NOW });
      expect(result).toMatchObject({ outcome: 'applied', batch, version: batch, checkpoint: 'not-due' });
    }
    await capture(landing, [orderChange(10)]);
    const killed = await runApply(landing, delta, 'after-commit');
    expect(killed.signal).toBe('SIGKILL');
    expect((await readTable(delta)).snapshot.version).toBe(10);
    expect(await delta.head('_delta_log/00000000000000000010.checkpoint.parquet')).toBeUndefined();
    const twinLanding = await tempStore('landing');
    const twinDelta = await tempStore('delta');
    await cp(landing.rootDir, twinLanding.rootDir, { recursive: true });
    await cp(delta.rootDir, twinDelta.rootDir, { recursive: true });

    // Nothing new: the run writes the checkpoint of version 10 all the same.
    const idle = await runApply(landing, delta);
    expect(idle.stderr).toBe('');
    expect(idle.code).toBe(0);
    expect(idle.stdout).toContain('Nothing new to apply: the table holds batch 10 at version 10.');
    expect(idle.stdout).toContain('checkpoint  written at version 10 (an interrupted run had skipped it)');
    expect(await delta.head('_delta_log/00000000000000000010.checkpoint.parquet')).toBeDefined();
    expect((await readLastCheckpoint(delta))?.version).toBe(10);
    const table = await readTable(delta);
    expect(table.snapshot.checkpointVersion).toBe(10);
    expect(table.items.get('{"pk":"customer#4","sk":"order#0001"}')).toContain('"n":10');
    // A checkpoint that is not behind is not written again.
    const again = await applyBatch({ landing, delta, table: TABLE, now: () => NOW });
    expect(again).toMatchObject({ outcome: 'nothing-new', checkpoint: 'not-due' });

    // Or the next batch: version 11 is no multiple of the interval, but version 10 has no
    // checkpoint, so its run writes one.
    await capture(twinLanding, [orderChange(11)]);
    const next = await runApply(twinLanding, twinDelta);
    expect(next.code).toBe(0);
    expect(next.stdout).toContain('Batch 11 committed as version 11');
    expect(next.stdout).toContain('checkpoint  written');
    expect((await readLastCheckpoint(twinDelta))?.version).toBe(11);
    expect((await readTable(twinDelta)).snapshot.checkpointVersion).toBe(11);
  });
});
