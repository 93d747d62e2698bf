import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dataFileKey } from '../../src/delta/data-path.ts';
import type { DeltaType } from '../../src/delta/schema.ts';
import { writeDataFiles } from '../../src/duckdb/data-file-writer.ts';
import { computeFileStats, computeFilesStats } from '../../src/duckdb/file-stats.ts';
import { loadLakeRows } from '../../src/duckdb/lake-rows.ts';
import { formatDate, formatDecimal, formatTimestampMicros } from '../../src/duckdb/lake-text.ts';
import { DuckSession } from '../../src/duckdb/session.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { TempFolders } from '../storage/helpers.ts';
import {
  arrayOf,
  BINARY,
  BOOLEAN,
  DATE,
  DOUBLE,
  decimal,
  INTEGER,
  LONG,
  STRING,
  schemaOf,
  TIMESTAMP,
} from './support.ts';

const folders = new TempFolders();
let session: DuckSession;

beforeAll(async () => {
  session = await DuckSession.open({ threads: 2 });
});

afterAll(async () => {
  await session.close();
  await folders.removeAll();
});

const NESTED: DeltaType = {
  type: 'struct',
  fields: [
    { name: 'n', type: INTEGER, nullable: true, metadata: {} },
    { name: 's', type: STRING, nullable: true, metadata: {} },
  ],
};

const SCHEMA = schemaOf([
  ['id', LONG],
  ['amount', decimal(38, 10)],
  ['at', TIMESTAMP],
  ['name', STRING],
  ['raw', BINARY],
  ['ok', BOOLEAN],
  ['tags', arrayOf(STRING)],
  ['score', DOUBLE],
  ['day', DATE],
  ['empty', STRING],
  ['st', NESTED],
]);

async function statsOf(rows: Parameters<typeof loadLakeRows>[3]): Promise<string> {
  const store = new LocalFolderStore(await folders.make('stats'));
  await loadLakeRows(session, 'stats_rows', SCHEMA, rows);
  const [add] = await writeDataFiles(session, store, { source: 'stats_rows', schema: SCHEMA });
  return add?.stats ?? '';
}

describe('per-file statistics', () => {
  test('the stats text is exact: int64 limits, 38-digit decimals, ms-floored timestamps, cut strings', async () => {
    const stats = await statsOf([
      {
        id: 9223372036854775807n,
        amount: '9999999999999999999999999999.9999999999',
        at: '1969-12-31T23:59:59.999999Z',
        name: 'z'.repeat(40),
        raw: new Uint8Array([0]),
        ok: true,
        tags: ['a'],
        score: Number.NaN,
        day: '2026-02-28',
        st: { n: 1, s: 'x' },
      },
      {
        id: -9223372036854775808n,
        amount: '-0.0000000001',
        at: '2026-11-23T00:00:00.123999Z',
        name: 'a',
        score: Number.NEGATIVE_INFINITY,
        day: '0001-01-01',
        st: { n: -5, s: null },
      },
      {},
    ]);
    const cutMax = JSON.stringify(`${'z'.repeat(32)}\u007F`);
    expect(stats).toBe(
      '{"numRecords":3,' +
        '"minValues":{"id":-9223372036854775808,"amount":-0.0000000001,"at":"1969-12-31T23:59:59.999Z","name":"a","score":"-Infinity","day":"0001-01-01","st":{"n":-5,"s":"x"}},' +
        `"maxValues":{"id":9223372036854775807,"amount":9999999999999999999999999999.9999999999,"at":"2026-11-23T00:00:00.123Z","name":${cutMax},"score":"NaN","day":"2026-02-28","st":{"n":1,"s":"x"}},` +
        '"nullCount":{"id":1,"amount":1,"at":1,"name":1,"raw":2,"ok":2,"tags":2,"score":1,"day":1,"empty":3,"st":{"n":1,"s":2}}}',
    );
  });

  test('longs and decimals are JSON numbers with every digit (no JS number on the way)', async () => {
    const stats = await statsOf([
      { id: 9007199254740993n, amount: '1234567890123456789012345678.0123456789' },
      { id: 9007199254740995n, amount: '1234567890123456789012345678.0123456788' },
    ]);
    expect(stats).toContain(
      '"minValues":{"id":9007199254740993,"amount":1234567890123456789012345678.0123456788',
    );
    expect(stats).toContain(
      '"maxValues":{"id":9007199254740995,"amount":1234567890123456789012345678.0123456789',
    );
  });

  test('a file whose columns are all null has no min or max, and counts every row as null', async () => {
    const stats = await statsOf([{}, {}]);
    expect(stats).toBe(
      '{"numRecords":2,"minValues":{},"maxValues":{},"nullCount":{"id":2,"amount":2,"at":2,"name":2,"raw":2,"ok":2,"tags":2,"score":2,"day":2,"empty":2,"st":{"n":2,"s":2}}}',
    );
  });

  test('the stats are valid JSON whose numbers match the written values', async () => {
    const stats = await statsOf([
      { id: 5n, score: 1.5, at: '2026-01-01T00:00:00Z' },
      { id: -3n, score: 0.25 },
    ]);
    const parsed = JSON.parse(stats);
    expect(parsed.numRecords).toBe(2);
    expect(parsed.minValues).toMatchObject({ id: -3, score: 0.25, at: '2026-01-01T00:00:00.000Z' });
    expect(parsed.maxValues).toMatchObject({ id: 5, score: 1.5 });
  });
});

