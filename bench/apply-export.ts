/*
 * What the apply benchmarks share: the benchmark export (the sample order items, every DynamoDB
 * type, in the native export layout, written with the project's ExportWriter and cached between
 * runs), its inferred lake schema, the one change record that lets apply accept the handoff, the
 * SQL that extracts the lake columns from DynamoDB JSON for the DuckDB baselines, and a peak-RSS
 * sampler. Not a benchmark itself.
 */
import { link, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { quoteIdentifier, quoteLiteral } from '../src/duckdb/session.ts';
import type { Item } from '../src/dynamo/attribute-value.ts';
import type { LakeType } from '../src/dynamo/lake-type.ts';
import { parseItem } from '../src/dynamo/parse.ts';
import { type ColumnEncoding, SchemaInference } from '../src/dynamo/schema-inference.ts';
import { writeChangeFile } from '../src/formats/change-file-writer.ts';
import { listExports } from '../src/formats/export-layout.ts';
import { ExportWriter } from '../src/formats/export-writer.ts';
import { sampleOrders } from '../src/local/sample-orders.ts';
import { LocalFolderStore } from '../src/storage/local-folder-store.ts';

export const BENCH_TABLE = 'bench-orders';
export const BENCH_TABLE_ARN = `arn:aws:dynamodb:us-east-1:111122223333:table/${BENCH_TABLE}`;
export const BENCH_KEYS = { partition: 'pk', sort: 'sk' } as const;
const SEED = 20261123;
/** apply's default handoff margin: the handoff record lies before T − margin, so it is skipped. */
const HANDOFF_MARGIN_MS = 15 * 60 * 1000;
/** The shard id of the benchmark's synthetic change files. */
export const BENCH_SHARD = 'shardId-00000001700000000000-bench0001';

/** One column of the inferred lake schema, as the baselines need it. */
export interface BenchColumn {
  readonly name: string;
  readonly lakeType: LakeType;
  readonly encoding: ColumnEncoding;
}

/** A complete benchmark export in a landing folder. */
export interface BenchExport {
  /** The landing folder: the export under AWSDynamoDB/, the handoff change file under changes/. */
  readonly folder: string;
  readonly exportId: string;
  readonly items: number;
  /** T, epoch ms. */
  readonly exportTime: number;
  /** Absolute paths of the data files. */
  readonly dataFiles: readonly string[];
  readonly columns: readonly BenchColumn[];
  /** Bytes of JSON lines (uncompressed) and of the gzip data files. */
  readonly rawBytes: number;
  readonly gzipBytes: number;
}

interface CachedFacts {
  readonly exportId: string;
  readonly items: number;
  readonly exportTime: number;
  readonly columns: readonly BenchColumn[];
  readonly rawBytes: number;
}

/**
 * The benchmark export of `items` sample orders in `<tmp>/ddb-lake-bench-apply-<items>`, written
 * the first time (with its schema inferred on the way) and reused afterwards: generating a
 * million items takes longer than loading them. Also writes one change file whose single MODIFY
 * (of the first item, to the state the export holds) has `ts` before T − 15 minutes, so that apply
 * finds the change stream reaching back past the handoff window and skips that record.
 */
export async function benchExport(items: number, log: (line: string) => void): Promise<BenchExport> {
  const folder = path.join(tmpdir(), `ddb-lake-bench-apply-${items}`);
  const factsFile = path.join(folder, 'bench-facts.json');
  let facts: CachedFacts | undefined;
  try {
    facts = JSON.parse(await readFile(factsFile, 'utf8')) as CachedFacts;
  } catch {
    facts = undefined;
  }
  const store = new LocalFolderStore(folder);
  const complete =
    facts !== undefined && (await listExports(store)).some((e) => e.exportId === facts?.exportId);
  if (facts === undefined || !complete) {
    await rm(folder, { recursive: true, force: true });
    await mkdir(folder, { recursive: true });
    const started = performance.now();
    facts = await writeBenchExport(store, items);
    await writeFile(factsFile, JSON.stringify(facts));
    log(
      `generated ${items.toLocaleString('en-US')} sample items (${(facts.rawBytes / 1e6).toFixed(0)} MB of JSON lines) ` +
        `in ${((performance.now() - started) / 1000).toFixed(1)} s into ${folder}`,
    );
  } else {
    log(`reusing the export of ${items.toLocaleString('en-US')} sample items in ${folder}`);
  }
  await store.close();
  const dataDir = path.join(folder, 'AWSDynamoDB', facts.exportId, 'data');
  const dataFiles = (await readdir(dataDir))
    .filter((name) => name.endsWith('.json.gz'))
    .map((name) => path.join(dataDir, name));
  let gzipBytes = 0;
  for (const file of dataFiles) gzipBytes += (await stat(file)).size;
  return { folder, ...facts, dataFiles, gzipBytes };
}

async function writeBenchExport(store: LocalFolderStore, items: number): Promise<CachedFacts> {
  const exportTime = Date.now();
  const writer = await ExportWriter.start(store, {
    tableArn: BENCH_TABLE_ARN,
    exportTime: new Date(exportTime),
    maxFileBytes: 64 * 1024 * 1024,
    validate: false,
  });
  const inference = new SchemaInference();
  let first: Item | undefined;
  for (const raw of sampleOrders(items, SEED)) {
    const item = parseItem(raw);
    first ??= item;
    inference.observe(item);
    await writer.write(item);
  }
  const summary = await writer.finish();
  if (first !== undefined) {
    const keys = { pk: first['pk'], sk: first['sk'] } as Item;
    await writeChangeFile(store, BENCH_TABLE, [
      {
        op: 'MODIFY',
        keys,
        new: first,
        old: first,
        seq: '100000000000000000000',
        shard: BENCH_SHARD,
        ts: exportTime - HANDOFF_MARGIN_MS - 60_000,
        ttl: false,
        eventId: 'bench-handoff',
      },
    ]);
  }
  const columns = inference
    .result()
    .columns.map(({ name, lakeType, encoding }) => ({ name, lakeType, encoding }));
  return {
    exportId: writer.exportId,
    items: summary.itemCount,
    exportTime,
    columns,
    rawBytes: summary.billedSizeBytes,
  };
}

/**
 * A fresh landing folder holding the export and its handoff change file as hard links (no copy):
 * for benchmarks that add change files of their own.
 */
export async function linkedLanding(source: string, target: string): Promise<void> {
  for (const entry of await readdir(source, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || entry.name === 'bench-facts.json') continue;
    const from = path.join(entry.parentPath, entry.name);
    const to = path.join(target, path.relative(source, from));
    await mkdir(path.dirname(to), { recursive: true });
    await link(from, to);
  }
}

/** The DuckDB type of a lake type (as the Delta table's columns are read back). */
export function duckdbSqlType(type: LakeType): string {
  switch (type.kind) {
    case 'string':
      return 'VARCHAR';
    case 'bigint':
      return 'BIGINT';
    case 'decimal':
      return `DECIMAL(${type.precision}, ${type.scale})`;
    case 'binary':
      return 'BLOB';
    case 'boolean':
      return 'BOOLEAN';
    case 'timestamp':
      return 'TIMESTAMPTZ';
    case 'array':
      return `${duckdbSqlType(type.element)}[]`;
  }
}

/** The DynamoDB type tag an attribute's column takes its value from (for arrays: the set's tag). */
function typeTag(column: BenchColumn): string {
  const { lakeType } = column;
  if (lakeType.kind === 'array') {
    return lakeType.element.kind === 'binary' ? 'BS' : lakeType.element.kind === 'string' ? 'SS' : 'NS';
  }
  switch (lakeType.kind) {
    case 'string':
      return 'S';
    case 'binary':
      return 'B';
    case 'boolean':
      return 'BOOL';
    default:
      return 'N';
  }
}

/**
 * The DuckDB type `read_json` reads a DynamoDB item into: a STRUCT with one field per attribute,
 * itself a STRUCT of the one type tag its column takes (`{"N": VARCHAR}`, `{"SS": VARCHAR[]}`), or
 * JSON for plain-JSON columns (M, L, attributes seen with two types). Parsing straight into typed
 * structs is the fastest way DuckDB has to read these files.
 */
export function itemStructSql(columns: readonly BenchColumn[]): string {
  const fields = columns.map((column) => {
    if (column.encoding === 'plain-json') return `${quoteIdentifier(column.name)} JSON`;
    const tag = typeTag(column);
    const type = tag === 'BOOL' ? 'BOOLEAN' : tag.length === 2 ? 'VARCHAR[]' : 'VARCHAR';
    return `${quoteIdentifier(column.name)} STRUCT(${quoteIdentifier(tag)} ${type})`;
  });
  return `STRUCT(${fields.join(', ')})`;
}

/**
 * The SQL expression that takes one attribute from a column of type `itemStructSql` (`Item` of
 * an export line, `new` of a change record) as its lake type: S, N (bigint, decimal or number text),
 * B (from base64), BOOL, SS, NS, BS as arrays of their element type. Plain-JSON columns take the
 * value's DynamoDB JSON text, which is cheaper than the canonical plain JSON apply writes: the
 * baseline does less work than apply there.
 */
export function attributeSql(item: string, column: BenchColumn): string {
  const { lakeType, encoding } = column;
  const field = `${item}.${quoteIdentifier(column.name)}`;
  if (encoding === 'plain-json') return `CAST(${field} AS VARCHAR)`;
  const value = `${field}.${quoteIdentifier(typeTag(column))}`;
  const element = lakeType.kind === 'array' ? lakeType.element : lakeType;
  const scalar = (text: string): string => {
    switch (element.kind) {
      case 'binary':
        return `from_base64(${text})`;
      case 'string':
      case 'boolean':
        return text;
      default:
        return `CAST(${text} AS ${duckdbSqlType(element)})`;
    }
  };
  if (lakeType.kind === 'array')
    return element.kind === 'string' ? value : `list_transform(${value}, x -> ${scalar('x')})`;
  return scalar(value);
}

/**
 * The SELECT list of the lake columns from a column of type `itemStructSql`: every attribute
 * column, then the system columns as apply defines them (`_ddb_key` as JSON text of the keys,
 * `_ddb_bucket` a hash of it modulo the buckets, `_ddb_seq`, `_ddb_ts`, `_ddb_source`).
 */
export function lakeColumnsSql(
  item: string,
  columns: readonly BenchColumn[],
  system: { readonly keysJson: string; readonly seq: string; readonly ts: string; readonly source: string },
  buckets = 16,
): string {
  const attributes = columns.map(
    (column) => `${attributeSql(item, column)} AS ${quoteIdentifier(column.name)}`,
  );
  return [
    ...attributes,
    `${system.keysJson} AS _ddb_key`,
    `CAST(hash(${system.keysJson}) % ${buckets} AS INTEGER) AS _ddb_bucket`,
    `${system.seq} AS _ddb_seq`,
    `${system.ts} AS _ddb_ts`,
    `${system.source} AS _ddb_source`,
  ].join(',\n  ');
}

/** `read_json` of gzip JSON-lines files into one JSON column per named field. */
export function readJsonSql(files: readonly string[], fields: Readonly<Record<string, string>>): string {
  const columns = Object.entries(fields)
    .map(([name, type]) => `${quoteLiteral(name)}: ${quoteLiteral(type)}`)
    .join(', ');
  return `read_json([${files.map(quoteLiteral).join(', ')}], format = 'newline_delimited', compression = 'gzip', columns = {${columns}})`;
}

/** The canonical key text of the sample orders (`{"pk":…,"sk":…}`) from a struct column holding `pk` and `sk`. */
export function keysJsonSql(item: string): string {
  return `CAST(json_object('pk', ${item}.pk.S, 'sk', ${item}.sk.S) AS VARCHAR)`;
}

/** The DuckDB type of the `keys` of the sample orders' change records. */
export const KEYS_STRUCT_SQL = 'STRUCT(pk STRUCT(S VARCHAR), sk STRUCT(S VARCHAR))';

/** Samples the resident set size every 20 ms; `peak()` is the largest seen since `reset()`. */
export class RssSampler {
  #peak = 0;
  readonly #timer: NodeJS.Timeout;

  constructor() {
    this.#timer = setInterval(() => this.sample(), 20);
    this.#timer.unref();
  }

  sample(): void {
    this.#peak = Math.max(this.#peak, process.memoryUsage.rss());
  }

  /** Starts a new measurement; returns the RSS now, in MB. */
  reset(): number {
    this.#peak = process.memoryUsage.rss();
    return this.#peak / 1e6;
  }

  /** Peak RSS since the last reset, in MB (10^6 bytes). */
  peakMb(): number {
    this.sample();
    return this.#peak / 1e6;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** `--name value` from the command line, or the fallback. */
export function numberOption(args: readonly string[], name: string, fallback: number): number {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} needs a positive number, got ${args[at + 1]}`);
  return value;
}
