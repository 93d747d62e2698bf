import { afterAll, describe, expect, it } from 'vitest';
import type { PartitionValues } from '../../src/delta/actions.ts';
import { assignColumnNames } from '../../src/delta/column-names.ts';
import { commit } from '../../src/delta/commit.ts';
import { createTable } from '../../src/delta/create-table.ts';
import { dataFileKey } from '../../src/delta/data-path.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import { deltaTypeOfLakeType, type StructField, type StructType } from '../../src/delta/schema.ts';
import { startTransaction } from '../../src/delta/transaction.ts';
import { vacuum } from '../../src/delta/vacuum.ts';
import { writeDataFiles } from '../../src/duckdb/data-file-writer.ts';
import { type LakeRow, loadLakeRows } from '../../src/duckdb/lake-rows.ts';
import { readSnapshotRows } from '../../src/duckdb/table-scan.ts';
import type { LakeType } from '../../src/dynamo/lake-type.ts';
import {
  S3_SERVER_CREDENTIALS,
  S3_SERVER_REGION,
  type S3Server,
  startS3Server,
} from '../../src/local/s3-server.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { S3Store } from '../../src/storage/s3-store.ts';
import { WriterWorkspace } from './writer-support.ts';

const workspace = new WriterWorkspace();
let server: S3Server | undefined;
afterAll(async () => {
  await server?.stop();
  await workspace.close();
});

/** DynamoDB attributes and their lake types (DESIGN.md, "Lake table"), with names Spark would refuse as columns. */
const ATTRIBUTES: readonly [string, LakeType][] = [
  ['pk', { kind: 'string' }],
  ['big number', { kind: 'decimal', precision: 38, scale: 0 }],
  ['Price', { kind: 'decimal', precision: 38, scale: 10 }],
  ['price', { kind: 'bigint' }],
  ['blob', { kind: 'binary' }],
  ['ok', { kind: 'boolean' }],
  ['tags(set)', { kind: 'array', element: { kind: 'string' } }],
  ['nums', { kind: 'array', element: { kind: 'decimal', precision: 38, scale: 0 } }],
  ['bins', { kind: 'array', element: { kind: 'binary' } }],
  ['doc', { kind: 'string' }],
];

const SYSTEM_FIELDS: StructField[] = [
  { name: '_ddb_seq', type: deltaTypeOfLakeType({ kind: 'string' }), nullable: true, metadata: {} },
  { name: '_ddb_ts', type: deltaTypeOfLakeType({ kind: 'timestamp' }), nullable: true, metadata: {} },
  { name: '_ddb_source', type: deltaTypeOfLakeType({ kind: 'string' }), nullable: true, metadata: {} },
];

function schemaFor(
  attributes: readonly [string, LakeType][],
  columns: ReadonlyMap<string, string>,
): StructType {
  return {
    type: 'struct',
    fields: [
      ...attributes.map(([name, type]) => ({
        name: columns.get(name) as string,
        type: deltaTypeOfLakeType(type),
        nullable: true,
        metadata: {},
      })),
      ...SYSTEM_FIELDS,
    ],
  };
}

const MAX_38 = '99999999999999999999999999999999999999';

function row(pk: string, values: Record<string, LakeRow[string]>): LakeRow {
  return { pk, ...values };
}

const EXPORT_ROWS: LakeRow[] = [
  row('a', {
    big_number: MAX_38,
    Price: '1234567890123456789012345678.0000000001',
    price_2: 9_007_199_254_740_993n,
    blob: new Uint8Array([0, 255, 1, 254]),
    ok: true,
    tags_set_: ['x', null, 'y'],
    nums: [`-${MAX_38}`, '0', null],
    bins: [new Uint8Array([7]), null],
    doc: '{"n":1E+125,"s":"ü"}',
    _ddb_seq: '0'.repeat(19) + '100000000000000000001',
    _ddb_ts: '2026-11-23T10:00:00.123456Z',
  }),
  row('b', {}),
];

const STREAM_ROWS: LakeRow[] = [
  row('c', {
    big_number: '-1',
    Price: '-0.0000000001',
    price_2: -9_223_372_036_854_775_808n,
    ok: false,
    tags_set_: [],
    _ddb_seq: '0'.repeat(19) + '100000000000000000002',
    _ddb_ts: '1970-01-01T00:00:00.000001Z',
  }),
];

/** Writes `rows` (without `_ddb_source`) as the data files of one partition; returns their adds. */
async function writePartition(store: ObjectStore, schema: StructType, rows: LakeRow[], source: string) {
  const session = await workspace.session();
  const dataSchema: StructType = {
    type: 'struct',
    fields: schema.fields.filter((f) => f.name !== '_ddb_source'),
  };
  await loadLakeRows(session, 'batch', dataSchema, rows);
  const partitionValues: PartitionValues = { _ddb_source: source };
  return writeDataFiles(session, store, { source: 'batch', schema, partitionValues });
}

