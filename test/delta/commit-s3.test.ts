import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddFile, DeletionVectorDescriptor } from '../../src/delta/actions.ts';
import { commit } from '../../src/delta/commit.ts';
import { createTable } from '../../src/delta/create-table.ts';
import { deletionVectorFileKey, readDeletionVector } from '../../src/delta/deletion-vector.ts';
import { extendDeletionVector } from '../../src/delta/deletion-vector-write.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import { latestTxnVersion } from '../../src/delta/snapshot.ts';
import { startTransaction } from '../../src/delta/transaction.ts';
import { vacuum } from '../../src/delta/vacuum.ts';
import { readSnapshotRows } from '../../src/duckdb/table-scan.ts';
import {
  S3_SERVER_CREDENTIALS,
  S3_SERVER_REGION,
  type S3Server,
  startS3Server,
} from '../../src/local/s3-server.ts';
import { S3Store } from '../../src/storage/s3-store.ts';
import { ORDERS_SCHEMA, WriterWorkspace, writeOrders } from './writer-support.ts';

const workspace = new WriterWorkspace();
let server: S3Server;
let buckets = 0;

beforeAll(async () => {
  server = await startS3Server();
});
afterAll(async () => {
  await server?.stop();
  await workspace.close();
});

async function s3Table(): Promise<S3Store> {
  const bucket = `delta-${++buckets}`;
  await server.createBucket(bucket);
  return new S3Store({
    bucket,
    prefix: 'lake/orders',
    endpointUrl: server.endpoint,
    region: S3_SERVER_REGION,
    credentials: S3_SERVER_CREDENTIALS,
  });
}

describe('commits on S3 (If-None-Match: *)', () => {
  it('writers racing on S3 each land exactly once, and the checkpoint at version 10 is read back from S3', async () => {
    const store = await s3Table();
    const engine = await workspace.engine();
    const created = await createTable(store, { schema: ORDERS_SCHEMA });
    const batches = [];
    for (let i = 1; i <= 10; i++)
      batches.push(await writeOrders(workspace, store, [{ pk: `k${i}`, amount: String(i), qty: i }]));
    const outcomes = await Promise.all(
      batches.map((adds, i) =>
        commit(store, engine, startTransaction(created).addFiles(adds).setTxn(`writer-${i}`, 1)),
      ),
    );
    expect(outcomes.map((o) => (o.outcome === 'committed' ? o.version : -1)).sort((a, b) => a - b)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
    const tenth = outcomes.find((o) => o.outcome === 'committed' && o.version === 10);
    expect(tenth).toMatchObject({ checkpoint: { outcome: 'written', version: 10, numOfAddFiles: 10 } });

    const snapshot = await loadSnapshot(store, engine);
    expect(snapshot.version).toBe(10);
    expect(snapshot.checkpointVersion).toBe(10);
    expect(snapshot.files.map((f) => f.path).sort()).toEqual(
      batches
        .flat()
        .map((f) => f.path)
        .sort(),
    );
    for (let i = 0; i < 10; i++) expect(latestTxnVersion(snapshot, `writer-${i}`)).toBe(1);

    const again = await commit(
      store,
      engine,
      startTransaction(snapshot)
        .addFiles(batches[0] ?? [])
        .setTxn('writer-0', 1),
    );
    expect(again).toEqual({ outcome: 'already-applied', appId: 'writer-0', txnVersion: 1, tableVersion: 10 });
    await store.close();
  });

  it('vacuum on S3 keeps young unreferenced files and the log; a dry run with an allowed zero retention lists the orphan only', async () => {
    const store = await s3Table();
    const engine = await workspace.engine();
    const created = await createTable(store, { schema: ORDERS_SCHEMA });
    const kept = await writeOrders(workspace, store, [{ pk: 'a', amount: '1', qty: 1 }]);
    await commit(store, engine, startTransaction(created).addFiles(kept));
    const orphan = await writeOrders(workspace, store, [{ pk: 'o', amount: '1', qty: 1 }]);
    // Ages are measured on the clock that dated the objects: the S3 server's.
    const now = ((await store.head(orphan[0]?.path as string))?.lastModified.getTime() ?? 0) + 1000;
    const young = await vacuum(store, engine, { now });
    expect(young).toMatchObject({ files: [], keptYoung: 1 });
    const dry = await vacuum(store, engine, {
      retentionHours: 0,
      allowShortRetention: true,
      dryRun: true,
      now: now + 1000,
    });
    expect(dry.files.map((f) => f.key)).toEqual(orphan.map((f) => f.path));
    await vacuum(store, engine, { retentionHours: 0, allowShortRetention: true, now: now + 1000 });
    expect(await store.head(orphan[0]?.path as string)).toBeUndefined();
    expect(await store.head(kept[0]?.path as string)).toBeDefined();
    expect((await loadSnapshot(store, engine)).files.map((f) => f.path)).toEqual(kept.map((f) => f.path));
    await store.close();
  });

  it('deletion vectors on S3: the vector file is written once, read back in ranges, applied by the scan, and kept by vacuum while in use', async () => {
    const store = await s3Table();
    const engine = await workspace.engine();
    const created = await createTable(store, { schema: ORDERS_SCHEMA, deletionVectors: true });
    const adds = await writeOrders(
      workspace,
      store,
      ['a', 'b', 'c'].map((pk, i) => ({ pk, amount: String(i), qty: i })),
    );
    await commit(store, engine, startTransaction(created).addFiles(adds));
    const v1 = await loadSnapshot(store, engine);
    const file = v1.files[0] as AddFile;
    const deletionVector = await extendDeletionVector(store, file, [1n], { inlineMaxBytes: 0 });
    const key = deletionVectorFileKey(deletionVector, store.url);
    expect(await store.head(key)).toBeDefined();
    await commit(store, engine, startTransaction(v1).updateDeletionVectors([{ file, deletionVector }]));
    const v2 = await loadSnapshot(store, engine);
    expect(
      await readDeletionVector(store, store.url, v2.files[0]?.deletionVector as DeletionVectorDescriptor),
    ).toEqual([1n]);
    const rows = await readSnapshotRows(await workspace.session(), store, v2, { orderBy: ['pk'] });
    expect(rows.map((row) => row.pk)).toEqual(['a', 'c']);
    const now = ((await store.head(key))?.lastModified.getTime() ?? 0) + 1000;
    await vacuum(store, engine, { retentionHours: 0, allowShortRetention: true, now });
    expect(await store.head(key)).toBeDefined();
    await store.close();
  });
});
