import { afterAll, describe, expect, it } from 'vitest';
import { type Action, type Metadata, type Protocol, serializeCommitFile } from '../../src/delta/actions.ts';
import { commit } from '../../src/delta/commit.ts';
import { DeltaUnsupportedFeatureError } from '../../src/delta/errors.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import { commitFileKey } from '../../src/delta/log-files.ts';
import { type StructType, serializeSchema } from '../../src/delta/schema.ts';
import { startTransaction } from '../../src/delta/transaction.ts';
import { assertWritable, type WritableTable } from '../../src/delta/writer-features.ts';
import type { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { logBytes, newTable, ORDERS_SCHEMA, WriterWorkspace, writeOrders } from './writer-support.ts';

const workspace = new WriterWorkspace();
afterAll(() => workspace.close());

/** Appends a commit as another engine would have written it. */
async function appendRawCommit(store: LocalFolderStore, version: number, actions: Action[]): Promise<void> {
  const outcome = await store.putIfAbsent(commitFileKey(version), serializeCommitFile(actions));
  expect(outcome.outcome).toBe('created');
}

/** Tries a commit (a txn) to the table in `store` and expects a refusal naming `feature`, with the log unchanged byte for byte. */
async function expectWriteRefused(store: LocalFolderStore, feature: string, message?: RegExp): Promise<void> {
  const engine = await workspace.engine();
  const snapshot = await loadSnapshot(store, engine);
  const before = await logBytes(store);
  const attempt = commit(store, engine, startTransaction(snapshot).setTxn('p', 1));
  await expect(attempt).rejects.toBeInstanceOf(DeltaUnsupportedFeatureError);
  await expect(attempt).rejects.toMatchObject({ operation: 'write', feature });
  await expect(attempt).rejects.toThrow(message ?? new RegExp(feature));
  await expect(attempt).rejects.toThrow(/Nothing was written/);
  expect(await logBytes(store)).toEqual(before);
}

function table(
  protocol: Protocol,
  configuration: Record<string, string> = {},
  schema: StructType = ORDERS_SCHEMA,
): WritableTable {
  const metadata: Metadata = {
    id: 'id',
    format: { provider: 'parquet', options: {} },
    schemaString: serializeSchema(schema),
    partitionColumns: [],
    configuration,
  };
  return { tableUrl: 'file:///t', protocol, metadata, schema };
}

function withColumnMetadata(key: string, value: unknown): StructType {
  const [first, ...rest] = ORDERS_SCHEMA.fields;
  return {
    type: 'struct',
    fields: [{ ...(first as StructType['fields'][number]), metadata: { [key]: value } }, ...rest],
  };
}

function refusal(run: () => void): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(DeltaUnsupportedFeatureError);
    return (error as DeltaUnsupportedFeatureError).feature;
  }
}

