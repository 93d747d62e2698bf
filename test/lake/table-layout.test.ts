import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_COLUMNS } from '../../src/delta/column-names.ts';
import { commit } from '../../src/delta/commit.ts';
import { createTable } from '../../src/delta/create-table.ts';
import { loadSnapshot } from '../../src/delta/load-snapshot.ts';
import { deltaTypeText, type StructType } from '../../src/delta/schema.ts';
import { startTransaction } from '../../src/delta/transaction.ts';
import { duckdbEngine } from '../../src/duckdb/duckdb-engine.ts';
import { DuckSession } from '../../src/duckdb/session.ts';
import { parseItem } from '../../src/dynamo/parse.ts';
import { TableLayoutError } from '../../src/lake/model-errors.ts';
import { evolveSchema } from '../../src/lake/schema-evolution.ts';
import {
  ALL_SYSTEM_COLUMNS,
  LAYOUT_PROPERTY,
  layoutConfiguration,
  layoutSchema,
  newTableLayout,
  PARTITION_COLUMNS,
  readTableLayout,
  type TableLayout,
} from '../../src/lake/table-layout.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';

const EMPTY: StructType = { type: 'struct', fields: [] };

let session: DuckSession;
let folder: string;

beforeAll(async () => {
  session = await DuckSession.open({ threads: 1 });
  folder = await mkdtemp(path.join(tmpdir(), 'ddb-lake-model-layout-'));
});
afterAll(async () => {
  await session.close();
  await rm(folder, { recursive: true, force: true });
});

const describeSchema = (schema: StructType): string[] =>
  schema.fields.map((f) => `${f.name} ${deltaTypeText(f.type)}${f.nullable ? '' : ' not null'}`);

describe('system columns', () => {
  it('are the names the Delta layer reserves from attributes, no more and no fewer', () => {
    expect([...ALL_SYSTEM_COLUMNS].sort()).toEqual([...SYSTEM_COLUMNS].sort());
  });
});

describe('newTableLayout', () => {
  it('fills the defaults of the shared notes', () => {
    const layout = newTableLayout({ keys: { partition: 'pk', sort: 'sk' }, exportTime: 1795392000000 });
    expect(layout.buckets).toBe(16);
    expect(layout.deletes).toBe('hard');
    expect(layout.marginMs).toBe(900_000);
    expect(layout.appId).toBe('ddb-lake-apply');
    expect(layout.columns.size).toBe(0);
  });

  it('refuses a bucket count out of range and keys that name one attribute twice', () => {
    expect(() => newTableLayout({ keys: { partition: 'pk' }, exportTime: 0, buckets: 0 })).toThrow(
      TableLayoutError,
    );
    expect(() => newTableLayout({ keys: { partition: 'pk' }, exportTime: 0, buckets: 5000 })).toThrow(
      /1 to 4096/,
    );
    expect(() => newTableLayout({ keys: { partition: 'pk', sort: 'pk' }, exportTime: 0 })).toThrow(
      /two different/,
    );
  });
});

