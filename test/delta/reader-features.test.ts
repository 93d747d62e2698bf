import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Metadata, Protocol } from '../../src/delta/actions.ts';
import { DeltaUnsupportedFeatureError } from '../../src/delta/errors.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import {
  assertLogReadable,
  assertReadable,
  columnMappingMode,
  physicalName,
  supportedReaderFeatures,
} from '../../src/delta/reader-features.ts';
import type { StructField } from '../../src/delta/schema.ts';
import { fixtureStore, openReaderEngine, type ReaderEngine } from './reader-helpers.ts';

/*
 * Which tables ddb-lake reads (PROTOCOL.md, "Table Features", "Column Mapping", "Deletion
 * Vectors"): the protocols of the fixture tables, and protocols written out here for the cases the
 * fixtures lack.
 */

let reader: ReaderEngine;
beforeAll(async () => {
  reader = await openReaderEngine();
});
afterAll(async () => {
  await reader.session.close();
});

function metadataWith(configuration: Record<string, string>): Metadata {
  return {
    id: 'x',
    format: { provider: 'parquet', options: {} },
    schemaString: '{"type":"struct","fields":[]}',
    partitionColumns: [],
    configuration,
  };
}

function refusal(fn: () => void): DeltaUnsupportedFeatureError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DeltaUnsupportedFeatureError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

const readerV3 = (features: string[]): Protocol => ({
  minReaderVersion: 3,
  minWriterVersion: 7,
  readerFeatures: features,
  writerFeatures: features,
});

describe('the fixture tables', () => {
  it.each([
    'simple_table',
    'simple_table_with_checkpoint',
    'checkpoints',
    'delta-0.8.0-partitioned',
    'delta-2.2.0-partitioned-types',
    'table_failed_last_checkpoint_update',
  ])('%s (reader version 1) is readable, without column mapping', async (table) => {
    const snapshot = await loadSnapshot(fixtureStore(table), reader.engine);
    expect(() => assertReadable(snapshot.protocol, snapshot.metadata)).not.toThrow();
    expect(columnMappingMode(snapshot.protocol, snapshot.metadata)).toBe('none');
  });

  it('table_with_column_mapping (reader version 2, mode name) is readable by physical names', async () => {
    const snapshot = await loadSnapshot(fixtureStore('table_with_column_mapping'), reader.engine);
    expect(() => assertReadable(snapshot.protocol, snapshot.metadata)).not.toThrow();
    const mode = columnMappingMode(snapshot.protocol, snapshot.metadata);
    expect(mode).toBe('name');
    // The physical names the commit's partitionValues and stats use.
    expect(snapshot.schema.fields.map((field) => physicalName(field, mode))).toEqual([
      'col-173b4db9-b5ad-427f-9e75-516aae37fbbb',
      'col-3877fd94-0973-4941-ac6b-646849a1ff65',
    ]);
    expect(Object.keys(snapshot.files[0]?.partitionValues ?? {})).toEqual([
      physicalName(snapshot.schema.fields[0] as StructField, mode),
    ]);
  });

  it('table-with-dv-small is refused naming deletionVectors unless the reader applies them', async () => {
    const snapshot = await loadSnapshot(fixtureStore('table-with-dv-small'), reader.engine);
    const error = refusal(() =>
      assertReadable(snapshot.protocol, snapshot.metadata, { tableUrl: snapshot.tableUrl }),
    );
    expect(error.feature).toBe('deletionVectors');
    expect(error.operation).toBe('read');
    expect(error.message).toContain(snapshot.tableUrl);
    expect(error.message).toContain('REORG TABLE');
    expect(() =>
      assertReadable(snapshot.protocol, snapshot.metadata, { deletionVectors: true }),
    ).not.toThrow();
  });

  it('simple_table_features (reader version 5, unknown features) is refused naming the version', () => {
    const protocol: Protocol = {
      minReaderVersion: 5,
      minWriterVersion: 7,
      readerFeatures: ['columnMapping', 'blahabl', 'deletionVectors', 'timestampNtz', 'v2Checkpoint'],
    };
    expect(refusal(() => assertLogReadable(protocol)).feature).toBe('minReaderVersion=5');
  });
});

