import { ApplyErrorCode, ApplyRunError } from '../apply/apply-errors.ts';
import { readBatchCompletion, writeBatchCompletion } from '../apply/batch-completion.ts';
import { type BatchContext, foldChanges, quarantineBadLines } from '../apply/batch-context.ts';
import type { BatchEngine, PlannedBatch } from '../apply/batch-engine.ts';
import type { BatchRecord } from '../apply/batch-record.ts';
import type { WarehouseBatch, WarehouseDryRun, WarehouseStatement } from '../apply/batch-result.ts';
import { schemaChangesOf } from '../apply/batch-result.ts';
import { winnerItem } from '../apply/changes/batch-rows.ts';
import { writeCompactedTombstones } from '../apply/changes/tombstone-compaction.ts';
import {
  readTombstones,
  type Tombstone,
  tombstoneFiles,
  writeTombstones,
} from '../apply/changes/tombstones.ts';
import { reopenSnapshot } from '../apply/inputs/input-discovery.ts';
import { firstBatchLayout } from '../apply/snapshot/first-batch.ts';
import { discardEarlyRows, inferSnapshotSchema } from '../apply/snapshot/snapshot-load.ts';
import {
  type BatchStatementInput,
  batchStatements,
  type PlannedStatement,
} from '../apply/statements/batch-statements.ts';
import { evolutionSummaryOf, schemaStatisticsStatement } from '../apply/statements/schema-statistics.ts';
import { loadReadSnapshot } from '../delta/load-snapshot.ts';
import type { StructType } from '../delta/schema.ts';
import type { BadLine } from '../formats/bad-line.ts';
import { supersedes } from '../lake/change-order.ts';
import { SchemaEvolution, type SchemaEvolutionPlan } from '../lake/schema-evolution.ts';
import { isPaddedSeq } from '../lake/sequence-number.ts';
import { layoutConfiguration, TABLE_NAME_PROPERTY } from '../lake/table-layout.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { BUCKET_FUNCTION_NAME, bucketFunctionSql } from './bucket-function.ts';
import { DatabricksStatementError } from './databricks-errors.ts';
import { PLAIN_JSON_FUNCTION_NAME, plainJsonFunctionSql } from './plain-json-function.ts';
import {
  databricksName,
  databricksStatementDialect,
  databricksString,
  databricksTableStatements,
  setLayoutPropertiesStatement,
} from './statement-dialect.ts';
import type { StatementParameter } from './statement-execution.ts';

/*
 * `apply --engine databricks`: the planned batch (apply-batch.ts plans, gates, records it and
 * holds the lease, as for our engine) run as SQL on a SQL warehouse through the Statement
 * Execution API, the table an external table in Unity Catalog at `--delta`.
 *
 *   1. ddb-lake's two Python functions (plain JSON, bucket) created or replaced in the schema;
 *   2. a table that exists (our engine's, or a warehouse batch 1 killed before its mark): registered
 *      if it is not, and its location checked;
 *   3. the checks of the change files (lines that are no record of the table, copies of one record
 *      that differ): any row stops the batch, its lines quarantined as our engine does;
 *   4. the schema statistics: the warehouse counts the batch's attributes and types, and the same
 *      SchemaEvolution as our engine decides the columns from the counts, so both engines give a
 *      table the same columns; no data is read here;
 *   5. batch 1: CREATE TABLE … LOCATION --delta with the layout's properties; later batches: the
 *      columns the batch adds (ALTER TABLE … ADD COLUMNS) and the layout's properties;
 *   6. the MERGE, guarded by `_ddb_seq`;
 *   7. the batch's tombstones, read back and written as the batch's tombstone file, where our
 *      engine keeps them;
 *   8. the batch's completion mark beside the table (batch-completion.ts).
 * A warehouse cannot write `txn`: a run killed after step 6 runs the batch again, and every
 * statement then changes nothing; only step 8 says the batch is done.
 */

/** What runs a statement: the Statement Execution API client, or a fake of it in tests. */
export interface StatementRunner {
  execute(
    statement: string,
    options: { readonly parameters?: readonly StatementParameter[]; readonly signal?: AbortSignal },
  ): Promise<{
    readonly statementId: string;
    readonly columns: readonly { readonly name: string }[];
    readonly rows: readonly (readonly (string | null)[])[];
  }>;
}

/** A statement of the batch: the plan's, or one of the engine's own (functions, registration, properties). */
type EngineStatement = Omit<PlannedStatement, 'purpose'> & { readonly purpose: string };

/** Where the batch's table lives in Unity Catalog. */
export interface UnityCatalogTable {
  readonly catalog: string;
  readonly schema: string;
  readonly name: string;
}

