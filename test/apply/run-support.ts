import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll } from 'vitest';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import type { Snapshot } from '../../src/delta/snapshot.ts';
import { duckdbEngine } from '../../src/duckdb/duckdb-engine.ts';
import { DuckSession } from '../../src/duckdb/session.ts';
import { readSnapshotRows } from '../../src/duckdb/table-scan.ts';
import type { Item } from '../../src/dynamo/attribute-value.ts';
import { type WrittenChangeFile, writeChangeFile } from '../../src/formats/change-file-writer.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import { rowToPlainItem } from '../../src/lake/row-to-item.ts';
import { readTableLayout, SYSTEM_COLUMN } from '../../src/lake/table-layout.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { SAMPLE_EXPORT } from '../support/fixtures.ts';

/*
 * What the apply run tests share: temporary landing areas and table folders, the sample export,
 * change records written as capture writes them (real change files, dated as capture would have
 * written them), and a table read back as one canonical item text per key.
 */

export const MINUTE = 60_000;
/** T of the sample full export: 2026-11-23T00:00:00Z. */
export const SAMPLE_T = Date.parse('2026-11-23T00:00:00.000Z');
export const SAMPLE_EXPORT_ID = '01795392000000-5a1c9e20';
export const SAMPLE_INCREMENTAL_ID = '01795392900000-c07e5b19';

/**
 * The clock of runs over the sample export: two hours after its T, later than every change the
 * tests date after T. Apply reads the clock to date its batches (and to settle old change-file
 * partitions two days behind them), so a run over inputs dated at T must be given this clock, not
 * the real one: with the real clock the sample's partitions count as settled two days after T.
 */
export const SAMPLE_NOW = SAMPLE_T + 120 * MINUTE;
export const sampleClock = (): number => SAMPLE_NOW;
export const TABLE = 'orders';

const folders: string[] = [];
afterAll(async () => {
  await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
});

/** A fresh folder store, removed after the test file. */
export async function tempStore(label: string): Promise<LocalFolderStore> {
  const folder = await mkdtemp(path.join(tmpdir(), `ddb-lake-${label}-`));
  folders.push(folder);
  return new LocalFolderStore(folder);
}

/**
 * A landing area holding the sample exports; `incremental: false` leaves the incremental one out.
 * With `exportTime`, every time in them is moved by the same amount so that the full export's T is
 * `exportTime` (summaries, the incremental export's window and write timestamps, and the checksums
 * over them written anew): for runs of ddb-lake processes, which read the real clock, the inputs
 * are dated from that clock instead.
 */
export async function sampleLanding(
  options: { readonly incremental?: boolean; readonly exportTime?: number } = {},
): Promise<LocalFolderStore> {
  const store = await tempStore('landing');
  const exports = path.join(store.rootDir, 'AWSDynamoDB');
  await cp(path.join(SAMPLE_EXPORT, 'AWSDynamoDB', SAMPLE_EXPORT_ID), path.join(exports, SAMPLE_EXPORT_ID), {
    recursive: true,
  });
  if (options.incremental !== false) {
    await cp(
      path.join(SAMPLE_EXPORT, 'AWSDynamoDB', SAMPLE_INCREMENTAL_ID),
      path.join(exports, SAMPLE_INCREMENTAL_ID),
      { recursive: true },
    );
    await cp(path.join(SAMPLE_EXPORT, 'AWSDynamoDB', 'data'), path.join(exports, 'data'), {
      recursive: true,
    });
  }
  if (options.exportTime !== undefined) {
    const shiftMs = options.exportTime - SAMPLE_T;
    await shiftExport(exports, SAMPLE_EXPORT_ID, shiftMs);
    if (options.incremental !== false) await shiftExport(exports, SAMPLE_INCREMENTAL_ID, shiftMs);
  }
  return store;
}

const SUMMARY_TIMES = ['startTime', 'endTime', 'exportTime', 'exportFromTime', 'exportToTime'];

function base64Md5(bytes: string | Uint8Array): string {
  return createHash('md5').update(bytes).digest('base64');
}