describe('reader versions and features', () => {
  it('reader version 3 without readerFeatures is refused as malformed', () => {
    expect(refusal(() => assertLogReadable({ minReaderVersion: 3, minWriterVersion: 7 })).feature).toBe(
      'readerFeatures',
    );
  });

  it.each([0, 4])('reader version %i is refused', (version) => {
    expect(refusal(() => assertLogReadable({ minReaderVersion: version, minWriterVersion: 2 })).feature).toBe(
      `minReaderVersion=${version}`,
    );
  });

  it('features listed below reader version 3 do not count', () => {
    const protocol = { minReaderVersion: 2, minWriterVersion: 5, readerFeatures: ['blahabl'] };
    expect(() => assertReadable(protocol, metadataWith({}))).not.toThrow();
  });

  it.each(['blahabl', 'v2Checkpoint', 'catalogManaged'])('%s stops even the log from loading', (feature) => {
    const error = refusal(() => assertLogReadable(readerV3([feature]), 'file:///t'));
    expect(error.feature).toBe(feature);
    expect(error.message).toContain('file:///t');
  });

  it.each(['timestampNtz', 'typeWidening', 'variantType'])(
    '%s loads the log but refuses the rows',
    (feature) => {
      expect(() => assertLogReadable(readerV3([feature]))).not.toThrow();
      expect(refusal(() => assertReadable(readerV3([feature]), metadataWith({}))).feature).toBe(feature);
    },
  );

  it('vacuumProtocolCheck asks nothing of readers', () => {
    expect(() => assertReadable(readerV3(['vacuumProtocolCheck']), metadataWith({}))).not.toThrow();
  });

  it('reports what it reads by default', () => {
    expect(supportedReaderFeatures()).toEqual(['columnMapping', 'vacuumProtocolCheck']);
  });
});

describe('column mapping', () => {
  const v2 = { minReaderVersion: 2, minWriterVersion: 5 };
  const field: StructField = {
    name: 'Super Name',
    type: { type: 'primitive', name: 'string' },
    nullable: true,
    metadata: { 'delta.columnMapping.id': 2, 'delta.columnMapping.physicalName': 'col-2' },
  };

  it('is honoured at reader version 3 only with the columnMapping feature', () => {
    const config = metadataWith({ 'delta.columnMapping.mode': 'name' });
    expect(columnMappingMode(readerV3(['columnMapping']), config)).toBe('name');
    expect(columnMappingMode(readerV3(['deletionVectors']), config)).toBe('none');
  });

  it('is not honoured without protocol support: the display name is the physical name', () => {
    const protocol = { minReaderVersion: 1, minWriterVersion: 2 };
    const mode = columnMappingMode(protocol, metadataWith({ 'delta.columnMapping.mode': 'name' }));
    expect(mode).toBe('none');
    expect(physicalName(field, mode)).toBe('Super Name');
  });

  it('mode id is refused naming columnMapping', () => {
    const error = refusal(() => assertReadable(v2, metadataWith({ 'delta.columnMapping.mode': 'id' })));
    expect(error.feature).toBe('columnMapping');
    expect(error.message).toContain('field id');
  });

  it('an unknown mode is refused naming it', () => {
    const error = refusal(() => columnMappingMode(v2, metadataWith({ 'delta.columnMapping.mode': 'hash' })));
    expect(error.feature).toBe('columnMapping');
    expect(error.message).toContain('"hash"');
  });

  it('a mapped field without a physical name is refused naming the column', () => {
    const error = refusal(() => physicalName({ ...field, metadata: {} }, 'name'));
    expect(error.message).toContain('"Super Name"');
  });
});