export interface DatabricksEngineOptions {
  /** Runs the statements; unused by a dry run. */
  readonly runner?: StatementRunner;
  readonly table: UnityCatalogTable;
  /** Ctrl-C: the statement running is cancelled (the client's contract). */
  readonly signal?: AbortSignal;
}

const EMPTY_SCHEMA: StructType = { type: 'struct', fields: [] };

/** The location Databricks reads an object of a store at: `s3://bucket/prefix/key`. */
function locationOf(store: ObjectStore, key: string): string {
  return `${store.url.replace(/\/$/, '')}/${key}`;
}

function assertCloudStores(context: BatchContext, dryRun: boolean): void {
  if (dryRun) return;
  for (const [flag, store] of [
    ['--landing', context.options.landing],
    ['--delta', context.options.delta],
  ] as const) {
    if (!store.url.startsWith('s3://')) {
      throw new ApplyRunError(
        ApplyErrorCode.invalidOption,
        `--engine databricks needs ${flag} on S3 (s3://bucket/prefix), where a SQL warehouse can read it through an external location; ${store.url} is not. Use --engine duckdb for a local folder, or --dry-run to see the statements.`,
      );
    }
  }
  const { maxBad, replayQuarantine } = context.options;
  if ((maxBad ?? 0) > 0 || replayQuarantine !== undefined) {
    throw new ApplyRunError(
      ApplyErrorCode.invalidOption,
      `--engine databricks applies no batch with a bad line (it quarantines the lines and stops): --max-bad and --replay-quarantine, which let such lines through, need --engine duckdb.`,
    );
  }
}

/** The batch's layout before evolution, and the snapshot's data files for batch 1. */
async function startingPoint(context: BatchContext, planned: PlannedBatch) {
  const { record } = planned;
  // Batch 1 loads its snapshot also when a run killed after CREATE TABLE left the table there.
  const found =
    record.snapshot === undefined
      ? undefined
      : await reopenSnapshot(context.options.landing, context.name, record.snapshot);
  if (planned.layout !== undefined && planned.table !== undefined) {
    return { layout: planned.layout, schema: planned.table.schema, snapshot: found };
  }
  if (found === undefined || record.settings === undefined) {
    throw new ApplyRunError(
      ApplyErrorCode.batchRecordCorrupt,
      `The record of batch ${record.batch} beside ${context.options.delta.url} names no snapshot or settings, and there is no table yet.`,
    );
  }
  // No schema yet, as for our engine's first batch: the new table reads attributes, conflicts, system columns.
  return {
    layout: firstBatchLayout(record, record.settings, found.exportTimeMs),
    schema: EMPTY_SCHEMA,
    snapshot: found,
  };
}

/**
 * The batch's schema evolution from its inputs, as our engine decides it: the winners of the
 * change files (hard deletes: those newer than their tombstone), and for batch 1 every snapshot
 * item. Reads the inputs on this machine: for the dry run, which foresees the warehouse's counts.
 */
async function evolve(
  context: BatchContext,
  record: BatchRecord,
  start: Awaited<ReturnType<typeof startingPoint>>,
  dryRun: boolean,
): Promise<SchemaEvolutionPlan> {
  const { layout, schema, snapshot } = start;
  const { winners, read } = await foldChanges(context, record, layout);
  const refuseBadLines = async (lines: readonly BadLine[]): Promise<void> => {
    if (lines.length === 0) return;
    // The warehouse would stop at them (or read a record without its key): quarantined, the batch stops.
    if (!dryRun) await quarantineBadLines(context, record.batch, lines);
    const first = lines[0] as BadLine;
    throw new ApplyRunError(
      ApplyErrorCode.tooManyBadLines,
      `Batch ${record.batch} has ${lines.length} bad line(s), the first ${first.file} line ${first.line}: ${first.reason}. --engine databricks applies no batch with a bad line; fix the file and run again, or apply the batch with --engine duckdb and --max-bad.`,
    );
  };
  if (snapshot !== undefined) {
    const pass = { session: context.session, landing: context.options.landing, snapshot, emit: context.emit };
    const schemaPass = await inferSnapshotSchema(pass, layout, schema, winners);
    await discardEarlyRows(schemaPass.early);
    await refuseBadLines([...read.badLines, ...schemaPass.badLines]);
    return schemaPass.plan;
  }
  await refuseBadLines(read.badLines);
  let kept = winners;
  if (layout.deletes === 'hard' && winners.length > 0) {
    const found = await readTombstones(context.options.delta, new Set(winners.map((w) => w.key)), {
      before: record.batch,
    });
    kept = winners.filter((winner) => {
      const tombstone = found.get(winner.key);
      return tombstone === undefined || supersedes(winner.order, tombstone.order);
    });
  }
  const evolution = new SchemaEvolution(layout, schema);
  for (const winner of kept) evolution.observe(winnerItem(winner, layout.deletes));
  return evolution.result();
}

