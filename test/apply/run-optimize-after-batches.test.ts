import { describe, expect, it } from 'vitest';
import { type AppliedBatch, type ApplyBatchResult, applyBatch } from '../../src/apply/apply-batch.ts';
import { fileRows } from '../../src/apply/bucket-files.ts';
import { optimizeTable } from '../../src/apply/optimize/table-optimize.ts';
import { DuckSession } from '../../src/duckdb/session.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import { fileBucket } from '../../src/lake/table-layout.ts';
import type { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import {
  capture,
  change,
  coverageRecord,
  MINUTE,
  readTable,
  SAMPLE_T,
  sampleClock,
  sampleLanding,
  seq,
  TABLE,
  type TableState,
  tempStore,
} from './run-support.ts';

/*
 * Optimize on tables real apply batches wrote: merge-on-read batches leave deletion vectors and a
 * small file per batch and bucket; optimize rewrites them and the table reads the same, and equal
 * to the copy-on-write table the same batches make.
 */

const AFTER = SAMPLE_T + 30 * MINUTE;

function applied(result: ApplyBatchResult): AppliedBatch {
  expect(result.outcome).toBe('applied');
  return result as AppliedBatch;
}

/** Batch `b` (1-based, after the load): updates two existing orders and inserts two new ones. */
function laterBatch(b: number): ChangeRecord[] {
  const at = AFTER + b * MINUTE;
  return [
    change({
      op: 'MODIFY',
      pk: 'customer#1',
      sk: 'order#0001',
      seq: seq(100 + b * 10),
      ts: at,
      attributes: { total: { N: String(b * 11) } },
    }),
    change({
      op: 'MODIFY',
      pk: 'customer#2',
      sk: 'profile',
      seq: seq(101 + b * 10),
      ts: at,
      attributes: { visits: { N: String(b) } },
    }),
    change({
      op: 'INSERT',
      pk: `customer#${10 + b}`,
      sk: 'order#0001',
      seq: seq(102 + b * 10),
      ts: at,
      attributes: { total: { N: String(b) } },
    }),
    change({
      op: 'INSERT',
      pk: `customer#${10 + b}`,
      sk: 'order#0002',
      seq: seq(103 + b * 10),
      ts: at,
      attributes: { total: { N: String(b + 1) } },
    }),
    ...(b === 3
      ? [change({ op: 'REMOVE', pk: 'customer#12', sk: 'order#0002', seq: seq(104 + b * 10), ts: at })]
      : []),
  ];
}

/** The sample table in two buckets, then `batches` later batches, with or without deletion vectors. */
async function tableAfterBatches(batches: number, deletionVectors: boolean): Promise<LocalFolderStore> {
  const landing = await sampleLanding();
  await capture(landing, [coverageRecord()]);
  const delta = await tempStore(deletionVectors ? 'mor' : 'cow');
  applied(await applyBatch({ landing, delta, table: TABLE, now: sampleClock, buckets: 2, deletionVectors }));
  for (let b = 1; b <= batches; b++) {
    await capture(landing, laterBatch(b));
    applied(await applyBatch({ landing, delta, table: TABLE, now: sampleClock, autoOptimize: false }));
  }
  return delta;
}

function expectSameRows(actual: TableState, expected: TableState): void {
  expect(actual.rows).toBe(expected.rows);
  expect(new Map(actual.items)).toEqual(new Map(expected.items));
  expect(new Map(actual.system)).toEqual(new Map(expected.system));
}

describe('optimize after apply batches', () => {
  it('rewrites what merge-on-read batches left; the table reads the same, and as the copy-on-write table of the same batches', async () => {
    const delta = await tableAfterBatches(6, true);
    const before = await readTable(delta);
    expect(before.snapshot.files.some((file) => (file.deletionVector?.cardinality ?? 0) > 0)).toBe(true);

    const session = await DuckSession.open({ threads: 2 });
    let result: Awaited<ReturnType<typeof optimizeTable>>;
    try {
      result = await optimizeTable({ delta, session });
    } finally {
      await session.close();
    }
    expect(result.outcome).toBe('optimized');
    expect(result.deletedRowsPurged).toBeGreaterThan(0);

    const after = await readTable(delta);
    expectSameRows(after, before);
    // Every bucket of the rewritten ones is one key-sorted file now (the default 250,000 rows per
    // file holds them), without a deletion vector.
    for (const bucket of result.buckets) {
      const files = after.snapshot.files.filter((file) => fileBucket(file) === bucket.bucket);
      expect(files).toHaveLength(1);
      expect(files[0]?.deletionVector ?? null).toBeNull();
      expect(fileRows(files[0] as never)).toBe(bucket.rows);
    }
    expect(after.snapshot.files.filter((file) => (file.deletionVector?.cardinality ?? 0) > 0)).toEqual([]);

    expectSameRows(after, await readTable(await tableAfterBatches(6, false)));
  });

  it('a later batch on an optimized table applies as on any other', async () => {
    const landing = await sampleLanding();
    await capture(landing, [coverageRecord()]);
    const delta = await tempStore('mor');
    applied(await applyBatch({ landing, delta, table: TABLE, now: sampleClock, buckets: 2 }));
    for (let b = 1; b <= 6; b++) {
      await capture(landing, laterBatch(b));
      applied(await applyBatch({ landing, delta, table: TABLE, now: sampleClock, autoOptimize: false }));
    }
    expect((await optimizeTable({ delta })).outcome).toBe('optimized');
    await capture(landing, laterBatch(7));
    const seventh = applied(await applyBatch({ landing, delta, table: TABLE, now: sampleClock }));
    expect(seventh).toMatchObject({ inserted: 2, updated: 2 });

    expectSameRows(await readTable(delta), await readTable(await tableAfterBatches(7, false)));
  });

  it('on a copy-on-write table (--deletion-vectors off) it finds no deleted rows to purge and leaves the files its batches rewrote', async () => {
    const delta = await tableAfterBatches(6, false);
    const before = await readTable(delta);
    expect(before.snapshot.protocol.readerFeatures ?? []).not.toContain('deletionVectors');
    // Copy-on-write batches rewrite the file a new key joins: no small file per batch.
    expect(before.snapshot.files).toHaveLength(2);
    const result = await optimizeTable({ delta });
    expect(result).toMatchObject({ outcome: 'nothing-to-do', deletedRowsPurged: 0, version: null });
    expectSameRows(await readTable(delta), before);
  });
});
