import { afterAll, describe, expect, it } from 'vitest';
import packageJson from '../../package.json' with { type: 'json' };
import { ENGINE_INFO } from '../../src/delta/commit-info.ts';
import { createTable } from '../../src/delta/create-table.ts';
import { DeltaInvalidWriteError } from '../../src/delta/errors.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import type { StructType } from '../../src/delta/schema.ts';
import { deltaTypeOfLakeType } from '../../src/delta/schema.ts';
import {
  commitLines,
  LostResponseStore,
  logBytes,
  ORDERS_SCHEMA,
  WriterWorkspace,
} from './writer-support.ts';

const workspace = new WriterWorkspace();
afterAll(() => workspace.close());

const LAKE_SCHEMA: StructType = {
  type: 'struct',
  fields: [
    { name: 'pk', type: deltaTypeOfLakeType({ kind: 'string' }), nullable: false, metadata: {} },
    {
      name: 'n',
      type: deltaTypeOfLakeType({ kind: 'decimal', precision: 38, scale: 0 }),
      nullable: true,
      metadata: {},
    },
    {
      name: 'price',
      type: deltaTypeOfLakeType({ kind: 'decimal', precision: 38, scale: 10 }),
      nullable: true,
      metadata: {},
    },
    { name: 'count', type: deltaTypeOfLakeType({ kind: 'bigint' }), nullable: true, metadata: {} },
    { name: 'blob', type: deltaTypeOfLakeType({ kind: 'binary' }), nullable: true, metadata: {} },
    { name: 'ok', type: deltaTypeOfLakeType({ kind: 'boolean' }), nullable: true, metadata: {} },
    { name: '_ddb_ts', type: deltaTypeOfLakeType({ kind: 'timestamp' }), nullable: true, metadata: {} },
    {
      name: 'tags',
      type: deltaTypeOfLakeType({ kind: 'array', element: { kind: 'string' } }),
      nullable: true,
      metadata: {},
    },
  ],
};

