import { readFileSync } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DeltaLogCorruptError,
  DeltaUnsupportedFeatureError,
  DeltaVersionNotFoundError,
} from '../../src/delta/errors.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import { quoteLiteral } from '../../src/duckdb/session.ts';
import {
  commitPath,
  copyFixture,
  DELTA_EXPECTED,
  openReaderEngine,
  type ReaderEngine,
  type TableCopy,
} from './reader-helpers.ts';

/*
 * Checkpoints and `_last_checkpoint` (PROTOCOL.md, "Checkpoints", "Last Checkpoint File"), on
 * copies of simple_table_with_checkpoint (commits 0 to 10, a classic checkpoint at 10 written by
 * Spark, _last_checkpoint {"version":10}) and table_failed_last_checkpoint_update (delta-rs:
 * checkpoints at 1 and 3, _last_checkpoint still {"version":1}).
 */

const WITH_CHECKPOINT = 'simple_table_with_checkpoint';
const CHECKPOINT_10 = '00000000000000000010.checkpoint.parquet';

/** The active paths at version 10, from the expected-output file (derived from the JSON commits). */
const EXPECTED_V10: string[] = (
  JSON.parse(readFileSync(path.join(DELTA_EXPECTED, `${WITH_CHECKPOINT}.json`), 'utf8')) as {
    versions: Record<string, { files: { path: string }[] }>;
  }
).versions['10']?.files.map((file) => file.path) as string[];

let reader: ReaderEngine;
const copies: TableCopy[] = [];

beforeAll(async () => {
  reader = await openReaderEngine();
});
afterAll(async () => {
  await reader.session.close();
});
afterEach(async () => {
  for (const copy of copies.splice(0)) await copy.remove();
});

async function copy(table = WITH_CHECKPOINT): Promise<TableCopy> {
  const made = await copyFixture(table);
  copies.push(made);
  return made;
}

function logFile(table: TableCopy, name: string): string {
  return path.join(table.dir, '_delta_log', name);
}

/** Splits the classic checkpoint at 10 into two parts (rows 0–5 and 6–12) with DuckDB, and removes it. */
async function splitCheckpoint(table: TableCopy): Promise<[string, string]> {
  const source = quoteLiteral(logFile(table, CHECKPOINT_10));
  const parts: [string, string] = [
    '00000000000000000010.checkpoint.0000000001.0000000002.parquet',
    '00000000000000000010.checkpoint.0000000002.0000000002.parquet',
  ];
  const ranges = ['file_row_number < 6', 'file_row_number >= 6'];
  for (let i = 0; i < 2; i++) {
    await reader.session.run(
      `COPY (SELECT * EXCLUDE (file_row_number) FROM read_parquet(${source}, file_row_number = true) WHERE ${ranges[i]})
       TO ${quoteLiteral(logFile(table, parts[i] as string))} (FORMAT parquet)`,
    );
  }
  await unlink(logFile(table, CHECKPOINT_10));
  return parts;
}

describe('the checkpoint a snapshot starts from', () => {
  it('a _last_checkpoint older than the newest checkpoint does not hide it', async () => {
    const table = await copy('table_failed_last_checkpoint_update');
    expect(readFileSync(logFile(table, '_last_checkpoint'), 'utf8')).toContain('"version":1');
    const snapshot = await loadSnapshot(table.store, reader.engine);
    expect(snapshot.checkpointVersion).toBe(3);
    expect(snapshot.version).toBe(3);
    expect(snapshot.files).toHaveLength(4);
  });

  it('a _last_checkpoint naming a version without a checkpoint leads to the one after it', async () => {
    const table = await copy();
    await writeFile(logFile(table, '_last_checkpoint'), '{"version":7,"size":9}');
    const snapshot = await loadSnapshot(table.store, reader.engine);
    expect(snapshot.checkpointVersion).toBe(10);
    expect(snapshot.files.map((f) => f.path)).toEqual(EXPECTED_V10);
  });

  it.each([
    ['garbage', 'not json at all'],
    ['ahead of the log', '{"version":99,"size":13}'],
    ['naming no version', '{"size":13}'],
  ])('a _last_checkpoint %s is only a hint: the listing finds the checkpoint', async (_label, text) => {
    const table = await copy();
    await writeFile(logFile(table, '_last_checkpoint'), text);
    const snapshot = await loadSnapshot(table.store, reader.engine);
    expect(snapshot.version).toBe(10);
    expect(snapshot.checkpointVersion).toBe(10);
    expect(snapshot.files.map((f) => f.path)).toEqual(EXPECTED_V10);
  });

  it('without _last_checkpoint the checkpoint is found by listing', async () => {
    const table = await copy();
    await unlink(logFile(table, '_last_checkpoint'));
    expect((await loadSnapshot(table.store, reader.engine)).checkpointVersion).toBe(10);
  });

  it('time travel below the hint lists from the start and replays the commits', async () => {
    const table = await copy('table_failed_last_checkpoint_update');
    const snapshot = await loadSnapshot(table.store, reader.engine, { version: 0 });
    expect(snapshot.checkpointVersion).toBeNull();
    expect(snapshot.files).toHaveLength(1);
  });

  it('reads the state from the checkpoint, not from the commits before it', async () => {
    const table = await copy();
    // Were commit 3 read, its garbage would be refused.
    await writeFile(commitPath(table.dir, 3), 'garbage');
    const snapshot = await loadSnapshot(table.store, reader.engine);
    expect(snapshot.files.map((f) => f.path)).toEqual(EXPECTED_V10);
  });
});

