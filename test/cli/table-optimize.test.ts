import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPTIMIZE_FAULT_POINTS } from '../../src/apply/fault-points.ts';
import { acquireTableLease } from '../../src/apply/table-lease.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import { duckdbEngine } from '../../src/duckdb/duckdb-engine.ts';
import { DuckSession } from '../../src/duckdb/session.ts';
import type { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { tempStore } from '../apply/run-support.ts';
import {
  appendRows,
  type BuiltTable,
  builtBucket,
  builtRows,
  createBuiltTable,
  mergeOnRead,
} from '../apply/support/lake-table-builder.ts';
import { runDdbLake, startDdbLake } from '../support/run-cli.ts';

let session: DuckSession;
beforeAll(async () => {
  session = await DuckSession.open({ threads: 2 });
});
afterAll(async () => {
  await session.close();
});

/**
 * Two buckets of 10 rows per file, each with six small files of 3 rows (merge-on-read's leftovers);
 * with `deletedRows`, a table with deletion vectors where a last batch deleted one row of each
 * bucket's first file (a third of it).
 */
async function smallFilesTable(
  options: { readonly deletedRows?: boolean } = {},
): Promise<BuiltTable & { store: LocalFolderStore }> {
  const store = await tempStore('optimize-cli');
  const deletionVectors = options.deletedRows === true;
  const table = await createBuiltTable(store, { buckets: 2, rowsPerFile: 10, deletionVectors });
  const keys = (bucket: number) => {
    const list: number[] = [];
    for (let i = 0; list.length < 18; i++) if (builtBucket(i, 2) === bucket) list.push(i);
    return list;
  };
  const [zero, one] = [keys(0), keys(1)];
  for (let c = 0; c < 6; c++) {
    await appendRows(session, table, [...zero.slice(c * 3, c * 3 + 3), ...one.slice(c * 3, c * 3 + 3)], {
      seq: c + 1,
    });
  }
  if (deletionVectors)
    await mergeOnRead(session, table, { remove: [zero[0] as number, one[0] as number], seq: 7 });
  return { ...table, store };
}

async function versionOf(store: LocalFolderStore): Promise<number> {
  return (await loadSnapshot(store, duckdbEngine(session))).version;
}

async function fileCount(store: LocalFolderStore): Promise<number> {
  return (await loadSnapshot(store, duckdbEngine(session))).files.length;
}

describe('ddb-lake table optimize', () => {
  it('--help teaches what it rewrites and why, deletion vectors, when apply runs it, and that readers see the same rows', async () => {
    const help = await runDdbLake(['table', 'optimize', '--help']);
    expect(help.code).toBe(0);
    for (const phrase of [
      '--delta <url>',
      '--deleted-share <share>',
      '--dry-run',
      '--json',
      'deletion vector',
      'merge-on-read',
      'small file',
      "Delta's own OPTIMIZE rewrites files past 5 %",
      'sorted by key',
      '--deletion-vectors off',
      'apply runs it by itself',
      '--no-auto-optimize',
      'Readers see the same rows',
      'same lease as apply',
    ]) {
      expect(help.stdout).toContain(phrase);
    }
  });

  it('rewrites the small files and says what it did; the rows stay the same', async () => {
    const table = await smallFilesTable();
    const before = await builtRows(session, table.store);
    const run = await runDdbLake(['table', 'optimize', '--delta', table.store.rootDir]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Rewrote 12 file(s)');
    expect(run.stdout).toContain('into 4 file(s)');
    expect(run.stdout).toContain('36 row(s) kept, 0 deleted row(s) purged');
    expect(run.stdout).toMatch(/bucket 0: 6 file\(s\) \(6 small\), 18 row\(s\), 0 deleted → 2 file\(s\)/);
    expect(await builtRows(session, table.store)).toEqual(before);
    expect(await fileCount(table.store)).toBe(4);

    const again = await runDdbLake(['table', 'optimize', '--delta', table.store.rootDir, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      outcome: 'nothing-to-do',
      version: null,
      filesRemoved: 0,
      thresholds: { deletedShare: 0.2, maxSmallFiles: 4, smallFileRows: 5 },
    });
    const human = await runDdbLake(['table', 'optimize', '--delta', table.store.rootDir]);
    expect(human.stdout).toContain('Nothing to optimize');
    expect(human.stdout).toContain('no bucket holds more than 4 small files (fewer than 5 rows)');
  });

  it('--dry-run --json lists the buckets it would rewrite and changes nothing', async () => {
    const table = await smallFilesTable();
    const version = await versionOf(table.store);
    const run = await runDdbLake([
      'table',
      'optimize',
      '--delta',
      table.store.rootDir,
      '--dry-run',
      '--json',
    ]);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({
      outcome: 'dry-run',
      readVersion: version,
      version: null,
      filesRemoved: 12,
    });
    expect(result.buckets.map((b: { bucket: number }) => b.bucket)).toEqual([0, 1]);
    expect(await versionOf(table.store)).toBe(version);
    expect(await fileCount(table.store)).toBe(12);
  });

  it('fails with exit code 1 and writes nothing while apply (or another optimize) holds the table', async () => {
    const table = await smallFilesTable();
    const version = await versionOf(table.store);
    const lease = await acquireTableLease(table.store);
    try {
      const run = await runDdbLake(['table', 'optimize', '--delta', table.store.rootDir]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('Another writer holds the table');
      expect(await versionOf(table.store)).toBe(version);
    } finally {
      await lease.release();
    }
  });

  it('refuses a --deleted-share outside 0 to 1 as a usage error', async () => {
    const run = await runDdbLake(['table', 'optimize', '--delta', '/nowhere', '--deleted-share', '20']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--deleted-share must be a number from 0 to 1');
  });

  for (const point of OPTIMIZE_FAULT_POINTS) {
    it(`killed ${point} on a table with deletion vectors, a rerun ends with the same rows in merged files`, async () => {
      const table = await smallFilesTable({ deletedRows: true });
      const rows = await builtRows(session, table.store);
      const version = await versionOf(table.store);

      const killed = await startDdbLake(['table', 'optimize', '--delta', table.store.rootDir], {
        DDB_LAKE_FAULT: point,
      }).exited;
      expect(killed.signal).toBe('SIGKILL');
      expect(killed.stdout).toBe('');
      expect(await versionOf(table.store)).toBe(point === 'optimize-after-commit' ? version + 1 : version);
      expect(await builtRows(session, table.store)).toEqual(rows);

      const rerun = await runDdbLake(['table', 'optimize', '--delta', table.store.rootDir, '--json']);
      expect(rerun.stderr).toBe('');
      expect(rerun.code).toBe(0);
      expect(JSON.parse(rerun.stdout).outcome).toBe(
        point === 'optimize-after-commit' ? 'nothing-to-do' : 'optimized',
      );
      expect(await versionOf(table.store)).toBe(version + 1);
      expect(await builtRows(session, table.store)).toEqual(rows);
      // 17 live rows per bucket as 10 + 7, no deletion vector left.
      const after = await loadSnapshot(table.store, duckdbEngine(session));
      expect(after.files).toHaveLength(4);
      expect(after.files.every((file) => (file.deletionVector ?? null) === null)).toBe(true);
      expect(rows.size).toBe(34);
    });
  }
});