/** What both phases of the batch's statements share. */
interface BatchSetting {
  readonly start: Awaited<ReturnType<typeof startingPoint>>;
  readonly table: readonly string[];
  readonly dialect: ReturnType<typeof databricksStatementDialect>;
  readonly input: Omit<BatchStatementInput, 'layout' | 'schema'>;
}

function engineStatement(purpose: string, sql: string): EngineStatement {
  return { purpose, sql, parameters: [], check: false };
}

async function settingOf(
  context: BatchContext,
  planned: PlannedBatch,
  options: DatabricksEngineOptions,
): Promise<BatchSetting> {
  const { record } = planned;
  const { landing, delta } = context.options;
  const start = await startingPoint(context, planned);
  const { catalog, schema, name } = options.table;
  const files = await tombstoneFiles(delta, record.batch - 1);
  const tombstones = [...(files.compacted === undefined ? [] : [files.compacted]), ...files.perBatch];
  return {
    start,
    table: [catalog, schema, name],
    dialect: databricksStatementDialect({ catalog, schema }),
    input: {
      batch: record.batch,
      table: [catalog, schema, name],
      tombstoneFiles: tombstones.map((key) => locationOf(delta, key)),
      previousSchema: planned.table?.schema,
      changeFiles: record.changeFiles.map((key) => locationOf(landing, key)),
      ...(start.snapshot === undefined
        ? {}
        : {
            snapshot: {
              files: start.snapshot.opened.files.map((file) => locationOf(landing, file.key)),
              source: start.snapshot.kind,
            },
          }),
      incrementalExports: record.incrementalExports.length,
    },
  };
}

/**
 * The statements before the schema evolution: ddb-lake's functions, the table's registration and
 * location check (a table that exists), the checks of the change files, and the statement of the
 * batch's schema statistics, over the table as it is.
 */
function preludeStatements(context: BatchContext, setting: BatchSetting): EngineStatement[] {
  const { table, dialect, input, start } = setting;
  const [catalog, schema] = table as [string, string, string];
  const statements: EngineStatement[] = [
    engineStatement(
      'create-function',
      plainJsonFunctionSql({ catalog, schema, function: PLAIN_JSON_FUNCTION_NAME }),
    ),
    engineStatement(
      'create-function',
      bucketFunctionSql({ catalog, schema, function: BUCKET_FUNCTION_NAME }),
    ),
  ];
  if (input.previousSchema !== undefined) {
    // A table our engine created is registered first; a name taken by another location is refused.
    statements.push(
      engineStatement(
        'register-table',
        `CREATE TABLE IF NOT EXISTS ${databricksName(table)} USING DELTA LOCATION ${databricksString(context.options.delta.url)}`,
      ),
      engineStatement('table-location', `DESCRIBE DETAIL ${databricksName(table)}`),
    );
  }
  // The checks depend on the keys and the window only: rendered with the layout as it is.
  const checks = batchStatements(dialect, databricksTableStatements({ location: '', properties: {} }), {
    ...input,
    layout: start.layout,
    schema: start.schema,
  }).filter((statement) => statement.check);
  statements.push(...checks);
  statements.push(
    schemaStatisticsStatement(dialect, {
      batch: input.batch,
      tombstoneFiles: input.tombstoneFiles,
      layout: start.layout,
      schema: start.schema,
      changeFiles: input.changeFiles,
      ...(input.snapshot === undefined ? {} : { snapshot: input.snapshot }),
      ...(input.incrementalExports === undefined ? {} : { incrementalExports: input.incrementalExports }),
    }),
  );
  return statements;
}

/** The statements after the schema evolution: the table or its new columns, the layout's properties, the MERGE, the tombstones. */
function batchStatementsAfter(
  context: BatchContext,
  planned: PlannedBatch,
  setting: BatchSetting,
  plan: SchemaEvolutionPlan,
): EngineStatement[] {
  const { record } = planned;
  const properties = {
    ...layoutConfiguration(plan.layout, { [TABLE_NAME_PROPERTY]: context.name }),
    ...(record.settings?.deletionVectors === false ? {} : { 'delta.enableDeletionVectors': 'true' }),
  };
  const batch = batchStatements(
    setting.dialect,
    databricksTableStatements({ location: context.options.delta.url, properties }),
    { ...setting.input, layout: plan.layout, schema: plan.schema },
  ).filter((statement) => !statement.check);
  const statements: EngineStatement[] = [];
  const setProperties = engineStatement(
    'set-properties',
    setLayoutPropertiesStatement(setting.table, properties),
  );
  const current = planned.table?.metadata.configuration;
  const changed =
    current !== undefined && Object.entries(properties).some(([key, value]) => current[key] !== value);
  for (const statement of batch) {
    // The layout records the columns added: set right after them (or before the MERGE), before any row uses them.
    if (statement.purpose === 'merge' && changed) statements.push(setProperties);
    statements.push(statement);
  }
  return statements;
}