describe('multi-part checkpoints', () => {
  it('a complete two-part checkpoint gives the same state as the classic one', async () => {
    const table = await copy();
    await splitCheckpoint(table);
    await writeFile(commitPath(table.dir, 3), 'garbage, so only the parts can have been read');
    const snapshot = await loadSnapshot(table.store, reader.engine);
    expect(snapshot.checkpointVersion).toBe(10);
    expect(snapshot.files.map((f) => f.path)).toEqual(EXPECTED_V10);
    expect(snapshot.protocol).toEqual({ minReaderVersion: 1, minWriterVersion: 2 });
    expect(snapshot.metadata.id).toBe('cf3741a3-5f93-434f-99ac-9a4bebcdf06c');
  });

  it('a checkpoint with a missing part is ignored: replay starts at version 0', async () => {
    const table = await copy();
    const [, second] = await splitCheckpoint(table);
    await unlink(logFile(table, second));
    const snapshot = await loadSnapshot(table.store, reader.engine);
    expect(snapshot.checkpointVersion).toBeNull();
    expect(snapshot.files.map((f) => f.path)).toEqual(EXPECTED_V10);
  });
});

describe('a cleaned-up log', () => {
  async function cleaned(): Promise<TableCopy> {
    const table = await copy();
    for (let v = 0; v < 10; v++) await unlink(commitPath(table.dir, v));
    return table;
  }

  it('loads the latest version from the checkpoint alone', async () => {
    const table = await cleaned();
    const snapshot = await loadSnapshot(table.store, reader.engine);
    expect(snapshot.version).toBe(10);
    expect(snapshot.files.map((f) => f.path)).toEqual(EXPECTED_V10);
    expect(snapshot.commitInfo?.operation).toBe('WRITE');
  });

  it('a log holding only the checkpoint still loads, without commitInfo', async () => {
    const table = await cleaned();
    await unlink(commitPath(table.dir, 10));
    const snapshot = await loadSnapshot(table.store, reader.engine);
    expect(snapshot.version).toBe(10);
    expect(snapshot.commitInfo).toBeNull();
    expect(snapshot.files.map((f) => f.path)).toEqual(EXPECTED_V10);
  });

  it('refuses a version before the checkpoint as no longer reconstructable', async () => {
    const table = await cleaned();
    const error = await loadSnapshot(table.store, reader.engine, { version: 5 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeltaVersionNotFoundError);
    expect((error as Error).message).toContain('Version 5');
    expect((error as Error).message).toContain('can no longer be reconstructed');
  });
});

describe('checkpoints ddb-lake cannot use', () => {
  it('a corrupt checkpoint is refused naming the file', async () => {
    const table = await copy();
    await writeFile(logFile(table, CHECKPOINT_10), 'PAR1 this is not parquet PAR1');
    const error = await loadSnapshot(table.store, reader.engine).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeltaLogCorruptError);
    expect((error as DeltaLogCorruptError).file).toBe(`_delta_log/${CHECKPOINT_10}`);
    expect((error as Error).message).toContain('is not a readable Parquet file');
  });

  it('a newest checkpoint that is UUID-named (V2) is refused naming v2Checkpoint', async () => {
    const table = await copy();
    await rename(
      logFile(table, CHECKPOINT_10),
      logFile(table, '00000000000000000010.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.parquet'),
    );
    const error = await loadSnapshot(table.store, reader.engine).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeltaUnsupportedFeatureError);
    expect((error as DeltaUnsupportedFeatureError).feature).toBe('v2Checkpoint');
    // Before it, the log is classic.
    expect((await loadSnapshot(table.store, reader.engine, { version: 9 })).files).toHaveLength(10);
  });

  it('a classic checkpoint holding a sidecar (V2 spec) is refused naming v2Checkpoint', async () => {
    const table = await copy();
    const source = quoteLiteral(logFile(table, CHECKPOINT_10));
    const target = quoteLiteral(logFile(table, 'v2.parquet'));
    await reader.session.run(
      `COPY (
         SELECT *, NULL::STRUCT(path VARCHAR, sizeInBytes BIGINT, modificationTime BIGINT) AS sidecar FROM read_parquet(${source})
         UNION ALL BY NAME
         SELECT {'path': '016ae953-37a9-438e-8683-9a9a4a79a395.parquet', 'sizeInBytes': 10, 'modificationTime': 1} AS sidecar
       ) TO ${target} (FORMAT parquet)`,
    );
    await rename(logFile(table, 'v2.parquet'), logFile(table, CHECKPOINT_10));
    const error = await loadSnapshot(table.store, reader.engine).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeltaUnsupportedFeatureError);
    expect((error as DeltaUnsupportedFeatureError).feature).toBe('v2Checkpoint');
    expect((error as Error).message).toContain(CHECKPOINT_10);
  });
});
