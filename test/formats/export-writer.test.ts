import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Item } from '../../src/dynamo/attribute-value.ts';
import { BadInputError } from '../../src/formats/errors.ts';
import { listExports, openExport } from '../../src/formats/export-layout.ts';
import { readExportItems } from '../../src/formats/export-reader.ts';
import { ExportWriter } from '../../src/formats/export-writer.ts';
import { S3_SERVER_CREDENTIALS, type S3Server, startS3Server } from '../../src/local/s3-server.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { openStore } from '../../src/storage/open-store.ts';
import { gzipLines, md5Base64, sameItem, tempDir, textOf } from './support.ts';

const TABLE_ARN = 'arn:aws:dynamodb:us-east-1:111122223333:table/orders';
const EXPORT_TIME = new Date(Date.UTC(2026, 10, 23, 1, 0, 0));

/** An item holding every DynamoDB type, different for each `i`. */
function itemOf(i: number): Item {
  return {
    pk: { S: `customer#${i % 97}` },
    sk: { S: `order#${String(i).padStart(6, '0')}` },
    total: { N: `${i}.${i % 100}` },
    big: { N: `${i}${'7'.repeat(30)}` },
    paid: { BOOL: i % 2 === 0 },
    note: i % 5 === 0 ? { NULL: true } : { S: 'x'.repeat(i % 40) },
    sig: { B: Buffer.from([i & 255, (i >> 8) & 255]).toString('base64') },
    tags: { SS: ['a', `t${i}`] },
    scores: { NS: ['1', String(i + 2)] },
    blobs: { BS: ['AAE=', Buffer.from([i & 255, 9]).toString('base64')] },
    lines: { L: [{ M: { sku: { S: `A-${i}` }, price: { N: '9.99' } } }, { L: [{ NULL: true }] }] },
    meta: { M: { nested: { M: { depth: { N: '3' } } } } },
  };
}

async function readBack(store: ObjectStore, dir: string): Promise<Item[]> {
  const items: Item[] = [];
  for await (const read of readExportItems(store, await openExport(store, dir))) items.push(read.item);
  return items;
}

