import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type AppliedBatch, type ApplyBatchResult, applyBatch } from '../../src/apply/apply-batch.ts';
import { DuckSession, quoteLiteral } from '../../src/duckdb/session.ts';
import type { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
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

const AFTER = SAMPLE_T + 30 * MINUTE;
const ROWS_PER_FILE = 2;

function applied(result: ApplyBatchResult): AppliedBatch {
  expect(result.outcome).toBe('applied');
  return result as AppliedBatch;
}

/** Per data file of the table: its rows, its keys in file order, and the key bounds of its stats. */
async function dataFiles(delta: LocalFolderStore) {
  const { snapshot } = await readTable(delta);
  const session = await DuckSession.open({ threads: 1 });
  try {
    const files = [];
    for (const add of snapshot.files) {
      const file = path.join(delta.rootDir, decodeURIComponent(add.path));
      const keys = (
        await session.all(
          `SELECT _ddb_key FROM read_parquet(${quoteLiteral(file)}, file_row_number = true) ORDER BY file_row_number`,
        )
      )
        .getRows()
        .map((row) => String(row[0]));
      const stats = JSON.parse(add.stats as string) as {
        numRecords: number;
        minValues: Record<string, unknown>;
        maxValues: Record<string, unknown>;
      };
      files.push({ path: add.path, bucket: add.partitionValues['_ddb_bucket'], keys, stats });
    }
    return files;
  } finally {
    await session.close();
  }
}

describe('merge writes each rewritten bucket as key-sorted files of at most rowsPerFile rows', () => {
  it('a batch into a bucket split across files leaves sorted files within rowsPerFile whose stats bound their keys', async () => {
    const landing = await sampleLanding();
    await capture(landing, [coverageRecord()]);
    const delta = await tempStore('delta');
    applied(
      await applyBatch({
        landing,
        delta,
        table: TABLE,
        now: sampleClock,
        buckets: 1,
        rowsPerFile: ROWS_PER_FILE,
      }),
    );
    const before = await readTable(delta);
    expect(before.items.size).toBeGreaterThan(ROWS_PER_FILE);
    const beforeFiles = await dataFiles(delta);

    // Five new keys that sort below every key of the sample: they all join the first file.
    const inserted = ['a', 'b', 'c', 'd', 'e'].map((suffix) => `order#${suffix}`);
    await capture(
      landing,
      inserted.map((sk, index) =>
        change({
          op: 'INSERT',
          pk: 'customer#0',
          sk,
          seq: seq(20 + index),
          ts: AFTER,
          attributes: { qty: { N: String(index) } },
        }),
      ),
    );
    const second = applied(await applyBatch({ landing, delta, table: TABLE, now: sampleClock }));
    expect(second).toMatchObject({ inserted: 5, updated: 0, deleted: 0, bucketsRewritten: 1 });

    const after = await readTable(delta);
    expect(after.rows).toBe(after.items.size);
    expect(after.items.size).toBe(before.items.size + inserted.length);
    for (const [index, sk] of inserted.entries())
      expect(after.items.get(orderKey('customer#0', sk))).toContain(`"qty":${index}`);
    for (const [key, item] of before.items) expect(after.items.get(key)).toBe(item);

    const files = await dataFiles(delta);
    for (const file of files) {
      expect(file.keys.length).toBeGreaterThan(0);
      expect(file.keys.length).toBeLessThanOrEqual(ROWS_PER_FILE);
      expect(file.stats.numRecords).toBe(file.keys.length);
      expect([...file.keys].sort()).toEqual(file.keys);
      // String bounds may be truncated (stats-string-bounds.ts), but still bound the file's keys.
      const min = String(file.stats.minValues['_ddb_key']);
      const max = String(file.stats.maxValues['_ddb_key']);
      expect((file.keys[0] as string).startsWith(min)).toBe(true);
      expect(max >= (file.keys[file.keys.length - 1] as string)).toBe(true);
    }
    // Split in key order: the files' key ranges follow one another without overlap.
    const ranges = files
      .map((file) => file.keys)
      .sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1));
    for (let i = 1; i < ranges.length; i++) {
      const previous = ranges[i - 1] as string[];
      expect((previous[previous.length - 1] as string) < ((ranges[i] as string[])[0] as string)).toBe(true);
    }
    // Only the files that could hold a changed key were rewritten; the others are the same files.
    const kept = files.filter((file) => beforeFiles.some((old) => old.path === file.path));
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(files.length);
    expect(second.filesRewritten).toBe(beforeFiles.length - kept.length);
  });
});
