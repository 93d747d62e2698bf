import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Action } from '../../src/delta/actions.ts';
import type { CheckpointContent } from '../../src/delta/engine.ts';
import { DeltaLogCorruptError } from '../../src/delta/errors.ts';
import { duckdbEngine } from '../../src/duckdb/duckdb-engine.ts';
import { readLakeRows } from '../../src/duckdb/lake-rows.ts';
import { DuckSession, quoteLiteral } from '../../src/duckdb/session.ts';
import { TempFolders } from '../storage/helpers.ts';

const folders = new TempFolders();
let session: DuckSession;

beforeAll(async () => {
  session = await DuckSession.open({ threads: 2 });
});

afterAll(async () => {
  await session.close();
  await folders.removeAll();
});

const CONTENT: CheckpointContent = {
  protocol: { minReaderVersion: 1, minWriterVersion: 2 },
  metadata: {
    id: '0b6e2f9a-5f0e-4a4c-8d8e-3d1b8c9f2a11',
    name: null,
    description: 'orders, from DynamoDB',
    format: { provider: 'parquet', options: {} },
    schemaString:
      '{"type":"struct","fields":[{"name":"pk","type":"string","nullable":true,"metadata":{}},{"name":"region","type":"string","nullable":true,"metadata":{}}]}',
    partitionColumns: ['region'],
    createdTime: 1_795_392_000_000,
    configuration: { 'delta.enableDeletionVectors': 'false', 'delta.checkpointPolicy': 'classic' },
  },
  txns: [
    { appId: 'pipeline-b', version: 7, lastUpdated: 1_795_392_000_123 },
    { appId: 'pipeline-a', version: 42 },
  ],
  domainMetadata: [{ domain: 'ddb-lake.columns', configuration: '{"pk":"pk"}', removed: false }],
  files: [
    {
      path: 'region=us/part-2.zstd.parquet',
      partitionValues: { region: 'us' },
      size: 2048,
      modificationTime: 1_795_392_000_500,
      dataChange: true,
      stats: '{"numRecords":2,"minValues":{"pk":"a"},"maxValues":{"pk":"b"},"nullCount":{"pk":0}}',
      tags: { origin: 'stream' },
    },
    {
      path: 'region=__HIVE_DEFAULT_PARTITION__/part-1.zstd.parquet',
      partitionValues: { region: null },
      size: 1024,
      modificationTime: 1_795_392_000_400,
      dataChange: false,
    },
  ],
  tombstones: [
    {
      path: 'region=eu/part-0.zstd.parquet',
      deletionTimestamp: 1_795_392_000_300,
      dataChange: true,
      extendedFileMetadata: true,
      partitionValues: { region: 'eu' },
      size: 512,
    },
  ],
};

/** The actions a checkpoint of CONTENT must hold, in the encoder's order. */
function expectedActions(content: CheckpointContent): Action[] {
  const byPath = <T extends { path: string }>(items: readonly T[]): T[] =>
    [...items].sort((a, b) => (a.path < b.path ? -1 : 1));
  return [
    { protocol: content.protocol },
    { metaData: { ...content.metadata, name: undefined } as never },
    ...[...content.txns].sort((a, b) => (a.appId < b.appId ? -1 : 1)).map((txn) => ({ txn })),
    ...content.domainMetadata.map((domainMetadata) => ({ domainMetadata })),
    ...byPath(content.files).map((add) => ({ add })),
    ...byPath(content.tombstones).map((remove) => ({ remove })),
  ];
}

