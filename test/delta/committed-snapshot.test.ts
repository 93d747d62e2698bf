import { afterAll, describe, expect, it } from 'vitest';
import type { AddFile } from '../../src/delta/actions.ts';
import { commit } from '../../src/delta/commit.ts';
import { readSnapshotAfterCommit, snapshotAfterCommit } from '../../src/delta/committed-snapshot.ts';
import { createTable } from '../../src/delta/create-table.ts';
import { writeDeletionVector } from '../../src/delta/deletion-vector-write.ts';
import { DeltaInvalidWriteError } from '../../src/delta/errors.ts';
import { loadReadSnapshot, loadSnapshot } from '../../src/delta/load-snapshot.ts';
import type { ReadSnapshot, Snapshot } from '../../src/delta/snapshot.ts';
import { startTransaction, type Transaction } from '../../src/delta/transaction.ts';
import { writeCheckpoint } from '../../src/delta/write-checkpoint.ts';
import type { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { ORDERS_SCHEMA, WriterWorkspace, writeOrders } from './writer-support.ts';

/*
 * The snapshot after a commit, built from the commit's actions, is the snapshot loadSnapshot reads
 * from the log at that version.
 */

const workspace = new WriterWorkspace();
afterAll(() => workspace.close());

const NOW = Date.UTC(2026, 0, 15);
const rows = (prefix: string) =>
  ['a', 'b', 'c', 'd'].map((pk, i) => ({ pk: `${prefix}${pk}`, amount: `${i}.25`, qty: i }));

/** A table with deletion vectors and three data files, one of them already with a vector. */
async function threeFiles(): Promise<{ store: LocalFolderStore; read: Snapshot; files: AddFile[] }> {
  const store = await workspace.store('committed-snapshot');
  const engine = await workspace.engine();
  const created = await createTable(store, { schema: ORDERS_SCHEMA, deletionVectors: true, now: NOW });
  const files = [
    ...(await writeOrders(workspace, store, rows('x'))),
    ...(await writeOrders(workspace, store, rows('y'))),
    ...(await writeOrders(workspace, store, rows('z'))),
  ];
  await commit(store, engine, startTransaction(created).addFiles(files).setTxn('app', 1), { now: NOW + 1 });
  const added = await loadSnapshot(store, engine);
  const first = added.files.find((file) => file.path === files[0]?.path) as AddFile;
  await commit(
    store,
    engine,
    startTransaction(added).updateDeletionVectors([
      { file: first, deletionVector: await writeDeletionVector(store, [1n]) },
    ]),
    { now: NOW + 2 },
  );
  return { store, read: await loadSnapshot(store, engine), files };
}

/** Commits `transaction` (started on `read`) at `now` and returns both snapshots of the new version. */
async function bothSnapshots(
  store: LocalFolderStore,
  read: Snapshot,
  transaction: Transaction,
  now: number,
): Promise<{ built: Snapshot; loaded: Snapshot; builtForRead: ReadSnapshot; loadedForRead: ReadSnapshot }> {
  const engine = await workspace.engine();
  const outcome = await commit(store, engine, transaction, { now, checkpoint: false });
  if (outcome.outcome !== 'committed') throw new Error(`not committed: ${outcome.outcome}`);
  expect(outcome.version).toBe(transaction.snapshot.version + 1);
  const { tombstones: _none, ...readWithout } = read;
  return {
    built: snapshotAfterCommit(read, outcome.actions),
    loaded: await loadSnapshot(store, engine),
    builtForRead: readSnapshotAfterCommit(readWithout, outcome.actions),
    loadedForRead: await loadReadSnapshot(store, engine),
  };
}

describe('the snapshot after a commit, from its actions', () => {
  it('equals the loaded snapshot after removes, new and replaced deletion vectors, adds, a txn and a schema change', async () => {
    const { store, read } = await threeFiles();
    const [withVector, plain, removed] = ['x', 'y', 'z'].map(
      (prefix) => read.files.find((file) => file.stats?.includes(`"${prefix}a"`)) as AddFile,
    );
    const extra = await writeOrders(workspace, store, rows('w'));
    const transaction = startTransaction(read, { operation: 'MERGE' })
      .removeFiles([removed as AddFile])
      .updateDeletionVectors([
        { file: withVector as AddFile, deletionVector: await writeDeletionVector(store, [1n, 2n]) },
        { file: plain as AddFile, deletionVector: await writeDeletionVector(store, [0n]) },
      ])
      .addFiles(extra)
      .setTxn('app', 2)
      .updateSchema({
        ...ORDERS_SCHEMA,
        fields: [
          ...ORDERS_SCHEMA.fields,
          { name: 'added', type: { type: 'primitive', name: 'string' }, nullable: true, metadata: {} },
        ],
      })
      .readWholeTable();
    const { built, loaded, builtForRead, loadedForRead } = await bothSnapshots(
      store,
      read,
      transaction,
      NOW + 3,
    );
    expect(built).toEqual(loaded);
    expect(builtForRead).toEqual(loadedForRead);
    expect(
      built.files.filter((file) => file.deletionVector !== undefined && file.deletionVector !== null),
    ).toHaveLength(2);
    expect(built.tombstones.length).toBeGreaterThanOrEqual(3);
    expect(built.schema.fields.at(-1)?.name).toBe('added');
  });

  it('equals the loaded snapshot of a table read from a checkpoint', async () => {
    const { store, read } = await threeFiles();
    const engine = await workspace.engine();
    await writeCheckpoint(store, engine, read, { now: NOW + 3 });
    const fromCheckpoint = await loadSnapshot(store, engine);
    expect(fromCheckpoint.checkpointVersion).toBe(read.version);
    const transaction = startTransaction(fromCheckpoint)
      .removeFiles([fromCheckpoint.files[0] as AddFile])
      .setTxn('app', 3);
    const { built, loaded, builtForRead, loadedForRead } = await bothSnapshots(
      store,
      fromCheckpoint,
      transaction,
      NOW + 4,
    );
    expect(built).toEqual(loaded);
    // A writer's snapshot without tombstones (what apply plans its batches from) follows the same way.
    expect(builtForRead).toEqual(loadedForRead);
    expect(builtForRead).not.toHaveProperty('tombstones');
    expect(built.checkpointVersion).toBe(read.version);
  });

  it('refuses actions without a commitInfo', async () => {
    const { read } = await threeFiles();
    expect(() => snapshotAfterCommit(read, [{ txn: { appId: 'app', version: 9 } }])).toThrow(
      DeltaInvalidWriteError,
    );
  });
});
