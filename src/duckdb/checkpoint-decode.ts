import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  DuckDBArrayValue,
  DuckDBListValue,
  DuckDBMapValue,
  DuckDBStructValue,
  type DuckDBValue,
} from '@duckdb/node-api';
import { type Action, parseAction } from '../delta/actions.ts';
import type { CheckpointDecodeOptions } from '../delta/engine.ts';
import { DeltaLogCorruptError } from '../delta/errors.ts';
import { type DuckSession, quoteLiteral } from './session.ts';

/*
 * Reads a checkpoint Parquet file (PROTOCOL.md, "Checkpoints", "Checkpoint Schema") into actions,
 * whatever writer laid it out: Spark (with `cdc` and `commitInfo` columns, always null), delta-rs
 * (columns in another order, `stats_parsed`), ddb-lake. One action per row: the row's one non-null
 * top-level column. Struct fields that are null are dropped (absent in JSON), map entries keep
 * their null values (a null partition value is data), and the derived `stats_parsed` /
 * `partitionValues_parsed` are dropped: the log's JSON form (`stats`, `partitionValues`) is the truth.
 */

/** The columns a V1 checkpoint is made of; a file with none of them is not a checkpoint. */
const ACTION_COLUMNS = new Set(['add', 'remove', 'metaData', 'protocol', 'txn', 'domainMetadata']);

/** Fields of `add` / `remove` that repeat other fields in typed form. */
const DERIVED_FIELDS = new Set(['stats_parsed', 'partitionValues_parsed']);

/** A DuckDB value as the JSON value the log would hold. */
function plain(value: DuckDBValue): unknown {
  if (
    value === null ||
    typeof value === 'boolean' ||
    typeof value === 'number' ||
    typeof value === 'string'
  ) {
    return value;
  }
  // Longs count bytes, milliseconds and versions; parseAction refuses one past 2^53.
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof DuckDBStructValue) {
    const object: Record<string, unknown> = {};
    for (const [name, field] of Object.entries(value.entries)) {
      if (field !== null) object[name] = plain(field);
    }
    return object;
  }
  if (value instanceof DuckDBMapValue) {
    const object: Record<string, unknown> = {};
    for (const entry of value.entries) object[String(plain(entry.key))] = plain(entry.value);
    return object;
  }
  if (value instanceof DuckDBListValue || value instanceof DuckDBArrayValue) return value.items.map(plain);
  return value.toString();
}

/** One action's body, without the derived fields of file actions. */
function actionBody(name: string, value: DuckDBValue): unknown {
  const body = plain(value);
  if ((name === 'add' || name === 'remove') && typeof body === 'object' && body !== null) {
    for (const field of DERIVED_FIELDS) delete (body as Record<string, unknown>)[field];
  }
  return body;
}

function corrupt(file: string, what: string, cause?: unknown): DeltaLogCorruptError {
  return new DeltaLogCorruptError(
    `The checkpoint ${file} ${what}. A checkpoint can be rebuilt from the JSON commits: delete it (and _last_checkpoint if it names it) so readers replay the commits, or restore it from a backup.`,
    { file, cause },
  );
}

/** The query of a checkpoint's rows: all of them, or all but its `remove` rows (`filtered`). */
async function rowsQuery(
  session: DuckSession,
  local: string,
  removes: boolean,
  file: string,
): Promise<{ readonly sql: string; readonly filtered: boolean }> {
  const all = `SELECT * FROM read_parquet(${quoteLiteral(local)})`;
  if (removes) return { sql: all, filtered: false };
  let names: readonly string[];
  try {
    names = (await session.all(`${all} LIMIT 0`)).columnNames();
  } catch (error) {
    throw corrupt(file, `is not a readable Parquet file (${(error as Error).message})`, error);
  }
  if (!names.includes('remove')) return { sql: all, filtered: false };
  return {
    sql: `SELECT * EXCLUDE (remove) FROM read_parquet(${quoteLiteral(local)}) WHERE remove IS NULL`,
    filtered: true,
  };
}

/**
 * The actions of one checkpoint file (a classic checkpoint or one part of a multi-part one), in
 * row order, through DuckDB: the bytes are written to the session's scratch folder (and removed
 * afterwards), read with `read_parquet`, and each row's non-null action column checked with
 * `parseAction`. Columns a writer left out are simply absent; unknown ones (`sidecar`,
 * `checkpointMetadata`) come back as `other` actions for the log replay to judge. With
 * `options.removes` false the `remove` rows are not read back (filtered in DuckDB, so a checkpoint
 * of many tombstones costs a reader little).
 * @throws DeltaLogCorruptError naming `file` when the bytes are not Parquet, hold no action
 *   column, or a row is not a valid action.
 */
export async function decodeCheckpoint(
  session: DuckSession,
  bytes: Uint8Array,
  file: string,
  options: CheckpointDecodeOptions = {},
): Promise<Action[]> {
  const local = path.join(session.scratchDir, `checkpoint-${randomUUID()}.parquet`);
  await writeFile(local, bytes);
  try {
    const query = await rowsQuery(session, local, options.removes ?? true, file);
    let reader: Awaited<ReturnType<DuckSession['all']>>;
    try {
      reader = await session.all(query.sql);
    } catch (error) {
      throw corrupt(file, `is not a readable Parquet file (${(error as Error).message})`, error);
    }
    const names = reader.columnNames();
    if (!query.filtered && !names.some((name) => ACTION_COLUMNS.has(name))) {
      throw corrupt(
        file,
        `has none of the action columns (${[...ACTION_COLUMNS].join(', ')}); its columns are ${names.join(', ')}`,
      );
    }
    const actions: Action[] = [];
    const rows = reader.getRows();
    for (let index = 0; index < rows.length; index++) {
      const row = rows[index] as DuckDBValue[];
      const object: Record<string, unknown> = {};
      for (let column = 0; column < names.length; column++) {
        const value = row[column] ?? null;
        const name = names[column] as string;
        if (value !== null) object[name] = actionBody(name, value);
      }
      if (Object.keys(object).length === 0) continue;
      try {
        actions.push(parseAction(object, { file, line: index + 1 }));
      } catch (error) {
        // Rows were left out, so index + 1 is not the file's line: the whole file names it.
        if (query.filtered) await decodeCheckpoint(session, bytes, file);
        throw error;
      }
    }
    return actions;
  } finally {
    await rm(local, { force: true });
  }
}