describe('ExportWriter', () => {
  it('writes the native layout that reads back item for item, with real MD5s and item counts', async () => {
    const root = await tempDir();
    const store = new LocalFolderStore(root);
    const writer = await ExportWriter.start(store, {
      tableArn: TABLE_ARN,
      exportTime: EXPORT_TIME,
      maxFileBytes: 20_000,
    });
    expect(writer.exportId).toMatch(new RegExp(`^0${EXPORT_TIME.getTime()}-[0-9a-f]{8}$`));
    const items = Array.from({ length: 500 }, (_, i) => itemOf(i));
    for (const item of items) await writer.write(item);
    expect(await listExports(store)).toEqual([]);
    const summary = await writer.finish();

    expect(summary).toMatchObject({
      exportType: 'FULL_EXPORT',
      itemCount: 500,
      exportTime: EXPORT_TIME.toISOString(),
    });
    const read = await readBack(store, writer.dir);
    expect(read.length).toBe(items.length);
    for (const [index, item] of read.entries()) expect(sameItem(item, items[index])).toBe(true);

    const opened = await openExport(store, writer.dir);
    expect(opened.files.length).toBeGreaterThan(5);
    for (const file of opened.files) {
      expect(file.key).toMatch(new RegExp(`^${writer.dir}data/[a-z2-7]{26}\\.json\\.gz$`));
      const bytes = await readFile(path.join(root, file.key));
      expect(file.md5Checksum).toBe(md5Base64(bytes));
      expect(file.itemCount).toBe((await gzipLines(path.join(root, file.key))).length);
    }
    const listed = [];
    for await (const object of store.list(writer.dir))
      if (!object.key.includes('/data/')) listed.push(object.key);
    expect(listed.map((key) => key.slice(writer.dir.length))).toEqual([
      '_started',
      'manifest-files.json',
      'manifest-files.md5',
      'manifest-summary.json',
      'manifest-summary.md5',
    ]);
    expect((await listExports(store)).map((e) => e.exportId)).toEqual([writer.exportId]);
  });

  it('writes one line {"Item": …} per item', async () => {
    const root = await tempDir();
    const store = new LocalFolderStore(root);
    const writer = await ExportWriter.start(store, { tableArn: TABLE_ARN, exportTime: EXPORT_TIME });
    await writer.write(itemOf(1));
    await writer.finish();
    const [file] = (await openExport(store, writer.dir)).files;
    const lines = await gzipLines(path.join(root, file?.key ?? ''));
    expect(lines.map((line) => Object.keys(JSON.parse(line)))).toEqual([['Item']]);
  });

  it('writes an empty export that reads back as no items', async () => {
    const store = new LocalFolderStore(await tempDir());
    const writer = await ExportWriter.start(store, { tableArn: TABLE_ARN, exportTime: EXPORT_TIME });
    expect((await writer.finish()).itemCount).toBe(0);
    expect(await readBack(store, writer.dir)).toEqual([]);
  });

  it('takes items from parallel parts, each with its own data files', async () => {
    const store = new LocalFolderStore(await tempDir());
    const writer = await ExportWriter.start(store, {
      tableArn: TABLE_ARN,
      exportTime: EXPORT_TIME,
      maxFileBytes: 10_000,
    });
    const segments = [0, 1, 2, 3].map((segment) => ({ part: writer.part(), segment }));
    await Promise.all(
      segments.map(async ({ part, segment }) => {
        for (let i = segment; i < 400; i += 4) await part.write(itemOf(i));
      }),
    );
    await writer.finish();
    const read = await readBack(store, writer.dir);
    const bySk = new Map(read.map((item) => [textOf(item['sk']), item]));
    expect(bySk.size).toBe(400);
    for (let i = 0; i < 400; i++)
      expect(sameItem(bySk.get(`order#${String(i).padStart(6, '0')}`), itemOf(i))).toBe(true);
  });

  it('refuses an invalid item and leaves the export incomplete after abort', async () => {
    const store = new LocalFolderStore(await tempDir());
    const writer = await ExportWriter.start(store, { tableArn: TABLE_ARN, exportTime: EXPORT_TIME });
    await writer.write(itemOf(1));
    await expect(writer.write({ pk: { S: 'a' }, bad: { N: 'NaN' } })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      path: 'Item.bad',
    });
    await expect(writer.write({ pk: { X: 'a' } } as unknown as Item)).rejects.toBeInstanceOf(BadInputError);
    await writer.abort();
    await expect(writer.finish()).rejects.toMatchObject({ code: 'EXPORT_FINISHED' });
    expect(await listExports(store)).toEqual([]);
  });
});