describe('the statistics of several files at once', () => {
  test('one call for several files gives each file the stats its own call gives, in the order asked', async () => {
    const store = new LocalFolderStore(await folders.make('stats-many'));
    const batches: Parameters<typeof loadLakeRows>[3][] = [
      [{ id: 1n, name: 'b', tags: ['x'], score: 2.5 }, { id: 7n }],
      [{}, {}, {}],
      [{ id: -4n, amount: '-1.5', at: '2026-03-01T00:00:00Z', st: { n: 3, s: 'q' }, tags: null }],
    ];
    const files: string[] = [];
    const adds: string[] = [];
    for (const rows of batches) {
      await loadLakeRows(session, 'many_rows', SCHEMA, rows);
      const [add] = await writeDataFiles(session, store, { source: 'many_rows', schema: SCHEMA });
      if (add === undefined) throw new Error('no file');
      files.push(path.join(store.rootDir, dataFileKey(add.path, store.url)));
      adds.push(add.stats ?? '');
    }
    const together = await computeFilesStats(
      session,
      [
        { localPath: files[2] as string },
        { localPath: files[0] as string, numRecords: 2 },
        { localPath: files[1] as string },
      ],
      SCHEMA.fields,
    );
    expect(together.map((stats) => stats.json)).toEqual([adds[2], adds[0], adds[1]]);
    for (const [index, file] of files.entries()) {
      expect((await computeFileStats(session, file, SCHEMA.fields)).json).toBe(adds[index]);
    }
    expect(together.map((stats) => stats.numRecords)).toEqual([1, 2, 3]);
  });
});

describe('the two sources of statistics', () => {
  const longText = fc
    .tuple(
      fc.constantFrom('a', 'z', 'é', '🚀', '\u007F', '\uFFFD'),
      fc.integer({ min: 20, max: 300 }),
      fc.string({ unit: 'grapheme', maxLength: 4 }),
    )
    .map(([char, count, tail]) => char.repeat(count) + tail);
  const text = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), longText);
  const micros = fc.bigInt({ min: -62135596800000000n, max: 253402300799999999n });
  const row = fc.record({
    id: fc.option(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })),
    amount: fc.option(
      fc.bigInt({ min: -(10n ** 38n) + 1n, max: 10n ** 38n - 1n }).map((n) => formatDecimal(n, 10)),
    ),
    at: fc.option(micros.map((m) => formatTimestampMicros(m, true))),
    name: fc.option(text),
    raw: fc.option(fc.uint8Array({ maxLength: 4 })),
    ok: fc.option(fc.boolean()),
    tags: fc.option(fc.array(fc.option(text), { maxLength: 3 })),
    score: fc.option(fc.oneof(fc.double(), fc.constantFrom(Number.NaN, -0, 0, Number.POSITIVE_INFINITY))),
    day: fc.option(fc.integer({ min: -719162, max: 2932896 }).map(formatDate)),
    empty: fc.constant(null),
    st: fc.option(
      fc.record({ n: fc.option(fc.integer({ min: -2147483648, max: 2147483647 })), s: fc.option(text) }),
    ),
  });

  test('stats from the writer’s column statistics equal stats from the aggregate alone, on random files', async () => {
    const store = new LocalFolderStore(await folders.make('stats-agree'));
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 12 }), async (rows) => {
        await loadLakeRows(session, 'random_rows', SCHEMA, rows);
        const [add] = await writeDataFiles(session, store, { source: 'random_rows', schema: SCHEMA });
        if (add === undefined) throw new Error('no file');
        const file = path.join(store.rootDir, dataFileKey(add.path, store.url));
        const aggregated = await computeFileStats(session, file, SCHEMA.fields);
        expect(add.stats).toBe(aggregated.json);
      }),
      { numRuns: 60 },
    );
  });
});