function warehouseStatement(statement: EngineStatement, statementId: string | null): WarehouseStatement {
  return {
    purpose: statement.purpose,
    statementId,
    sql: statement.sql,
    parameters: statement.parameters.map((p) => ({ name: p.name, value: p.value, type: p.type })),
  };
}

function column(result: Awaited<ReturnType<StatementRunner['execute']>>, name: string): number {
  return result.columns.findIndex((c) => c.name.toLowerCase() === name.toLowerCase());
}

function countOf(result: Awaited<ReturnType<StatementRunner['execute']>>, name: string): number | null {
  const index = column(result, name);
  const value = index < 0 ? undefined : result.rows[0]?.[index];
  return value === undefined || value === null || !/^[0-9]+$/.test(value) ? null : Number(value);
}

/** The tombstones the batch's `batch-tombstones` query returned. */
function tombstonesOf(result: Awaited<ReturnType<StatementRunner['execute']>>, batch: number): Tombstone[] {
  const [key, seq, source, ts] = ['key', 'seq', 'source', 'ts'].map((name) => column(result, name)) as [
    number,
    number,
    number,
    number,
  ];
  return result.rows.map((row) => {
    const k = row[key];
    const s = row[seq];
    const t = row[ts];
    if (
      typeof k !== 'string' ||
      typeof s !== 'string' ||
      !isPaddedSeq(s) ||
      row[source] !== 'stream' ||
      typeof t !== 'string' ||
      !/^[0-9]+$/.test(t)
    ) {
      throw new ApplyRunError(
        ApplyErrorCode.batchRecordCorrupt,
        `The warehouse returned a tombstone of batch ${batch} that is not one (${JSON.stringify(row)}); nothing was marked done. Run again.`,
      );
    }
    return { key: k, order: { source: 'stream', seq: s, tsMicros: BigInt(t) * 1000n } };
  });
}

