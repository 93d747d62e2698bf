import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Item } from '../../src/dynamo/attribute-value.ts';
import type { BadLine } from '../../src/formats/bad-line.ts';
import {
  BadInputError,
  BadManifestError,
  ChecksumMismatchError,
  CorruptGzipError,
  ItemCountMismatchError,
} from '../../src/formats/errors.ts';
import { listExports, openExport } from '../../src/formats/export-layout.ts';
import {
  type ExportChange,
  type ExportItem,
  readExportChanges,
  readExportItems,
} from '../../src/formats/export-reader.ts';
import { S3_SERVER_CREDENTIALS, type S3Server, startS3Server } from '../../src/local/s3-server.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { openStore } from '../../src/storage/open-store.ts';
import {
  copyOfFixture,
  FIXTURE_EXPORT,
  FULL_EXPORT_DIR,
  gzipLines,
  INCREMENTAL_EXPORT_DIR,
  rewriteDataFile,
  sameItem,
  textOf,
} from './support.ts';

/** Every line of the fixture's data files, in manifest order, parsed as plain JSON. */
async function fixtureLines(
  exportDir: string,
): Promise<{ file: string; line: number; json: Record<string, Item> }[]> {
  const manifest = await readFile(path.join(FIXTURE_EXPORT, exportDir, 'manifest-files.json'), 'utf8');
  const result = [];
  for (const entry of manifest.split('\n').filter((line) => line !== '')) {
    const file = (JSON.parse(entry) as { dataFileS3Key: string }).dataFileS3Key;
    const lines = await gzipLines(path.join(FIXTURE_EXPORT, file));
    result.push(...lines.map((text, index) => ({ file, line: index + 1, json: JSON.parse(text) })));
  }
  return result;
}

async function allItems(store: ObjectStore, dir: string, collect?: BadLine[]): Promise<ExportItem[]> {
  const opened = await openExport(store, dir);
  const items: ExportItem[] = [];
  const options = collect === undefined ? {} : { onBadLine: (bad: BadLine) => void collect.push(bad) };
  for await (const item of readExportItems(store, opened, options)) items.push(item);
  return items;
}

async function allChanges(store: ObjectStore, dir: string): Promise<ExportChange[]> {
  const changes: ExportChange[] = [];
  for await (const change of readExportChanges(store, await openExport(store, dir))) changes.push(change);
  return changes;
}

/** Reads the fixture from a store and checks it against the raw lines of its files. */
async function expectFixtureContents(store: ObjectStore, base = ''): Promise<void> {
  const items = await allItems(store, `${base}${FULL_EXPORT_DIR}`);
  const expectedItems = await fixtureLines(FULL_EXPORT_DIR);
  expect(items.length).toBe(4);
  expect(items.map((i) => [i.file, i.line])).toEqual(expectedItems.map((e) => [`${base}${e.file}`, e.line]));
  items.forEach((read, index) => {
    expect(sameItem(read.item, expectedItems[index]?.json['Item'])).toBe(true);
  });

  const changes = await allChanges(store, `${base}${INCREMENTAL_EXPORT_DIR}`);
  const expectedChanges = await fixtureLines(INCREMENTAL_EXPORT_DIR);
  expect(changes.map((c) => [c.file, c.line])).toEqual(
    expectedChanges.map((e) => [`${base}${e.file}`, e.line]),
  );
  changes.forEach((read, index) => {
    const raw = expectedChanges[index]?.json as Record<string, Item>;
    expect(sameItem(read.keys, raw['Keys'])).toBe(true);
    expect(sameItem(read.newImage, raw['NewImage'])).toBe(true);
    expect(sameItem(read.oldImage, raw['OldImage'])).toBe(true);
    expect(read.writeTimestampMicros).toBe(textOf((raw['Metadata'] as Item)['WriteTimestampMicros']));
  });
  // The fixture's README: an update, a delete (no NewImage) and an insert (no OldImage).
  expect(changes.map((c) => [c.newImage !== undefined, c.oldImage !== undefined])).toEqual([
    [true, true],
    [false, true],
    [true, false],
  ]);
}

