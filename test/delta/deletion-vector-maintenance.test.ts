import { readdir, utimes } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AddFile, DeletionVectorDescriptor } from '../../src/delta/actions.ts';
import { commit } from '../../src/delta/commit.ts';
import { createTable } from '../../src/delta/create-table.ts';
import { deletionVectorFileKey } from '../../src/delta/deletion-vector.ts';
import { writeDeletionVector } from '../../src/delta/deletion-vector-write.ts';
import { describeTable } from '../../src/delta/describe.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import type { Snapshot } from '../../src/delta/snapshot.ts';
import { startTransaction } from '../../src/delta/transaction.ts';
import { vacuum } from '../../src/delta/vacuum.ts';
import type { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { runDdbLake } from '../support/run-cli.ts';
import { ORDERS_SCHEMA, rowsOf, WriterWorkspace, writeOrders } from './writer-support.ts';

/*
 * Looking after a table with deletion vectors (PROTOCOL.md, "Deletion Vector Files", "Add File and
 * Remove File"): vacuum deletes the vector files no active file and no live tombstone references,
 * by the same retention as data files; describe counts deleted rows and vector files.
 */

const workspace = new WriterWorkspace();
afterAll(() => workspace.close());

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 0, 15);

const ROWS = ['a', 'b', 'c', 'd', 'e'].map((pk, i) => ({ pk, amount: `${i}.5`, qty: i }));

/** A table with deletion vectors and two data files: `first` holds a..e, `second` a2..e2. */
async function dvTable(): Promise<{
  store: LocalFolderStore;
  snapshot: Snapshot;
  first: string;
  second: string;
}> {
  const store = await workspace.store('dv-maintenance');
  const engine = await workspace.engine();
  const created = await createTable(store, {
    schema: ORDERS_SCHEMA,
    deletionVectors: true,
    now: NOW - 40 * DAY,
  });
  const first = await writeOrders(workspace, store, ROWS);
  const second = await writeOrders(
    workspace,
    store,
    ROWS.map((row) => ({ ...row, pk: `${row.pk}2` })),
  );
  await commit(store, engine, startTransaction(created).addFiles([...first, ...second]), {
    now: NOW - 40 * DAY,
  });
  return {
    store,
    snapshot: await loadSnapshot(store, engine),
    first: (first[0] as AddFile).path,
    second: (second[0] as AddFile).path,
  };
}

/** Gives the file at `path` the vector `deletionVector` in a commit at `at`; returns the new snapshot. */
async function mark(
  store: LocalFolderStore,
  snapshot: Snapshot,
  filePath: string,
  deletionVector: DeletionVectorDescriptor,
  at: number,
): Promise<Snapshot> {
  const engine = await workspace.engine();
  const file = snapshot.files.find((f) => f.path === filePath) as AddFile;
  await commit(store, engine, startTransaction(snapshot).updateDeletionVectors([{ file, deletionVector }]), {
    now: at,
  });
  return loadSnapshot(store, engine);
}

async function keysBelow(store: LocalFolderStore): Promise<string[]> {
  const names = await readdir(store.rootDir, { recursive: true });
  return names
    .map((name) => name.split(path.sep).join('/'))
    .filter((name) => !name.startsWith('_delta_log') && name.endsWith('.bin'))
    .sort();
}

async function setAge(store: LocalFolderStore, key: string, at: number): Promise<void> {
  await utimes(path.join(store.rootDir, ...key.split('/')), new Date(at), new Date(at));
}

