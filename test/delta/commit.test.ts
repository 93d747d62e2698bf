import { afterAll, describe, expect, it } from 'vitest';
import { commit } from '../../src/delta/commit.ts';
import {
  DeltaCommitRetriesExhaustedError,
  DeltaConflictError,
  DeltaInvalidWriteError,
} from '../../src/delta/errors.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import type { StructType } from '../../src/delta/schema.ts';
import { latestTxnVersion } from '../../src/delta/snapshot.ts';
import { startTransaction } from '../../src/delta/transaction.ts';
import {
  commitLines,
  LostResponseStore,
  logBytes,
  newTable,
  ORDERS_SCHEMA,
  rowsOf,
  WriterWorkspace,
  writeOrders,
} from './writer-support.ts';

const workspace = new WriterWorkspace();
afterAll(() => workspace.close());

const BIG = '1234567890123456789012345678.0000000001';

describe('commit: round trips', () => {
  it('an append commits version 1 with commitInfo, txn and add as the spec spells them, and reads back exactly', async () => {
    const { store, snapshot } = await newTable(workspace);
    const adds = await writeOrders(workspace, store, [
      { pk: 'a', amount: BIG, qty: 1, note: 'first' },
      { pk: 'b', amount: '-0.0000000001', qty: '9007199254740993', note: null },
    ]);
    const engine = await workspace.engine();
    const outcome = await commit(
      store,
      engine,
      startTransaction(snapshot).addFiles(adds).setTxn('pipeline', 1),
      {
        now: 1_700_000_000_123,
      },
    );
    expect(outcome).toMatchObject({
      outcome: 'committed',
      version: 1,
      attempts: 1,
      checkpoint: { outcome: 'not-due' },
    });

    const lines = await commitLines(store, 1);
    expect(lines.map((line) => Object.keys(line)[0])).toEqual(['commitInfo', 'txn', 'add']);
    expect(lines[0]?.commitInfo).toMatchObject({
      timestamp: 1_700_000_000_123,
      operation: 'WRITE',
      readVersion: 0,
      isBlindAppend: true,
      operationMetrics: { numFiles: '1', numOutputRows: '2', numOutputBytes: String(adds[0]?.size) },
    });
    expect(lines[1]?.txn).toEqual({ appId: 'pipeline', version: 1, lastUpdated: 1_700_000_000_123 });
    const add = lines[2]?.add as Record<string, unknown>;
    expect(Object.keys(add).sort()).toEqual(
      ['dataChange', 'modificationTime', 'partitionValues', 'path', 'size', 'stats'].sort(),
    );
    expect(add.path).toMatch(/^part-[0-9a-f-]{36}\.zstd\.parquet$/);

    const loaded = await loadSnapshot(store, engine);
    expect(loaded.version).toBe(1);
    expect(loaded.files.map((f) => f.path)).toEqual(adds.map((a) => a.path));
    expect(latestTxnVersion(loaded, 'pipeline')).toBe(1);
    expect(await rowsOf(workspace, store, loaded)).toEqual([
      { pk: 'a', amount: BIG, qty: '1', note: 'first' },
      { pk: 'b', amount: '-0.0000000001', qty: '9007199254740993', note: null },
    ]);
  });

  it('remove + add replaces a file: the remove carries deletionTimestamp, extendedFileMetadata, partitionValues and size', async () => {
    const { store, snapshot } = await newTable(workspace);
    const engine = await workspace.engine();
    const first = await writeOrders(workspace, store, [{ pk: 'a', amount: '1', qty: 1 }]);
    await commit(store, engine, startTransaction(snapshot).addFiles(first));
    const v1 = await loadSnapshot(store, engine);
    const second = await writeOrders(workspace, store, [{ pk: 'a', amount: '2', qty: 2, note: 'updated' }]);
    const outcome = await commit(
      store,
      engine,
      startTransaction(v1, { operation: 'MERGE' }).readWholeTable().removeFiles(v1.files).addFiles(second),
      { now: 1_700_000_100_000 },
    );
    expect(outcome).toMatchObject({ outcome: 'committed', version: 2 });
    const lines = await commitLines(store, 2);
    expect(lines.map((line) => Object.keys(line)[0])).toEqual(['commitInfo', 'remove', 'add']);
    expect(lines[0]?.commitInfo).toMatchObject({
      operation: 'MERGE',
      readVersion: 1,
      isBlindAppend: false,
      operationMetrics: { numRemovedFiles: '1', numRemovedBytes: String(first[0]?.size) },
    });
    expect(lines[1]?.remove).toMatchObject({
      path: first[0]?.path,
      deletionTimestamp: 1_700_000_100_000,
      dataChange: true,
      extendedFileMetadata: true,
      partitionValues: {},
      size: first[0]?.size,
    });
    const v2 = await loadSnapshot(store, engine);
    expect(v2.files.map((f) => f.path)).toEqual(second.map((a) => a.path));
    expect(v2.tombstones.map((t) => t.path)).toEqual(first.map((a) => a.path));
    expect(await rowsOf(workspace, store, v2)).toEqual([
      { pk: 'a', amount: '2.0000000000', qty: '2', note: 'updated' },
    ]);
  });

  it('adding a nullable column is a metaData commit; files written before read it as null', async () => {
    const { store, snapshot } = await newTable(workspace);
    const engine = await workspace.engine();
    const old = await writeOrders(workspace, store, [{ pk: 'a', amount: '1', qty: 1 }]);
    await commit(store, engine, startTransaction(snapshot).addFiles(old));
    const v1 = await loadSnapshot(store, engine);
    const wider: StructType = {
      type: 'struct',
      fields: [
        ...ORDERS_SCHEMA.fields,
        { name: 'color', type: { type: 'primitive', name: 'string' }, nullable: true, metadata: {} },
      ],
    };
    const added = await writeOrders(workspace, store, [{ pk: 'b', amount: '2', qty: 2 }], wider);
    const tx = startTransaction(v1, { operation: 'ADD COLUMNS' })
      .updateSchema(wider)
      .updateConfiguration({ ...v1.metadata.configuration, 'ddb_lake.note': 'widened' })
      .addFiles(added);
    await commit(store, engine, tx);
    const lines = await commitLines(store, 2);
    expect(lines.map((line) => Object.keys(line)[0])).toEqual(['commitInfo', 'metaData', 'add']);
    const metaData = lines[1]?.metaData as Record<string, unknown>;
    expect(metaData.id).toBe(v1.metadata.id);
    expect(metaData.createdTime).toBe(v1.metadata.createdTime);
    const v2 = await loadSnapshot(store, engine);
    expect(v2.schema).toEqual(wider);
    expect(v2.metadata.configuration['ddb_lake.note']).toBe('widened');
    expect(v2.metadata.configuration['delta.enableDeletionVectors']).toBe('false');
    const rows = await rowsOf(workspace, store, v2);
    expect(rows.map((row) => [row.pk, row.color])).toEqual([
      ['a', null],
      ['b', null],
    ]);
  });

  it('a schema change that drops, retypes or adds a not-nullable column is refused before anything is written', async () => {
    const { snapshot } = await newTable(workspace);
    const [pk, amount, qty, note] = ORDERS_SCHEMA.fields as [
      StructType['fields'][number],
      StructType['fields'][number],
      StructType['fields'][number],
      StructType['fields'][number],
    ];
    const tx = startTransaction(snapshot);
    const attempts: [StructType, RegExp][] = [
      [{ type: 'struct', fields: [pk, amount, qty] }, /drops the column "note"/],
      [
        {
          type: 'struct',
          fields: [pk, { ...amount, type: { type: 'decimal', precision: 38, scale: 2 } }, qty, note],
        },
        /retypes the column "amount" from decimal\(38,10\) to decimal\(38,2\)/,
      ],
      [
        { type: 'struct', fields: [pk, amount, qty, note, { ...note, name: 'x', nullable: false }] },
        /adds the column "x" as not nullable/,
      ],
      [
        { type: 'struct', fields: [pk, amount, qty, note, { ...note, name: 'NOTE' }] },
        /"note" and "NOTE" differ only in case/,
      ],
      [{ type: 'struct', fields: [amount, pk, qty, note] }, /moves the column "pk"/],
    ];
    for (const [schema, message] of attempts) {
      expect(() => tx.updateSchema(schema)).toThrow(DeltaInvalidWriteError);
      expect(() => tx.updateSchema(schema)).toThrow(message);
    }
  });

  it('a txn version already in the table is skipped: already-applied, nothing written', async () => {
    const { store, snapshot } = await newTable(workspace);
    const engine = await workspace.engine();
    const adds = await writeOrders(workspace, store, [{ pk: 'a', amount: '1', qty: 1 }]);
    await commit(store, engine, startTransaction(snapshot).addFiles(adds).setTxn('pipeline', 7));
    const v1 = await loadSnapshot(store, engine);
    const before = await logBytes(store);
    for (const batch of [7, 3]) {
      const again = await writeOrders(workspace, store, [{ pk: 'z', amount: '1', qty: 1 }]);
      const outcome = await commit(
        store,
        engine,
        startTransaction(v1).addFiles(again).setTxn('pipeline', batch),
      );
      expect(outcome).toEqual({
        outcome: 'already-applied',
        appId: 'pipeline',
        txnVersion: 7,
        tableVersion: 1,
      });
    }
    expect(await logBytes(store)).toEqual(before);
    const next = await commit(store, engine, startTransaction(v1).setTxn('pipeline', 8));
    expect(next).toMatchObject({ outcome: 'committed', version: 2 });
    expect(latestTxnVersion(await loadSnapshot(store, engine), 'pipeline')).toBe(8);
  });

  it('a retried request that finds its own commit (same bytes) counts as committed, once', async () => {
    const { store: folder, snapshot } = await newTable(workspace);
    const store = new LostResponseStore(folder);
    const engine = await workspace.engine();
    const adds = await writeOrders(workspace, folder, [{ pk: 'a', amount: '1', qty: 1 }]);
    const outcome = await commit(store, engine, startTransaction(snapshot).addFiles(adds).setTxn('p', 1));
    expect(outcome).toMatchObject({ outcome: 'committed', version: 1, attempts: 1 });
    expect(store.lostResponses).toEqual(['_delta_log/00000000000000000001.json']);
    const loaded = await loadSnapshot(store, engine);
    expect(loaded.version).toBe(1);
    expect(await store.head('_delta_log/00000000000000000002.json')).toBeUndefined();
  });

  it('appends to a table Spark wrote, which then reads back with its own files and ours', async () => {
    const store = await workspace.fixtureCopy('simple_table');
    const engine = await workspace.engine();
    const before = await loadSnapshot(store, engine);
    const schema = before.schema;
    const session = await workspace.session();
    const { writeDataFiles } = await import('../../src/duckdb/data-file-writer.ts');
    const adds = await writeDataFiles(session, store, { source: 'SELECT 1000::BIGINT AS id', schema });
    const outcome = await commit(store, engine, startTransaction(before).addFiles(adds));
    expect(outcome).toMatchObject({ outcome: 'committed', version: before.version + 1 });
    const after = await loadSnapshot(store, engine);
    expect(after.files.map((f) => f.path).sort()).toEqual(
      [...before.files, ...adds].map((f) => f.path).sort(),
    );
  });
});

