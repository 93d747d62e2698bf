import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { type RecordedShardGap, recordShardGap } from '../../src/capture/shard-gap.ts';
import { type WrittenChangeFile, writeChangeFile } from '../../src/formats/change-file-writer.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { SAMPLE_EXPORT } from '../support/fixtures.ts';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

const folders: string[] = [];
afterAll(async () => {
  await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
});

/** A fresh landing area in a temporary folder, removed after the test file. */
export async function tempLanding(): Promise<{ folder: string; store: LocalFolderStore }> {
  const folder = await mkdtemp(path.join(tmpdir(), 'ddb-lake-plan-'));
  folders.push(folder);
  return { folder, store: new LocalFolderStore(folder) };
}

let nextSeq = 100_000_000_000_000_000_000n;

/**
 * Stream records of one shard made at the given times (epoch ms), in stream order: what capture
 * turns into one change file. Sequence numbers grow across calls, as a stream's do, unless
 * `firstSeq` says where they start.
 */
export function shardRecords(shard: string, times: readonly number[], firstSeq?: bigint): ChangeRecord[] {
  if (firstSeq !== undefined) nextSeq = firstSeq - 1000n;
  return times.map((ts, index) => {
    nextSeq += 1000n;
    const keys = { pk: { S: `item#${nextSeq}` } };
    return {
      op: 'INSERT',
      keys,
      new: { ...keys, n: { N: String(index) } },
      old: null,
      seq: nextSeq.toString(),
      shard,
      ts,
      ttl: false,
      eventId: `event-${nextSeq}`,
    };
  });
}

/** One change file to capture: a shard's records made at `times`. */
export interface FileSpec {
  readonly shard: string;
  readonly times: readonly number[];
  /** The first record's sequence number (default: the next one). */
  readonly firstSeq?: bigint;
  /** When capture wrote the file (its lastModified); default a second after its last record. */
  readonly writtenAt?: number;
}

/**
 * Writes one change file per entry with the real change-file writer, as capture does, and dates
 * each file as capture would have written it: just after its last record was made.
 */
export async function captureFiles(
  landing: { readonly folder: string; readonly store: ObjectStore },
  table: string,
  files: readonly FileSpec[],
): Promise<WrittenChangeFile[]> {
  const written: WrittenChangeFile[] = [];
  for (const file of files) {
    const result = await writeChangeFile(
      landing.store,
      table,
      shardRecords(file.shard, file.times, file.firstSeq),
    );
    const writtenAt = new Date(file.writtenAt ?? Math.max(...file.times) + 1000);
    await utimes(path.join(landing.folder, result.key), writtenAt, writtenAt);
    written.push(result);
  }
  return written;
}

/** Records a gap as the stream poller does when the stream trimmed records it had not read. */
export function recordGap(
  store: ObjectStore,
  table: string,
  lost: { readonly from: number | null; readonly until: number },
): Promise<RecordedShardGap> {
  const detectedAt = new Date(lost.until).toISOString();
  return recordShardGap(store, {
    table,
    streamArn: `arn:aws:dynamodb:us-east-1:111122223333:table/${table}/stream/2026-01-01T00:00:00.000`,
    shardId: 'shardId-00000001700000000000-0000gap0',
    reason: 'TRIMMED_DATA_ACCESS',
    afterSequenceNumber: '100000000000000000001',
    beforeSequenceNumber: '100000000000000009999',
    fromTime: lost.from === null ? null : new Date(lost.from).toISOString(),
    toTime: detectedAt,
    detectedAt,
  });
}

let exportsLanded = 0;

/**
 * Lands a complete incremental export of `table` covering [from, to] in the landing area: the sample
 * incremental export's manifest-summary.json with the table and window changed, and its `.md5`.
 */
export async function landIncrementalExport(
  store: ObjectStore,
  table: string,
  window: { readonly from: number; readonly to: number },
): Promise<string> {
  const sample = JSON.parse(
    await readFile(
      path.join(SAMPLE_EXPORT, 'AWSDynamoDB/01795392900000-c07e5b19/manifest-summary.json'),
      'utf8',
    ),
  ) as Record<string, unknown>;
  exportsLanded++;
  const exportId = `${String(window.to).padStart(14, '0')}-${exportsLanded.toString(16).padStart(8, '0')}`;
  const tableArn = `arn:aws:dynamodb:us-east-1:111122223333:table/${table}`;
  const summary = {
    ...sample,
    exportArn: `${tableArn}/export/${exportId}`,
    tableArn,
    exportFromTime: new Date(window.from).toISOString(),
    exportToTime: new Date(window.to).toISOString(),
    manifestFilesS3Key: `AWSDynamoDB/${exportId}/manifest-files.json`,
  };
  const text = JSON.stringify(summary);
  await store.put(`AWSDynamoDB/${exportId}/_started`, '');
  await store.put(`AWSDynamoDB/${exportId}/manifest-summary.json`, text);
  await store.put(
    `AWSDynamoDB/${exportId}/manifest-summary.md5`,
    createHash('md5').update(text).digest('base64'),
  );
  return exportId;
}
