import { spawn } from 'node:child_process';
import { mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commit } from '../../src/delta/commit.ts';
import { dataFileKey } from '../../src/delta/data-path.ts';
import { DeltaInvalidWriteError } from '../../src/delta/errors.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import { startTransaction } from '../../src/delta/transaction.ts';
import { isHiddenKey, vacuum } from '../../src/delta/vacuum.ts';
import type { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { filesBelow } from '../storage/helpers.ts';
import { typeScriptNode } from '../support/processes.ts';
import { newTable, rowsOf, WriterWorkspace, writeOrders } from './writer-support.ts';

const workspace = new WriterWorkspace();
afterAll(() => workspace.close());

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.now();

/** Sets the modification time of every file below the table (or of one key) to `at`. */
async function age(store: LocalFolderStore, at: number, key?: string): Promise<void> {
  const keys =
    key === undefined
      ? (await filesBelow(store.rootDir)).map((file) => file.split(path.sep).join('/'))
      : [key];
  for (const k of keys) await utimes(path.join(store.rootDir, ...k.split('/')), new Date(at), new Date(at));
}

async function put(store: LocalFolderStore, key: string, text: string): Promise<void> {
  const file = path.join(store.rootDir, ...key.split('/'));
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
}

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * Starts a put of `key` into the folder store at `root` in another process, whose body never ends,
 * and kills that process with SIGKILL once the write's temporary file is on disk: the leftover a
 * power cut mid-write leaves. Resolves with the temporary file's key.
 */
async function killMidWrite(root: string, key: string): Promise<string> {
  const script = `
    import { Readable } from 'node:stream';
    import { LocalFolderStore } from ${JSON.stringify(path.join(ROOT, 'src/storage/local-folder-store.ts'))};
    const body = new Readable({ read() {} });
    body.push('the first bytes of a file whose write is cut off');
    await new LocalFolderStore(${JSON.stringify(root)}).put(${JSON.stringify(key)}, body);
  `;
  const child = spawn(typeScriptNode(), ['--input-type=module', '-e', script], { stdio: 'ignore' });
  const folder = path.join(root, ...key.split('/').slice(0, -1));
  const deadline = Date.now() + 20_000;
  try {
    for (;;) {
      const names = await readdir(folder).catch(() => [] as string[]);
      const temporary = names.find((name) => name.startsWith('.ddb-lake-tmp-'));
      if (temporary !== undefined) {
        const { size } = await stat(path.join(folder, temporary));
        if (size > 0) return [...key.split('/').slice(0, -1), temporary].join('/');
      }
      if (Date.now() > deadline) throw new Error(`no temporary file of ${key} appeared in ${folder}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  } finally {
    child.kill('SIGKILL');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
  }
}

/**
 * A table whose folder holds, all 30 days old unless said: `active` (in the table), `recent`
 * (removed a day ago: its tombstone is live), `expired` (removed 10 days ago), `orphan` (written,
 * never committed), `young` (an orphan written now), and hidden files that must survive.
 */
async function tableWithHistory() {
  const { store, snapshot } = await newTable(workspace);
  const engine = await workspace.engine();
  const write = async (pk: string) =>
    (await writeOrders(workspace, store, [{ pk, amount: '1', qty: 1 }]))[0]!;
  const recent = await write('recent');
  const expired = await write('expired');
  await commit(store, engine, startTransaction(snapshot).addFiles([recent, expired]));
  const v1 = await loadSnapshot(store, engine);
  await commit(
    store,
    engine,
    startTransaction(v1).removeFiles([expired.path], { deletionTimestamp: NOW - 10 * DAY }),
  );
  const v2 = await loadSnapshot(store, engine);
  const active = await write('active');
  await commit(
    store,
    engine,
    startTransaction(v2)
      .removeFiles([recent.path], { deletionTimestamp: NOW - DAY })
      .addFiles([active]),
  );
  const orphan = await write('orphan');
  await put(store, '_ddb_lake/batches/1.json', '{}');
  await put(store, '.hidden-file', 'x');
  await put(store, 'folder/_temporary/part-0.parquet', 'x');
  await age(store, NOW - 30 * DAY);
  const young = await write('young');
  // Dated from the injected clock: the file system's own may be another (faketime).
  await age(store, NOW, dataFileKey(young.path, store.url));
  const keys = Object.fromEntries(
    Object.entries({ active, recent, expired, orphan, young }).map(([name, add]) => [
      name,
      dataFileKey(add.path, store.url),
    ]),
  ) as Record<'active' | 'recent' | 'expired' | 'orphan' | 'young', string>;
  return { store, engine, keys };
}

describe('vacuum', () => {
  it('a dry run lists the unreferenced files older than the retention and deletes nothing; the real run deletes exactly those', async () => {
    const { store, engine, keys } = await tableWithHistory();
    const before = await filesBelow(store.rootDir);
    const dry = await vacuum(store, engine, { dryRun: true, now: NOW });
    expect(dry.files.map((f) => f.key).sort()).toEqual([keys.expired, keys.orphan].sort());
    expect(dry).toMatchObject({
      dryRun: true,
      version: 3,
      retentionHours: 168,
      keptForTombstones: 1,
      keptYoung: 1,
    });
    expect(dry.totalBytes).toBe(dry.files.reduce((sum, f) => sum + f.size, 0));
    expect(dry.totalBytes).toBeGreaterThan(0);
    expect(await filesBelow(store.rootDir)).toEqual(before);

    const real = await vacuum(store, engine, { now: NOW });
    expect(real.files).toEqual(dry.files);
    const after = new Set((await filesBelow(store.rootDir)).map((file) => file.split(path.sep).join('/')));
    expect(after.has(keys.expired)).toBe(false);
    expect(after.has(keys.orphan)).toBe(false);
    for (const kept of [
      keys.active,
      keys.recent,
      keys.young,
      '_ddb_lake/batches/1.json',
      '.hidden-file',
      'folder/_temporary/part-0.parquet',
    ]) {
      expect(after.has(kept), kept).toBe(true);
    }
    expect([...after].filter((key) => key.startsWith('_delta_log/'))).toHaveLength(4);

    const again = await vacuum(store, engine, { now: NOW });
    expect(again.files).toEqual([]);
    const snapshot = await loadSnapshot(store, engine);
    expect((await rowsOf(workspace, store, snapshot)).map((row) => row.pk)).toEqual(['active']);
  });

  it('deletes the temporary files that writes killed mid-way left (data, log and state folders) once older than the retention; a dry run lists them', async () => {
    const { store, engine, keys } = await tableWithHistory();
    const leftovers = [
      await killMidWrite(store.rootDir, 'bucket=0/part-killed.parquet'),
      await killMidWrite(store.rootDir, '_delta_log/00000000000000000004.json'),
      await killMidWrite(store.rootDir, '_ddb_lake/apply/batches/00000000000000000002.json'),
    ];
    for (const key of leftovers) await age(store, NOW - 30 * DAY, key);
    const young = await killMidWrite(store.rootDir, 'bucket=1/part-young.parquet');
    // The file system dates files by the real clock; date this one by the test's.
    await age(store, NOW - 60_000, young);
    // None of them is an object of the store.
    for await (const object of store.list('')) expect(object.key).not.toContain('.ddb-lake-tmp-');

    const dry = await vacuum(store, engine, { dryRun: true, now: NOW });
    expect(dry.files.filter((f) => f.temporary === true).map((f) => f.key)).toEqual([...leftovers].sort());
    expect(
      dry.files
        .filter((f) => f.temporary !== true)
        .map((f) => f.key)
        .sort(),
    ).toEqual([keys.expired, keys.orphan].sort());
    expect(dry.keptYoung).toBe(2);
    for (const key of [...leftovers, young]) {
      expect(await filesBelow(store.rootDir)).toContain(key.split('/').join(path.sep));
    }

    await vacuum(store, engine, { now: NOW });
    const after = (await filesBelow(store.rootDir)).map((file) => file.split(path.sep).join('/'));
    for (const key of leftovers) expect(after).not.toContain(key);
    expect(after).toContain(young);
    expect(after.filter((key) => key.startsWith('_delta_log/') && key.endsWith('.json'))).toHaveLength(4);
    // The table reads as before.
    const snapshot = await loadSnapshot(store, engine);
    expect((await rowsOf(workspace, store, snapshot)).map((row) => row.pk)).toEqual(['active']);
    expect((await vacuum(store, engine, { dryRun: true, now: NOW })).files).toEqual([]);
  });

  it('refuses a retention shorter than the table keeps tombstones (one week) unless allowed; allowed, it deletes the recently removed file too', async () => {
    const { store, engine, keys } = await tableWithHistory();
    const before = await filesBelow(store.rootDir);
    const short = vacuum(store, engine, { retentionHours: 24, now: NOW });
    await expect(short).rejects.toBeInstanceOf(DeltaInvalidWriteError);
    await expect(vacuum(store, engine, { retentionHours: 24, now: NOW })).rejects.toThrow(
      /24 hours is shorter than the table's 168 hours.*Nothing was deleted/,
    );
    expect(await filesBelow(store.rootDir)).toEqual(before);
    const allowed = await vacuum(store, engine, {
      retentionHours: 1,
      allowShortRetention: true,
      dryRun: true,
      now: NOW,
    });
    expect(allowed.files.map((f) => f.key).sort()).toEqual([keys.expired, keys.orphan, keys.recent].sort());
  });

  it("follows the table's own delta.deletedFileRetentionDuration as default and minimum", async () => {
    const { store, snapshot } = await newTable(workspace, {
      configuration: { 'delta.deletedFileRetentionDuration': 'interval 2 days' },
    });
    const engine = await workspace.engine();
    const orphan = (await writeOrders(workspace, store, [{ pk: 'o', amount: '1', qty: 1 }]))[0]!;
    await age(store, NOW - 3 * DAY, dataFileKey(orphan.path, store.url));
    const result = await vacuum(store, engine, { dryRun: true, now: NOW });
    expect(result.retentionHours).toBe(48);
    expect(result.files.map((f) => f.key)).toEqual([dataFileKey(orphan.path, store.url)]);
    await expect(vacuum(store, engine, { retentionHours: 24, now: NOW })).rejects.toThrow(
      /shorter than the table's 48 hours/,
    );
    expect(snapshot.version).toBe(0);
  });

  it('on a table Spark wrote, deletes the files of long-expired removes and keeps every active file', async () => {
    const store = await workspace.fixtureCopy('simple_table');
    const engine = await workspace.engine();
    await age(store, NOW - 60 * DAY);
    const snapshot = await loadSnapshot(store, engine);
    const active = snapshot.files.map((file) => dataFileKey(file.path, store.url)).sort();
    const dataFiles = (await filesBelow(store.rootDir)).filter((file) => !file.startsWith('_delta_log'));
    const result = await vacuum(store, engine, { now: NOW });
    expect(result.files.map((f) => f.key).sort()).toEqual(
      dataFiles.filter((file) => !active.includes(file)).sort(),
    );
    expect(result.files.length).toBeGreaterThan(0);
    const remaining = (await filesBelow(store.rootDir)).filter((file) => !file.startsWith('_delta_log'));
    expect(remaining.sort()).toEqual(active);
    expect((await loadSnapshot(store, engine)).files).toEqual(snapshot.files);
  });

  it('treats keys with a segment starting with _ or . as hidden, except partition folders of a partition column starting with _', () => {
    expect(isHiddenKey('_delta_log/00000000000000000000.json', [])).toBe(true);
    expect(isHiddenKey('_ddb_lake/lease.json', [])).toBe(true);
    expect(isHiddenKey('a/.ddb-lake-tmp-x-0123', [])).toBe(true);
    expect(isHiddenKey('_source=stream/part-1.parquet', [])).toBe(true);
    expect(isHiddenKey('_source=stream/part-1.parquet', ['_source'])).toBe(false);
    expect(isHiddenKey('_source=stream/_part-1.parquet', ['_source'])).toBe(true);
    expect(isHiddenKey('dt=2024-01-01/part-1.parquet', ['dt'])).toBe(false);
    expect(isHiddenKey('part-1.parquet', [])).toBe(false);
  });
});