describe('native export from a local folder', () => {
  const store = new LocalFolderStore(FIXTURE_EXPORT);

  it('reads exactly the items and the incremental records of the sample export', async () => {
    await expectFixtureContents(store);
  });

  it('keeps numbers exact: 38 digits, 1E+125, -1E-130 and 0.1000000000000000000000000000000000001', async () => {
    const items = await allItems(store, FULL_EXPORT_DIR);
    const byKey = new Map(items.map((i) => [`${textOf(i.item['pk'])}/${textOf(i.item['sk'])}`, i.item]));
    expect(byKey.get('customer#1/order#0002')?.['total']).toEqual({
      N: '12345678901234567890123456789012345678',
    });
    expect(byKey.get('customer#3/order#0001')?.['qty']).toEqual({
      N: '0.1000000000000000000000000000000000001',
    });
    const deep = byKey.get('customer#2/profile')?.['meta'] as {
      M: { nested: { M: { deep: { L: { N: string }[] } } } };
    };
    expect(BigInt(deep.M.nested.M.deep.L[0]?.N ?? '')).toBe(10n ** 125n);
  });

  it('lists both complete exports with their typed summaries', async () => {
    const exports = await listExports(store);
    expect(exports.map((e) => [e.exportId, e.dir])).toEqual([
      ['01795392000000-5a1c9e20', FULL_EXPORT_DIR],
      ['01795392900000-c07e5b19', INCREMENTAL_EXPORT_DIR],
    ]);
    const [full, incremental] = exports.map((e) => e.summary);
    expect(full).toMatchObject({
      exportType: 'FULL_EXPORT',
      exportTime: '2026-11-23T00:00:00.000Z',
      tableArn: 'arn:aws:dynamodb:us-east-1:111122223333:table/orders',
      s3Bucket: 'example-lake-bucket',
      s3Prefix: null,
      itemCount: 4,
      outputFormat: 'DYNAMODB_JSON',
    });
    expect(incremental).toMatchObject({
      exportType: 'INCREMENTAL_EXPORT',
      exportFromTime: '2026-11-23T00:00:00.000Z',
      exportToTime: '2026-11-23T00:15:00.000Z',
      outputView: 'NEW_AND_OLD_IMAGES',
      itemCount: 3,
    });
  });

  it('maps the manifest data file keys, including the shared AWSDynamoDB/data folder', async () => {
    const opened = await openExport(store, INCREMENTAL_EXPORT_DIR);
    expect(opened.files.map((f) => [f.key, f.itemCount])).toEqual([
      ['AWSDynamoDB/data/m5t8wq3zk2ry7vbx4dc9nh6jpa.json.gz', 2],
      ['AWSDynamoDB/data/h2x7rk5cq8wn3tzv6ymb4dj9se.json.gz', 1],
    ]);
  });

  it('refuses to read an incremental export as items and a full one as changes', async () => {
    await expect(allItems(store, INCREMENTAL_EXPORT_DIR)).rejects.toMatchObject({
      code: 'WRONG_EXPORT_TYPE',
    });
    await expect(allChanges(store, FULL_EXPORT_DIR)).rejects.toMatchObject({ code: 'WRONG_EXPORT_TYPE' });
  });
});

