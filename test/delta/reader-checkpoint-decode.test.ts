import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Action } from '../../src/delta/actions.ts';
import { DeltaLogCorruptError } from '../../src/delta/errors.ts';
import { decodeCheckpoint } from '../../src/duckdb/checkpoint-decode.ts';
import { quoteLiteral } from '../../src/duckdb/session.ts';
import { DELTA_FIXTURES, openReaderEngine, type ReaderEngine } from './reader-helpers.ts';

/*
 * decodeCheckpoint over the checkpoints Spark and delta-rs wrote, and over checkpoints written here
 * with DuckDB SQL to reach the layouts the fixtures lack. Expected values come from the JSON commits
 * of the same tables (a checkpoint holds what the commits before it add up to).
 */

let reader: ReaderEngine;
beforeAll(async () => {
  reader = await openReaderEngine();
});
afterAll(async () => {
  await reader.session.close();
});

async function decodeFixture(table: string, name: string): Promise<Action[]> {
  const key = `_delta_log/${name}`;
  return decodeCheckpoint(reader.session, await readFile(path.join(DELTA_FIXTURES, table, key)), key);
}

/** Writes the result of `select` as a Parquet file with DuckDB and returns its bytes. */
async function parquetOf(select: string): Promise<Uint8Array> {
  const file = path.join(reader.session.scratchDir, `made-${Math.random().toString(36).slice(2)}.parquet`);
  await reader.session.run(`COPY (${select}) TO ${quoteLiteral(file)} (FORMAT parquet)`);
  return readFile(file);
}

function firstCommitMetadata(table: string): unknown {
  const text = readFileSync(path.join(DELTA_FIXTURES, table, '_delta_log/00000000000000000000.json'), 'utf8');
  for (const line of text.split('\n')) if (line.includes('"metaData"')) return JSON.parse(line).metaData;
  throw new Error('no metaData');
}