function withoutUndefined(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

async function localCopy(bytes: Uint8Array): Promise<string> {
  const file = path.join(await folders.make('checkpoint'), 'checkpoint.parquet');
  await writeFile(file, bytes);
  return file;
}

describe('the DuckDB checkpoint codec', () => {
  test('a checkpoint decodes to the content it was encoded from, one action per row in a fixed order', async () => {
    const codec = duckdbEngine(session).checkpoints;
    const actions = await codec.decode(
      await codec.encode(CONTENT),
      '00000000000000000010.checkpoint.parquet',
    );
    expect(withoutUndefined(actions)).toEqual(withoutUndefined(expectedActions(CONTENT)));
  });

  test('encoding the same content twice gives the same bytes', async () => {
    const codec = duckdbEngine(session).checkpoints;
    const first = await codec.encode(CONTENT);
    const second = await codec.encode({
      ...CONTENT,
      files: [...CONTENT.files].reverse(),
      txns: [...CONTENT.txns].reverse(),
    });
    expect(Buffer.from(second).equals(Buffer.from(first))).toBe(true);
  });

  test('the file has the V1 checkpoint schema: action structs, maps as Parquet maps, stats as a string, no commitInfo', async () => {
    const file = await localCopy(await duckdbEngine(session).checkpoints.encode(CONTENT));
    const columns = await readLakeRows(
      session,
      `SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(${quoteLiteral(file)}))`,
    );
    const types = new Map(columns.map((row) => [row.column_name, String(row.column_type)]));
    expect([...types.keys()]).toEqual(['txn', 'add', 'remove', 'metaData', 'protocol', 'domainMetadata']);
    expect(types.get('add')).toContain('partitionValues MAP(VARCHAR, VARCHAR)');
    expect(types.get('add')).toContain('stats VARCHAR');
    expect(types.get('add')).toContain('size BIGINT');
    expect(types.get('add')).toContain('tags MAP(VARCHAR, VARCHAR)');
    expect(types.get('remove')).not.toContain('stats');
    expect(types.get('remove')).not.toContain('tags');
    expect(types.get('metaData')).toBe(
      'STRUCT(id VARCHAR, "name" VARCHAR, description VARCHAR, format STRUCT(provider VARCHAR, "options" MAP(VARCHAR, VARCHAR)), schemaString VARCHAR, partitionColumns VARCHAR[], createdTime BIGINT, "configuration" MAP(VARCHAR, VARCHAR))',
    );
    expect(types.get('txn')).toBe('STRUCT(appId VARCHAR, "version" BIGINT, lastUpdated BIGINT)');
    expect(types.get('protocol')).toBe(
      'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER, readerFeatures VARCHAR[], writerFeatures VARCHAR[])',
    );
    const nonNull = await readLakeRows(
      session,
      `SELECT (txn IS NOT NULL)::INT + (add IS NOT NULL)::INT + (remove IS NOT NULL)::INT + (metaData IS NOT NULL)::INT
            + (protocol IS NOT NULL)::INT + (domainMetadata IS NOT NULL)::INT AS actions FROM read_parquet(${quoteLiteral(file)})`,
    );
    expect(nonNull.map((row) => row.actions)).toEqual(Array(8).fill(1));
  });

  test('readerFeatures and writerFeatures are null below versions 3 and 7, and kept at them', async () => {
    const codec = duckdbEngine(session).checkpoints;
    const below = await codec.decode(
      await codec.encode({
        ...CONTENT,
        protocol: { minReaderVersion: 2, minWriterVersion: 5, readerFeatures: ['columnMapping'] },
      }),
      'below',
    );
    expect(below[0]).toEqual({ protocol: { minReaderVersion: 2, minWriterVersion: 5 } });
    const features = {
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: ['columnMapping'],
      writerFeatures: ['appendOnly', 'columnMapping'],
    };
    const at = await codec.decode(await codec.encode({ ...CONTENT, protocol: features }), 'at');
    expect(at[0]).toEqual({ protocol: features });
  });

  test('remove tombstones are written without stats and tags', async () => {
    const codec = duckdbEngine(session).checkpoints;
    const tombstone = {
      ...CONTENT.tombstones[0],
      stats: '{"numRecords":1}',
      tags: { a: 'b' },
    } as CheckpointContent['tombstones'][number];
    const actions = await codec.decode(
      await codec.encode({ ...CONTENT, tombstones: [tombstone] }),
      'tombstones',
    );
    const remove = actions.find((action) => 'remove' in action);
    expect(remove).toEqual({ remove: CONTENT.tombstones[0] });
  });

  test('a decode without removes returns every other action in the same order, and no remove', async () => {
    const codec = duckdbEngine(session).checkpoints;
    const bytes = await codec.encode(CONTENT);
    const all = await codec.decode(bytes, 'all');
    const withoutRemoves = await codec.decode(bytes, 'without', { removes: false });
    expect(all.some((action) => 'remove' in action)).toBe(true);
    expect(withoutRemoves).toEqual(all.filter((action) => !('remove' in action)));
  });

  test('a decode without removes still refuses bytes that are not Parquet, naming the file', async () => {
    const error = await duckdbEngine(session)
      .checkpoints.decode(new TextEncoder().encode('not parquet'), '_delta_log/x.checkpoint.parquet', {
        removes: false,
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeltaLogCorruptError);
    expect((error as Error).message).toContain('x.checkpoint.parquet');
  });

  test("a decode without removes names the file's own line of an invalid row after removes", async () => {
    const file = path.join(await folders.make('checkpoint'), 'bad.checkpoint.parquet');
    const remove = "{'path': 'gone.parquet', 'deletionTimestamp': 1, 'dataChange': true}";
    await session.run(
      `COPY (SELECT * FROM (VALUES (${remove}, NULL), (${remove}, NULL),
         (NULL, {'path': 'kept.parquet', 'size': NULL::BIGINT, 'modificationTime': 1, 'dataChange': true})) t(remove, add))
       TO ${quoteLiteral(file)} (FORMAT parquet)`,
    );
    const error = await duckdbEngine(session)
      .checkpoints.decode(new Uint8Array(await readFile(file)), 'bad.checkpoint.parquet', { removes: false })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeltaLogCorruptError);
    expect((error as Error).message).toContain('bad.checkpoint.parquet line 3');
  });

  test('an empty table (no files, no txns) still has its protocol and metaData rows', async () => {
    const codec = duckdbEngine(session).checkpoints;
    const empty = { ...CONTENT, files: [], tombstones: [], txns: [], domainMetadata: [] };
    const actions = await codec.decode(await codec.encode(empty), 'empty');
    expect(actions.map((action) => Object.keys(action)[0])).toEqual(['protocol', 'metaData']);
  });

  test('bytes that are not Parquet are refused as a corrupt checkpoint naming the file', async () => {
    const error = await duckdbEngine(session)
      .checkpoints.decode(
        new TextEncoder().encode('not parquet'),
        '_delta_log/00000000000000000010.checkpoint.parquet',
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeltaLogCorruptError);
    expect((error as Error).message).toContain('00000000000000000010.checkpoint.parquet');
  });
});
