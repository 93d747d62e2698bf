import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Action, serializeCommitFile } from '../../src/delta/actions.ts';
import {
  DeltaLogCorruptError,
  DeltaTableNotFoundError,
  DeltaUnsupportedFeatureError,
  DeltaVersionNotFoundError,
} from '../../src/delta/errors.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import {
  commitPath,
  copyFixture,
  openReaderEngine,
  type ReaderEngine,
  type TableCopy,
} from './reader-helpers.ts';

/*
 * A damaged or unusual log, made by copying simple_table (five JSON commits, versions 0 to 4, no
 * checkpoint; see test/fixtures/delta-expected/simple_table.json) and changing the copy.
 */

let reader: ReaderEngine;
let table: TableCopy;

beforeAll(async () => {
  reader = await openReaderEngine();
});
afterAll(async () => {
  await reader.session.close();
});
beforeEach(async () => {
  table = await copyFixture('simple_table');
});
afterEach(async () => {
  await table.remove();
});

async function failure(version?: number): Promise<unknown> {
  const options = version === undefined ? {} : { version };
  return loadSnapshot(table.store, reader.engine, options).then(
    () => {
      throw new Error('loadSnapshot succeeded on a damaged log');
    },
    (error: unknown) => error,
  );
}

async function appendCommit(version: number, actions: readonly Action[]): Promise<void> {
  await writeFile(commitPath(table.dir, version), serializeCommitFile(actions));
}

const SIMPLE_PROTOCOL = { minReaderVersion: 1, minWriterVersion: 2 };

describe('a table that is not there', () => {
  it('an empty folder is refused as no Delta table, naming the location', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ddb-lake-empty-'));
    try {
      const store = new LocalFolderStore(dir);
      const error = await loadSnapshot(store, reader.engine).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DeltaTableNotFoundError);
      expect((error as Error).message).toContain(store.url);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a _delta_log holding only temp files and a checksum file is no table', async () => {
    for (let v = 0; v <= 4; v++) await unlink(commitPath(table.dir, v));
    await writeFile(path.join(table.dir, '_delta_log', '00000000000000000000.crc'), '{}');
    // _delta_log/.tmp/00000000000000000005.json is still there.
    expect(await failure()).toBeInstanceOf(DeltaTableNotFoundError);
  });
});

describe('versions', () => {
  it('a version above the latest is refused naming the latest', async () => {
    const error = await failure(5);
    expect(error).toBeInstanceOf(DeltaVersionNotFoundError);
    expect((error as Error).message).toMatch(/Version 5 .* does not exist: the latest version is 4/);
  });

  it.each([-1, 1.5])('%s is refused as no version', async (version) => {
    expect(await failure(version)).toBeInstanceOf(DeltaVersionNotFoundError);
  });

  it('files that are not commits do not count: temp, checksum, compacted and staged files', async () => {
    const log = path.join(table.dir, '_delta_log');
    await writeFile(path.join(log, '00000000000000000004.crc'), '{}');
    await writeFile(path.join(log, '00000000000000000000.00000000000000000004.compacted.json'), 'not read');
    await mkdir(path.join(log, '_staged_commits'));
    await writeFile(
      path.join(log, '_staged_commits', '00000000000000000005.3a0d65cd-4056-49b8-937b-95f9e3ee90e5.json'),
      'x',
    );
    const snapshot = await loadSnapshot(table.store, reader.engine);
    expect(snapshot.version).toBe(4);
    expect(snapshot.files).toHaveLength(5);
  });
});

describe('a missing version', () => {
  it('a hole in the commits is refused naming the missing version and the table', async () => {
    await unlink(commitPath(table.dir, 2));
    const error = await failure();
    expect(error).toBeInstanceOf(DeltaLogCorruptError);
    expect((error as DeltaLogCorruptError).file).toBe('_delta_log/00000000000000000002.json');
    expect((error as Error).message).toContain('missing version 2');
    expect((error as Error).message).toContain(table.store.url);
  });

  it('the versions before the hole still load', async () => {
    await unlink(commitPath(table.dir, 2));
    const snapshot = await loadSnapshot(table.store, reader.engine, { version: 1 });
    expect(snapshot.version).toBe(1);
    expect(snapshot.files).toHaveLength(22);
  });

  it('without a checkpoint, a log that does not start at version 0 is refused naming version 0', async () => {
    await unlink(commitPath(table.dir, 0));
    const error = await failure();
    expect(error).toBeInstanceOf(DeltaLogCorruptError);
    expect((error as Error).message).toContain('missing version 0');
  });

  it('without a checkpoint, time travel into a log that lost version 0 says the version cannot be rebuilt', async () => {
    await unlink(commitPath(table.dir, 0));
    const error = await failure(3);
    expect(error).toBeInstanceOf(DeltaVersionNotFoundError);
    expect((error as Error).message).toContain('the earliest commit is version 1');
  });
});