describe('commit: concurrent writers', () => {
  it('two writers racing for one version on a folder: one wins, the other retries, both batches land exactly once', async () => {
    const { store, snapshot } = await newTable(workspace);
    const engine = await workspace.engine();
    const a = await writeOrders(workspace, store, [{ pk: 'a', amount: '1', qty: 1 }]);
    const b = await writeOrders(workspace, store, [{ pk: 'b', amount: '2', qty: 2 }]);
    const outcomes = await Promise.all([
      commit(store, engine, startTransaction(snapshot).addFiles(a).setTxn('writer-a', 1)),
      commit(store, engine, startTransaction(snapshot).addFiles(b).setTxn('writer-b', 1)),
    ]);
    expect(outcomes.map((o) => (o.outcome === 'committed' ? o.version : -1)).sort()).toEqual([1, 2]);
    expect(outcomes.map((o) => (o.outcome === 'committed' ? o.attempts : -1)).sort()).toEqual([1, 2]);
    const loaded = await loadSnapshot(store, engine);
    expect(loaded.version).toBe(2);
    expect(loaded.files.map((f) => f.path).sort()).toEqual([...a, ...b].map((f) => f.path).sort());
    expect(latestTxnVersion(loaded, 'writer-a')).toBe(1);
    expect(latestTxnVersion(loaded, 'writer-b')).toBe(1);
    expect((await rowsOf(workspace, store, loaded)).map((row) => row.pk)).toEqual(['a', 'b']);
  });

  it('six writers racing from the same version all land exactly once, at versions 1 to 6', async () => {
    const { store, snapshot } = await newTable(workspace);
    const engine = await workspace.engine();
    const batches = [];
    for (let i = 0; i < 6; i++)
      batches.push(await writeOrders(workspace, store, [{ pk: `k${i}`, amount: String(i), qty: i }]));
    const outcomes = await Promise.all(
      batches.map((adds, i) =>
        commit(store, engine, startTransaction(snapshot).addFiles(adds).setTxn(`w${i}`, 1)),
      ),
    );
    expect(outcomes.map((o) => (o.outcome === 'committed' ? o.version : -1)).sort()).toEqual([
      1, 2, 3, 4, 5, 6,
    ]);
    const loaded = await loadSnapshot(store, engine);
    expect((await rowsOf(workspace, store, loaded)).map((row) => row.pk)).toEqual([
      'k0',
      'k1',
      'k2',
      'k3',
      'k4',
      'k5',
    ]);
  });

  it('a writer that removes a file a concurrent commit removed conflicts, naming the winning version; nothing of it is written', async () => {
    const { store, snapshot } = await newTable(workspace);
    const engine = await workspace.engine();
    await commit(
      store,
      engine,
      startTransaction(snapshot).addFiles(
        await writeOrders(workspace, store, [{ pk: 'a', amount: '1', qty: 1 }]),
      ),
    );
    const v1 = await loadSnapshot(store, engine);
    await commit(store, engine, startTransaction(v1).removeFiles(v1.files));
    const late = commit(store, engine, startTransaction(v1).removeFiles(v1.files));
    await expect(late).rejects.toBeInstanceOf(DeltaConflictError);
    await expect(commit(store, engine, startTransaction(v1).removeFiles(v1.files))).rejects.toMatchObject({
      winningVersion: 2,
      message: expect.stringMatching(/also removed part-.*Nothing was written/),
    });
    expect(await store.head('_delta_log/00000000000000000003.json')).toBeUndefined();
  });

  it('conflicts when the winner removed a file this transaction read, changed the metadata, or committed its appId; a blind append retries past all of them', async () => {
    const { store, snapshot } = await newTable(workspace);
    const engine = await workspace.engine();
    const seed = await writeOrders(workspace, store, [{ pk: 'a', amount: '1', qty: 1 }]);
    await commit(store, engine, startTransaction(snapshot).addFiles(seed));
    const v1 = await loadSnapshot(store, engine);
    // Winners at versions 2, 3 and 4: a file removed, the metadata changed, a txn of `app`.
    await commit(store, engine, startTransaction(v1).removeFiles(v1.files));
    const v2 = await loadSnapshot(store, engine);
    await commit(
      store,
      engine,
      startTransaction(v2).updateConfiguration({ ...v2.metadata.configuration, 'ddb_lake.x': '1' }),
    );
    const v3 = await loadSnapshot(store, engine);
    await commit(store, engine, startTransaction(v3).setTxn('app', 5));

    const fresh = await writeOrders(workspace, store, [{ pk: 'b', amount: '2', qty: 2 }]);
    await expect(
      commit(
        store,
        engine,
        startTransaction(v1)
          .readFiles([seed[0]?.path as string])
          .addFiles(fresh),
      ),
    ).rejects.toThrow(/version 2 removed part-.*which this transaction read/);
    await expect(
      commit(store, engine, startTransaction(v1).readWholeTable().addFiles(fresh)),
    ).rejects.toThrow(/version 2 removed/);
    await expect(commit(store, engine, startTransaction(v2).addFiles(fresh))).rejects.toThrow(
      /version 3 changed the table's metadata/,
    );
    await expect(
      commit(store, engine, startTransaction(v3).addFiles(fresh).setTxn('app', 6)),
    ).rejects.toThrow(/version 4 committed version 5 of the application app/);
    const blind = await commit(store, engine, startTransaction(v3).addFiles(fresh).setTxn('other', 1));
    expect(blind).toMatchObject({ outcome: 'committed', version: 5, attempts: 2 });
  });

  it('gives up after maxAttempts lost races with DeltaCommitRetriesExhaustedError, writing nothing', async () => {
    const { store, snapshot } = await newTable(workspace);
    const engine = await workspace.engine();
    await commit(store, engine, startTransaction(snapshot).setTxn('x', 1));
    await commit(store, engine, startTransaction(await loadSnapshot(store, engine)).setTxn('y', 1));
    const before = await logBytes(store);
    const attempt = commit(store, engine, startTransaction(snapshot).setTxn('z', 1), { maxAttempts: 2 });
    await expect(attempt).rejects.toBeInstanceOf(DeltaCommitRetriesExhaustedError);
    await expect(
      commit(store, engine, startTransaction(snapshot).setTxn('z', 1), { maxAttempts: 2 }),
    ).rejects.toThrow(/lost the race for the next version 2 times \(versions 1 to 2/);
    expect(await logBytes(store)).toEqual(before);
  });
});

describe('transaction staging', () => {
  it('refuses a plan that breaks the log rules before commit: unknown or twice-removed files, mismatched partition values, two txns', async () => {
    const { store, snapshot } = await newTable(workspace);
    const adds = await writeOrders(workspace, store, [{ pk: 'a', amount: '1', qty: 1 }]);
    const tx = startTransaction(snapshot);
    expect(() => tx.removeFiles(['part-unknown.parquet'])).toThrow(
      /part-unknown\.parquet is not in the table at version 0/,
    );
    expect(() => tx.addFiles([...adds, ...adds])).toThrow(/added twice/);
    expect(() => tx.addFiles([{ ...(adds[0] as (typeof adds)[0]), partitionValues: { pk: 'a' } }])).toThrow(
      /partition values for \[pk\], but the table is partitioned by \[\]/,
    );
    expect(() => tx.setTxn('a', 1).setTxn('b', 1)).toThrow(/one txn/);
    expect(() => tx.setTxn('a', -1)).toThrow(/whole number/);
  });
});
