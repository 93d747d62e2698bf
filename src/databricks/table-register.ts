import type { DeltaEngine } from '../delta/engine.ts';
import { loadReadSnapshot } from '../delta/load-snapshot.ts';
import { DdbLakeError } from '../errors.ts';
import { hasTableLayout } from '../lake/table-layout.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { DatabricksStatementError } from './databricks-errors.ts';
import { databricksName, databricksString } from './statement-dialect.ts';
import type { ExecuteOptions, StatementResult } from './statement-execution.ts';

/*
 * Registers a table ddb-lake writes (DuckDB engine, on S3) as an external table in Unity Catalog,
 * for people who query it in Databricks. What this relies on, from the Databricks SQL reference:
 *
 * - CREATE TABLE [USING]: a table may be "derived from data at an existing storage location": with
 *   USING DELTA and a LOCATION that already holds a Delta table and no column list, the table takes
 *   its schema, partitioning and properties from the Delta log, so nothing here can disagree with
 *   the log. IF NOT EXISTS makes the statement do nothing when a table of that name exists, which
 *   is why the name is looked up first and again after (see below).
 * - External tables: Unity Catalog only reaches cloud storage through an external location that
 *   covers the path (with CREATE EXTERNAL TABLE granted on it); a local folder cannot be one.
 * - DESCRIBE DETAIL <name>: one row whose columns include `format` (`delta`) and `location`; a name
 *   with no table fails with the error condition TABLE_OR_VIEW_NOT_FOUND (SQLSTATE 42P01).
 * - Names (Unity Catalog): at most 255 characters, no period, space, forward slash, ASCII control
 *   character or DEL; stored lowercase; special characters such as `-` need backticks in SQL, which
 *   the statement always uses (databricksName).
 * - Deletion vectors: Databricks reads tables with deletion vectors from Databricks Runtime 12.2 LTS.
 */

/** The Databricks Runtime from which a table with deletion vectors can be read (Databricks docs). */
export const DELETION_VECTORS_MINIMUM_RUNTIME = '12.2 LTS';

/** Unity Catalog's limit on the length of an object name. */
export const UNITY_CATALOG_NAME_MAX_LENGTH = 255;

/** Stable codes of the errors of `registerTable` and `parseUnityCatalogName`. */
export const TableRegisterErrorCode = {
  /** The name is not three valid parts. */
  invalidName: 'DATABRICKS_INVALID_TABLE_NAME',
  /** The Delta table is not on S3 (a local folder): Unity Catalog cannot reach it. */
  notCloudStorage: 'DATABRICKS_REGISTER_NOT_CLOUD_STORAGE',
  /** The Delta table was not written by ddb-lake apply. */
  notALakeTable: 'DATABRICKS_REGISTER_NOT_A_LAKE_TABLE',
  /** A table of that name exists at another location (or is not a Delta table). */
  nameTaken: 'DATABRICKS_REGISTER_NAME_TAKEN',
  /** DESCRIBE DETAIL answered without the columns it documents. */
  unexpectedAnswer: 'DATABRICKS_REGISTER_UNEXPECTED_ANSWER',
} as const;

export type TableRegisterErrorCode = (typeof TableRegisterErrorCode)[keyof typeof TableRegisterErrorCode];

/** An error of the registration: the message says what is wrong and what to do; nothing was created. */
export class TableRegisterError extends DdbLakeError {
  declare readonly code: TableRegisterErrorCode;

