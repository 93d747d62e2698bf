import { afterAll, describe, expect, it } from 'vitest';
import { assignColumnNames } from '../../src/delta/column-names.ts';
import { commit } from '../../src/delta/commit.ts';
import { ENGINE_INFO } from '../../src/delta/commit-info.ts';
import { createTable } from '../../src/delta/create-table.ts';
import { describeTable } from '../../src/delta/describe.ts';
import { DeltaTableNotFoundError } from '../../src/delta/errors.ts';
import { tableHistory } from '../../src/delta/history.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import { startTransaction } from '../../src/delta/transaction.ts';
import { ORDERS_SCHEMA, WriterWorkspace, writeOrders } from './writer-support.ts';

const workspace = new WriterWorkspace();
afterAll(() => workspace.close());

/** A table with a column-name mapping, three commits with txns, one removal and a checkpoint at version 2. */
async function describedTable() {
  const store = await workspace.store();
  const engine = await workspace.engine();
  const { configuration } = assignColumnNames({ 'delta.checkpointInterval': '2' }, [
    'pk',
    'amount',
    'qty',
    'note',
    'Note',
  ]);
  const created = await createTable(store, { schema: ORDERS_SCHEMA, configuration, name: 'orders' });
  const first = await writeOrders(workspace, store, [
    { pk: 'a', amount: '1', qty: 1 },
    { pk: 'b', amount: '2', qty: 2 },
  ]);
  await commit(store, engine, startTransaction(created).addFiles(first).setTxn('pipeline', 1));
  const v1 = await loadSnapshot(store, engine);
  const second = await writeOrders(workspace, store, [{ pk: 'c', amount: '3', qty: 3 }]);
  await commit(store, engine, startTransaction(v1).addFiles(second).setTxn('pipeline', 2));
  const v2 = await loadSnapshot(store, engine);
  const third = await writeOrders(workspace, store, [{ pk: 'a', amount: '9', qty: 9 }]);
  await commit(
    store,
    engine,
    startTransaction(v2, { operation: 'MERGE', operationParameters: { predicate: 'pk' } })
      .readWholeTable()
      .removeFiles(first)
      .addFiles(third)
      .setTxn('backfill', 4),
  );
  return { store, engine, files: [...second, ...third] };
}

describe('tableHistory', () => {
  it('lists every commit newest first with operation, engine, txns and metrics', async () => {
    const { store } = await describedTable();
    const history = await tableHistory(store);
    expect(history.map((h) => [h.version, h.operation, h.readVersion, h.isBlindAppend])).toEqual([
      [3, 'MERGE', 2, false],
      [2, 'WRITE', 1, true],
      [1, 'WRITE', 0, true],
      [0, 'CREATE TABLE', null, true],
    ]);
    for (const entry of history) expect(entry.engineInfo).toBe(ENGINE_INFO);
    expect(history.map((h) => h.txns.map((t) => `${t.appId}@${t.version}`))).toEqual([
      ['backfill@4'],
      ['pipeline@2'],
      ['pipeline@1'],
      [],
    ]);
    expect(history[0]?.operationParameters).toEqual({ predicate: 'pk' });
    expect(history[0]?.operationMetrics).toMatchObject({
      numFiles: '1',
      numOutputRows: '1',
      numRemovedFiles: '1',
    });
    expect(history[2]?.operationMetrics).toMatchObject({ numFiles: '1', numOutputRows: '2' });
    expect(history.map((h) => h.timestamp)).toEqual(
      [...history.map((h) => h.timestamp)].sort((a, b) => b - a),
    );
    expect((await tableHistory(store, { limit: 2 })).map((h) => h.version)).toEqual([3, 2]);
  });

  it("reads the history Spark wrote, with Spark's operations", async () => {
    const store = await workspace.fixtureCopy('simple_table');
    const history = await tableHistory(store);
    expect(history.map((h) => [h.version, h.operation])).toEqual([
      [4, 'DELETE'],
      [3, 'UPDATE'],
      [2, 'WRITE'],
      [1, 'MERGE'],
      [0, 'WRITE'],
    ]);
    expect(history[0]).toMatchObject({
      timestamp: 1587968626537,
      readVersion: 3,
      isBlindAppend: false,
      engineInfo: null,
    });
  });

  it('refuses a location without a table', async () => {
    await expect(tableHistory(await workspace.store())).rejects.toBeInstanceOf(DeltaTableNotFoundError);
  });
});

describe('describeTable', () => {
  it('shows schema, properties, column names, files, bytes, records, txns and the last checkpoint from the log', async () => {
    const { store, engine, files } = await describedTable();
    const description = await describeTable(store, engine);
    expect(description).toMatchObject({
      location: store.url,
      version: 3,
      name: 'orders',
      protocol: { minReaderVersion: 1, minWriterVersion: 2 },
      partitionColumns: [],
      schema: [
        { name: 'pk', type: 'string', nullable: true },
        { name: 'amount', type: 'decimal(38,10)', nullable: true },
        { name: 'qty', type: 'bigint', nullable: true },
        { name: 'note', type: 'string', nullable: true },
      ],
      columnNames: { pk: 'pk', amount: 'amount', qty: 'qty', note: 'note', Note: 'Note_2' },
      numFiles: 2,
      totalBytes: files.reduce((sum, f) => sum + f.size, 0),
      numRecords: 2,
      filesWithoutStats: 0,
      tombstones: 1,
      checkpointVersion: 2,
      lastCheckpoint: { version: 2, numOfAddFiles: 2 },
    });
    expect(description.configuration['delta.checkpointPolicy']).toBe('classic');
    expect(description.txns.map((t) => [t.appId, t.version])).toEqual([
      ['backfill', 4],
      ['pipeline', 2],
    ]);
    const older = await describeTable(store, engine, { version: 1 });
    expect(older).toMatchObject({ version: 1, numFiles: 1, numRecords: 2, tombstones: 0 });
  });

  it('reports the record count as unknown when some file has no stats', async () => {
    const store = await workspace.fixtureCopy('simple_table');
    const description = await describeTable(store, await workspace.engine());
    expect(description.numFiles).toBeGreaterThan(0);
    expect(description.numRecords).toBeNull();
    expect(description.filesWithoutStats).toBe(description.numFiles);
    expect(description.columnNames).toEqual({});
    expect(description.lastCheckpoint).toBeNull();
  });

  it('counts the rows deletion vectors remove out of the record count (Spark table with 10 rows, 2 deleted)', async () => {
    const store = await workspace.fixtureCopy('table-with-dv-small');
    const description = await describeTable(store, await workspace.engine());
    expect(description).toMatchObject({ numFiles: 1, numRecords: 8 });
  });
});