describe('vacuum with deletion vectors', () => {
  it('deletes vector files of expired tombstones and old orphans; keeps those of active files, live tombstones and young files', async () => {
    const { store, snapshot, first: filePath, second: otherPath } = await dvTable();
    const key = (dv: DeletionVectorDescriptor) => deletionVectorFileKey(dv, store.url);
    const file = { inlineMaxBytes: 0 };
    // 30 days ago: the first vector; 20 days ago it is replaced (its tombstone expires after 7 days).
    const first = await writeDeletionVector(store, [0n], file);
    let current = await mark(store, snapshot, filePath, first, NOW - 30 * DAY);
    const second = await writeDeletionVector(store, [0n, 1n], { ...file, randomPrefixLength: 2 });
    current = await mark(store, current, filePath, second, NOW - 20 * DAY);
    // A day ago: replaced again; the second vector's tombstone is live.
    const third = await writeDeletionVector(store, [0n, 1n, 3n], file);
    current = await mark(store, current, filePath, third, NOW - DAY);
    // An inline vector on the other file references no file at all.
    current = await mark(store, current, otherPath, await writeDeletionVector(store, [2n]), NOW - DAY);
    // Vectors written and never committed: one old, one written just now (a writer about to commit).
    const orphan = await writeDeletionVector(store, [4n], { ...file, randomPrefixLength: 2 });
    const young = await writeDeletionVector(store, [4n], file);
    for (const k of await keysBelow(store)) await setAge(store, k, NOW - 30 * DAY);
    await setAge(store, key(young), NOW - HOUR);
    const rowsBefore = await rowsOf(workspace, store, current);
    expect(rowsBefore.map((row) => row.pk)).toEqual(['a2', 'b2', 'c', 'd2', 'e', 'e2']);

    const engine = await workspace.engine();
    const dryRun = await vacuum(store, engine, { now: NOW, dryRun: true });
    const expected = [key(first), key(orphan)].sort();
    expect(dryRun.files.map((f) => f.key)).toEqual(expected);
    expect(dryRun.files.every((f) => f.deletionVector === true)).toBe(true);
    expect(await keysBelow(store)).toHaveLength(5);

    const result = await vacuum(store, engine, { now: NOW });
    expect(result.files.map((f) => f.key)).toEqual(expected);
    expect(result.keptForTombstones).toBe(1);
    expect(result.keptYoung).toBe(1);
    expect(await keysBelow(store)).toEqual([key(second), key(third), key(young)].sort());
    // The latest version and the one a day old (through the live tombstone's vector) still read.
    expect(await rowsOf(workspace, store, await loadSnapshot(store, engine))).toEqual(rowsBefore);
    const dayOld = await loadSnapshot(store, engine, { version: current.version - 2 });
    expect((await rowsOf(workspace, store, dayOld)).map((row) => row.pk)).toEqual([
      'a2',
      'b2',
      'c',
      'c2',
      'd',
      'd2',
      'e',
      'e2',
    ]);
    // Idempotent.
    expect((await vacuum(store, engine, { now: NOW })).files).toEqual([]);
  });
});

describe('describe with deletion vectors', () => {
  it('counts the deleted rows, the files with vectors, the vector files and the inline vectors', async () => {
    const { store, snapshot } = await dvTable();
    const engine = await workspace.engine();
    const [one, two] = snapshot.files as [AddFile, AddFile];
    expect((await describeTable(store, engine)).deletionVectors).toEqual({
      deletedRows: 0,
      filesWithDeletionVectors: 0,
      deletionVectorFiles: 0,
      inlineDeletionVectors: 0,
      deletionVectorBytes: 0,
    });
    const stored = await writeDeletionVector(store, [0n, 1n, 2n], { inlineMaxBytes: 0 });
    let current = await mark(store, snapshot, one.path, stored, NOW);
    const inline = await writeDeletionVector(store, [4n]);
    current = await mark(store, current, two.path, inline, NOW);
    const description = await describeTable(store, engine);
    expect(description.deletionVectors).toEqual({
      deletedRows: 4,
      filesWithDeletionVectors: 2,
      deletionVectorFiles: 1,
      inlineDeletionVectors: 1,
      deletionVectorBytes: stored.sizeInBytes + inline.sizeInBytes,
    });
    expect(description.numRecords).toBe(6);
    expect(description.numFiles).toBe(2);

    const human = await runDdbLake(['table', 'describe', '--delta', store.rootDir]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('protocol: reader version 3, writer version 7 (reader:deletionVectors');
    expect(human.stdout).toContain('6 record(s)');
    expect(human.stdout).toMatch(
      /deletion vectors: 4 row\(s\) deleted in 2 data file\(s\); 1 deletion vector file\(s\), 1 inline, \d+ bytes/,
    );
    const json = JSON.parse(
      (await runDdbLake(['table', 'describe', '--delta', store.rootDir, '--json'])).stdout,
    );
    expect(json.deletionVectors).toEqual(description.deletionVectors);
    expect(json.numRecords).toBe(6);
  });
});
