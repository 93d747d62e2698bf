import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fullRowScan, optimizeCommits, snapshotOf, tableFacts } from '../../bench/apply-merge-pair.ts';
import { DuckSession } from '../../src/duckdb/session.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';

/** Spark's table of ten rows whose deletion vector (a file of its own) marks two deleted. */
const SPARK_DV_TABLE = path.resolve('test/fixtures/delta/table-with-dv-small');

let session: DuckSession;
let store: LocalFolderStore;
beforeAll(async () => {
  session = await DuckSession.open();
  store = new LocalFolderStore(SPARK_DV_TABLE);
});
afterAll(async () => {
  await store.close();
  await session.close();
});

describe('the apply-merge bench reads a table', () => {
  test("counts a Spark table's files, deletion vector bytes and deleted rows, and sees merge-on-read", async () => {
    expect(tableFacts(await snapshotOf(session, store))).toEqual({
      files: 1,
      // The data file's 635 bytes and the vector's 36.
      bytes: 671,
      filesWithDeletionVectors: 1,
      deletedRows: 2,
      mergeOnRead: true,
    });
  });

  test('a full scan leaves out the rows the deletion vectors mark and names the columns', async () => {
    const scanned = await fullRowScan(session, store, 'scanned_rows');
    expect(scanned.print).toMatch(/^8 \/ \d+$/);
    expect(scanned.columns).toEqual(['value']);
    expect(scanned.seconds).toBeGreaterThanOrEqual(scanned.querySeconds);
    const again = await fullRowScan(session, store, 'scanned_rows');
    expect(again.print).toBe(scanned.print);
  });

  test('counts the commits whose commitInfo operation is OPTIMIZE, not commits that merely mention it', async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'ddb-lake-bench-log-'));
    try {
      const log = path.join(folder, '_delta_log');
      await mkdir(log);
      const commit = (operation: string, extra = '') =>
        `{"commitInfo":{"timestamp":1,"operation":"${operation}"${extra}}}\n{"txn":{"appId":"a","version":1}}\n`;
      await writeFile(path.join(log, '00000000000000000000.json'), commit('CREATE TABLE'));
      await writeFile(path.join(log, '00000000000000000001.json'), commit('OPTIMIZE'));
      await writeFile(
        path.join(log, '00000000000000000002.json'),
        commit('WRITE', ',"operationParameters":{"note":"\\"operation\\":\\"OPTIMIZE\\""}'),
      );
      await writeFile(path.join(log, '00000000000000000003.json'), commit('OPTIMIZE'));
      await writeFile(path.join(log, '_last_checkpoint'), '{"version":3,"size":1}');
      expect(await optimizeCommits(folder)).toBe(2);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
