import { cp, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commit } from '../../src/delta/commit.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import type { Snapshot } from '../../src/delta/snapshot.ts';
import { parseIntervalMs } from '../../src/delta/table-properties.ts';
import { startTransaction } from '../../src/delta/transaction.ts';
import { isCheckpointBehind, writeCheckpoint } from '../../src/delta/write-checkpoint.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { FailingPutStore, newTable, WriterWorkspace, writeOrders } from './writer-support.ts';

const workspace = new WriterWorkspace();
afterAll(() => workspace.close());

const DAY = 24 * 3_600_000;
const NOW = Date.UTC(2026, 0, 15);

/** The snapshot at `version` replayed from the JSON commits alone (a copy of the log without checkpoints). */
async function replayedFromCommits(store: LocalFolderStore, version: number): Promise<Snapshot> {
  const folder = await workspace.folder('replay');
  await cp(path.join(store.rootDir, '_delta_log'), path.join(folder, '_delta_log'), { recursive: true });
  await rm(path.join(folder, '_delta_log', '_last_checkpoint'), { force: true });
  for (const name of ['00000000000000000010.checkpoint.parquet', '00000000000000000003.checkpoint.parquet']) {
    await rm(path.join(folder, '_delta_log', name), { force: true });
  }
  return loadSnapshot(new LocalFolderStore(folder), await workspace.engine(), { version });
}

function comparable(snapshot: Snapshot) {
  return {
    protocol: snapshot.protocol,
    metadata: snapshot.metadata,
    files: snapshot.files,
    txns: [...snapshot.txns.values()],
    tombstones: snapshot.tombstones.map((t) => t.path),
  };
}

/** What a checkpoint written at NOW keeps of a snapshot: tombstones younger than a week. */
function withoutExpiredTombstones(snapshot: Snapshot) {
  return {
    ...comparable(snapshot),
    tombstones: snapshot.tombstones
      .filter((t) => (t.deletionTimestamp ?? 0) > NOW - 7 * DAY)
      .map((t) => t.path),
  };
}

describe('checkpoints after commits', () => {
  it('the commit at version 10 writes a V1 checkpoint and _last_checkpoint; loadSnapshot reads the table through it; expired tombstones are dropped', async () => {
    const { store, snapshot } = await newTable(workspace);
    const engine = await workspace.engine();
    let current = snapshot;
    const outcomes = [];
    for (let version = 1; version <= 10; version++) {
      const adds = await writeOrders(workspace, store, [
        { pk: `k${version}`, amount: `${version}.5`, qty: version },
      ]);
      let tx = startTransaction(current).addFiles(adds).setTxn('pipeline', version);
      // Version 4 removes version 1's file long ago (expired tombstone); version 9 removes version 2's recently.
      if (version === 4)
        tx = tx.removeFiles([current.files[0]?.path as string], { deletionTimestamp: NOW - 8 * DAY });
      if (version === 9)
        tx = tx.removeFiles([current.files[0]?.path as string], { deletionTimestamp: NOW - DAY });
      outcomes.push(await commit(store, engine, tx, { now: NOW }));
      current = await loadSnapshot(store, engine);
    }
    expect(outcomes.slice(0, 9).map((o) => o.outcome === 'committed' && o.checkpoint.outcome)).toEqual(
      Array(9).fill('not-due'),
    );
    const last = outcomes[9];
    expect(last).toMatchObject({
      outcome: 'committed',
      version: 10,
      checkpoint: { outcome: 'written', version: 10, numOfAddFiles: 8, tombstonesExpired: 1 },
    });
    // protocol + metaData + 1 txn + 8 files + 1 unexpired tombstone
    expect(
      last?.outcome === 'committed' && last.checkpoint.outcome === 'written' && last.checkpoint.size,
    ).toBe(12);

    const pointer = JSON.parse(
      Buffer.from(await store.getBytes('_delta_log/_last_checkpoint')).toString('utf8'),
    );
    const info = await store.head('_delta_log/00000000000000000010.checkpoint.parquet');
    expect(pointer).toEqual({ version: 10, size: 12, sizeInBytes: info?.size, numOfAddFiles: 8 });

    const viaCheckpoint = await loadSnapshot(store, engine);
    expect(viaCheckpoint.checkpointVersion).toBe(10);
    const viaCommits = await replayedFromCommits(store, 10);
    expect(viaCommits.checkpointVersion).toBeNull();
    expect(comparable(viaCheckpoint)).toEqual(withoutExpiredTombstones(viaCommits));
    expect(viaCheckpoint.tombstones).toHaveLength(1);

    // Version 11 is replayed on top of the checkpoint.
    const more = await writeOrders(workspace, store, [{ pk: 'k11', amount: '11', qty: 11 }]);
    await commit(store, engine, startTransaction(viaCheckpoint).addFiles(more).setTxn('pipeline', 11), {
      now: NOW,
    });
    const v11 = await loadSnapshot(store, engine);
    expect(v11.checkpointVersion).toBe(10);
    expect(v11.files).toHaveLength(9);
    expect(comparable(v11)).toEqual(withoutExpiredTombstones(await replayedFromCommits(store, 11)));
  });

  it('follows delta.checkpointInterval', async () => {
    const { store, snapshot } = await newTable(workspace, {
      configuration: { 'delta.checkpointInterval': '3' },
    });
    const engine = await workspace.engine();
    let current = snapshot;
    const kinds: string[] = [];
    for (let version = 1; version <= 4; version++) {
      const outcome = await commit(store, engine, startTransaction(current).setTxn('p', version));
      kinds.push(outcome.outcome === 'committed' ? outcome.checkpoint.outcome : outcome.outcome);
      current = await loadSnapshot(store, engine);
    }
    expect(kinds).toEqual(['not-due', 'not-due', 'written', 'not-due']);
    expect(current.checkpointVersion).toBe(3);
  });

  it('a failed checkpoint write does not fail the commit: it is reported, and the next due checkpoint is written', async () => {
    const { store: folder, snapshot } = await newTable(workspace, {
      configuration: { 'delta.checkpointInterval': '2' },
    });
    const failing = new FailingPutStore(folder, /\.checkpoint\.parquet$/);
    const engine = await workspace.engine();
    await commit(failing, engine, startTransaction(snapshot).setTxn('p', 1));
    const second = await commit(
      failing,
      engine,
      startTransaction(await loadSnapshot(folder, engine)).setTxn('p', 2),
    );
    expect(second).toMatchObject({
      outcome: 'committed',
      version: 2,
      checkpoint: { outcome: 'failed', version: 2 },
    });
    expect(
      second.outcome === 'committed' &&
        second.checkpoint.outcome === 'failed' &&
        second.checkpoint.error.message,
    ).toMatch(/injected failure writing _delta_log\/00000000000000000002\.checkpoint\.parquet/);
    expect(failing.failures).toEqual(['_delta_log/00000000000000000002.checkpoint.parquet']);
    expect(await folder.head('_delta_log/_last_checkpoint')).toBeUndefined();
    const v2 = await loadSnapshot(folder, engine);
    expect(v2.version).toBe(2);
    await commit(folder, engine, startTransaction(v2).setTxn('p', 3));
    const fourth = await commit(
      folder,
      engine,
      startTransaction(await loadSnapshot(folder, engine)).setTxn('p', 4),
    );
    expect(fourth).toMatchObject({ checkpoint: { outcome: 'written', version: 4 } });
    expect((await loadSnapshot(folder, engine)).checkpointVersion).toBe(4);
  });

  it('never moves _last_checkpoint back to an older version', async () => {
    const { store, snapshot } = await newTable(workspace);
    const engine = await workspace.engine();
    await commit(store, engine, startTransaction(snapshot).setTxn('p', 1));
    const v1 = await loadSnapshot(store, engine);
    await commit(store, engine, startTransaction(v1).setTxn('p', 2));
    await writeCheckpoint(store, engine, await loadSnapshot(store, engine));
    await writeCheckpoint(store, engine, v1);
    const pointer = JSON.parse(
      Buffer.from(await store.getBytes('_delta_log/_last_checkpoint')).toString('utf8'),
    );
    expect(pointer.version).toBe(2);
    expect(await store.head('_delta_log/00000000000000000001.checkpoint.parquet')).toBeDefined();
  });
});

