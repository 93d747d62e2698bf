import path from 'node:path';
import type { ExpectStatic } from 'vitest';
import { readBatchRecord } from '../../../src/apply/batch-record.ts';
import {
  parseTombstone,
  type Tombstone,
  tombstoneFiles,
  tombstonesKey,
} from '../../../src/apply/changes/tombstones.ts';
import { batchStatements } from '../../../src/apply/statements/batch-statements.ts';
import { loadReadSnapshot } from '../../../src/delta/load-snapshot.ts';
import type { StructType } from '../../../src/delta/schema.ts';
import { duckdbEngine } from '../../../src/duckdb/duckdb-engine.ts';
import { type DuckSession, quoteIdentifier } from '../../../src/duckdb/session.ts';
import {
  duckdbStatementDialect,
  duckdbTableStatements,
  registerStatementFunctions,
} from '../../../src/duckdb/statement-dialect.ts';
import { createSnapshotView } from '../../../src/duckdb/table-scan.ts';
import { openExport } from '../../../src/formats/export-layout.ts';
import { readGzipJsonLines } from '../../../src/formats/gzip-json-lines.ts';
import { readTableLayout } from '../../../src/lake/table-layout.ts';
import type { LocalFolderStore } from '../../../src/storage/local-folder-store.ts';

/*
 * The statement plan rendered for DuckDB, run beside the local engine: after each batch the local
 * engine applied, the plan of the same batch (its record's inputs, the layout the engine evolved)
 * runs on a DuckDB table, and that table must equal the engine's Delta table row for row and cell
 * for cell (system columns, typed attribute columns, conflict columns); its checks return nothing
 * and the tombstones it returns are those the engine wrote.
 */

let tables = 0;

async function readAll(
  session: DuckSession,
  sql: string,
  parameters?: Record<string, string>,
): Promise<unknown[]> {
  return (await session.all(sql, parameters)).getRowObjects();
}

/** The locations of the tombstone files of the batches before `batch`. */
export async function tombstoneFilesBefore(delta: LocalFolderStore, batch: number): Promise<string[]> {
  const files = await tombstoneFiles(delta, batch - 1);
  return [...(files.compacted === undefined ? [] : [files.compacted]), ...files.perBatch].map((key) =>
    path.join(delta.rootDir, key),
  );
}

/** The tombstones the local engine wrote for `batch` (none when it wrote no file). */
async function tombstonesOfBatch(delta: LocalFolderStore, batch: number): Promise<Map<string, Tombstone>> {
  const found = new Map<string, Tombstone>();
  if ((await delta.head(tombstonesKey(batch))) === undefined) return found;
  for await (const { line, value } of readGzipJsonLines(delta, tombstonesKey(batch))) {
    const tombstone = parseTombstone(value, tombstonesKey(batch), line);
    found.set(tombstone.key, tombstone);
  }
  return found;
}

/** Runs the DuckDB rendering of each batch the local engine applies, and compares (see the top of this file). */
export class StatementPlanCheck {
  readonly #session: DuckSession;
  readonly #landing: LocalFolderStore;
  readonly #delta: LocalFolderStore;
  readonly #expect: ExpectStatic;
  /** The DuckDB table the plan writes. */
  readonly lake = `plan_lake_${++tables}`;
  #schema: StructType | undefined;

  /** `session` gets the plan's functions registered; `expect` is the test's (concurrent tests pass theirs). */
  constructor(
    session: DuckSession,
    landing: LocalFolderStore,
    delta: LocalFolderStore,
    expect: ExpectStatic,
  ) {
    this.#session = session;
    this.#landing = landing;
    this.#delta = delta;
    this.#expect = expect;
    registerStatementFunctions(session);
  }

  /** Runs the plan of `batch`, which the local engine has just applied, and checks it (see the top of this file). */
  async afterBatch(batch: number): Promise<void> {
    await this.runPlan(batch, this.#schema);
    this.#expect(await this.differences(), `the plan's table after batch ${batch}`).toEqual([]);
  }

  /**
   * Runs the plan of `batch` (as the local engine recorded and evolved it) on the DuckDB table,
   * over a table of `previousSchema` (undefined: the batch creates it); returns the schema after.
   */
  async runPlan(batch: number, previousSchema: StructType | undefined): Promise<StructType> {
    const session = this.#session;
    const delta = this.#delta;
    const expect = this.#expect;
    const record = await readBatchRecord(delta, batch);
    if (record === undefined) throw new Error(`no record of batch ${batch}`);
    const table = await loadReadSnapshot(delta, duckdbEngine(session));
    const layout = readTableLayout(table.metadata.configuration);
    const at = (key: string): string => path.join(this.#landing.rootDir, key);
    let snapshot: { files: string[]; source: 'export' | 'scan' } | undefined;
    if (record.snapshot !== undefined) {
      const opened = await openExport(this.#landing, `AWSDynamoDB/${record.snapshot.exportId}/`);
      snapshot = { files: opened.files.map((file) => at(file.key)), source: record.snapshot.kind };
    }
    const statements = batchStatements(duckdbStatementDialect, duckdbTableStatements, {
      batch,
      table: [this.lake],
      tombstoneFiles: await tombstoneFilesBefore(delta, batch),
      layout,
      schema: table.schema,
      previousSchema,
      changeFiles: record.changeFiles.map(at),
      ...(snapshot === undefined ? {} : { snapshot }),
    });
    for (const statement of statements) {
      const parameters = Object.fromEntries(statement.parameters.map((p) => [p.name, p.value]));
      if (statement.check) {
        const rows = await readAll(session, statement.sql, parameters);
        expect(rows, `${statement.purpose} of batch ${batch}`).toEqual([]);
      } else if (statement.purpose === 'batch-tombstones') {
        // The tombstones the plan returns are the ones the local engine wrote for the batch.
        const rows = (await readAll(session, statement.sql, parameters)) as {
          key: string;
          seq: string;
          source: string;
          ts: bigint;
        }[];
        const returned = rows.map((row) => ({
          key: row.key,
          order: { source: row.source, seq: row.seq, tsMicros: BigInt(row.ts) * 1000n },
        }));
        expect(await tombstonesOfBatch(delta, batch), `tombstones of batch ${batch}`).toEqual(
          new Map(returned.map((t) => [t.key, t])),
        );
      } else {
        await session.run(statement.sql, parameters);
      }
    }
    this.#schema = table.schema;
    return table.schema;
  }

  /** Rows of the local engine's table that the plan's table lacks, and the other way round. */
  differences(): Promise<unknown[]> {
    return planTableDifferences(this.#session, this.#delta, this.lake);
  }
}

/**
 * Rows of the local engine's Delta table at `delta` that the DuckDB table `lake` lacks, and the
 * other way round, each with the side it is only in: none when the two are equal.
 */
export async function planTableDifferences(
  session: DuckSession,
  delta: LocalFolderStore,
  lake: string,
): Promise<unknown[]> {
  const table = await loadReadSnapshot(delta, duckdbEngine(session));
  const view = `${lake}_engine_rows`;
  await createSnapshotView(session, delta, table, view);
  const columns = table.schema.fields.map((field) => quoteIdentifier(field.name)).join(', ');
  return readAll(
    session,
    `(SELECT 'only in the engine''s table' AS side, ${columns} FROM ${view} EXCEPT ALL SELECT 'only in the engine''s table', ${columns} FROM ${lake})
     UNION ALL
     (SELECT 'only in the plan''s table', ${columns} FROM ${lake} EXCEPT ALL SELECT 'only in the plan''s table', ${columns} FROM ${view})`,
  );
}