describe('native export from an S3-compatible server', () => {
  let server: S3Server;

  beforeAll(async () => {
    server = await startS3Server({ buckets: ['lake'] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function upload(prefix: string): Promise<void> {
    const store = openStore(`s3://lake${prefix === '' ? '' : `/${prefix}`}`, s3Options());
    const files = (await readdir(FIXTURE_EXPORT, { recursive: true, withFileTypes: true })).filter((e) =>
      e.isFile(),
    );
    for (const file of files) {
      const full = path.join(file.parentPath, file.name);
      await store.put(path.relative(FIXTURE_EXPORT, full).split(path.sep).join('/'), await readFile(full));
    }
    await store.close();
  }

  function s3Options() {
    return { endpointUrl: server.endpoint, region: 'us-east-1', credentials: { ...S3_SERVER_CREDENTIALS } };
  }

  it('reads the same items and records from the bucket root and from a store opened below it', async () => {
    await upload('');
    const root = openStore('s3://lake', s3Options());
    try {
      await expectFixtureContents(root);
      expect((await listExports(root)).map((e) => e.exportId)).toEqual([
        '01795392000000-5a1c9e20',
        '01795392900000-c07e5b19',
      ]);
    } finally {
      await root.close();
    }

    // The same tree copied under a folder, opened once at the folder and once at the bucket root.
    await upload('copy');
    const below = openStore('s3://lake/copy', s3Options());
    try {
      await expectFixtureContents(below);
    } finally {
      await below.close();
    }
    const above = openStore('s3://lake', s3Options());
    try {
      await expectFixtureContents(above, 'copy/');
      expect((await listExports(above, { under: 'copy/' })).map((e) => e.dir)).toEqual([
        `copy/${FULL_EXPORT_DIR}`,
        `copy/${INCREMENTAL_EXPORT_DIR}`,
      ]);
    } finally {
      await above.close();
    }
  });
});

describe('damaged exports', () => {
  const firstData = 'AWSDynamoDB/01795392000000-5a1c9e20/data/a3kq7m2xw5v4pdz6nj8hbyrtce.json.gz';
  const goodLines = async () => gzipLines(path.join(FIXTURE_EXPORT, firstData));

  it('does not list or open an export whose manifest-summary.json is not written yet', async () => {
    const root = await copyOfFixture();
    await rm(path.join(root, FULL_EXPORT_DIR, 'manifest-summary.json'));
    const store = new LocalFolderStore(root);
    expect((await listExports(store)).map((e) => e.dir)).toEqual([INCREMENTAL_EXPORT_DIR]);
    await expect(openExport(store, FULL_EXPORT_DIR)).rejects.toBeInstanceOf(BadManifestError);
  });

  it('refuses a manifest that does not match its .md5, naming the manifest', async () => {
    const root = await copyOfFixture();
    const manifest = path.join(root, FULL_EXPORT_DIR, 'manifest-files.json');
    await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('"itemCount":3', '"itemCount":2'));
    const error = await openExport(new LocalFolderStore(root), FULL_EXPORT_DIR).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChecksumMismatchError);
    expect(error).toMatchObject({
      file: `${FULL_EXPORT_DIR}manifest-files.json`,
      expected: 'BWix13ulGMyIHOQV5UGXIg==',
    });

    const summary = path.join(root, INCREMENTAL_EXPORT_DIR, 'manifest-summary.json');
    await writeFile(summary, (await readFile(summary, 'utf8')).replace('"itemCount":3', '"itemCount":4'));
    await expect(openExport(new LocalFolderStore(root), INCREMENTAL_EXPORT_DIR)).rejects.toMatchObject({
      code: 'CHECKSUM_MISMATCH',
      file: `${INCREMENTAL_EXPORT_DIR}manifest-summary.json`,
    });
  });

  it('refuses to read an ION export, saying what to do', async () => {
    const root = await copyOfFixture();
    const summary = path.join(root, FULL_EXPORT_DIR, 'manifest-summary.json');
    await writeFile(summary, (await readFile(summary, 'utf8')).replace('"DYNAMODB_JSON"', '"ION"'));
    await rm(path.join(root, FULL_EXPORT_DIR, 'manifest-summary.md5'));
    const error = await allItems(new LocalFolderStore(root), FULL_EXPORT_DIR).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UNSUPPORTED_EXPORT_FORMAT' });
    expect((error as Error).message).toContain('DYNAMODB_JSON');
  });

  it('refuses file item counts that do not add up to the summary', async () => {
    const root = await copyOfFixture();
    const manifest = path.join(root, FULL_EXPORT_DIR, 'manifest-files.json');
    await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('"itemCount":3', '"itemCount":2'));
    await rm(path.join(root, FULL_EXPORT_DIR, 'manifest-files.md5'));
    await expect(openExport(new LocalFolderStore(root), FULL_EXPORT_DIR)).rejects.toMatchObject({
      code: 'BAD_MANIFEST',
      file: `${FULL_EXPORT_DIR}manifest-files.json`,
    });
  });

  it('detects a flipped byte at the end of the data file, after its items, naming the file', async () => {
    const root = await copyOfFixture();
    const file = path.join(root, firstData);
    const bytes = await readFile(file);
    bytes[4] = (bytes[4] as number) ^ 0xff; // the gzip header's mtime: still decompresses
    await writeFile(file, bytes);
    const seen: number[] = [];
    const error = await (async () => {
      const store = new LocalFolderStore(root);
      for await (const item of readExportItems(store, await openExport(store, FULL_EXPORT_DIR)))
        seen.push(item.line);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChecksumMismatchError);
    expect(error).toMatchObject({ file: firstData, expected: 'P4Dei6joY71mHpblYDuDSg==' });
    expect(seen).toEqual([1, 2, 3]);
  });

  it('names a flipped byte inside the compressed data as a checksum mismatch of the file', async () => {
    const root = await copyOfFixture();
    const file = path.join(root, firstData);
    const bytes = await readFile(file);
    bytes[Math.floor(bytes.length / 2)] = (bytes[Math.floor(bytes.length / 2)] as number) ^ 0x55;
    await writeFile(file, bytes);
    await expect(allItems(new LocalFolderStore(root), FULL_EXPORT_DIR)).rejects.toMatchObject({
      code: 'CHECKSUM_MISMATCH',
      file: firstData,
    });
  });

  it('reports a truncated data file as CorruptGzipError (recorded MD5) or a mismatch (altered file)', async () => {
    const root = await copyOfFixture();
    const whole = await readFile(path.join(root, firstData));
    await writeFile(path.join(root, firstData), whole.subarray(0, whole.length - 30));
    await expect(allItems(new LocalFolderStore(root), FULL_EXPORT_DIR)).rejects.toMatchObject({
      code: 'CHECKSUM_MISMATCH',
      file: firstData,
      cause: expect.any(CorruptGzipError),
    });

    // The same truncated bytes, recorded as such in the manifest: the gzip itself is the problem.
    await rewriteDataFile(root, FULL_EXPORT_DIR, firstData, whole.subarray(0, whole.length - 30), 3);
    const error = await allItems(new LocalFolderStore(root), FULL_EXPORT_DIR).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptGzipError);
    expect(error).toMatchObject({ file: firstData });
    expect((error as CorruptGzipError).linesRead).toBeLessThan(3);
  });

  it('refuses a wrong itemCount at the end of the file, naming it', async () => {
    const root = await copyOfFixture();
    const bytes = await readFile(path.join(root, firstData));
    await rewriteDataFile(root, FULL_EXPORT_DIR, firstData, bytes, 4);
    const error = await allItems(new LocalFolderStore(root), FULL_EXPORT_DIR).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ItemCountMismatchError);
    expect(error).toMatchObject({ file: firstData, expected: 4, actual: 3 });
  });

  const badLines: [string, (line: string) => string, string][] = [
    ['an unknown type tag', (line) => line.replace('{"N":"129.95"}', '{"D":"129.95"}'), 'Item.total'],
    ['an invalid number', (line) => line.replace('"129.95"', '"12e9.95"'), 'Item.total'],
    ['invalid base64', (line) => line.replace('"3q2+7w=="', '"3q2+7w="'), 'Item.sig'],
    ['a number beyond 38 digits', (line) => line.replace('"129.95"', `"${'9'.repeat(39)}"`), 'Item.total'],
    ['a line that is not {"Item": …}', (line) => line.replace('{"Item":', '{"Items":'), 'Items'],
    ['a nested bad value', (line) => line.replace('{"N":"119.96"}', '{"N":"1.1.1"}'), 'Item.lines[1].price'],
  ];

  it.each(badLines)(
    'refuses %s naming the file, line and attribute path',
    async (_name, damage, attributePath) => {
      const root = await copyOfFixture();
      const lines = await goodLines();
      const lineIndex = lines.findIndex((line) => damage(line) !== line);
      expect(lineIndex).toBeGreaterThanOrEqual(0);
      const damaged = lines.map((line, index) => (index === lineIndex ? damage(line) : line));
      await rewriteDataFile(root, FULL_EXPORT_DIR, firstData, gzipSync(`${damaged.join('\n')}\n`), 3);

      const error = await allItems(new LocalFolderStore(root), FULL_EXPORT_DIR).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BadInputError);
      expect(error).toMatchObject({ file: firstData, line: lineIndex + 1, path: attributePath });

      const collected: BadLine[] = [];
      const items = await allItems(new LocalFolderStore(root), FULL_EXPORT_DIR, collected);
      expect(items.length).toBe(3);
      expect(collected).toEqual([
        {
          file: firstData,
          line: lineIndex + 1,
          path: attributePath,
          reason: expect.any(String),
          text: damaged[lineIndex],
        },
      ]);
    },
  );

  it('collects a line of bad JSON and still checks the file count including it', async () => {
    const root = await copyOfFixture();
    const lines = await goodLines();
    const damaged = [lines[0] as string, '{"Item":', lines[2] as string];
    await rewriteDataFile(root, FULL_EXPORT_DIR, firstData, gzipSync(`${damaged.join('\n')}\n`), 3);
    const collected: BadLine[] = [];
    const items = await allItems(new LocalFolderStore(root), FULL_EXPORT_DIR, collected);
    expect(items.map((i) => [i.file, i.line])).toEqual([
      [firstData, 1],
      [firstData, 3],
      ['AWSDynamoDB/01795392000000-5a1c9e20/data/q9vw2ytb6hk5m3xzr7c4sdn8pa.json.gz', 1],
    ]);
    expect(collected.map((b) => [b.line, b.text])).toEqual([[2, '{"Item":']]);
  });
});