describe('isCheckpointBehind', () => {
  it('is true from a due version on until a checkpoint at or after the latest due version exists', () => {
    const every10 = {};
    expect(isCheckpointBehind(9, null, every10)).toBe(false);
    expect(isCheckpointBehind(10, null, every10)).toBe(true);
    // A run killed after committing version 10 skipped its checkpoint: versions 11 to 19 catch up.
    expect(isCheckpointBehind(11, null, every10)).toBe(true);
    expect(isCheckpointBehind(19, 0, every10)).toBe(true);
    expect(isCheckpointBehind(25, 10, every10)).toBe(true);
    expect(isCheckpointBehind(10, 10, every10)).toBe(false);
    expect(isCheckpointBehind(19, 11, every10)).toBe(false);
    expect(isCheckpointBehind(29, 20, every10)).toBe(false);
    expect(isCheckpointBehind(6, 3, { 'delta.checkpointInterval': '3' })).toBe(true);
    expect(isCheckpointBehind(8, 6, { 'delta.checkpointInterval': '3' })).toBe(false);
  });
});

describe('parseIntervalMs (delta.deletedFileRetentionDuration)', () => {
  it("reads Spark's interval syntax in weeks, days, hours and smaller units", () => {
    const key = 'delta.deletedFileRetentionDuration';
    expect(parseIntervalMs('interval 1 week', key)).toBe(7 * DAY);
    expect(parseIntervalMs('INTERVAL 7 DAYS', key)).toBe(7 * DAY);
    expect(parseIntervalMs('interval 1 day 12 hours', key)).toBe(1.5 * DAY);
    expect(parseIntervalMs('36 hours', key)).toBe(1.5 * DAY);
    expect(parseIntervalMs('interval 90 minutes 30 seconds', key)).toBe(5_430_000);
    expect(() => parseIntervalMs('interval 1 month', key)).toThrow(/months and years/);
    expect(() => parseIntervalMs('one week', key)).toThrow(
      /delta\.deletedFileRetentionDuration.*"one" is not a whole number/,
    );
    expect(() => parseIntervalMs('interval 2 fortnights', key)).toThrow(/not an interval unit/);
    expect(() => parseIntervalMs('interval -1 day', key)).toThrow(/negative/);
  });
});