/** Moves every time of one copied export by `shiftMs`, its data's write timestamps included. */
async function shiftExport(exports: string, exportId: string, shiftMs: number): Promise<void> {
  const dir = path.join(exports, exportId);
  const summary = JSON.parse(await readFile(path.join(dir, 'manifest-summary.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  for (const field of SUMMARY_TIMES) {
    const value = summary[field];
    if (typeof value === 'string') summary[field] = new Date(Date.parse(value) + shiftMs).toISOString();
  }
  const lines: string[] = [];
  for (const line of (await readFile(path.join(dir, 'manifest-files.json'), 'utf8')).split('\n')) {
    if (line.trim() === '') continue;
    const entry = JSON.parse(line) as { md5Checksum: string; etag: string; dataFileS3Key: string };
    if (summary['exportType'] === 'INCREMENTAL_EXPORT') {
      const file = path.join(path.dirname(exports), entry.dataFileS3Key);
      const text = gunzipSync(await readFile(file)).toString('utf8');
      // Only the write timestamps move; every other member, numbers included, keeps its text.
      const moved = text.replace(
        /"WriteTimestampMicros":\{"N":"(\d+)"\}/g,
        (_, micros: string) => `"WriteTimestampMicros":{"N":"${BigInt(micros) + BigInt(shiftMs) * 1000n}"}`,
      );
      const gz = gzipSync(moved);
      await writeFile(file, gz);
      entry.md5Checksum = base64Md5(gz);
      entry.etag = `${createHash('md5').update(gz).digest('hex')}-1`;
    }
    lines.push(JSON.stringify(entry));
  }
  const files = `${lines.join('\n')}\n`;
  await writeFile(path.join(dir, 'manifest-files.json'), files);
  await writeFile(path.join(dir, 'manifest-files.md5'), base64Md5(files));
  const summaryText = JSON.stringify(summary);
  await writeFile(path.join(dir, 'manifest-summary.json'), summaryText);
  await writeFile(path.join(dir, 'manifest-summary.md5'), base64Md5(summaryText));
}

/** An order's key attributes. */
export function orderKeys(pk: string, sk: string): Item {
  return { pk: { S: pk }, sk: { S: sk } };
}

/** A stream record of the orders table: a put of `attributes` (INSERT / MODIFY) or a REMOVE. */
export function change(options: {
  readonly op: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly pk: string;
  readonly sk: string;
  readonly seq: bigint;
  readonly ts: number;
  readonly attributes?: Item;
  readonly old?: Item | null;
  readonly shard?: string;
  readonly ttl?: boolean;
}): ChangeRecord {
  const keys = orderKeys(options.pk, options.sk);
  return {
    op: options.op,
    keys,
    new: options.op === 'REMOVE' ? null : { ...keys, ...(options.attributes ?? {}) },
    old: options.old === undefined || options.old === null ? null : { ...keys, ...options.old },
    seq: options.seq.toString(),
    shard: options.shard ?? 'shardId-00000001795390000000-0000aaaa',
    ts: options.ts,
    ttl: options.ttl ?? false,
    eventId: `event-${options.seq}`,
  };
}

/** A stream sequence number: 21 digits and more, as DynamoDB writes them. */
export function seq(n: number): bigint {
  return 100_000_000_000_000_000_000n + BigInt(n) * 100n;
}

/**
 * Writes `records` (one shard, ascending seq) as a change file with the real writer, dated a
 * second after its last record as capture would have written it.
 */
export async function capture(
  landing: LocalFolderStore,
  records: readonly ChangeRecord[],
): Promise<WrittenChangeFile> {
  const written = await writeChangeFile(landing, TABLE, records);
  const at = new Date(Math.max(...records.map((record) => record.ts)) + 1000);
  await utimes(path.join(landing.rootDir, written.key), at, at);
  return written;
}

/** A record that proves capture ran from before T − margin (it is skipped: the snapshot holds it). */
export function coverageRecord(n = 1, exportTime = SAMPLE_T): ChangeRecord {
  return change({
    op: 'MODIFY',
    pk: 'customer#9',
    sk: 'coverage',
    seq: seq(n),
    ts: exportTime - 20 * MINUTE,
    attributes: { note: { S: 'before the window' } },
  });
}

/** The table read back: one canonical item text per `_ddb_key`, and the rows' system cells. */
export interface TableState {
  readonly snapshot: Snapshot;
  /** `_ddb_key` → canonical plain JSON of the item. */
  readonly items: ReadonlyMap<string, string>;
  /** `_ddb_key` → [_ddb_seq, _ddb_source, _ddb_deleted?]. */
  readonly system: ReadonlyMap<string, readonly unknown[]>;
  /** Rows read (a key held twice shows as rows > items.size). */
  readonly rows: number;
}

/** Reads the latest version of the table at `delta`. */
export async function readTable(delta: ObjectStore): Promise<TableState> {
  const session = await DuckSession.open({ threads: 1 });
  try {
    const snapshot = await loadSnapshot(delta, duckdbEngine(session));
    const layout = readTableLayout(snapshot.metadata.configuration);
    const rows = await readSnapshotRows(session, delta, snapshot, { orderBy: [SYSTEM_COLUMN.key] });
    const items = new Map<string, string>();
    const system = new Map<string, unknown[]>();
    for (const row of rows) {
      const key = row[SYSTEM_COLUMN.key] as string;
      items.set(key, rowToPlainItem(row, layout, snapshot.schema));
      system.set(key, [row[SYSTEM_COLUMN.seq], row[SYSTEM_COLUMN.source], row[SYSTEM_COLUMN.deleted]]);
    }
    return { snapshot, items, system, rows: rows.length };
  } finally {
    await session.close();
  }
}

/** The `_ddb_key` of an order. */
export function orderKey(pk: string, sk: string): string {
  return JSON.stringify({ pk, sk });
}
