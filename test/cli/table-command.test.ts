import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assignColumnNames } from '../../src/delta/column-names.ts';
import { commit } from '../../src/delta/commit.ts';
import { createTable } from '../../src/delta/create-table.ts';
import { dataFileKey } from '../../src/delta/data-path.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import { startTransaction } from '../../src/delta/transaction.ts';
import { ORDERS_SCHEMA, WriterWorkspace, writeOrders } from '../delta/writer-support.ts';
import { runDdbLake } from '../support/run-cli.ts';

const workspace = new WriterWorkspace();
afterAll(() => workspace.close());

const DAY = 24 * 3_600_000;

/** A table with two commits after creation, a removed file and an orphan, all files 30 days old. */
async function table() {
  const store = await workspace.store('cli-table');
  const engine = await workspace.engine();
  const { configuration } = assignColumnNames({}, ['pk', 'amount', 'qty', 'note', 'odd name']);
  const created = await createTable(store, { schema: ORDERS_SCHEMA, configuration, name: 'orders' });
  const first = await writeOrders(workspace, store, [
    { pk: 'a', amount: '1.5', qty: 1 },
    { pk: 'b', amount: '2.5', qty: 2 },
  ]);
  await commit(store, engine, startTransaction(created).addFiles(first).setTxn('pipeline', 1));
  const v1 = await loadSnapshot(store, engine);
  const second = await writeOrders(workspace, store, [{ pk: 'a', amount: '3', qty: 3 }]);
  await commit(
    store,
    engine,
    startTransaction(v1, { operation: 'MERGE' })
      .removeFiles(first, { deletionTimestamp: Date.now() - 10 * DAY })
      .addFiles(second)
      .setTxn('pipeline', 2),
  );
  const orphan = await writeOrders(workspace, store, [{ pk: 'o', amount: '0', qty: 0 }]);
  const old = new Date(Date.now() - 30 * DAY);
  for (const add of [...first, ...second, ...orphan]) {
    await utimes(path.join(store.rootDir, dataFileKey(add.path, store.url)), old, old);
  }
  return { folder: store.rootDir, first, second, orphan };
}

describe('ddb-lake table', () => {
  it('describe prints the schema, column names, files, records and txns; --json is one document', async () => {
    const { folder, first } = await table();
    const human = await runDdbLake(['table', 'describe', '--delta', folder]);
    expect(human.stderr).toBe('');
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`Delta table file://${folder}`);
    expect(human.stdout).toMatch(/version 2\b/);
    expect(human.stdout).toContain('protocol: reader version 1, writer version 2');
    expect(human.stdout).toMatch(/amount\s+decimal\(38,10\)/);
    expect(human.stdout).toMatch(/qty\s+bigint/);
    expect(human.stdout).toContain('"odd name" → odd_name');
    expect(human.stdout).toContain('1 data file(s)');
    expect(human.stdout).toContain('1 record(s)');
    expect(human.stdout).toContain('delta.enableDeletionVectors = false');
    expect(human.stdout).toMatch(/pipeline\s+version 2/);

    const json = await runDdbLake(['table', 'describe', '--delta', folder, '--json']);
    expect(json.code).toBe(0);
    const description = JSON.parse(json.stdout);
    expect(description).toMatchObject({
      version: 2,
      name: 'orders',
      numFiles: 1,
      numRecords: 1,
      columnNames: { 'odd name': 'odd_name' },
      txns: [{ appId: 'pipeline', version: 2 }],
    });
    const older = JSON.parse(
      (await runDdbLake(['table', 'describe', '--delta', folder, '--at-version', '1', '--json'])).stdout,
    );
    expect(older).toMatchObject({ version: 1, numFiles: first.length, numRecords: 2 });
  });

  it('history lists the commits newest first, in text and as JSON', async () => {
    const { folder } = await table();
    const human = await runDdbLake(['table', 'history', '--delta', folder]);
    expect(human.code).toBe(0);
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\s+2\s+\S+Z\s+MERGE\s+ddb-lake\/\S+\s+txn pipeline@2/);
    expect(lines[2]).toMatch(/^\s+0\s+\S+Z\s+CREATE TABLE/);
    const json = JSON.parse(
      (await runDdbLake(['table', 'history', '--delta', folder, '--json', '--limit', '2'])).stdout,
    );
    expect(json.history.map((h: { version: number; operation: string }) => [h.version, h.operation])).toEqual(
      [
        [2, 'MERGE'],
        [1, 'WRITE'],
      ],
    );
  });

  it('vacuum --dry-run lists the unreferenced old files with sizes and deletes nothing; vacuum then deletes them', async () => {
    const { folder, first, second, orphan } = await table();
    const expected = [...first, ...orphan].map((add) => add.path).sort();
    const dry = await runDdbLake(['table', 'vacuum', '--delta', folder, '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    const listed = JSON.parse(dry.stdout);
    expect(listed.dryRun).toBe(true);
    expect(listed.files.map((f: { key: string }) => f.key).sort()).toEqual(expected);
    expect(listed.totalBytes).toBe([...first, ...orphan].reduce((sum, add) => sum + add.size, 0));

    const text = await runDdbLake(['table', 'vacuum', '--delta', folder, '--dry-run']);
    expect(text.stdout).toMatch(/^Would delete 2 file\(s\)/);
    expect(text.stdout).toContain('Nothing was deleted (--dry-run).');

    const real = await runDdbLake(['table', 'vacuum', '--delta', folder]);
    expect(real.code).toBe(0);
    expect(real.stdout).toMatch(/^Deleted 2 file\(s\)/);
    const after = JSON.parse(
      (await runDdbLake(['table', 'vacuum', '--delta', folder, '--dry-run', '--json'])).stdout,
    );
    expect(after.files).toEqual([]);
    const still = JSON.parse((await runDdbLake(['table', 'describe', '--delta', folder, '--json'])).stdout);
    expect(still.numFiles).toBe(second.length);
  });

  it('vacuum refuses a short retention with exit code 1 and says why; flags are checked (exit code 2)', async () => {
    const { folder } = await table();
    const short = await runDdbLake(['table', 'vacuum', '--delta', folder, '--retain-hours', '1']);
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/1 hours is shorter than the table's 168 hours/);
    const json = await runDdbLake(['table', 'vacuum', '--delta', folder, '--retain-hours', '1', '--json']);
    expect(JSON.parse(json.stdout).error.code).toBe('DELTA_INVALID_WRITE');
    const noDelta = await runDdbLake(['table', 'describe']);
    expect(noDelta.code).toBe(2);
    expect(noDelta.stderr).toContain('--delta');
    const badHours = await runDdbLake(['table', 'vacuum', '--delta', folder, '--retain-hours', 'lots']);
    expect(badHours.code).toBe(2);
    const missing = await runDdbLake(['table', 'history', '--delta', await workspace.folder('empty')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No Delta table at');
  });

  it('vacuum --help explains what is deleted, what is kept, and why the default is 7 days', async () => {
    const help = await runDdbLake(['table', 'vacuum', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--dry-run');
    expect(help.stdout).toContain('--retain-hours');
    expect(help.stdout).toMatch(/Why 7 days by default/);
    expect(help.stdout).toContain('_delta_log/');
  });
});