/** Creates the Databricks engine (see the top of this file). */
export function databricksEngine(options: DatabricksEngineOptions): BatchEngine {
  return {
    name: 'databricks',

    async dryRun(context, planned): Promise<WarehouseDryRun> {
      assertCloudStores(context, true);
      const setting = await settingOf(context, planned, options);
      // The statistics' answer is foreseen here, from the same inputs read on this machine.
      const plan = await evolve(context, planned.record, setting.start, true);
      const statements = [
        ...preludeStatements(context, setting),
        ...batchStatementsAfter(context, planned, setting, plan),
      ];
      return {
        outcome: 'dry-run',
        engine: 'databricks',
        batch: planned.record.batch,
        rebuilt: planned.rebuilt,
        changeFiles: planned.record.changeFiles.length,
        schemaChanges: schemaChangesOf(plan),
        statements: statements.map((statement) => warehouseStatement(statement, null)),
        durationMs: context.clock() - context.started,
      };
    },

    async apply(
      context,
      planned,
    ): Promise<
      WarehouseBatch | { outcome: 'already-applied'; batch: number; version: number; durationMs: number }
    > {
      assertCloudStores(context, false);
      const { record } = planned;
      const { delta } = context.options;
      const done = await readBatchCompletion(delta, record.batch);
      if (done !== undefined) {
        return {
          outcome: 'already-applied',
          batch: record.batch,
          version: done.version,
          durationMs: context.clock() - context.started,
        };
      }
      const runner = options.runner;
      if (runner === undefined) {
        throw new ApplyRunError(
          ApplyErrorCode.invalidOption,
          'The Databricks engine needs a statement runner (a workspace) to apply a batch.',
        );
      }
      const setting = await settingOf(context, planned, options);
      const snapshotExport = setting.start.snapshot?.exportId;
      const ran: WarehouseStatement[] = [];
      let merged: Awaited<ReturnType<StatementRunner['execute']>> | undefined;
      let tombstones: Tombstone[] = [];
      let plan: SchemaEvolutionPlan | undefined;
      // Rule 7: bad lines go to the batch's quarantine, named by file and line, as our engine
      // writes it; that reads the batch's change files here, on this path only. Throws
      // TooManyBadLinesError when there are any.
      const quarantine = async (): Promise<void> => {
        const { read } = await foldChanges(context, record, setting.start.layout);
        await quarantineBadLines(context, record.batch, read.badLines);
      };
      const run = async (statement: EngineStatement) => {
        const result = await (runner as StatementRunner)
          .execute(statement.sql, {
            parameters: statement.parameters.map((p) => ({ name: p.name, value: p.value, type: p.type })),
            ...(options.signal === undefined ? {} : { signal: options.signal }),
          })
          .catch(async (error: unknown) => {
            // A check reads every line: one that is not JSON fails it (FAILFAST).
            if (statement.check && error instanceof DatabricksStatementError) await quarantine();
            throw error;
          });
        ran.push(warehouseStatement(statement, result.statementId));
        if (statement.check && result.rows.length > 0) {
          await quarantine();
          const shown = result.rows
            .slice(0, 5)
            .map((row) => row.join(' '))
            .join('; ');
          throw new ApplyRunError(
            ApplyErrorCode.tooManyBadLines,
            statement.purpose === 'bad-records'
              ? `Batch ${record.batch}: ${result.rows.length} line(s) of the change files are no record of this table (a key attribute missing or not S, N or B, a bad sequence number or op; rule 7 of docs/DESIGN.md): ${shown}. Nothing was merged (statement ${result.statementId}).`
              : `Batch ${record.batch}: ${result.rows.length} record(s) of the change files share a key and sequence number with a copy that differs (${shown}): corrupt input that no order may resolve (rule 1 of docs/DESIGN.md). Nothing was merged (statement ${result.statementId}).`,
          );
        }
        if (statement.purpose === 'table-location') {
          const index = column(result, 'location');
          const location = index < 0 ? undefined : result.rows[0]?.[index];
          const want = delta.url.replace(/\/$/, '');
          if (typeof location !== 'string' || location.replace(/\/$/, '') !== want) {
            throw new ApplyRunError(
              ApplyErrorCode.tableMismatch,
              `The Unity Catalog table ${databricksName([options.table.catalog, options.table.schema, options.table.name])} is at ${location ?? 'an unknown location'}, not at --delta ${want}: nothing was merged. Check --catalog, --schema and --name.`,
            );
          }
        }
        if (statement.purpose === 'merge') merged = result;
        if (statement.purpose === 'batch-tombstones') tombstones = tombstonesOf(result, record.batch);
        if (statement.purpose === 'schema-statistics') {
          // The batch's columns, decided as our engine decides them, from what the warehouse counted.
          const { layout, schema } = setting.start;
          const rows = result.rows.map((row) =>
            Object.fromEntries(result.columns.map((c, i) => [c.name, row[i] ?? null])),
          );
          const evolution = new SchemaEvolution(layout, schema);
          evolution.merge(evolutionSummaryOf(rows, layout, schema));
          plan = evolution.result();
        }
      };
      for (const statement of preludeStatements(context, setting)) await run(statement);
      if (plan === undefined) throw new Error('the schema statistics statement did not run');
      for (const statement of batchStatementsAfter(context, planned, setting, plan)) await run(statement);
      const written = await writeTombstones(delta, record.batch, tombstones);
      await writeCompactedTombstones(delta, record.batch);
      const table = await loadReadSnapshot(delta, context.engine);
      await writeBatchCompletion(delta, {
        batch: record.batch,
        engine: 'databricks',
        version: table.version,
        statements: ran.map((s) => ({ purpose: s.purpose, statementId: s.statementId ?? '' })),
        completedAt: new Date(context.clock()).toISOString(),
      });
      return {
        outcome: 'applied',
        engine: 'databricks',
        batch: record.batch,
        version: table.version,
        appId: record.appId,
        rebuilt: planned.rebuilt,
        snapshot:
          record.snapshot === undefined || snapshotExport === undefined
            ? null
            : {
                exportId: record.snapshot.exportId,
                kind: record.snapshot.kind,
                exportTime: record.snapshot.exportTime,
              },
        changeFiles: record.changeFiles.length,
        replayedQuarantine: null,
        schemaChanges: schemaChangesOf(plan),
        inserted: merged === undefined ? null : countOf(merged, 'num_inserted_rows'),
        updated: merged === undefined ? null : countOf(merged, 'num_updated_rows'),
        deleted: merged === undefined ? null : countOf(merged, 'num_deleted_rows'),
        tombstones: written,
        statements: ran,
        durationMs: context.clock() - context.started,
      };
    },
  };
}