/** Every column of `schema` present in each row (null when absent), for comparison with what is read. */
function complete(rows: LakeRow[], schema: StructType): LakeRow[] {
  return rows.map((r) => Object.fromEntries(schema.fields.map((f) => [f.name, r[f.name] ?? null])));
}

async function roundTrip(store: ObjectStore) {
  const engine = await workspace.engine();
  const session = await workspace.session();
  const assigned = assignColumnNames(
    { 'delta.checkpointInterval': '2' },
    ATTRIBUTES.map(([name]) => name),
  );
  expect(Object.fromEntries(assigned.columns)).toMatchObject({
    'big number': 'big_number',
    Price: 'Price',
    price: 'price_2',
    'tags(set)': 'tags_set_',
  });
  const schema = schemaFor(ATTRIBUTES, assigned.columns);
  const created = await createTable(store, {
    schema,
    partitionColumns: ['_ddb_source'],
    configuration: assigned.configuration,
  });

  // Version 1: the export partition.
  const exported = await writePartition(store, schema, EXPORT_ROWS, 'export');
  await commit(store, engine, startTransaction(created).addFiles(exported).setTxn('pipeline', 1));

  // Version 2 (a checkpoint): a new attribute arrives with the stream batch, a new column.
  const v1 = await loadSnapshot(store, engine);
  const more = assignColumnNames(v1.metadata.configuration, ['new attr']);
  const wider = schemaFor([...ATTRIBUTES, ['new attr', { kind: 'bigint' }]], more.columns);
  const reordered: StructType = {
    type: 'struct',
    fields: [...schema.fields, wider.fields.find((f) => f.name === 'new_attr') as StructField],
  };
  const streamed = await writePartition(
    store,
    reordered,
    STREAM_ROWS.map((r) => ({ ...r, new_attr: 42n })),
    'stream',
  );
  const second = await commit(
    store,
    engine,
    startTransaction(v1)
      .updateSchema(reordered)
      .updateConfiguration(more.configuration)
      .addFiles(streamed)
      .setTxn('pipeline', 2),
  );
  expect(second).toMatchObject({ outcome: 'committed', version: 2, checkpoint: { outcome: 'written' } });

  // Version 3: row b is rewritten in the export partition (remove + add).
  const v2 = await loadSnapshot(store, engine);
  expect(v2.checkpointVersion).toBe(2);
  const rewritten = await writePartition(
    store,
    reordered,
    [EXPORT_ROWS[0] as LakeRow, row('b', { ok: true, doc: 'now set' })],
    'export',
  );
  await commit(
    store,
    engine,
    startTransaction(v2, { operation: 'MERGE' })
      .readWholeTable()
      .removeFiles(exported)
      .addFiles(rewritten)
      .setTxn('pipeline', 3),
  );

  const v3 = await loadSnapshot(store, engine);
  expect(v3.version).toBe(3);
  expect(v3.schema).toEqual(reordered);
  const rows = await readSnapshotRows(session, store, v3, { orderBy: ['pk'] });
  expect(rows).toEqual(
    complete(
      [
        { ...(EXPORT_ROWS[0] as LakeRow), _ddb_source: 'export' },
        { pk: 'b', ok: true, doc: 'now set', _ddb_source: 'export' },
        { ...(STREAM_ROWS[0] as LakeRow), new_attr: 42n, _ddb_source: 'stream' },
      ],
      reordered,
    ),
  );
  return { v3, exported, rewritten, streamed };
}

describe('round trip of every lake type through the log', () => {
  it('on a folder: attributes to columns, partitions, schema change, rewrite, checkpoint; the rows read back exactly; vacuum keeps them', async () => {
    const store = await workspace.store('round-trip');
    const { v3, exported, rewritten, streamed } = await roundTrip(store);
    expect(exported.every((add) => dataFileKey(add.path, store.url).startsWith('ddb_source=export/'))).toBe(
      true,
    );
    // The replaced export file goes once the tombstone and the file are old enough; data files sit in ddb_source= folders, never in hidden ones.
    const later = Date.now() + 8 * 24 * 3_600_000;
    const result = await vacuum(store, await workspace.engine(), { now: later, dryRun: true });
    expect(result.files.map((f) => f.key)).toEqual(exported.map((add) => dataFileKey(add.path, store.url)));
    expect(v3.files.map((f) => f.path).sort()).toEqual([...rewritten, ...streamed].map((f) => f.path).sort());
  });

  it('on S3: the same round trip, data files and checkpoint downloaded to be read', async () => {
    server = await startS3Server();
    await server.createBucket('round-trip');
    const store = new S3Store({
      bucket: 'round-trip',
      prefix: 'lake/orders',
      endpointUrl: server.endpoint,
      region: S3_SERVER_REGION,
      credentials: S3_SERVER_CREDENTIALS,
    });
    try {
      const { v3 } = await roundTrip(store);
      expect(v3.tableUrl).toBe('s3://round-trip/lake/orders');
    } finally {
      await store.close();
    }
  });
});
