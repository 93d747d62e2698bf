import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeletionVectorDescriptor } from '../../src/delta/actions.ts';
import { DeltaUnsupportedFeatureError } from '../../src/delta/errors.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import { deltaTypeText } from '../../src/delta/schema.ts';
import type { Snapshot } from '../../src/delta/snapshot.ts';
import {
  DELTA_EXPECTED,
  DELTA_FIXTURES,
  fixtureStore,
  openReaderEngine,
  type ReaderEngine,
} from './reader-helpers.ts';

/*
 * Every table written by Spark and delta-rs, at every version, against the expected-output files in
 * test/fixtures/delta-expected/ (derived from the JSON commits alone, by a separate script; see its
 * README). Tables with a checkpoint are loaded through it, so the checkpoint path is checked against
 * the commits.
 */

interface ExpectedVersion {
  readonly files: readonly {
    path: string;
    deletionVectorId: string | null;
    partitionValues: Record<string, string | null>;
    size: number;
  }[];
  readonly tombstones: readonly { path: string; deletionVectorId: string | null }[];
  readonly protocol: unknown;
  readonly tableId: string;
  readonly schema: readonly [string, string][];
  readonly partitionColumns: readonly string[];
  readonly configuration: Record<string, string>;
  readonly txns: Record<string, number>;
  readonly operation: string | null;
}

interface ExpectedTable {
  readonly table: string;
  readonly latestVersion: number;
  readonly versions: Record<string, ExpectedVersion>;
}

const expectedTables: ExpectedTable[] = readdirSync(DELTA_EXPECTED)
  .filter((name) => name.endsWith('.json'))
  .map((name) => JSON.parse(readFileSync(path.join(DELTA_EXPECTED, name), 'utf8')) as ExpectedTable);

/**
 * The checkpoint each load must start from, read off the fixture folders: only these two tables
 * have checkpoints (10 for simple_table_with_checkpoint; 1 and 3 for
 * table_failed_last_checkpoint_update, whose _last_checkpoint still says 1).
 */
const CHECKPOINT_USED: Record<string, (version: number) => number | null> = {
  simple_table_with_checkpoint: (v) => (v >= 10 ? 10 : null),
  table_failed_last_checkpoint_update: (v) => (v >= 3 ? 3 : v >= 1 ? 1 : null),
};

/** The spec's `uniqueId`, spelled out here rather than taken from the code under test. */
function dvId(dv: DeletionVectorDescriptor | null | undefined): string | null {
  if (dv === undefined || dv === null) return null;
  return dv.offset === undefined || dv.offset === null
    ? `${dv.storageType}${dv.pathOrInlineDv}`
    : `${dv.storageType}${dv.pathOrInlineDv}@${dv.offset}`;
}

function observed(snapshot: Snapshot): ExpectedVersion {
  return {
    files: snapshot.files.map((file) => ({
      path: file.path,
      deletionVectorId: dvId(file.deletionVector),
      partitionValues: { ...file.partitionValues },
      size: file.size,
    })),
    tombstones: snapshot.tombstones.map((file) => ({
      path: file.path,
      deletionVectorId: dvId(file.deletionVector),
    })),
    protocol: snapshot.protocol,
    tableId: snapshot.metadata.id,
    schema: snapshot.schema.fields.map((field): [string, string] => [field.name, deltaTypeText(field.type)]),
    partitionColumns: snapshot.partitionColumns,
    configuration: { ...snapshot.metadata.configuration },
    txns: Object.fromEntries([...snapshot.txns].map(([appId, txn]) => [appId, txn.version])),
    operation: (snapshot.commitInfo?.operation as string | undefined) ?? null,
  };
}

let reader: ReaderEngine;
beforeAll(async () => {
  reader = await openReaderEngine();
});
afterAll(async () => {
  await reader.session.close();
});

describe('every fixture table has an expected-output file', () => {
  it('lists each table folder but the refused simple_table_features', () => {
    const tables = readdirSync(DELTA_FIXTURES, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && entry.name !== 'simple_table_features')
      .map((entry) => entry.name)
      .sort();
    expect(expectedTables.map((table) => table.table).sort()).toEqual(tables);
  });
});

