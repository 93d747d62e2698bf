import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ApplyRunError } from '../../src/apply/apply-errors.ts';
import type { ApplyEvent } from '../../src/apply/apply-events.ts';
import { fileRows } from '../../src/apply/bucket-files.ts';
import { type RowShape, winnerRow } from '../../src/apply/changes/batch-rows.ts';
import type { ReducedChange } from '../../src/apply/changes/change-reduction.ts';
import { type FoundSnapshot, findSnapshot } from '../../src/apply/inputs/input-discovery.ts';
import { LakeRowSink } from '../../src/apply/snapshot/lake-row-sink.ts';
import {
  inferSnapshotSchema,
  loadSnapshotRows,
  type SnapshotLoad,
} from '../../src/apply/snapshot/snapshot-load.ts';
import { workerThreadsAvailable } from '../../src/apply/snapshot/snapshot-workers.ts';
import type { StructType } from '../../src/delta/schema.ts';
import { DuckSession, quoteIdentifier, quoteLiteral } from '../../src/duckdb/session.ts';
import type { AttributeValue, Item } from '../../src/dynamo/attribute-value.ts';
import { compareUtf8 } from '../../src/dynamo/plain-json.ts';
import type { BadLine } from '../../src/formats/bad-line.ts';
import { ChecksumMismatchError, CorruptGzipError } from '../../src/formats/errors.ts';
import { readExportItems } from '../../src/formats/export-reader.ts';
import { ExportWriter } from '../../src/formats/export-writer.ts';
import { itemToRow } from '../../src/lake/item-to-row.ts';
import { bucketOf, keyText } from '../../src/lake/key-identity.ts';
import { KeyAttributeError } from '../../src/lake/model-errors.ts';
import { SchemaEvolution } from '../../src/lake/schema-evolution.ts';
import { SNAPSHOT_SEQ } from '../../src/lake/sequence-number.ts';
import { systemCells } from '../../src/lake/system-cells.ts';
import { newTableLayout, SYSTEM_COLUMN, type TableLayout } from '../../src/lake/table-layout.ts';
import { ObjectNotFoundError } from '../../src/storage/errors.ts';
import type { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { tempStore } from './run-support.ts';
import { randomValue, VALUE_TYPES } from './support/random-values.ts';
import { SeededRandom } from './support/seeded-random.ts';

/*
 * The snapshot load's worker threads against the plain single-threaded path: an export of every
 * DynamoDB type, an attribute whose type drifts, numbers that need every column type, NULLs in
 * typed columns and bad lines, spread over several data files; the schema, the bad lines and every
 * cell of the loaded rows must be exactly what schema evolution and itemToRow give reading the
 * export item by item on one thread. Errors thrown inside a worker arrive with their class.
 */

const TABLE = 'drift';
const KEYS = { partition: 'pk', sort: 'sk' } as const;
const T = Date.parse('2026-11-23T00:00:00.000Z');
const EMPTY: StructType = { type: 'struct', fields: [] };
const ITEMS = 2_000;

function sampleItem(random: SeededRandom, n: number): Item {
  const item: Record<string, AttributeValue> = { pk: { S: `p${n % 89}` }, sk: { N: String(n) } };
  for (const type of VALUE_TYPES) {
    if (random.chance(0.8)) item[`t_${type}`] = randomValue(random, type);
  }
  // Drifts across types (a JSON column whose notes list the types in first-seen order).
  item['drift'] = randomValue(random);
  // Mostly integers, so typed numbers; sometimes NULL, which goes to a conflict column.
  item['count'] = random.chance(0.05) ? { NULL: true } : { N: String(random.between(-5000, 5000)) };
  return item;
}

interface Fixture {
  readonly landing: LocalFolderStore;
  readonly snapshot: FoundSnapshot;
  readonly layout: TableLayout;
  readonly winners: readonly ReducedChange[];
}

async function writeFixture(): Promise<Fixture> {
  const landing = await tempStore('snapshot-workers');
  const writer = await ExportWriter.start(landing, {
    tableArn: `arn:aws:dynamodb:us-east-1:111122223333:table/${TABLE}`,
    exportTime: new Date(T),
    maxFileBytes: 256 * 1024,
    validate: false,
  });
  const random = new SeededRandom(20261124);
  const items: Item[] = [];
  for (let n = 0; n < ITEMS; n++) {
    const item = sampleItem(random, n);
    items.push(item);
    await writer.write(item);
    if (n % 397 === 5) await writer.write({ pk: { S: 'no sort key' } });
    if (n % 541 === 7) await writer.write({ pk: { S: 'p1' }, sk: { N: '1e999999' } });
    if (n % 613 === 11) await writer.write({ pk: { S: 'p1' }, sk: { N: '-1' }, odd: { X: '?' } } as never);
  }
  await writer.finish();
  const snapshot = await findSnapshot(landing, TABLE);
  const layout = newTableLayout({
    keys: KEYS,
    exportTime: snapshot.exportTimeMs,
    buckets: 8,
    deletes: 'soft',
    marginMs: 15 * 60_000,
    appId: 'test',
  });
  const winner = (item: Item, op: 'put' | 'delete', n: number): ReducedChange => {
    const keys = { pk: item['pk'], sk: item['sk'] } as Item;
    const key = keyText(keys, KEYS);
    return {
      key,
      bucket: bucketOf(key, layout.buckets),
      op,
      keys,
      item: op === 'put' ? item : null,
      oldImage: null,
      order: { source: 'stream', seq: String(n).padStart(40, '0'), tsMicros: BigInt(T + 60_000) * 1000n },
      ttl: false,
      origin: undefined,
    };
  };
  const replaced = items[10] as Item;
  const deleted = items[1234] as Item;
  const winners = [
    winner({ ...replaced, extra: { SS: ['new', 'attribute'] } }, 'put', 1),
    winner(deleted, 'delete', 2),
    winner({ pk: { S: 'fresh' }, sk: { N: '99999' }, count: { N: '1.5' } }, 'put', 3),
  ];
  return { landing, snapshot, layout, winners };
}

/** What the first pass must find: the export read item by item on this thread. */
async function expectedSchemaPass(fixture: Fixture) {
  const { landing, snapshot, layout, winners } = fixture;
  const evolution = new SchemaEvolution(layout, EMPTY);
  const badLines: BadLine[] = [];
  const items: Item[] = [];
  let count = 0;
  for await (const { item, file, line } of readExportItems(landing, snapshot.opened, {
    onBadLine: (bad) => {
      badLines.push(bad);
    },
  })) {
    count++;
    try {
      keyText(item, KEYS);
    } catch (error) {
      if (!(error instanceof KeyAttributeError)) throw error;
      badLines.push({
        file,
        line,
        reason: error.message,
        path: `Item.${error.attribute}`,
        text: JSON.stringify({ Item: item }),
      });
      continue;
    }
    evolution.observe(item);
    items.push(item);
  }
  for (const winner of winners) evolution.observe(winner.item ?? winner.keys);
  return { plan: evolution.result(), badLines, items, count };
}

let fixture: Fixture;
let expected: Awaited<ReturnType<typeof expectedSchemaPass>>;
const sessions: DuckSession[] = [];

beforeAll(async () => {
  fixture = await writeFixture();
  expected = await expectedSchemaPass(fixture);
});

afterAll(async () => {
  await Promise.all(sessions.map((session) => session.close()));
});

async function openSession(): Promise<DuckSession> {
  const session = await DuckSession.open({ threads: 2 });
  sessions.push(session);
  return session;
}

/**
 * Expects the data files `load` wrote to hold exactly the rows built one by one on this thread
 * (itemToRow plus the snapshot's system cells, the winners' rows) and appended through the
 * appender, each file sorted by key.
 */
async function expectLoadedRows(
  session: DuckSession,
  delta: LocalFolderStore,
  load: SnapshotLoad,
  shape: RowShape,
  snapshot: FoundSnapshot,
  items: readonly Item[],
  winners: readonly ReducedChange[],
): Promise<void> {
  const { layout } = shape;
  const sink = await LakeRowSink.open(session, 'expected_rows', shape.schema);
  try {
    const byKey = new Map(winners.map((winner) => [winner.key, winner]));
    const order = {
      source: snapshot.kind,
      seq: SNAPSHOT_SEQ,
      tsMicros: BigInt(snapshot.exportTimeMs) * 1000n,
    };
    for (const item of items) {
      const key = keyText(item, layout.keys);
      const winner = byKey.get(key);
      if (winner !== undefined) {
        if (winner.op === 'delete' && layout.deletes === 'soft') sink.append(winnerRow(shape, winner, item));
        continue;
      }
      const cells = systemCells(
        { key, bucket: bucketOf(key, layout.buckets), order, op: 'put', ttl: false },
        layout.deletes,
      );
      sink.append({ ...itemToRow(item, shape.layout, shape.schema).row, ...cells });
    }
    for (const winner of winners) if (winner.op === 'put') sink.append(winnerRow(shape, winner));
  } finally {
    sink.close();
  }
  // The rows as the data files hold them, the bucket from each file's partition value.
  const bucketColumn = quoteIdentifier(SYSTEM_COLUMN.bucket);
  const columns = shape.schema.fields.map((field) => quoteIdentifier(field.name)).join(', ');
  const files = load.written.adds.map(
    (add) =>
      `SELECT *, CAST(${quoteLiteral(add.partitionValues[SYSTEM_COLUMN.bucket] ?? '')} AS INTEGER) AS ${bucketColumn} FROM read_parquet(${quoteLiteral(path.join(delta.rootDir, decodeURIComponent(add.path)))})`,
  );
  await session.run(
    `CREATE OR REPLACE TABLE loaded_rows AS SELECT ${columns} FROM (${files.join(' UNION ALL ')})`,
  );
  const counts = (
    await session.all(
      `SELECT (SELECT count(*) FROM loaded_rows), (SELECT count(*) FROM expected_rows),
         (SELECT count(*) FROM (SELECT * FROM loaded_rows EXCEPT ALL SELECT * FROM expected_rows)),
         (SELECT count(*) FROM (SELECT * FROM expected_rows EXCEPT ALL SELECT * FROM loaded_rows))`,
    )
  ).getRows()[0];
  const rows = Number(counts?.[1]);
  expect(rows).toBeGreaterThan(0);
  expect(counts?.map(Number)).toEqual([rows, rows, 0, 0]);
  for (const add of load.written.adds) {
    const keys = (
      await session.all(
        `SELECT ${quoteIdentifier(SYSTEM_COLUMN.key)} FROM read_parquet(${quoteLiteral(path.join(delta.rootDir, decodeURIComponent(add.path)))})`,
      )
    )
      .getRows()
      .map((row) => String(row[0]));
    expect(keys).toEqual([...keys].sort(compareUtf8));
  }
}

// Worker threads load the .ts sources only on a Node that strips types (node_modules/.bin/node).
const workers = workerThreadsAvailable();

describe('the snapshot load in worker threads', () => {
  test.each(workers ? [2, 0] : [0])(
    'with %i worker threads finds the schema and bad lines one thread finds, and loads exactly the rows itemToRow gives',
    async (threads) => {
      const { landing, snapshot, layout, winners } = fixture;
      expect(snapshot.opened.files.length).toBeGreaterThanOrEqual(3);
      const session = await openSession();
      const events: ApplyEvent[] = [];
      const pass = { session, landing, snapshot, emit: (event: ApplyEvent) => events.push(event), threads };

      const schemaPass = await inferSnapshotSchema(pass, layout, EMPTY, winners);
      expect(schemaPass.items).toBe(expected.count);
      expect(schemaPass.badLines).toEqual(expected.badLines);
      expect(schemaPass.badLines.length).toBe(6 + 4 + 4);
      expect(schemaPass.plan).toEqual(expected.plan);
      expect(schemaPass.plan.changes.some((change) => change.column === 'count__NULL')).toBe(true);

      const shape = { layout: schemaPass.plan.layout, schema: schemaPass.plan.schema };
      const delta = await tempStore('snapshot-workers-delta');
      const load = await loadSnapshotRows(pass, delta, shape, winners, 1000);
      expect(load).toMatchObject({ inserted: ITEMS - 2 + 1, updated: 1, deleted: 1 });

      await expectLoadedRows(session, delta, load, shape, snapshot, expected.items, winners);
      expect(load.written.rows).toBe(ITEMS + 1);

      const loadedEvents = events.filter((event) => event.code === 'APPLY_SNAPSHOT_FILE_LOADED');
      const dataFiles = snapshot.opened.files.map((file) => file.key).sort();
      for (const passName of ['schema', 'rows'] as const) {
        const ofPass = loadedEvents.filter((event) => 'pass' in event && event.pass === passName);
        expect(ofPass.map((event) => ('file' in event ? event.file : '')).sort()).toEqual(dataFiles);
        expect(ofPass.at(-1)).toMatchObject({ filesDone: dataFiles.length, items: expected.count });
      }
    },
  );

  test.skipIf(!workers)(
    'a damaged data file read in a worker fails the load with its class and the file named',
    async () => {
      const { landing, snapshot, layout, winners } = fixture;
      const session = await openSession();
      const pass = { session, landing, snapshot, emit: () => {}, threads: 2 };
      const damaged = snapshot.opened.files[1];
      if (damaged === undefined) throw new Error('the fixture has fewer than two data files');
      const file = path.join(landing.rootDir, damaged.key);
      const original = await readFile(file);
      const bytes = Buffer.from(original);
      bytes.fill(0x55, 2000, 2400);
      await writeFile(file, bytes);
      try {
        const error = await inferSnapshotSchema(pass, layout, EMPTY, winners).then(
          () => undefined,
          (thrown: unknown) => thrown,
        );
        expect(error).toBeInstanceOf(ChecksumMismatchError);
        expect((error as ChecksumMismatchError).code).toBe('CHECKSUM_MISMATCH');
        expect((error as ChecksumMismatchError).file).toBe(damaged.key);
        expect((error as Error).message).toContain(`The MD5 of ${damaged.key} is`);
        expect((error as Error).cause).toBeInstanceOf(CorruptGzipError);
      } finally {
        await writeFile(file, original);
      }
    },
  );

  test.skipIf(!workers)(
    "a data file missing from the store fails the rows pass with the store's own error",
    async () => {
      const { landing, snapshot, layout } = fixture;
      const session = await openSession();
      const pass = { session, landing, snapshot, emit: () => {}, threads: 2 };
      const schemaPass = await inferSnapshotSchema(pass, layout, EMPTY, []);
      const missing = snapshot.opened.files[2];
      if (missing === undefined) throw new Error('the fixture has fewer than three data files');
      const file = path.join(landing.rootDir, missing.key);
      const original = await readFile(file);
      await rm(file);
      try {
        const shape = { layout: schemaPass.plan.layout, schema: schemaPass.plan.schema };
        const delta = await tempStore('snapshot-workers-delta');
        const error = await loadSnapshotRows(pass, delta, shape, [], 1000).then(
          () => undefined,
          (thrown: unknown) => thrown,
        );
        expect(error).toBeInstanceOf(ObjectNotFoundError);
        expect((error as Error).message).toContain(missing.key);
      } finally {
        await writeFile(file, original);
      }
    },
  );

  test.each(workers ? [0, 2] : [0])(
    'with %i worker threads reads a data file once when the plan it was converted under (of the files before it, or of the first items) is the final one, and again when a later item changes it; buckets past rowsPerFile are split',
    async (threads) => {
      // The attribute `flag` first appears in item `from` (never: every plan is the final one).
      for (const from of [Number.POSITIVE_INFINITY, 399, 150]) {
        const landing = await tempStore('snapshot-early-rows');
        const writer = await ExportWriter.start(landing, {
          tableArn: `arn:aws:dynamodb:us-east-1:111122223333:table/${TABLE}`,
          exportTime: new Date(T),
          maxFileBytes: 4 * 1024,
          validate: false,
        });
        const items: Item[] = [];
        for (let n = 0; n < 400; n++) {
          const item: Record<string, AttributeValue> = {
            pk: { S: `p${n % 7}` },
            sk: { N: String(n) },
            qty: { N: String((n * 37) % 1000) },
            note: { S: `note ${n}` },
          };
          if (n >= from) item['flag'] = { BOOL: n % 2 === 0 };
          items.push(item);
          await writer.write(item);
        }
        await writer.finish();
        const snapshot = await findSnapshot(landing, TABLE);
        const files = snapshot.opened.files.length;
        expect(files).toBeGreaterThanOrEqual(5);
        const layout = newTableLayout({
          keys: KEYS,
          exportTime: snapshot.exportTimeMs,
          buckets: 4,
          appId: 'test',
        });
        const session = await openSession();
        const pass = { session, landing, snapshot, emit: () => {}, threads };

        const schemaPass = await inferSnapshotSchema(pass, layout, EMPTY, []);
        // The data file holding item `from` (-1: none): it and the files before it were converted
        // under a plan without `flag` (the first files under that of the first items); on two
        // threads the file after it may have started before it finished.
        let before = 0;
        let holding = -1;
        for (const [index, file] of snapshot.opened.files.entries()) {
          before += file.itemCount;
          if (before > from) {
            holding = index;
            break;
          }
        }
        const kept = schemaPass.early.files.size;
        if (threads === 0 || holding < 0 || holding === files - 1) expect(kept).toBe(files - holding - 1);
        else expect([files - holding - 1, files - holding - 2]).toContain(kept);
        const shape = { layout: schemaPass.plan.layout, schema: schemaPass.plan.schema };
        const delta = await tempStore('snapshot-early-rows-delta');
        // About 100 rows a bucket, so each bucket is split into key-sorted files of at most 60.
        const load = await loadSnapshotRows(pass, delta, shape, [], 60, schemaPass.early);
        expect(load.inserted).toBe(items.length);
        expect(load.written.adds.length).toBeGreaterThan(4);
        for (const add of load.written.adds) expect(fileRows(add)).toBeLessThanOrEqual(60);
        await expectLoadedRows(session, delta, load, shape, snapshot, items, []);
        // Nothing is left in the scratch folder: kept rows were loaded, stale ones removed.
        expect((await readdir(session.scratchDir)).filter((name) => name.endsWith('.csv'))).toEqual([]);
      }
    },
  );

  test('an export holding one item twice fails the load naming the key, and leaves no spool file behind', async () => {
    const landing = await tempStore('snapshot-duplicate');
    const writer = await ExportWriter.start(landing, {
      tableArn: `arn:aws:dynamodb:us-east-1:111122223333:table/${TABLE}`,
      exportTime: new Date(T),
      maxFileBytes: 2 * 1024,
      validate: false,
    });
    for (let n = 0; n < 120; n++) await writer.write({ pk: { S: `p${n}` }, sk: { N: String(n) } });
    // The same item again, in a later data file.
    await writer.write({ pk: { S: 'p7' }, sk: { N: '7' } });
    await writer.finish();
    const snapshot = await findSnapshot(landing, TABLE);
    expect(snapshot.opened.files.length).toBeGreaterThan(1);
    const layout = newTableLayout({
      keys: KEYS,
      exportTime: snapshot.exportTimeMs,
      buckets: 4,
      appId: 'test',
    });
    const session = await openSession();
    const pass = { session, landing, snapshot, emit: () => {}, threads: workers ? 2 : 0 };
    const schemaPass = await inferSnapshotSchema(pass, layout, EMPTY, []);
    const shape = { layout: schemaPass.plan.layout, schema: schemaPass.plan.schema };
    const error = await loadSnapshotRows(
      pass,
      await tempStore('snapshot-duplicate-delta'),
      shape,
      [],
      1000,
      schemaPass.early,
    ).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ApplyRunError);
    expect((error as Error).message).toContain(
      `holds the same item more than once (${keyText({ pk: { S: 'p7' }, sk: { N: '7' } }, KEYS)} 2 times)`,
    );
    expect((await readdir(session.scratchDir)).filter((name) => name.endsWith('.csv'))).toEqual([]);
  });
});