describe('a corrupt commit', () => {
  it('a commit that is not JSON is refused naming the file and the line', async () => {
    await writeFile(commitPath(table.dir, 3), '{"commitInfo":{}}\n{"add": this is not json\n');
    const error = await failure();
    expect(error).toBeInstanceOf(DeltaLogCorruptError);
    expect((error as DeltaLogCorruptError).file).toBe('_delta_log/00000000000000000003.json');
    expect((error as Error).message).toContain('_delta_log/00000000000000000003.json line 2 is not JSON');
  });

  it('a commit cut short mid-line is refused', async () => {
    await writeFile(commitPath(table.dir, 4), '{"commitInfo":{"timestamp":1587968626537,"operat');
    const error = await failure();
    expect(error).toBeInstanceOf(DeltaLogCorruptError);
    expect((error as Error).message).toContain('00000000000000000004.json line 1');
  });

  it('an add without its size is refused naming the field', async () => {
    await appendCommit(5, [
      { add: { path: 'x.parquet', partitionValues: {}, modificationTime: 1, dataChange: true } as never },
    ]);
    const error = await failure();
    expect(error).toBeInstanceOf(DeltaLogCorruptError);
    expect((error as Error).message).toContain('add.size must be an integer');
    expect((error as DeltaLogCorruptError).file).toBe('_delta_log/00000000000000000005.json');
  });

  it('a line with two actions is refused', async () => {
    await writeFile(commitPath(table.dir, 5), '{"txn":{"appId":"a","version":1},"commitInfo":{}}\n');
    const error = await failure();
    expect(error).toBeInstanceOf(DeltaLogCorruptError);
    expect((error as Error).message).toContain('exactly one key');
  });

  it('a first commit without metaData is refused', async () => {
    await writeFile(commitPath(table.dir, 0), serializeCommitFile([{ protocol: SIMPLE_PROTOCOL }]));
    const error = await failure(0);
    expect(error).toBeInstanceOf(DeltaLogCorruptError);
    expect((error as Error).message).toContain('holds no metaData action');
  });

  it('a schema string that is not a struct is refused', async () => {
    await appendCommit(5, [
      {
        metaData: {
          id: 'x',
          format: { provider: 'parquet', options: {} },
          schemaString: '{"type":"array"}',
          partitionColumns: [],
          configuration: {},
        },
      },
    ]);
    const error = await failure();
    expect(error).toBeInstanceOf(DeltaLogCorruptError);
    expect((error as Error).message).toContain('schemaString');
    // The version before still reads.
    expect((await loadSnapshot(table.store, reader.engine, { version: 4 })).version).toBe(4);
  });
});

describe('reader features in the protocol', () => {
  it('an unknown reader feature is refused naming it', async () => {
    await appendCommit(5, [
      {
        protocol: {
          minReaderVersion: 3,
          minWriterVersion: 7,
          readerFeatures: ['quantumCompression'],
          writerFeatures: ['quantumCompression'],
        },
      },
    ]);
    const error = await failure();
    expect(error).toBeInstanceOf(DeltaUnsupportedFeatureError);
    expect((error as DeltaUnsupportedFeatureError).feature).toBe('quantumCompression');
    expect((error as DeltaUnsupportedFeatureError).operation).toBe('read');
    expect((error as Error).message).toContain('"quantumCompression"');
    // Time travel to before the upgrade still works.
    expect((await loadSnapshot(table.store, reader.engine, { version: 4 })).protocol).toEqual(
      SIMPLE_PROTOCOL,
    );
  });

  it('v2Checkpoint in readerFeatures is refused: the log may live in sidecars', async () => {
    await appendCommit(5, [
      {
        protocol: {
          minReaderVersion: 3,
          minWriterVersion: 7,
          readerFeatures: ['v2Checkpoint'],
          writerFeatures: ['v2Checkpoint'],
        },
      },
    ]);
    const error = await failure();
    expect((error as DeltaUnsupportedFeatureError).feature).toBe('v2Checkpoint');
  });

  it('deletion vectors and column mapping do not stop the log from loading', async () => {
    await appendCommit(5, [
      {
        protocol: {
          minReaderVersion: 3,
          minWriterVersion: 7,
          readerFeatures: ['deletionVectors', 'columnMapping', 'timestampNtz'],
          writerFeatures: ['deletionVectors', 'columnMapping', 'timestampNtz'],
        },
      },
    ]);
    const snapshot = await loadSnapshot(table.store, reader.engine);
    expect(snapshot.protocol.readerFeatures).toEqual(['deletionVectors', 'columnMapping', 'timestampNtz']);
  });
});

