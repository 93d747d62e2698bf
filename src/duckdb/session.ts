import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  type DuckDBConnection,
  DuckDBInstance,
  type DuckDBResultReader,
  type DuckDBValue,
} from '@duckdb/node-api';
import { DdbLakeError } from '../errors.ts';

/*
 * One DuckDB session: an in-memory database, one connection, the session time zone pinned to UTC
 * (so TIMESTAMPTZ columns are written to Parquet as adjusted-to-UTC, as Spark requires), a scratch
 * folder for files on their way to or from an object store, and an explicit close. Extensions are
 * never downloaded: Parquet and JSON are built into @duckdb/node-api.
 */

export class DuckDbError extends DdbLakeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DUCKDB_FAILED', message, options);
  }
}

export interface DuckSessionOptions {
  /** Worker threads; default: DuckDB's (the number of cores). */
  readonly threads?: number;
  /** e.g. `4GB`; default: DuckDB's (80% of memory). */
  readonly memoryLimit?: string;
}

/** Parameters bound by position (`?` / `$1`) or by name (`$name`). */
export type SqlParams = readonly DuckDBValue[] | Readonly<Record<string, DuckDBValue>>;

export class DuckSession {
  readonly connection: DuckDBConnection;
  /** A private folder for this session's scratch files; removed by `close`. */
  readonly scratchDir: string;
  private readonly instance: DuckDBInstance;
  private closed = false;

  private constructor(instance: DuckDBInstance, connection: DuckDBConnection, scratchDir: string) {
    this.instance = instance;
    this.connection = connection;
    this.scratchDir = scratchDir;
  }

  /** Opens an in-memory session. Close it with `close()` (in a `finally`). */
  static async open(options: DuckSessionOptions = {}): Promise<DuckSession> {
    const scratchDir = await mkdtemp(path.join(tmpdir(), 'ddb-lake-duckdb-'));
    const config: Record<string, string> = {
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'true',
      temp_directory: path.join(scratchDir, 'spill'),
    };
    if (options.threads !== undefined) config.threads = String(options.threads);
    if (options.memoryLimit !== undefined) config.memory_limit = options.memoryLimit;
    let instance: DuckDBInstance | undefined;
    try {
      instance = await DuckDBInstance.create(':memory:', config);
      const connection = await instance.connect();
      await connection.run(`SET TimeZone = 'UTC'`);
      return new DuckSession(instance, connection, scratchDir);
    } catch (error) {
      instance?.closeSync();
      await rm(scratchDir, { recursive: true, force: true });
      throw new DuckDbError(`Could not start DuckDB: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Runs statements that return nothing of interest. */
  async run(sql: string, params?: SqlParams): Promise<void> {
    await this.connection.run(sql, params as DuckDBValue[] | Record<string, DuckDBValue> | undefined);
  }

  /** Runs a query and reads every row. */
  async all(sql: string, params?: SqlParams): Promise<DuckDBResultReader> {
    return this.connection.runAndReadAll(
      sql,
      params as DuckDBValue[] | Record<string, DuckDBValue> | undefined,
    );
  }

  /**
   * Appends `values` as rows of the existing one-column text table `table` (DuckDB's appender:
   * no SQL text per row). The rows are in the table when this resolves.
   */
  async appendTextRows(table: string, values: Iterable<string>): Promise<void> {
    const appender = await this.connection.createAppender(table);
    try {
      for (const value of values) {
        appender.appendVarchar(value);
        appender.endRow();
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
  }

  /** Closes the connection and the database and removes the scratch folder. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.connection.closeSync();
    this.instance.closeSync();
    await rm(this.scratchDir, { recursive: true, force: true });
  }
}

/** An SQL identifier, double-quoted, with embedded quotes doubled: any attribute name is safe. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** An SQL string literal (for the places DuckDB takes no parameter, such as COPY … TO 'path'). */
export function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
