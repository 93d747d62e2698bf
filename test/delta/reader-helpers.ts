import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DeltaEngine } from '../../src/delta/engine.ts';
import { decodeCheckpoint } from '../../src/duckdb/checkpoint-decode.ts';
import { DuckSession } from '../../src/duckdb/session.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';

/** The Delta tables written by Spark and delta-rs (test/fixtures/delta/README.md). */
export const DELTA_FIXTURES = path.resolve(import.meta.dirname, '../fixtures/delta');

/** The expected snapshots of those tables (test/fixtures/delta-expected/README.md). */
export const DELTA_EXPECTED = path.resolve(import.meta.dirname, '../fixtures/delta-expected');

/** A read-only store over one fixture table. */
export function fixtureStore(table: string): LocalFolderStore {
  return new LocalFolderStore(path.join(DELTA_FIXTURES, table));
}

/** A DuckDB session and a Delta engine that decodes checkpoints with it (encoding is not needed to read). */
export interface ReaderEngine {
  readonly session: DuckSession;
  readonly engine: DeltaEngine;
}

export async function openReaderEngine(): Promise<ReaderEngine> {
  const session = await DuckSession.open({ threads: 2 });
  const engine: DeltaEngine = {
    checkpoints: {
      decode: (bytes, file) => decodeCheckpoint(session, bytes, file),
      encode: async () => {
        throw new Error('the reader tests never write a checkpoint');
      },
    },
  };
  return { session, engine };
}

/** A private copy of a fixture table (for tests that damage it), and its removal. */
export interface TableCopy {
  readonly dir: string;
  readonly store: LocalFolderStore;
  remove(): Promise<void>;
}

export async function copyFixture(table: string): Promise<TableCopy> {
  const parent = await mkdtemp(path.join(os.tmpdir(), 'ddb-lake-delta-reader-'));
  const dir = path.join(parent, table);
  await cp(path.join(DELTA_FIXTURES, table), dir, { recursive: true });
  return {
    dir,
    store: new LocalFolderStore(dir),
    remove: () => rm(parent, { recursive: true, force: true }),
  };
}

/** The log key of commit `version`. */
export function commitPath(dir: string, version: number): string {
  return path.join(dir, '_delta_log', `${String(version).padStart(20, '0')}.json`);
}