  constructor(code: TableRegisterErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A three-part Unity Catalog name, each part unquoted. */
export interface UnityCatalogName {
  readonly catalog: string;
  readonly schema: string;
  readonly table: string;
}

/** `catalog.schema.table` with every part in backticks, as the statements spell it. */
export function unityCatalogNameSql(name: UnityCatalogName): string {
  return databricksName([name.catalog, name.schema, name.table]);
}

const PART_NAMES = ['catalog', 'schema', 'table'] as const;

/**
 * Parses `catalog.schema.table`. Each part is either plain (letters, digits, `_` and any other
 * character Unity Catalog allows in a name, except a backtick) or in backticks as SQL spells it
 * (`` `my-catalog` ``, a backtick inside doubled), so a name copied from a SQL statement works.
 * Each part is checked against Unity Catalog's naming rules: not empty, at most 255 characters, no
 * period, space, forward slash, ASCII control character or DEL. Pure.
 * @throws TableRegisterError (`DATABRICKS_INVALID_TABLE_NAME`) saying which part is wrong and why.
 */
export function parseUnityCatalogName(text: string): UnityCatalogName {
  const parts: string[] = [];
  let index = 0;
  const invalid = (why: string): TableRegisterError =>
    new TableRegisterError(
      TableRegisterErrorCode.invalidName,
      `The table name ${JSON.stringify(text)} is not a Unity Catalog name catalog.schema.table: ${why}. Pass three parts separated by periods, e.g. main.sales.orders (backticks around a part are allowed: main.\`sales-eu\`.orders).`,
    );
  for (;;) {
    let part = '';
    if (text[index] === '`') {
      index++;
      for (;;) {
        if (index >= text.length) throw invalid('a backtick is not closed');
        if (text[index] === '`') {
          if (text[index + 1] === '`') {
            part += '`';
            index += 2;
            continue;
          }
          index++;
          break;
        }
        part += text[index];
        index++;
      }
      if (index < text.length && text[index] !== '.') {
        throw invalid(`text follows the closing backtick of part ${parts.length + 1}`);
      }
    } else {
      const end = text.indexOf('.', index);
      part = end < 0 ? text.slice(index) : text.slice(index, end);
      if (part.includes('`')) {
        throw invalid(
          `part ${parts.length + 1} has a backtick inside; put the whole part in backticks and double it`,
        );
      }
      index = end < 0 ? text.length : end;
    }
    parts.push(part);
    if (index >= text.length) break;
    index++; // the period
    if (index >= text.length) parts.push('');
    if (index >= text.length) break;
  }
  if (parts.length !== 3) throw invalid(`it has ${parts.length} part${parts.length === 1 ? '' : 's'}, not 3`);
  parts.forEach((part, i) => {
    const what = PART_NAMES[i];
    if (part === '') throw invalid(`the ${what} name is empty`);
    if (part.length > UNITY_CATALOG_NAME_MAX_LENGTH) {
      throw invalid(
        `the ${what} name has ${part.length} characters; Unity Catalog allows at most ${UNITY_CATALOG_NAME_MAX_LENGTH}`,
      );
    }
    const bad = [...part].find((char) => {
      const code = char.charCodeAt(0);
      return char === '.' || char === ' ' || char === '/' || code < 0x20 || code === 0x7f;
    });
    if (bad !== undefined) {
      throw invalid(
        `the ${what} name holds ${JSON.stringify(bad)}, which Unity Catalog does not allow in a name (no period, space, forward slash or control character)`,
      );
    }
  });
  return { catalog: parts[0]!, schema: parts[1]!, table: parts[2]! };
}

/** The statement that registers the table: no column list, Unity Catalog reads the Delta log. */
export function registerTableStatement(name: UnityCatalogName, location: string): string {
  return `CREATE TABLE IF NOT EXISTS ${unityCatalogNameSql(name)}\nUSING DELTA\nLOCATION ${databricksString(location)}`;
}

/** The statement that says where a table of that name lives, if there is one. */
export function describeDetailStatement(name: UnityCatalogName): string {
  return `DESCRIBE DETAIL ${unityCatalogNameSql(name)}`;
}

/** What runs the statements: a `StatementExecutionClient` (or anything with its `execute`). */
export interface StatementRunner {
  readonly warehouseId: string;
  execute(statement: string, options?: ExecuteOptions): Promise<StatementResult>;
}

/** Stable codes of the events `registerTable` reports. */
export const TableRegisterEventCode = {
  /** The Delta log was read: the table is a ddb-lake table on S3. */
  tableRead: 'REGISTER_TABLE_READ',
  /** The table has deletion vectors: Databricks reads it from Runtime 12.2 LTS on (a warning). */
  deletionVectors: 'REGISTER_DELETION_VECTORS',
  /** A table of that name already exists at this location: nothing to create. */
  alreadyRegistered: 'REGISTER_ALREADY_REGISTERED',
  /** The CREATE TABLE statement succeeded. */
  created: 'REGISTER_CREATED',
} as const;

/** An event of `registerTable`. The library never prints; the CLI renders these. */
export type TableRegisterEvent =
  | {
      readonly code: typeof TableRegisterEventCode.tableRead;
      readonly location: string;
      readonly version: number;
      readonly readerFeatures: readonly string[];
    }
  | {
      readonly code: typeof TableRegisterEventCode.deletionVectors;
      readonly location: string;
      readonly minimumRuntime: string;
      readonly message: string;
    }
  | {
      readonly code: typeof TableRegisterEventCode.alreadyRegistered;
      readonly name: string;
      readonly location: string;
    }
  | {
      readonly code: typeof TableRegisterEventCode.created;
      readonly name: string;
      readonly location: string;
      readonly statementId: string;
    };

export interface RegisterTableOptions {
  /** The Delta table (`--delta`): its URL is the LOCATION. */
  readonly delta: ObjectStore;
  /** Reads the Delta log (checkpoints). */
  readonly engine: DeltaEngine;
  readonly name: UnityCatalogName;
  /** Check the table and return the statement; submit nothing (no `client` needed). */
  readonly dryRun?: boolean;
  /** Runs the statements; required unless `dryRun`. */
  readonly client?: StatementRunner;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: TableRegisterEvent) => void;
}

/** What `registerTable` did. */
export interface RegisterTableResult {
  /** `registered`: created now; `already-registered`: the name already names this table; `dry-run`: nothing submitted. */
  readonly outcome: 'registered' | 'already-registered' | 'dry-run';
  /** The name as the statements spell it (backticks). */
  readonly name: string;
  readonly location: string;
  /** The CREATE TABLE statement (submitted only when `outcome` is `registered`). */
  readonly statement: string;
  /** The Delta table's version when it was read. */
  readonly version: number;
  readonly readerFeatures: readonly string[];
  readonly deletionVectors: boolean;
  /** The Databricks Runtime readers need: 12.2 LTS with deletion vectors, null otherwise. */
  readonly minimumRuntime: string | null;
  readonly warehouseId: string | null;
  /** Every statement submitted, in order (ids to look up in the warehouse query history). */
  readonly statementIds: readonly string[];
}

/** `s3://b/p` without trailing slashes; `s3a://` and `s3n://` (Hadoop's spellings) as `s3://`. */
export function normalizedLocation(location: string): string {
  return location
    .trim()
    .replace(/^s3[an]:\/\//i, 's3://')
    .replace(/\/+$/, '');
}

function isNotFound(error: unknown): boolean {
  if (!(error instanceof DatabricksStatementError)) return false;
  return (
    error.sqlState === '42P01' ||
    error.errorCode === 'TABLE_OR_VIEW_NOT_FOUND' ||
    (error.apiMessage ?? '').includes('TABLE_OR_VIEW_NOT_FOUND')
  );
}

interface Existing {
  readonly format: string | null;
  readonly location: string | null;
}

async function describeExisting(
  client: StatementRunner,
  name: UnityCatalogName,
  signal: AbortSignal | undefined,
  ids: string[],
): Promise<Existing | undefined> {
  let result: StatementResult;
  try {
    result = await client.execute(describeDetailStatement(name), signal === undefined ? {} : { signal });
  } catch (error) {
    if (error instanceof DatabricksStatementError) ids.push(error.statementId);
    if (isNotFound(error)) return undefined;
    throw error;
  }
  ids.push(result.statementId);
  const column = (wanted: string) => result.columns.find((c) => c.name.toLowerCase() === wanted)?.position;
  const locationAt = column('location');
  const row = result.rows[0];
  if (locationAt === undefined || row === undefined) {
    throw new TableRegisterError(
      TableRegisterErrorCode.unexpectedAnswer,
      `DESCRIBE DETAIL ${unityCatalogNameSql(name)} (statement ${result.statementId}) answered ${row === undefined ? 'no row' : 'without a location column'}, so whether the name already names another table is unknown; nothing was created. Run it in the SQL editor to see what the name holds.`,
    );
  }
  const formatAt = column('format');
  return {
    format: formatAt === undefined ? null : (row[formatAt] ?? null),
    location: row[locationAt] ?? null,
  };
}

function assertSameTable(name: UnityCatalogName, existing: Existing, location: string, after: boolean): void {
  const sql = unityCatalogNameSql(name);
  const format = existing.format?.toLowerCase() ?? null;
  if (format !== null && format !== 'delta') {
    throw new TableRegisterError(
      TableRegisterErrorCode.nameTaken,
      `${sql} already exists in Unity Catalog as a ${existing.format} table${existing.location === null ? '' : ` at ${existing.location}`}, not the Delta table at ${location}; nothing was created. Choose another --name, or drop that table first if it is no longer used.`,
    );
  }
  if (existing.location === null || normalizedLocation(existing.location) !== normalizedLocation(location)) {
    throw new TableRegisterError(
      TableRegisterErrorCode.nameTaken,
      `${sql} ${after ? 'was created by someone else meanwhile' : 'already exists in Unity Catalog'} at ${existing.location ?? 'no location (a managed table or a view)'}, not at ${location}; ${after ? 'this statement did nothing (IF NOT EXISTS)' : 'nothing was created'}. Choose another --name, or, if that table is a stale registration, drop it first (DROP TABLE on an external table leaves its files alone) and run this again.`,
    );
  }
}

/**
 * Registers the ddb-lake table at `options.delta` in Unity Catalog as `options.name`: reads its Delta
 * log (refusing a table not on S3 or not written by ddb-lake apply, and reporting deletion vectors
 * with the Databricks Runtime they need), then, unless `dryRun`, runs DESCRIBE DETAIL on the name:
 * a table there at the same location means nothing to do; at another location, or not a Delta
 * table, it refuses; none, it runs `CREATE TABLE IF NOT EXISTS <name> USING DELTA LOCATION '<url>'`
 * and runs DESCRIBE DETAIL again, since IF NOT EXISTS would silently keep a table someone created
 * meanwhile. Idempotent: a rerun finds the table and creates nothing.
 * @throws TableRegisterError as its codes say; DeltaTableNotFoundError when `delta` holds no table;
 *   the log reader's errors; the client's errors (DatabricksStatementError, DatabricksRequestError, …).
 */
export async function registerTable(options: RegisterTableOptions): Promise<RegisterTableResult> {
  const emit = options.onEvent ?? (() => {});
  const location = options.delta.url;
  const name = unityCatalogNameSql(options.name);
  if (!location.startsWith('s3://')) {
    throw new TableRegisterError(
      TableRegisterErrorCode.notCloudStorage,
      `The Delta table at ${location} is not on S3. Unity Catalog reads external tables from cloud storage through an external location, so a local folder cannot be registered. Apply the table to s3://bucket/prefix (ddb-lake apply --delta s3://…) and register that.`,
    );
  }
  const snapshot = await loadReadSnapshot(options.delta, options.engine);
  if (!hasTableLayout(snapshot.metadata.configuration)) {
    throw new TableRegisterError(
      TableRegisterErrorCode.notALakeTable,
      `The Delta table at ${location} was not written by ddb-lake apply (its properties hold no ddb_lake.keys); table register only registers tables ddb-lake writes. Nothing was submitted. Point --delta at the table apply maintains, or register other tables with CREATE TABLE in Databricks yourself.`,
    );
  }
  const readerFeatures = [...(snapshot.protocol.readerFeatures ?? [])];
  emit({ code: TableRegisterEventCode.tableRead, location, version: snapshot.version, readerFeatures });
  const deletionVectors =
    readerFeatures.includes('deletionVectors') ||
    snapshot.metadata.configuration['delta.enableDeletionVectors'] === 'true';
  if (deletionVectors) {
    emit({
      code: TableRegisterEventCode.deletionVectors,
      location,
      minimumRuntime: DELETION_VECTORS_MINIMUM_RUNTIME,
      message: `The table at ${location} has deletion vectors (apply's merge-on-read): Databricks reads it from Databricks Runtime ${DELETION_VECTORS_MINIMUM_RUNTIME} on; SQL warehouses read it, older clusters fail.`,
    });
  }
  const statement = registerTableStatement(options.name, location);
  const base = {
    name,
    location,
    statement,
    version: snapshot.version,
    readerFeatures,
    deletionVectors,
    minimumRuntime: deletionVectors ? DELETION_VECTORS_MINIMUM_RUNTIME : null,
  };
  if (options.dryRun === true) {
    return { outcome: 'dry-run', ...base, warehouseId: null, statementIds: [] };
  }
  const client = options.client;
  if (client === undefined) throw new TypeError('registerTable needs a client unless dryRun is set');
  const ids: string[] = [];
  const found = await describeExisting(client, options.name, options.signal, ids);
  if (found !== undefined) {
    assertSameTable(options.name, found, location, false);
    emit({ code: TableRegisterEventCode.alreadyRegistered, name, location });
    return { outcome: 'already-registered', ...base, warehouseId: client.warehouseId, statementIds: ids };
  }
  const created = await client.execute(
    statement,
    options.signal === undefined ? {} : { signal: options.signal },
  );
  ids.push(created.statementId);
  const after = await describeExisting(client, options.name, options.signal, ids);
  if (after === undefined) {
    throw new TableRegisterError(
      TableRegisterErrorCode.unexpectedAnswer,
      `CREATE TABLE ${name} succeeded (statement ${created.statementId}) but DESCRIBE DETAIL does not find the table; check the warehouse query history and Catalog Explorer, then run this again.`,
    );
  }
  assertSameTable(options.name, after, location, true);
  emit({ code: TableRegisterEventCode.created, name, location, statementId: created.statementId });
  return { outcome: 'registered', ...base, warehouseId: client.warehouseId, statementIds: ids };
}