describe('createTable', () => {
  it('writes commit 0 as the spec spells it: commitInfo, protocol 1/2, metaData with the schema, pins and engineInfo', async () => {
    const store = await workspace.store();
    const snapshot = await createTable(store, {
      schema: LAKE_SCHEMA,
      partitionColumns: [],
      configuration: { 'ddb_lake.pipeline': 'orders', 'delta.checkpointInterval': '5' },
      name: 'orders',
      description: 'the orders table',
      now: 1_700_000_000_000,
    });
    expect(snapshot.version).toBe(0);
    const lines = await commitLines(store, 0);
    expect(lines.map((line) => Object.keys(line))).toEqual([['commitInfo'], ['protocol'], ['metaData']]);
    const [commitInfo, protocol, metaData] = lines.map((line) => Object.values(line)[0]) as Record<
      string,
      unknown
    >[];
    expect(protocol).toEqual({ minReaderVersion: 1, minWriterVersion: 2 });
    expect(commitInfo).toMatchObject({
      timestamp: 1_700_000_000_000,
      operation: 'CREATE TABLE',
      operationParameters: { isManaged: 'false', partitionBy: '[]', description: 'the orders table' },
      isBlindAppend: true,
      engineInfo: `ddb-lake/${packageJson.version}`,
    });
    expect(ENGINE_INFO).toBe(`ddb-lake/${packageJson.version}`);
    expect(typeof commitInfo?.txnId).toBe('string');
    expect(metaData).toMatchObject({
      name: 'orders',
      description: 'the orders table',
      format: { provider: 'parquet', options: {} },
      partitionColumns: [],
      createdTime: 1_700_000_000_000,
      configuration: {
        'ddb_lake.pipeline': 'orders',
        'delta.checkpointInterval': '5',
        'delta.enableDeletionVectors': 'false',
        'delta.checkpointPolicy': 'classic',
      },
    });
    expect(metaData?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const schema = JSON.parse(metaData?.schemaString as string) as {
      type: string;
      fields: { name: string; type: unknown; nullable: boolean; metadata: unknown }[];
    };
    expect(schema.type).toBe('struct');
    for (const field of schema.fields)
      expect(Object.keys(field)).toEqual(['name', 'type', 'nullable', 'metadata']);
    for (const field of schema.fields) expect(field.metadata).toEqual({});
    expect(schema.fields.map((f) => f.type)).toEqual([
      'string',
      'decimal(38,0)',
      'decimal(38,10)',
      'long',
      'binary',
      'boolean',
      'timestamp',
      { type: 'array', elementType: 'string', containsNull: true },
    ]);
    expect(schema.fields[0]?.nullable).toBe(false);
  });

  it('is read back by loadSnapshot as version 0 with the same metadata it returned', async () => {
    const store = await workspace.store();
    const created = await createTable(store, { schema: ORDERS_SCHEMA, partitionColumns: ['pk'] });
    const loaded = await loadSnapshot(store, await workspace.engine());
    expect(loaded.version).toBe(0);
    expect(loaded.metadata).toEqual(created.metadata);
    expect(loaded.protocol).toEqual(created.protocol);
    expect(loaded.schema).toEqual(ORDERS_SCHEMA);
    expect(loaded.partitionColumns).toEqual(['pk']);
    expect(loaded.files).toEqual([]);
  });

  it('refuses to create a table where one exists and leaves its log byte for byte as it was', async () => {
    const store = await workspace.store();
    await createTable(store, { schema: ORDERS_SCHEMA });
    const before = await logBytes(store);
    await expect(createTable(store, { schema: ORDERS_SCHEMA })).rejects.toThrow(
      /A Delta table already exists at .*00000000000000000000\.json.*left untouched/,
    );
    expect(await logBytes(store)).toEqual(before);
  });

  it('refuses a location whose early commits were cleaned up (only a checkpoint and later commits remain)', async () => {
    const store = await workspace.store();
    await store.put('_delta_log/00000000000000000010.checkpoint.parquet', 'not read');
    await store.put('_delta_log/00000000000000000011.json', '{}\n');
    await expect(createTable(store, { schema: ORDERS_SCHEMA })).rejects.toThrow(/checkpoint\.parquet/);
    expect(await store.head('_delta_log/00000000000000000000.json')).toBeUndefined();
  });

  it('of two creators racing for one location exactly one succeeds', async () => {
    const store = await workspace.store();
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => createTable(store, { schema: ORDERS_SCHEMA })),
    );
    const created = results.filter((r) => r.status === 'fulfilled');
    expect(created).toHaveLength(1);
    const loaded = await loadSnapshot(store, await workspace.engine());
    expect(loaded.metadata.id).toBe(
      (created[0] as PromiseFulfilledResult<{ metadata: { id: string } }>).value.metadata.id,
    );
  });

  it('refuses what it does not write: forbidden or clashing names, unknown partition columns, needed features, overridden pins', async () => {
    const store = await workspace.store();
    const field = (
      name: string,
      type: StructType['fields'][number]['type'] = { type: 'primitive', name: 'string' },
    ) => ({
      name,
      type,
      nullable: true,
      metadata: {},
    });
    const cases: [Parameters<typeof createTable>[1], RegExp][] = [
      [{ schema: { type: 'struct', fields: [field('a b')] } }, /"a b".*" "/],
      [
        { schema: { type: 'struct', fields: [field('Id'), field('id')] } },
        /"Id" and "id" differ only in case/,
      ],
      [{ schema: ORDERS_SCHEMA, partitionColumns: ['nope'] }, /partition column "nope"/],
      [
        { schema: { type: 'struct', fields: [field('t', { type: 'primitive', name: 'timestamp_ntz' })] } },
        /timestamp_ntz/,
      ],
      [
        { schema: ORDERS_SCHEMA, configuration: { 'delta.enableDeletionVectors': 'true' } },
        /delta\.enableDeletionVectors/,
      ],
      [
        { schema: ORDERS_SCHEMA, configuration: { 'delta.enableChangeDataFeed': 'true' } },
        /delta\.enableChangeDataFeed/,
      ],
      [
        { schema: ORDERS_SCHEMA, configuration: { 'delta.enableRowTracking': 'true' } },
        /delta\.enableRowTracking/,
      ],
      [
        {
          schema: ORDERS_SCHEMA,
          configuration: { 'delta.deletedFileRetentionDuration': 'interval 1 month' },
        },
        /months/,
      ],
    ];
    for (const [options, message] of cases) {
      const attempt = createTable(store, options);
      await expect(attempt).rejects.toBeInstanceOf(DeltaInvalidWriteError);
      await expect(attempt).rejects.toThrow(message);
    }
    expect(await store.head('_delta_log/00000000000000000000.json')).toBeUndefined();
  });

  it('a retried request that finds its own commit 0 (the first attempt created it, its response was lost) succeeds', async () => {
    const store = new LostResponseStore(await workspace.store());
    const snapshot = await createTable(store, { schema: ORDERS_SCHEMA });
    expect(store.lostResponses).toEqual(['_delta_log/00000000000000000000.json']);
    const loaded = await loadSnapshot(store, await workspace.engine());
    expect(loaded.metadata.id).toBe(snapshot.metadata.id);
  });
});
