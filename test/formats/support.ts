import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll } from 'vitest';
import type { AttributeValue, Item } from '../../src/dynamo/attribute-value.ts';
import { compareNumbers } from '../../src/dynamo/number.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';

import { SAMPLE_EXPORT } from '../support/fixtures.ts';

export const FIXTURE_EXPORT = SAMPLE_EXPORT;
export const FULL_EXPORT_DIR = 'AWSDynamoDB/01795392000000-5a1c9e20/';
export const INCREMENTAL_EXPORT_DIR = 'AWSDynamoDB/01795392900000-c07e5b19/';

const tempDirs: string[] = [];
afterAll(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fresh temporary folder, removed after the test file. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ddb-lake-formats-'));
  tempDirs.push(dir);
  return dir;
}

/** A copy of the fixture export tree in a temporary folder, to damage at will. */
export async function copyOfFixture(): Promise<string> {
  const dir = await tempDir();
  await cp(FIXTURE_EXPORT, dir, { recursive: true });
  return dir;
}

/** The lines of a gzip JSON-lines file, without the empty string after a final newline. */
export async function gzipLines(file: string): Promise<string[]> {
  const lines = gunzipSync(await readFile(file))
    .toString('utf8')
    .split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Base64 MD5, as the export manifests record it. */
export function md5Base64(bytes: Uint8Array | string): string {
  return createHash('md5').update(bytes).digest('base64');
}

/** Writes `lines` as a gzip JSON-lines file (each line followed by a newline). */
export async function writeGzipLines(file: string, lines: readonly string[]): Promise<Buffer> {
  const bytes = gzipSync(lines.map((line) => `${line}\n`).join(''));
  await writeFile(file, bytes);
  return bytes;
}

/**
 * Replaces a data file of an export folder and makes manifest-files.json (and its .md5) agree with
 * the new bytes (md5Checksum, itemCount, and the summary's itemCount), so that only the lines
 * themselves are what a test damaged.
 */
export async function rewriteDataFile(
  root: string,
  exportDir: string,
  dataKey: string,
  bytes: Buffer,
  itemCount: number,
): Promise<void> {
  await writeFile(path.join(root, dataKey), bytes);
  const manifestPath = path.join(root, exportDir, 'manifest-files.json');
  const entries = (await readFile(manifestPath, 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { itemCount: number; md5Checksum: string; dataFileS3Key: string });
  let delta = 0;
  for (const entry of entries) {
    if (entry.dataFileS3Key === dataKey) {
      delta = itemCount - entry.itemCount;
      entry.itemCount = itemCount;
      entry.md5Checksum = md5Base64(bytes);
    }
  }
  const manifest = entries.map((entry) => `${JSON.stringify(entry)}\n`).join('');
  await writeFile(manifestPath, manifest);
  await writeFile(path.join(root, exportDir, 'manifest-files.md5'), md5Base64(manifest));
  if (delta !== 0) {
    const summaryPath = path.join(root, exportDir, 'manifest-summary.json');
    const summary = JSON.parse(await readFile(summaryPath, 'utf8')) as { itemCount: number };
    summary.itemCount += delta;
    const text = JSON.stringify(summary);
    await writeFile(summaryPath, text);
    await writeFile(path.join(root, exportDir, 'manifest-summary.md5'), md5Base64(text));
  }
}

/**
 * DynamoDB equality of two values: same type tags, numbers equal by value (so `1E+125` equals its
 * plain form), everything else equal as text, sets and maps compared element by element.
 */
export function sameValue(a: AttributeValue | undefined, b: AttributeValue | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const [tag] = Object.keys(a);
  if (tag === undefined || Object.keys(b).length !== 1 || !(tag in b)) return false;
  const x = (a as Record<string, unknown>)[tag];
  const y = (b as Record<string, unknown>)[tag];
  switch (tag) {
    case 'N':
      return compareNumbers(x as string, y as string) === 0;
    case 'NS': {
      const xs = x as string[];
      const ys = y as string[];
      return xs.length === ys.length && xs.every((n, i) => compareNumbers(n, ys[i] as string) === 0);
    }
    case 'SS':
    case 'BS':
      return JSON.stringify(x) === JSON.stringify(y);
    case 'L': {
      const xs = x as AttributeValue[];
      const ys = y as AttributeValue[];
      return xs.length === ys.length && xs.every((v, i) => sameValue(v, ys[i]));
    }
    case 'M':
      return sameItem(x as Item, y as Item);
    default:
      return x === y;
  }
}

/** DynamoDB equality of two items (see `sameValue`). */
export function sameItem(a: Item | undefined, b: Item | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const names = Object.keys(a);
  return names.length === Object.keys(b).length && names.every((name) => sameValue(a[name], b[name]));
}

/** The text of an S or N value (`undefined` for anything else), for keying items in tests. */
export function textOf(value: AttributeValue | undefined): string | undefined {
  if (value === undefined) return undefined;
  if ('S' in value) return value.S;
  if ('N' in value) return value.N;
  return undefined;
}

let nextSeq = 300000000000000000000n;

/** A valid change record; fields can be overridden. Sequence numbers increase across calls. */
export function changeRecord(overrides: Partial<ChangeRecord> = {}): ChangeRecord {
  nextSeq += 100n;
  const keys: Item = overrides.keys ?? { pk: { S: 'customer#1' }, sk: { S: 'order#0001' } };
  const op = overrides.op ?? 'MODIFY';
  return {
    op,
    keys,
    new: op === 'REMOVE' ? null : { ...keys, total: { N: '139.95' }, paid: { BOOL: false } },
    old: op === 'INSERT' ? null : { ...keys, total: { N: '129.95' }, paid: { BOOL: true } },
    seq: nextSeq.toString(),
    shard: 'shardId-00000001795392000000-0a1b2c3d',
    ts: Date.UTC(2026, 10, 23, 0, 5, 0),
    ttl: false,
    eventId: `event-${nextSeq}`,
    ...overrides,
  };
}