describe('checkpoints written by other engines', () => {
  it('reads the Spark checkpoint of simple_table_with_checkpoint: 11 adds, protocol, metaData', async () => {
    const actions = await decodeFixture(
      'simple_table_with_checkpoint',
      '00000000000000000010.checkpoint.parquet',
    );
    // _last_checkpoint says size 13; commits 0–10 add one file each.
    expect(actions).toHaveLength(13);
    const adds = actions.flatMap((a) => ('add' in a ? [a.add] : []));
    expect(adds).toHaveLength(11);
    expect(actions.filter((a) => 'protocol' in a)).toEqual([
      { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
    ]);
    const metadata = actions.flatMap((a) => ('metaData' in a ? [a.metaData] : []));
    expect(metadata).toEqual([firstCommitMetadata('simple_table_with_checkpoint')]);
    // The add of commit 10, as Spark checkpoints it: dataChange false, null stats and tags left out.
    expect(
      adds.find((a) => a.path === 'part-00000-f0e955c5-a1e3-4eec-834e-dcc098fc9005-c000.snappy.parquet'),
    ).toEqual({
      path: 'part-00000-f0e955c5-a1e3-4eec-834e-dcc098fc9005-c000.snappy.parquet',
      partitionValues: {},
      size: 442,
      modificationTime: 1615751716698,
      dataChange: false,
    });
  });

  it('reads the delta-rs checkpoint of table_failed_last_checkpoint_update without stats_parsed', async () => {
    const actions = await decodeFixture(
      'table_failed_last_checkpoint_update',
      '00000000000000000003.checkpoint.parquet',
    );
    // _last_checkpoint of the table would say 6 actions for it: protocol, metaData, four adds.
    expect(actions).toHaveLength(6);
    const add = actions.flatMap((a) => ('add' in a ? [a.add] : [])).find((a) => a.path.includes('9c90a84d'));
    // Commit 0's add, except dataChange (false in a checkpoint) and the nulls left out.
    expect(add).toEqual({
      path: 'part-00001-9c90a84d-6999-463c-bd2d-f68333e6d03d-c000.snappy.parquet',
      size: 1432,
      modificationTime: 1709986334424,
      dataChange: false,
      stats:
        '{"numRecords":5,"minValues":{"deleted":false,"id":"1","sold":0,"price":0},"maxValues":{"price":4,"id":"5","deleted":false,"sold":4},"nullCount":{"deleted":0,"id":0,"price":0,"sold":0}}',
      partitionValues: {},
      tags: {},
    });
  });
});

describe('layouts made here', () => {
  it('keeps null map values, drops null struct fields, and reads txn, remove and domainMetadata', async () => {
    const bytes = await parquetOf(`
      SELECT {'appId': 'pipeline', 'version': 42::BIGINT, 'lastUpdated': NULL::BIGINT} AS txn,
             NULL::STRUCT(path VARCHAR, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, modificationTime BIGINT,
                          dataChange BOOLEAN, stats VARCHAR,
                          deletionVector STRUCT(storageType VARCHAR, pathOrInlineDv VARCHAR, "offset" INTEGER,
                                                sizeInBytes INTEGER, cardinality BIGINT)) AS add,
             NULL::STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN) AS remove,
             NULL::STRUCT(domain VARCHAR, configuration VARCHAR, removed BOOLEAN) AS domainMetadata
      UNION ALL BY NAME
      SELECT {'path': 'k=__HIVE_DEFAULT_PARTITION__/a.parquet', 'partitionValues': MAP {'k': NULL::VARCHAR, 'j': 'x'},
              'size': 10::BIGINT, 'modificationTime': 5::BIGINT, 'dataChange': false, 'stats': NULL::VARCHAR,
              'deletionVector': {'storageType': 'u', 'pathOrInlineDv': 'vBn[lx{q8@P<9BNH/isA', 'offset': 1,
                                 'sizeInBytes': 36, 'cardinality': 2::BIGINT}} AS add
      UNION ALL BY NAME
      SELECT {'path': 'old.parquet', 'deletionTimestamp': 7::BIGINT, 'dataChange': true} AS remove
      UNION ALL BY NAME
      SELECT {'domain': 'delta.rowTracking', 'configuration': '{"rowIdHighWaterMark":9}', 'removed': false} AS domainMetadata
    `);
    const actions = await decodeCheckpoint(
      reader.session,
      bytes,
      '_delta_log/00000000000000000002.checkpoint.parquet',
    );
    // A UNION ALL need not keep its order in the file: compare as a set.
    expect(actions).toHaveLength(4);
    expect(actions).toEqual(
      expect.arrayContaining([
        { txn: { appId: 'pipeline', version: 42 } },
        {
          add: {
            path: 'k=__HIVE_DEFAULT_PARTITION__/a.parquet',
            partitionValues: { k: null, j: 'x' },
            size: 10,
            modificationTime: 5,
            dataChange: false,
            deletionVector: {
              storageType: 'u',
              pathOrInlineDv: 'vBn[lx{q8@P<9BNH/isA',
              offset: 1,
              sizeInBytes: 36,
              cardinality: 2,
            },
          },
        },
        { remove: { path: 'old.parquet', deletionTimestamp: 7, dataChange: true } },
        {
          domainMetadata: {
            domain: 'delta.rowTracking',
            configuration: '{"rowIdHighWaterMark":9}',
            removed: false,
          },
        },
      ]),
    );
  });

  it('returns a V2 column it does not know (sidecar) as an "other" action for the replay to judge', async () => {
    const bytes = await parquetOf(`
      SELECT {'minReaderVersion': 3, 'minWriterVersion': 7} AS protocol, NULL::STRUCT(path VARCHAR, sizeInBytes BIGINT) AS sidecar
      UNION ALL BY NAME SELECT {'path': 's.parquet', 'sizeInBytes': 3::BIGINT} AS sidecar`);
    const actions = await decodeCheckpoint(reader.session, bytes, 'c');
    expect(actions).toHaveLength(2);
    expect(actions).toContainEqual({
      other: { name: 'sidecar', value: { path: 's.parquet', sizeInBytes: 3 } },
    });
  });
});

describe('checkpoints that cannot be read', () => {
  it('bytes that are not Parquet are refused naming the file', async () => {
    const file = '_delta_log/00000000000000000010.checkpoint.parquet';
    const error = await decodeCheckpoint(reader.session, new TextEncoder().encode('not parquet'), file).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(DeltaLogCorruptError);
    expect((error as DeltaLogCorruptError).file).toBe(file);
    expect((error as Error).message).toContain(file);
  });

  it('a Parquet file without any action column is refused', async () => {
    const bytes = await parquetOf(`SELECT 1 AS id, 'x' AS name`);
    const error = await decodeCheckpoint(reader.session, bytes, 'ck').catch((e) => e);
    expect(error).toBeInstanceOf(DeltaLogCorruptError);
    expect((error as Error).message).toContain('has none of the action columns');
  });

  it('a row whose add has no path is refused naming the file and the row', async () => {
    const bytes = await parquetOf(
      `SELECT {'path': NULL::VARCHAR, 'partitionValues': MAP {}::MAP(VARCHAR, VARCHAR), 'size': 1::BIGINT,
               'modificationTime': 1::BIGINT, 'dataChange': true} AS add`,
    );
    const error = await decodeCheckpoint(reader.session, bytes, 'ck.parquet').catch((e) => e);
    expect(error).toBeInstanceOf(DeltaLogCorruptError);
    expect((error as Error).message).toContain('ck.parquet line 1: add.path must be a string');
  });

  it('a long past 2^53 is refused, not rounded', async () => {
    const bytes = await parquetOf(`SELECT {'appId': 'a', 'version': 9007199254740993::BIGINT} AS txn`);
    const error = await decodeCheckpoint(reader.session, bytes, 'ck.parquet').catch((e) => e);
    expect(error).toBeInstanceOf(DeltaLogCorruptError);
    expect((error as Error).message).toContain('txn.version must be an integer below 2^53');
  });

  it('leaves no file behind in the scratch folder', async () => {
    const before = (await readdir(reader.session.scratchDir)).filter((name) =>
      name.startsWith('checkpoint-'),
    );
    await decodeCheckpoint(reader.session, new TextEncoder().encode('x'), 'ck').catch(() => undefined);
    await decodeFixture('simple_table_with_checkpoint', '00000000000000000010.checkpoint.parquet');
    const after = (await readdir(reader.session.scratchDir)).filter((name) => name.startsWith('checkpoint-'));
    expect(after).toEqual(before);
  });
});
