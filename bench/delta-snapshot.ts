/*
 * How long loading the latest snapshot of a long-lived table takes, with and without a checkpoint.
 *
 *   npm run bench:delta-snapshot [-- --commits 1000] [-- --files-per-commit 1] [-- --rounds 5]
 *
 * Builds one log of `--commits` versions in a temporary folder as apply leaves it: commit 0
 * creates the table, every later commit adds data files (names and stats only: loading a snapshot
 * never opens a data file) and a `txn`, every tenth also removes a file, so the table carries
 * active files, tombstones and a txn. Then loads the latest snapshot
 *   (a) from the JSON commits alone (no checkpoint in the log);
 *   (b) from a checkpoint at the latest version (written by writeCheckpoint into a copy);
 *   (c) from a checkpoint ten versions back and the nine commits after it (a table with the
 *       default checkpoint interval, just before its next checkpoint);
 * in alternating rounds, and prints the best time of each and the ratios against (a).
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Action, AddFile } from '../src/delta/actions.ts';
import { serializeCommitFile } from '../src/delta/actions.ts';
import { ENGINE_INFO } from '../src/delta/commit-info.ts';
import { createTable } from '../src/delta/create-table.ts';
import { loadSnapshot } from '../src/delta/load-snapshot.ts';
import { commitFileKey } from '../src/delta/log-files.ts';
import type { StructType } from '../src/delta/schema.ts';
import { writeCheckpoint } from '../src/delta/write-checkpoint.ts';
import { duckdbEngine } from '../src/duckdb/duckdb-engine.ts';
import { DuckSession } from '../src/duckdb/session.ts';
import { LocalFolderStore } from '../src/storage/local-folder-store.ts';
import { recordBenchResults } from './results.ts';

const SCHEMA: StructType = {
  type: 'struct',
  fields: ['pk', 'sk', 'status', '_ddb_seq', '_ddb_source'].map((name) => ({
    name,
    type: { type: 'primitive', name: 'string' } as const,
    nullable: true,
    metadata: {},
  })),
};

function dataFile(version: number, index: number, now: number): AddFile {
  const id = `${String(version).padStart(8, '0')}-${String(index).padStart(4, '0')}`;
  return {
    path: `part-${id}.zstd.parquet`,
    partitionValues: {},
    size: 1_048_576 + version,
    modificationTime: now,
    dataChange: true,
    stats: JSON.stringify({
      numRecords: 1000,
      minValues: { pk: `customer#${id}`, sk: 'order#0000' },
      maxValues: { pk: `customer#${id}~`, sk: 'order#9999' },
      nullCount: { pk: 0, sk: 0, status: 12, _ddb_seq: 0, _ddb_source: 0 },
    }),
  };
}

/** Writes versions 1…commits-1 after createTable's version 0, as apply would leave them. */
async function buildLog(store: LocalFolderStore, commits: number, filesPerCommit: number): Promise<void> {
  await createTable(store, { schema: SCHEMA });
  const now = Date.now();
  for (let version = 1; version < commits; version++) {
    const actions: Action[] = [
      { commitInfo: { timestamp: now, operation: 'WRITE', engineInfo: ENGINE_INFO } },
      { txn: { appId: 'bench-pipeline', version, lastUpdated: now } },
    ];
    for (let index = 0; index < filesPerCommit; index++) actions.push({ add: dataFile(version, index, now) });
    if (version % 10 === 0) {
      const gone = dataFile(version - 5, 0, now);
      actions.push({
        remove: {
          path: gone.path,
          deletionTimestamp: now,
          dataChange: true,
          extendedFileMetadata: true,
          partitionValues: {},
          size: gone.size,
        },
      });
    }
    await store.put(commitFileKey(version), serializeCommitFile(actions));
  }
}

async function timeLoad(
  store: LocalFolderStore,
  session: DuckSession,
  expectedVersion: number,
): Promise<number> {
  const started = performance.now();
  const snapshot = await loadSnapshot(store, duckdbEngine(session));
  const seconds = (performance.now() - started) / 1000;
  if (snapshot.version !== expectedVersion) {
    throw new Error(`loaded version ${snapshot.version}, expected ${expectedVersion}`);
  }
  return seconds;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: number): number => {
    const at = args.indexOf(name);
    return at >= 0 ? Number(args[at + 1]) : fallback;
  };
  const commits = option('--commits', 1000);
  const filesPerCommit = option('--files-per-commit', 1);
  const rounds = option('--rounds', 5);
  const latest = commits - 1;

  const root = await mkdtemp(path.join(tmpdir(), 'ddb-lake-bench-snapshot-'));
  const session = await DuckSession.open();
  try {
    const plain = new LocalFolderStore(path.join(root, 'commits-only'));
    const started = performance.now();
    await buildLog(plain, commits, filesPerCommit);
    const atLatest = new LocalFolderStore(path.join(root, 'checkpoint-at-latest'));
    const tenBack = new LocalFolderStore(path.join(root, 'checkpoint-ten-back'));
    await cp(plain.rootDir, atLatest.rootDir, { recursive: true });
    await cp(plain.rootDir, tenBack.rootDir, { recursive: true });
    const engine = duckdbEngine(session);
    await writeCheckpoint(atLatest, engine, await loadSnapshot(plain, engine));
    await writeCheckpoint(tenBack, engine, await loadSnapshot(plain, engine, { version: latest - 9 }));
    const snapshot = await loadSnapshot(plain, engine);
    console.log(
      `a log of ${commits.toLocaleString('en-US')} commits (${snapshot.files.length.toLocaleString('en-US')} active files, ` +
        `${snapshot.tombstones.length} tombstones) built in ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
        `best of ${rounds} rounds after one warm-up`,
    );

    const cases = [
      { name: '(a) JSON commits only', store: plain },
      { name: '(b) checkpoint at the latest version', store: atLatest },
      { name: '(c) checkpoint 10 versions back + 9 commits', store: tenBack },
    ];
    const times = cases.map(() => [] as number[]);
    for (const c of cases) await timeLoad(c.store, session, latest);
    for (let round = 0; round < rounds; round++) {
      for (const [index, c] of cases.entries()) times[index]?.push(await timeLoad(c.store, session, latest));
    }
    const best = times.map((list) => Math.min(...list));
    const baseline = best[0] as number;
    for (const [index, c] of cases.entries()) {
      const seconds = best[index] as number;
      console.log(
        `${c.name.padEnd(46)} ${(seconds * 1000).toFixed(1).padStart(8)} ms   ${(baseline / seconds).toFixed(1).padStart(5)}× faster than (a)`,
      );
    }
    // The baseline is (a), the log without checkpoints; ours are the two checkpointed logs.
    recordBenchResults(
      'delta-snapshot',
      { commits, filesPerCommit, rounds },
      [
        { metric: 'load from a checkpoint at the latest version vs JSON commits', at: 1 },
        { metric: 'load from a checkpoint 10 versions back + 9 commits vs JSON commits', at: 2 },
      ].map(({ metric, at }) => ({
        metric,
        unit: 'ms',
        ours: (best[at] as number) * 1000,
        baseline: baseline * 1000,
        better: 'lower' as const,
      })),
    );
  } finally {
    await session.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