describe('assertWritable refuses writes it cannot do correctly, naming the feature', () => {
  it('an unknown writer feature or a writer version above 7 is refused on a real table, and the log stays byte for byte', async () => {
    const { store } = await newTable(workspace);
    await appendRawCommit(store, 1, [
      {
        protocol: {
          minReaderVersion: 1,
          minWriterVersion: 7,
          writerFeatures: ['appendOnly', 'fancyFutureFeature'],
        },
      },
    ]);
    await expectWriteRefused(store, 'fancyFutureFeature', /table feature "fancyFutureFeature"/);

    const other = await newTable(workspace);
    await appendRawCommit(other.store, 1, [{ protocol: { minReaderVersion: 1, minWriterVersion: 8 } }]);
    await expectWriteRefused(
      other.store,
      'writerVersion8',
      /writer version 8, and ddb-lake implements up to 7/,
    );
  });

  it('a table Databricks wrote with column mapping is refused, its log untouched', async () => {
    await expectWriteRefused(
      await workspace.fixtureCopy('table_with_column_mapping'),
      'columnMapping',
      /mode "name"/,
    );
  });

  it('an append-only table takes appends and rewrites (dataChange false) but refuses removing data', async () => {
    const { store, snapshot } = await newTable(workspace, { configuration: { 'delta.appendOnly': 'true' } });
    const engine = await workspace.engine();
    const first = await writeOrders(workspace, store, [{ pk: 'a', amount: '1', qty: 1 }]);
    await commit(store, engine, startTransaction(snapshot).addFiles(first));
    const v1 = await loadSnapshot(store, engine);
    const before = await logBytes(store);
    const removal = commit(store, engine, startTransaction(v1).removeFiles(v1.files));
    await expect(removal).rejects.toMatchObject({ feature: 'appendOnly', operation: 'write' });
    expect(await logBytes(store)).toEqual(before);
    const copy = await writeOrders(workspace, store, [{ pk: 'a', amount: '1', qty: 1 }]);
    const rewrite = startTransaction(v1, { operation: 'OPTIMIZE' })
      .removeFiles(v1.files, { dataChange: false })
      .addFiles(copy.map((add) => ({ ...add, dataChange: false })));
    await expect(commit(store, engine, rewrite)).resolves.toMatchObject({ outcome: 'committed', version: 2 });
  });

  it('a column invariant on writer version 2 is refused, written into the log by another engine', async () => {
    const { store, snapshot } = await newTable(workspace);
    const schema = withColumnMetadata('delta.invariants', '{"expression":{"expression":"pk IS NOT NULL"}}');
    await appendRawCommit(store, 1, [
      { metaData: { ...snapshot.metadata, schemaString: serializeSchema(schema) } },
    ]);
    await expectWriteRefused(store, 'invariants', /column pk has an invariant/);
  });

  it('features active by writer version 2 to 6 are refused; the same properties without protocol support are not active', () => {
    const cases: [Protocol, Record<string, string>, StructType, string | undefined][] = [
      [
        { minReaderVersion: 1, minWriterVersion: 3 },
        { 'delta.constraints.positive': 'qty > 0' },
        ORDERS_SCHEMA,
        'checkConstraints',
      ],
      [
        { minReaderVersion: 1, minWriterVersion: 2 },
        { 'delta.constraints.positive': 'qty > 0' },
        ORDERS_SCHEMA,
        undefined,
      ],
      [
        { minReaderVersion: 1, minWriterVersion: 3 },
        { 'delta.checkpoint.writeStatsAsStruct': 'true' },
        ORDERS_SCHEMA,
        'checkpoint.writeStatsAsStruct',
      ],
      [
        { minReaderVersion: 1, minWriterVersion: 4 },
        { 'delta.enableChangeDataFeed': 'TRUE' },
        ORDERS_SCHEMA,
        'changeDataFeed',
      ],
      [
        { minReaderVersion: 1, minWriterVersion: 3 },
        { 'delta.enableChangeDataFeed': 'true' },
        ORDERS_SCHEMA,
        undefined,
      ],
      [
        { minReaderVersion: 1, minWriterVersion: 4 },
        {},
        withColumnMetadata('delta.generationExpression', 'qty * 2'),
        'generatedColumns',
      ],
      [
        { minReaderVersion: 2, minWriterVersion: 5 },
        { 'delta.columnMapping.mode': 'id' },
        ORDERS_SCHEMA,
        'columnMapping',
      ],
      [
        { minReaderVersion: 2, minWriterVersion: 5 },
        { 'delta.columnMapping.mode': 'none' },
        ORDERS_SCHEMA,
        undefined,
      ],
      [
        { minReaderVersion: 1, minWriterVersion: 6 },
        {},
        withColumnMetadata('delta.identity.start', 1),
        'identityColumns',
      ],
      [
        { minReaderVersion: 1, minWriterVersion: 5 },
        {},
        withColumnMetadata('delta.identity.start', 1),
        undefined,
      ],
      [
        {
          minReaderVersion: 1,
          minWriterVersion: 7,
          writerFeatures: [
            'invariants',
            'checkConstraints',
            'changeDataFeed',
            'generatedColumns',
            'identityColumns',
          ],
        },
        { 'delta.enableChangeDataFeed': 'false' },
        ORDERS_SCHEMA,
        undefined,
      ],
      [
        { minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ['changeDataFeed'] },
        { 'delta.enableChangeDataFeed': 'true' },
        ORDERS_SCHEMA,
        'changeDataFeed',
      ],
      [
        { minReaderVersion: 1, minWriterVersion: 7, writerFeatures: [] },
        { 'delta.enableChangeDataFeed': 'true' },
        ORDERS_SCHEMA,
        undefined,
      ],
      [
        { minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ['allowColumnDefaults'] },
        {},
        withColumnMetadata('CURRENT_DEFAULT', "'x'"),
        'allowColumnDefaults',
      ],
      [{ minReaderVersion: 4, minWriterVersion: 7, writerFeatures: [] }, {}, ORDERS_SCHEMA, 'readerVersion4'],
    ];
    for (const [protocol, configuration, schema, feature] of cases) {
      expect(
        refusal(() => assertWritable(table(protocol, configuration, schema))),
        JSON.stringify([protocol, configuration]),
      ).toBe(feature);
    }
  });

  it('every version 7 writer feature ddb-lake does not respect is refused by name', () => {
    const refused = [
      'rowTracking',
      'domainMetadata',
      'v2Checkpoint',
      'inCommitTimestamp',
      'clustering',
      'icebergCompatV1',
      'icebergCompatV2',
      'typeWidening',
      'variantType',
      'catalogManaged',
      'vacuumProtocolCheck',
      'timestampNtz',
      'somethingNew',
    ];
    for (const feature of refused) {
      const protocol: Protocol = {
        minReaderVersion: 1,
        minWriterVersion: 7,
        writerFeatures: ['appendOnly', feature],
      };
      expect(refusal(() => assertWritable(table(protocol)))).toBe(feature);
    }
    const readerSide: Protocol = {
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: ['timestampNtz'],
      writerFeatures: ['appendOnly'],
    };
    expect(refusal(() => assertWritable(table(readerSide)))).toBe('timestampNtz');
  });
});