describe.each(expectedTables)('fixture table $table', (expected) => {
  it(`loads the latest version, ${expected.latestVersion}, with the expected state`, async () => {
    const snapshot = await loadSnapshot(fixtureStore(expected.table), reader.engine);
    expect(snapshot.version).toBe(expected.latestVersion);
    expect(snapshot.tableUrl).toBe(fixtureStore(expected.table).url);
    expect(observed(snapshot)).toEqual(expected.versions[String(expected.latestVersion)]);
    expect(snapshot.checkpointVersion).toBe(CHECKPOINT_USED[expected.table]?.(snapshot.version) ?? null);
  });

  it.each(Object.keys(expected.versions).map(Number))('time travels to version %i', async (version) => {
    const snapshot = await loadSnapshot(fixtureStore(expected.table), reader.engine, { version });
    expect(snapshot.version).toBe(version);
    expect(observed(snapshot)).toEqual(expected.versions[String(version)]);
    expect(snapshot.checkpointVersion).toBe(CHECKPOINT_USED[expected.table]?.(version) ?? null);
    expect(snapshot.partitionColumns).toEqual(snapshot.metadata.partitionColumns);
  });
});

describe('fixture details the expected files do not spell out', () => {
  it('keeps a null partition value as null (delta-0.8.0-null-partition)', async () => {
    const snapshot = await loadSnapshot(fixtureStore('delta-0.8.0-null-partition'), reader.engine);
    // The commit writes {"k":null} for the __HIVE_DEFAULT_PARTITION__ folder.
    const nullFile = snapshot.files.find((file) => file.path.startsWith('k=__HIVE_DEFAULT_PARTITION__/'));
    expect(nullFile?.partitionValues).toEqual({ k: null });
  });

  it('reads add.stats of a delta-rs checkpoint as the JSON text of the commit', async () => {
    const snapshot = await loadSnapshot(fixtureStore('table_failed_last_checkpoint_update'), reader.engine);
    // From 00000000000000000003.json, the last add: its stats string, byte for byte.
    const file = snapshot.files.find(
      (f) => f.path === 'part-00001-bea93a33-9112-41a5-aca6-c2d1f2c43873-c000.snappy.parquet',
    );
    expect(file?.stats).toBe(
      '{"numRecords":5,"minValues":{"id":"1","sold":0,"deleted":false,"price":0},"maxValues":{"deleted":false,"id":"5","price":4,"sold":4},"nullCount":{"id":0,"price":0,"sold":0,"deleted":0}}',
    );
    expect(file).not.toHaveProperty('stats_parsed');
  });

  it('parses the nested struct of the checkpoints table', async () => {
    const snapshot = await loadSnapshot(fixtureStore('checkpoints'), reader.engine, { version: 0 });
    const struct = snapshot.schema.fields[0];
    expect(struct?.name).toBe('some_struct');
    expect(struct?.type).toEqual({
      type: 'struct',
      fields: [
        {
          name: 'some_struct_member',
          type: { type: 'primitive', name: 'string' },
          nullable: true,
          metadata: {},
        },
        {
          name: 'some_struct_timestamp',
          type: { type: 'primitive', name: 'timestamp' },
          nullable: true,
          metadata: {},
        },
      ],
    });
  });

  it('keeps the column mapping metadata of table_with_column_mapping', async () => {
    const snapshot = await loadSnapshot(fixtureStore('table_with_column_mapping'), reader.engine);
    expect(snapshot.schema.fields.map((field) => field.metadata['delta.columnMapping.physicalName'])).toEqual(
      ['col-173b4db9-b5ad-427f-9e75-516aae37fbbb', 'col-3877fd94-0973-4941-ac6b-646849a1ff65'],
    );
  });

  it('refuses simple_table_features, naming its reader version 5', async () => {
    const error = await loadSnapshot(fixtureStore('simple_table_features'), reader.engine).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DeltaUnsupportedFeatureError);
    expect((error as DeltaUnsupportedFeatureError).feature).toBe('minReaderVersion=5');
    expect((error as Error).message).toContain('reader version 5');
    expect((error as Error).message).toContain('simple_table_features');
  });
});