describe('reconciliation of the other actions', () => {
  it('keeps the latest txn per appId, even when it goes down', async () => {
    await appendCommit(5, [
      { txn: { appId: 'pipeline-a', version: 1 } },
      { txn: { appId: 'pipeline-b', version: 7, lastUpdated: 1700000000000 } },
    ]);
    await appendCommit(6, [{ txn: { appId: 'pipeline-a', version: 5 } }]);
    await appendCommit(7, [{ txn: { appId: 'pipeline-a', version: 3 } }]);
    const snapshot = await loadSnapshot(table.store, reader.engine);
    expect(Object.fromEntries([...snapshot.txns].map(([id, txn]) => [id, txn.version]))).toEqual({
      'pipeline-a': 3,
      'pipeline-b': 7,
    });
    expect(snapshot.txns.get('pipeline-b')?.lastUpdated).toBe(1700000000000);
    const before = await loadSnapshot(table.store, reader.engine, { version: 6 });
    expect(before.txns.get('pipeline-a')?.version).toBe(5);
  });

  it('drops a metadata domain that a later commit tombstones', async () => {
    await appendCommit(5, [
      {
        domainMetadata: {
          domain: 'delta.clustering',
          configuration: '{"clusteringColumns":[]}',
          removed: false,
        },
      },
      { domainMetadata: { domain: 'com.example.owner', configuration: 'team-a', removed: false } },
    ]);
    await appendCommit(6, [
      { domainMetadata: { domain: 'com.example.owner', configuration: 'team-a', removed: true } },
      {
        domainMetadata: {
          domain: 'delta.clustering',
          configuration: '{"clusteringColumns":["id"]}',
          removed: false,
        },
      },
    ]);
    const snapshot = await loadSnapshot(table.store, reader.engine);
    expect([...snapshot.domainMetadata.keys()]).toEqual(['delta.clustering']);
    expect(snapshot.domainMetadata.get('delta.clustering')?.configuration).toBe(
      '{"clusteringColumns":["id"]}',
    );
    const before = await loadSnapshot(table.store, reader.engine, { version: 5 });
    expect([...before.domainMetadata.keys()].sort()).toEqual(['com.example.owner', 'delta.clustering']);
  });

  it('a file removed and re-added in one commit stays, with the newer add', async () => {
    const path0 = 'part-00000-2befed33-c358-4768-a43c-3eda0d2a499d-c000.snappy.parquet';
    await appendCommit(5, [
      { remove: { path: path0, deletionTimestamp: 1, dataChange: false } },
      {
        add: {
          path: path0,
          partitionValues: {},
          size: 262,
          modificationTime: 2,
          dataChange: false,
          stats: '{"numRecords":3}',
        },
      },
    ]);
    const snapshot = await loadSnapshot(table.store, reader.engine);
    const file = snapshot.files.find((f) => f.path === path0);
    expect(file?.stats).toBe('{"numRecords":3}');
    expect(snapshot.tombstones.some((t) => t.path === path0)).toBe(false);
  });

  it('a removed file added again later is active and no longer a tombstone', async () => {
    // part-00001-bb70d2ba… was removed by version 4.
    const back = 'part-00001-bb70d2ba-c196-4df2-9c85-f34969ad3aa9-c000.snappy.parquet';
    await appendCommit(5, [
      { add: { path: back, partitionValues: {}, size: 429, modificationTime: 3, dataChange: true } },
    ]);
    const snapshot = await loadSnapshot(table.store, reader.engine);
    expect(snapshot.files.map((f) => f.path)).toContain(back);
    expect(snapshot.tombstones.map((t) => t.path)).not.toContain(back);
    expect(snapshot.tombstones).toHaveLength(30);
  });

  it('commitInfo is that of the loaded version, and null when that commit has none', async () => {
    await appendCommit(5, [{ txn: { appId: 'a', version: 1 } }]);
    expect((await loadSnapshot(table.store, reader.engine)).commitInfo).toBeNull();
    const v3 = await loadSnapshot(table.store, reader.engine, { version: 3 });
    expect(v3.commitInfo?.operation).toBe('UPDATE');
    expect(v3.commitInfo?.timestamp).toBe(1587968614187);
  });
});