describe('layout in the table configuration', () => {
  it('round-trips through a real Delta table: create, evolve, reload', async () => {
    const store = new LocalFolderStore(path.join(folder, 'round-trip'));
    const engine = duckdbEngine(session);
    const fresh = newTableLayout({
      keys: { partition: 'pk', sort: 'sk' },
      exportTime: 1795392000000,
      deletes: 'soft',
      buckets: 8,
      marginMs: 60_000,
      appId: 'orders-lake',
    });
    const items = [
      {
        pk: { S: 'a' },
        sk: { N: '1' },
        total: { N: '1.25' },
        'odd name': { SS: ['x'] },
        _ddb_key: { S: 'mine' },
      },
      { pk: { S: 'b' }, sk: { N: '2' }, total: { S: 'n/a' }, Total: { BOOL: true } },
    ].map((item) => parseItem(item));
    const first = evolveSchema(fresh, EMPTY, items);
    const created = await createTable(store, {
      schema: first.schema,
      partitionColumns: PARTITION_COLUMNS,
      configuration: layoutConfiguration(first.layout),
    });
    const read = readTableLayout(created.metadata.configuration);
    expect(read).toEqual(first.layout);
    expect([...read.kinds]).toEqual([
      ['pk', 'S'],
      ['sk', 'N'],
      ['Total', 'BOOL'],
      ['_ddb_key', 'S'],
      ['odd name', 'SS'],
      // One N, one S: a tie, which goes to S, the type DynamoDB lists first.
      ['total', 'S'],
    ]);
    // Key attributes take their names first; the others in UTF-8 order: "Total" before "total",
    // which becomes total_2.
    expect(describeSchema(created.schema)).toEqual([
      'pk string',
      'sk bigint',
      'Total boolean',
      '_ddb_key_2 string',
      'odd_name array<string>',
      'total_2 string',
      'total_2__N string',
      '_ddb_key string not null',
      '_ddb_bucket int not null',
      '_ddb_seq string not null',
      '_ddb_ts timestamp not null',
      '_ddb_source string not null',
      '_ddb_deleted boolean not null',
      '_ddb_ttl_expired boolean not null',
    ]);

    // A later batch: a new attribute and a value that fits its column no more.
    const second = evolveSchema(read, created.schema, [
      parseItem({ pk: { S: 'c' }, sk: { S: 'x' }, extra: { N: '5' } }),
    ]);
    expect(second.changed).toBe(true);
    const outcome = await commit(
      store,
      engine,
      startTransaction(created)
        .updateSchema(second.schema)
        .updateConfiguration(layoutConfiguration(second.layout, created.metadata.configuration)),
    );
    expect(outcome.outcome).toBe('committed');
    const reloaded = await loadSnapshot(store, engine);
    expect(readTableLayout(reloaded.metadata.configuration)).toEqual(second.layout);
    expect(describeSchema(reloaded.schema).slice(-2)).toEqual(['extra bigint', 'sk__S string']);
    expect(reloaded.metadata.configuration[LAYOUT_PROPERTY.conflictColumns]).toBe(
      '[["total","N","total_2__N"],["sk","S","sk__S","text"]]',
    );
    expect(reloaded.metadata.configuration['delta.enableDeletionVectors']).toBe('false');
  });

  it('names the property that is missing or malformed', () => {
    const layout = newTableLayout({ keys: { partition: 'pk' }, exportTime: 5 });
    const configuration = layoutConfiguration(layout);
    const without = { ...configuration };
    delete without[LAYOUT_PROPERTY.buckets];
    expect(() => readTableLayout(without)).toThrow(/ddb_lake.buckets is missing/);
    expect(() => readTableLayout({ ...configuration, [LAYOUT_PROPERTY.deletes]: 'maybe' })).toThrow(
      /ddb_lake.deletes is "maybe"/,
    );
    expect(() => readTableLayout({ ...configuration, [LAYOUT_PROPERTY.keys]: '{"sort":"x"}' })).toThrow(
      TableLayoutError,
    );
    expect(() =>
      readTableLayout({
        ...configuration,
        [LAYOUT_PROPERTY.columnNames]: '[["a","a"]]',
        [LAYOUT_PROPERTY.columnKinds]: '[["a","X"]]',
      }),
    ).toThrow(/ddb_lake.columnKinds holds \["a","X"\]/);
    expect(() =>
      readTableLayout({
        ...configuration,
        [LAYOUT_PROPERTY.columnNames]: '[["a","a"]]',
        [LAYOUT_PROPERTY.columnKinds]: '[["a","S"]]',
        [LAYOUT_PROPERTY.conflictColumns]: '[["a","N","A"]]',
      }),
    ).toThrow(/clashes/);
  });
});

describe('layoutSchema', () => {
  const layout: TableLayout = {
    ...newTableLayout({ keys: { partition: 'pk' }, exportTime: 0 }),
    columns: new Map([['pk', 'pk']]),
    kinds: new Map([['pk', 'S']]),
  };

  it('keeps the current fields in place and appends what is missing', () => {
    const current: StructType = {
      type: 'struct',
      fields: [{ name: 'legacy', type: { type: 'primitive', name: 'string' }, nullable: true, metadata: {} }],
    };
    const schema = layoutSchema(layout, new Map([['pk', { type: 'primitive', name: 'string' }]]), current);
    expect(schema.fields.map((f) => f.name)).toEqual([
      'legacy',
      'pk',
      '_ddb_key',
      '_ddb_bucket',
      '_ddb_seq',
      '_ddb_ts',
      '_ddb_source',
    ]);
  });

  it('refuses to retype a column or leave one untyped', () => {
    const current = layoutSchema(layout, new Map([['pk', { type: 'primitive', name: 'string' }]]));
    expect(() =>
      layoutSchema(layout, new Map([['pk', { type: 'primitive', name: 'long' }]]), current),
    ).toThrow(/never retyped/);
    expect(() => layoutSchema(layout, new Map())).toThrow(/no type for it was given/);
  });
});