describe('ExportWriter for resumable writers (Scan export)', () => {
  it('says in manifest-summary.json that the export was a scan, keeping exportType FULL_EXPORT and exportTime', async () => {
    const store = new LocalFolderStore(await tempDir());
    const writer = await ExportWriter.start(store, {
      tableArn: TABLE_ARN,
      exportTime: EXPORT_TIME,
      scan: { segments: 8, consistentRead: true },
    });
    await writer.write(itemOf(3));
    const summary = await writer.finish();
    const written = JSON.parse(
      await readFile(path.join(store.rootDir, writer.dir, 'manifest-summary.json'), 'utf8'),
    );
    expect(written).toMatchObject({ exportType: 'FULL_EXPORT', exportTime: EXPORT_TIME.toISOString() });
    expect(written.ddbLakeScan).toEqual({
      startTime: EXPORT_TIME.toISOString(),
      endTime: written.endTime,
      segments: 8,
      consistentRead: true,
    });
    expect(summary.ddbLakeScan).toEqual(written.ddbLakeScan);
    // The readers take it as any full export.
    const [listing] = await listExports(store);
    expect(listing?.summary).toMatchObject({
      exportType: 'FULL_EXPORT',
      exportTime: EXPORT_TIME.toISOString(),
    });
  });

  it('writes no ddbLakeScan field for an export that is not a scan', async () => {
    const store = new LocalFolderStore(await tempDir());
    const writer = await ExportWriter.start(store, { tableArn: TABLE_ARN, exportTime: EXPORT_TIME });
    const summary = await writer.finish();
    expect('ddbLakeScan' in summary).toBe(false);
  });

  it('closes data files only when told, returning what the manifest will list, and continues after a restart', async () => {
    const root = await tempDir();
    const store = new LocalFolderStore(root);
    const options = { tableArn: TABLE_ARN, exportTime: EXPORT_TIME, exportId: '01795392000000-0badc0de' };
    const first = await ExportWriter.start(store, { ...options, maxFileBytes: 100 });
    const part = first.part({ maxFileBytes: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 30; i++) await part.write(itemOf(i));
    expect(part.openFileItems).toBe(30);
    expect(part.openFileBytes).toBeGreaterThan(100);
    const kept = await part.closeFile();
    expect(kept?.itemCount).toBe(30);
    expect(await part.closeFile()).toBeUndefined();
    expect(kept?.md5Checksum).toBe(md5Base64(await readFile(path.join(root, kept?.key ?? ''))));
    // Written after the last file the caller accounted for, then the process "dies".
    for (let i = 30; i < 40; i++) await part.write(itemOf(i));
    await first.abort();

    const second = await ExportWriter.resume(store, options, [kept!]);
    expect(second.dir).toBe(first.dir);
    for (let i = 30; i < 50; i++) await second.write(itemOf(i));
    const summary = await second.finish();
    expect(summary.itemCount).toBe(50);
    const read = await readBack(store, second.dir);
    expect(read.map((item) => textOf(item['sk']))).toEqual(
      Array.from({ length: 50 }, (_, i) => `order#${String(i).padStart(6, '0')}`),
    );
    expect(second.files.map((file) => file.key)[0]).toBe(kept?.key);
    await expect(ExportWriter.resume(store, options, [])).rejects.toMatchObject({ code: 'EXPORT_FINISHED' });
  });
});

describe('ExportWriter on an S3-compatible server', () => {
  let server: S3Server;
  beforeAll(async () => {
    server = await startS3Server({ buckets: ['lake'] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('records bucket-relative keys under the prefix, readable from the prefix and from the bucket root', async () => {
    const options = {
      endpointUrl: server.endpoint,
      region: 'us-east-1',
      credentials: { ...S3_SERVER_CREDENTIALS },
    };
    const landing = openStore('s3://lake/landing', options);
    const root = openStore('s3://lake', options);
    try {
      const writer = await ExportWriter.start(landing, {
        tableArn: TABLE_ARN,
        exportTime: EXPORT_TIME,
        maxFileBytes: 5_000,
      });
      const items = Array.from({ length: 60 }, (_, i) => itemOf(i));
      for (const item of items) await writer.write(item);
      const summary = await writer.finish();
      expect(summary).toMatchObject({
        s3Bucket: 'lake',
        s3Prefix: 'landing',
        manifestFilesS3Key: `landing/${writer.dir}manifest-files.json`,
      });
      const opened = await openExport(landing, writer.dir);
      expect(opened.files.every((f) => f.dataFileS3Key === `landing/${f.key}`)).toBe(true);

      const fromLanding = await readBack(landing, writer.dir);
      const fromRoot = await readBack(root, `landing/${writer.dir}`);
      expect(fromLanding.length).toBe(60);
      for (const [index, item] of fromLanding.entries()) expect(sameItem(item, items[index])).toBe(true);
      expect(fromRoot).toEqual(fromLanding);
    } finally {
      await landing.close();
      await root.close();
    }
  });
});
