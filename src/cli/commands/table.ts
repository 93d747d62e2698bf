import type { Command } from 'commander';
import { OptimizeEventCode } from '../../apply/optimize/optimize-events.ts';
import {
  DEFAULT_ALONG_DELETED_SHARE,
  DEFAULT_DELETED_SHARE,
  DEFAULT_MAX_SMALL_FILES,
} from '../../apply/optimize/optimize-plan.ts';
import { type OptimizeTableResult, optimizeTable } from '../../apply/optimize/table-optimize.ts';
import { resolveDatabricksConfig } from '../../databricks/databricks-config.ts';
import type { DatabricksEvent } from '../../databricks/databricks-events.ts';
import { StatementExecutionClient } from '../../databricks/statement-execution.ts';
import {
  parseUnityCatalogName,
  type RegisterTableResult,
  registerTable,
  TableRegisterError,
  type TableRegisterEvent,
  TableRegisterEventCode,
  type UnityCatalogName,
} from '../../databricks/table-register.ts';
import { describeTable, type TableDescription } from '../../delta/describe.ts';
import type { DeltaEngine } from '../../delta/engine.ts';
import { type HistoryEntry, tableHistory } from '../../delta/history.ts';
import { DEFAULT_RETENTION_HOURS, type VacuumResult, vacuum } from '../../delta/vacuum.ts';
import { duckdbEngine } from '../../duckdb/duckdb-engine.ts';
import { DuckSession } from '../../duckdb/session.ts';
import { UsageError } from '../../errors.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { openStore } from '../../storage/open-store.ts';
import { storeOptionsOf } from '../aws-flags.ts';
import { EXIT_CODES, type ExitCode } from '../exit-codes.ts';
import { count, duration, megabytes } from '../format.ts';
import { createOutput, type Output } from '../output.ts';
import { type AwsFlags, type CommandContext, withAwsOptions, withJsonOption } from '../program.ts';
import { untilStopped } from '../stop-signals.ts';

interface TableFlags extends AwsFlags {
  delta?: string;
  json: boolean;
}

interface DescribeFlags extends TableFlags {
  atVersion?: string;
}

interface HistoryFlags extends TableFlags {
  limit?: string;
}

interface VacuumFlags extends TableFlags {
  dryRun: boolean;
  retainHours?: string;
  allowShortRetention: boolean;
}

interface RegisterFlags extends TableFlags {
  name?: string;
  warehouse?: string;
  databricksProfile?: string;
  dryRun: boolean;
}

interface OptimizeFlags extends TableFlags {
  dryRun: boolean;
  deletedShare?: string;
  maxSmallFiles?: string;
}

const DELTA_FLAG = ['--delta <url>', 'the Delta table: s3://bucket/prefix or a local folder'] as const;

const VACUUM_HELP = `What vacuum deletes: data files and deletion vector files below the table's folder that the
latest version of the table does not use (no active add names them, as its file or its deletion
vector) and that were last modified longer ago than the retention.
It keeps:
  - every file the latest version uses, and the deletion vector files of its data files;
  - files removed less than the retention ago (their tombstones are still live), and the deletion
    vectors they had: readers of a recent older version (time travel, a long query that started
    before the change) still read them;
  - any file younger than the retention, referenced or not: a writer may have written it and be
    about to commit it;
  - everything else in hidden folders or with hidden names (starting with _ or .): _delta_log/
    (the transaction log), _ddb_lake/ (ddb-lake's own state), _change_data/. The one exception is a
    partition folder of a partition column starting with _: tables ddb-lake wrote before data went
    to ddb_bucket=N/ folders keep older files in _ddb_bucket=N/, and those are data folders.
It also deletes the temporary files (.ddb-lake-tmp-*) a write to a local folder leaves when its
process is killed mid-write, wherever they are (the log's folder too), by the same age rule: once
they are older than the retention (a write in progress keeps its file recent).
Why 7 days by default: it is Delta's default delta.deletedFileRetentionDuration, and the table's own
setting is the default when it has one. Queries and writers rarely run that long, so nothing in use
is deleted; time travel to versions older than the retention stops working once their files are
gone. A retention shorter than the table's is refused unless --allow-short-retention is given: use
it only when no other reader or writer (Spark, Databricks, another ddb-lake) uses the table.
Run with --dry-run first to see the list.`;

const OPTIMIZE_HELP = `What optimize rewrites, and why: a table apply writes with deletion vectors (merge-on-read, the
default for new tables) does not rewrite a data file when a batch changes or deletes a few of its
rows. It marks those rows in the file's deletion vector (a small bitmap beside the file, named by
the log) and appends the new versions of the rows as a new small file in their bucket (_ddb_bucket,
the table's partition column). A batch then costs what the batch holds, but readers pay later: they
still read, then skip, every deleted row, and open one more small file per batch. Optimize puts
that right, bucket by bucket:
  - a file whose deleted share (rows its deletion vector hides / rows in the file) is at least
    --deleted-share (default ${DEFAULT_DELETED_SHARE}) is rewritten without those rows;
  - a bucket with more than --max-small-files (default ${DEFAULT_MAX_SMALL_FILES}) small files (fewer live rows than half
    the table's rows per file) has its small files merged;
  - a bucket rewritten for either reason also takes along every file whose deleted share is above
    ${DEFAULT_ALONG_DELETED_SHARE} (Delta's own OPTIMIZE rewrites files past 5 %), so readers of a table whose
    new files are merged every few batches do not keep skipping up to a fifth of its rows, and
    takes all its small files along.
The rows are written back sorted by key, in files of at most the table's rows per file, and one
commit (operation OPTIMIZE) swaps the old files for the new ones. Full files without deleted rows
are never rewritten. Tables made with --deletion-vectors off (copy-on-write) have no deleted rows:
optimize only merges their small files.
Readers see the same rows before and after: every file of the commit is marked dataChange false,
so streaming readers skip it, and a reader of an older version still finds its files (table vacuum
deletes the replaced files and their deletion vectors only after the retention).
When it runs: ddb-lake apply runs it by itself after a batch, on the buckets the batch touched that
pass these thresholds (apply --no-auto-optimize leaves it to you, e.g. on a schedule). It takes the
same lease as apply, so the two never run at once: while apply holds the table, optimize fails and
writes nothing (exit code 1); run it again later. Killed at any point, it leaves the table as it
was or optimized; run it again. --dry-run lists what it would rewrite and writes nothing.`;

const REGISTER_HELP = `What it does: makes a table ddb-lake apply writes on S3 (the DuckDB engine) queryable in
Databricks, as an external table of Unity Catalog. It reads the table's Delta log first and refuses
a local folder (Unity Catalog only reaches cloud storage) or a Delta table ddb-lake did not write.
Then, on the SQL warehouse, it runs DESCRIBE DETAIL on --name: a table there at the same location
means it is already registered (nothing to do); at another location, it refuses and says where.
Otherwise it runs
  CREATE TABLE IF NOT EXISTS \`catalog\`.\`schema\`.\`table\` USING DELTA LOCATION 's3://…'
with no column list: Unity Catalog takes the schema, partitioning and properties from the Delta
log, and queries read the log, so columns later batches add need no new registration. Running it
again is safe. --dry-run reads the table and prints the statement without any workspace.
Prerequisites in Databricks (ddb-lake plan --databricks-name prints them as SQL):
  - an external location whose URL covers the --delta path, on a storage credential (an IAM role
    Unity Catalog may assume) that can read it;
  - for whoever runs this: USE CATALOG on the catalog, USE SCHEMA and CREATE TABLE on the schema,
    CREATE EXTERNAL TABLE on the external location, and CAN USE on the SQL warehouse;
  - tables apply writes with deletion vectors (the default) are read from Databricks Runtime 12.2
    LTS on; SQL warehouses read them.
--name is catalog.schema.table, three parts; a part may be in backticks as SQL writes it
(main.\`sales-eu\`.orders). Unity Catalog names have no period, space, slash or control character,
and Unity Catalog stores them lowercase.
Connection: the workspace host and credentials come from DATABRICKS_HOST and DATABRICKS_TOKEN (or
DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET), or a profile of ~/.databrickscfg
(--databricks-profile); the warehouse from --warehouse or DATABRICKS_WAREHOUSE_ID. --profile and
--endpoint-url are AWS's, for reading the Delta log.`;

function deltaStore(flags: TableFlags): ObjectStore {
  if (flags.delta === undefined || flags.delta === '') {
    throw new UsageError('no Delta table: pass --delta s3://bucket/prefix (or a local folder)');
  }
  return openStore(flags.delta, storeOptionsOf(flags));
}

function wholeNumber(flag: string, value: string, minimum: number): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(parsed) || parsed < minimum) {
    throw new UsageError(`${flag} must be a whole number of at least ${minimum}, got "${value}"`);
  }
  return parsed;
}

/** Runs `body` with the table's store and a DuckDB-backed engine, closing both. */
async function withTable<T>(
  flags: TableFlags,
  body: (store: ObjectStore, engine: DeltaEngine) => Promise<T>,
): Promise<T> {
  const store = deltaStore(flags);
  try {
    const session = await DuckSession.open({ threads: 2 });
    try {
      return await body(store, duckdbEngine(session));
    } finally {
      await session.close();
    }
  } finally {
    await store.close();
  }
}

/** `583 bytes` below a megabyte, `1.5 MB` above. */
function size(bytes: number): string {
  return bytes < 1e6 ? `${count(bytes)} bytes` : megabytes(bytes);
}

function iso(ms: number | null): string {
  return ms === null ? 'unknown' : new Date(ms).toISOString();
}

function printDescription(output: Output, d: TableDescription): void {
  output.result(`Delta table ${d.location}`);
  output.result(
    `  version ${d.version}${d.checkpointVersion === null ? '' : ` (loaded from the checkpoint at ${d.checkpointVersion})`}`,
  );
  output.result(`  id ${d.id}${d.name === null ? '' : `, name ${d.name}`}, created ${iso(d.createdTime)}`);
  if (d.description !== null) output.result(`  description: ${d.description}`);
  const features = [
    ...(d.protocol.readerFeatures ?? []).map((f) => `reader:${f}`),
    ...(d.protocol.writerFeatures ?? []).map((f) => `writer:${f}`),
  ];
  output.result(
    `  protocol: reader version ${d.protocol.minReaderVersion}, writer version ${d.protocol.minWriterVersion}${features.length === 0 ? '' : ` (${features.join(', ')})`}`,
  );
  output.result(
    `  partition columns: ${d.partitionColumns.length === 0 ? 'none' : d.partitionColumns.join(', ')}`,
  );
  output.result(
    `  ${count(d.numFiles)} data file(s), ${size(d.totalBytes)}, ${d.numRecords === null ? `records unknown (${count(d.filesWithoutStats)} file(s) without stats)` : `${count(d.numRecords)} record(s)`}; ${count(d.tombstones)} tombstone(s)`,
  );
  const dv = d.deletionVectors;
  if (dv.filesWithDeletionVectors > 0) {
    output.result(
      `  deletion vectors: ${count(dv.deletedRows)} row(s) deleted in ${count(dv.filesWithDeletionVectors)} data file(s); ${count(dv.deletionVectorFiles)} deletion vector file(s), ${count(dv.inlineDeletionVectors)} inline, ${size(dv.deletionVectorBytes)}`,
    );
  } else if ((d.protocol.readerFeatures ?? []).includes('deletionVectors')) {
    output.result('  deletion vectors: none (no row deleted in place)');
  }
  output.result('  schema:');
  const width = Math.max(...d.schema.map((c) => c.name.length), 4);
  for (const column of d.schema) {
    output.result(`    ${column.name.padEnd(width)}  ${column.type}${column.nullable ? '' : '  not null'}`);
  }
  const mapped = Object.entries(d.columnNames).filter(([attribute, column]) => attribute !== column);
  if (Object.keys(d.columnNames).length > 0) {
    output.result(
      `  column names: ${count(Object.keys(d.columnNames).length)} attribute(s) mapped, ${mapped.length === 0 ? 'all under their own names' : `${count(mapped.length)} renamed:`}`,
    );
    for (const [attribute, column] of mapped) output.result(`    ${JSON.stringify(attribute)} → ${column}`);
  }
  output.result('  properties:');
  for (const [key, value] of Object.entries(d.configuration).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (key === 'ddb_lake.columnNames') continue;
    output.result(`    ${key} = ${value}`);
  }
  if (d.txns.length === 0) output.result('  transactions: none');
  else {
    output.result('  transactions (latest version per application):');
    for (const txn of d.txns) {
      output.result(
        `    ${txn.appId}  version ${txn.version}${typeof txn.lastUpdated === 'number' ? `  at ${iso(txn.lastUpdated)}` : ''}`,
      );
    }
  }
  const last = d.lastCheckpoint;
  output.result(
    last === null
      ? '  last checkpoint: none'
      : `  last checkpoint: version ${String(last.version)}${typeof last.size === 'number' ? `, ${count(last.size)} actions` : ''}${typeof last.numOfAddFiles === 'number' ? `, ${count(last.numOfAddFiles)} files` : ''}${typeof last.sizeInBytes === 'number' ? `, ${size(last.sizeInBytes)}` : ''}`,
  );
}

function printHistory(output: Output, entries: readonly HistoryEntry[]): void {
  for (const entry of entries) {
    const parts = [
      String(entry.version).padStart(6),
      new Date(entry.timestamp).toISOString(),
      (entry.operation ?? '(no commitInfo)').padEnd(14),
      entry.engineInfo ?? '',
    ];
    const txns = entry.txns.map((txn) => `txn ${txn.appId}@${txn.version}`);
    const metrics = Object.entries(entry.operationMetrics).map(([key, value]) => `${key}=${String(value)}`);
    output.result([...parts, ...txns, ...metrics].filter((part) => part !== '').join('  '));
  }
}

function printVacuum(output: Output, result: VacuumResult): void {
  const verb = result.dryRun ? 'Would delete' : 'Deleted';
  output.result(
    `${verb} ${count(result.files.length)} file(s), ${size(result.totalBytes)}, from ${result.tableUrl} (version ${result.version}, retention ${result.retentionHours} hours)`,
  );
  for (const file of result.files) {
    output.result(
      `  ${file.key}  ${count(file.size)} bytes  last modified ${file.lastModified.toISOString()}${file.temporary === true ? '  (temporary file of an interrupted write)' : file.deletionVector === true ? '  (deletion vector file)' : ''}`,
    );
  }
  output.result(
    `Kept ${count(result.keptForTombstones)} removed file(s) still within the retention and ${count(result.keptYoung)} unreferenced file(s) younger than it.`,
  );
  if (result.dryRun && result.files.length > 0) output.result('Nothing was deleted (--dry-run).');
}

function shareOf(value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed) || parsed < 0 || parsed > 1) {
    throw new UsageError(`--deleted-share must be a number from 0 to 1 (0.2 = 20 %), got "${value}"`);
  }
  return parsed;
}

function printOptimize(output: Output, result: OptimizeTableResult, tableUrl: string): void {
  if (result.outcome === 'nothing-to-do') {
    output.result(
      `Nothing to optimize in ${tableUrl} (version ${result.readVersion}): no file has a deleted share of ${result.thresholds.deletedShare} or more, and no bucket holds more than ${result.thresholds.maxSmallFiles} small files (fewer than ${count(result.thresholds.smallFileRows)} rows).`,
    );
    return;
  }
  const dry = result.outcome === 'dry-run';
  output.result(
    `${dry ? 'Would rewrite' : 'Rewrote'} ${count(result.filesRemoved)} file(s) (${size(result.bytesRemoved)}) in ${count(result.buckets.length)} bucket(s) of ${tableUrl}${dry ? ` (version ${result.readVersion})` : ` into ${count(result.filesAdded)} file(s) (${size(result.bytesAdded)}), version ${result.version}`}: ${count(result.rows)} row(s) kept, ${count(result.deletedRowsPurged)} deleted row(s) purged.`,
  );
  for (const bucket of result.buckets) {
    const reasons = [
      bucket.reasons['deleted-share'] > 0
        ? `${count(bucket.reasons['deleted-share'])} past the deleted share`
        : '',
      bucket.reasons['small-file'] > 0 ? `${count(bucket.reasons['small-file'])} small` : '',
      bucket.reasons['deleted-along'] > 0
        ? `${count(bucket.reasons['deleted-along'])} with deleted rows, taken along`
        : '',
    ].filter((part) => part !== '');
    output.result(
      `  bucket ${bucket.bucket}: ${count(bucket.files)} file(s) (${reasons.join(', ')}), ${count(bucket.rows)} row(s), ${count(bucket.deletedRows)} deleted${dry ? '' : ` → ${count(bucket.filesAdded)} file(s)`}`,
    );
  }
  if (dry) output.result('Nothing was written (--dry-run).');
  if (result.checkpoint === 'failed')
    output.warn('The checkpoint after the commit failed; the table is fine, the next commit writes it.');
}

function registerOptimize(table: Command, context: CommandContext): void {
  withJsonOption(
    withAwsOptions(
      table
        .command('optimize')
        .summary('rewrite files with many deleted rows and merge small files, bucket by bucket')
        .description(
          "Rewrites, in one commit, the data files of a table apply writes that cost readers: files whose deletion vector hides at least --deleted-share of their rows, and the small files of buckets holding too many. The table's rows stay the same. --dry-run lists what it would rewrite. --endpoint-url is the S3 endpoint.",
        )
        .option(...DELTA_FLAG)
        .option(
          '--deleted-share <share>',
          `rewrite files whose deleted rows are at least this share of their rows, 0 to 1 (default ${DEFAULT_DELETED_SHARE})`,
        )
        .option(
          '--max-small-files <n>',
          `merge a bucket's small files when it holds more than this many (default ${DEFAULT_MAX_SMALL_FILES})`,
        )
        .option('--dry-run', 'list what would be rewritten; write nothing', false),
    ),
  )
    .addHelpText(
      'after',
      `\n${OPTIMIZE_HELP}\n\nExamples:\n  ddb-lake table optimize --delta s3://lake/orders --dry-run\n  ddb-lake table optimize --delta s3://lake/orders --deleted-share 0.1 --json`,
    )
    .action(
      context.action(async (flags: OptimizeFlags): Promise<ExitCode> => {
        const deletedShare = flags.deletedShare === undefined ? undefined : shareOf(flags.deletedShare);
        const maxSmallFiles =
          flags.maxSmallFiles === undefined
            ? undefined
            : wholeNumber('--max-small-files', flags.maxSmallFiles, 0);
        const output = createOutput({ json: flags.json });
        const store = deltaStore(flags);
        try {
          const result = await optimizeTable({
            delta: store,
            dryRun: flags.dryRun,
            thresholds: {
              ...(deletedShare === undefined ? {} : { deletedShare }),
              ...(maxSmallFiles === undefined ? {} : { maxSmallFiles }),
            },
            onEvent: (event) => {
              if (event.code === OptimizeEventCode.bucketWritten) {
                output.status(
                  `  bucket ${event.bucket}: ${count(event.filesRemoved)} file(s) → ${count(event.filesAdded)}, ${count(event.rows)} row(s) (${count(event.bucketsDone)}/${count(event.buckets)} buckets)`,
                );
              }
            },
          });
          printOptimize(output, result, store.url);
          output.resultJson({ location: store.url, ...result });
          return EXIT_CODES.OK;
        } finally {
          await store.close();
        }
      }),
    );
}

function unityCatalogName(text: string | undefined): UnityCatalogName {
  if (text === undefined || text === '') {
    throw new UsageError('no table name: pass --name catalog.schema.table (the name in Unity Catalog)');
  }
  try {
    return parseUnityCatalogName(text);
  } catch (error) {
    if (error instanceof TableRegisterError)
      throw new UsageError(`--name: ${error.message}`, { cause: error });
    throw error;
  }
}

function renderRegisterEvent(output: Output, event: TableRegisterEvent): void {
  if (event.code === TableRegisterEventCode.tableRead) {
    output.progress(`Read the Delta log of ${event.location} (version ${event.version}).`);
  } else if (event.code === TableRegisterEventCode.deletionVectors) {
    output.warn(`warning: ${event.message}`);
  }
}

function renderStatementEvent(output: Output, event: DatabricksEvent): void {
  if (event.code === 'statement-submitted') {
    output.progress(`  statement ${event.statementId} on warehouse ${event.warehouseId}: ${event.firstLine}`);
  } else if (event.code === 'statement-finished' && event.state !== 'SUCCEEDED') {
    output.progress(
      `  statement ${event.statementId} ended ${event.state} after ${duration(event.durationMs)}`,
    );
  } else if (event.code === 'retrying') {
    output.progress(
      `  ${event.method} ${event.path}: ${event.reason}; trying again in ${duration(event.delayMs)}`,
    );
  } else if (event.code === 'statement-cancel-requested') {
    output.progress(`  asked Databricks to cancel statement ${event.statementId}`);
  }
}

function printRegister(output: Output, result: RegisterTableResult): void {
  if (result.outcome === 'dry-run') {
    output.result(`${result.statement};`);
    output.progress(
      `Nothing was submitted (--dry-run). Run it in the SQL editor, or again without --dry-run with --warehouse.`,
    );
    return;
  }
  output.result(
    result.outcome === 'registered'
      ? `Registered ${result.location} in Unity Catalog as ${result.name} (warehouse ${result.warehouseId}).`
      : `${result.name} already names the Delta table at ${result.location} in Unity Catalog; nothing to do.`,
  );
  output.result(`Query it in Databricks: SELECT * FROM ${result.name} LIMIT 10;`);
}

function registerRegister(table: Command, context: CommandContext): void {
  withJsonOption(
    withAwsOptions(
      table
        .command('register')
        .summary('register a table on S3 in Unity Catalog, to query it in Databricks')
        .description(
          "Registers the ddb-lake table at --delta (on S3) as the external table --name (catalog.schema.table) in Unity Catalog, through a SQL warehouse: CREATE TABLE IF NOT EXISTS … USING DELTA LOCATION '<delta>', the schema read from the Delta log. Refuses a local folder, a table ddb-lake did not write, and a name already used by a table at another location. --dry-run prints the statement without a workspace.",
        )
        .option('--delta <url>', 'the Delta table ddb-lake writes: s3://bucket/prefix')
        .option('--name <catalog.schema.table>', 'the table name in Unity Catalog, three parts')
        .option('--warehouse <id>', 'the SQL warehouse id (env DATABRICKS_WAREHOUSE_ID)')
        .option(
          '--databricks-profile <name>',
          'a profile of ~/.databrickscfg for the workspace host and credentials (env DATABRICKS_CONFIG_PROFILE)',
        )
        .option(
          '--dry-run',
          'read the table and print the statement; submit nothing (no workspace needed)',
          false,
        ),
    ),
  )
    .addHelpText(
      'after',
      `\n${REGISTER_HELP}\n\nExamples:\n  ddb-lake table register --delta s3://lake/orders --name main.sales.orders --dry-run\n  DATABRICKS_HOST=https://dbc-1234.cloud.databricks.com DATABRICKS_TOKEN=… \\\n    ddb-lake table register --delta s3://lake/orders --name main.sales.orders --warehouse 1234abcd5678ef90`,
    )
    .action(
      context.action(async (flags: RegisterFlags): Promise<ExitCode> => {
        const name = unityCatalogName(flags.name);
        const output = createOutput({ json: flags.json });
        const warehouseId = (flags.warehouse ?? process.env['DATABRICKS_WAREHOUSE_ID'] ?? '').trim();
        let client: StatementExecutionClient | undefined;
        if (!flags.dryRun) {
          if (warehouseId === '') {
            throw new UsageError(
              "no SQL warehouse: pass --warehouse <id> or set DATABRICKS_WAREHOUSE_ID (the id is on the warehouse's Connection details page), or use --dry-run to print the statement",
            );
          }
          client = new StatementExecutionClient({
            config: resolveDatabricksConfig(
              flags.databricksProfile === undefined ? {} : { profile: flags.databricksProfile },
            ),
            warehouseId,
            onEvent: (event) => renderStatementEvent(output, event),
          });
        }
        if (flags.endpointUrl !== undefined || process.env['AWS_ENDPOINT_URL_S3'] !== undefined) {
          output.warn(
            `note: the Delta log is read through ${flags.endpointUrl ?? process.env['AWS_ENDPOINT_URL_S3']}; Unity Catalog reads the location from AWS S3 itself, through its external location.`,
          );
        }
        const result = await withTable(flags, (store, engine) =>
          untilStopped(output, 'stopping: cancelling the statement…', (signal) =>
            registerTable({
              delta: store,
              engine,
              name,
              dryRun: flags.dryRun,
              ...(client === undefined ? {} : { client }),
              signal,
              onEvent: (event) => renderRegisterEvent(output, event),
            }),
          ),
        );
        printRegister(output, result);
        output.resultJson(result);
        return EXIT_CODES.OK;
      }),
    );
}

function registerDescribe(table: Command, context: CommandContext): void {
  withJsonOption(
    withAwsOptions(
      table
        .command('describe')
        .summary("show a Delta table's schema, properties, files, records and exactly-once state")
        .description(
          "Reads the table's transaction log (never a data file) and shows its location, version, id, protocol, partition columns, schema (Spark SQL types), properties, how DynamoDB attribute names map to column names, the number of files, bytes and records (from the files' stats), the rows deleted by deletion vectors and the vectors' files, the latest txn version of each application (the batches applied exactly once), and the last checkpoint. --endpoint-url is the S3 endpoint.",
        )
        .option(...DELTA_FLAG)
        .option('--at-version <n>', 'describe this older version (time travel)'),
    ),
  )
    .addHelpText('after', '\nExample:\n  ddb-lake table describe --delta s3://lake/orders --json')
    .action(
      context.action(async (flags: DescribeFlags): Promise<ExitCode> => {
        const version =
          flags.atVersion === undefined ? undefined : wholeNumber('--at-version', flags.atVersion, 0);
        const output = createOutput({ json: flags.json });
        const description = await withTable(flags, (store, engine) =>
          describeTable(store, engine, version === undefined ? {} : { version }),
        );
        printDescription(output, description);
        output.resultJson(description);
        return EXIT_CODES.OK;
      }),
    );
}

function registerHistory(table: Command, context: CommandContext): void {
  withJsonOption(
    withAwsOptions(
      table
        .command('history')
        .summary("list a Delta table's commits, newest first")
        .description(
          "Lists the commits still in the table's log, newest first, as Spark's DESCRIBE HISTORY does: version, time, operation, the engine that wrote it, the txn (application and batch) it applied, and its metrics (files, bytes, rows). Commits removed by log cleanup are not listed. --endpoint-url is the S3 endpoint.",
        )
        .option(...DELTA_FLAG)
        .option('--limit <n>', 'only the newest n commits'),
    ),
  )
    .addHelpText('after', '\nExample:\n  ddb-lake table history --delta ./lake/orders --limit 20')
    .action(
      context.action(async (flags: HistoryFlags): Promise<ExitCode> => {
        const limit = flags.limit === undefined ? undefined : wholeNumber('--limit', flags.limit, 1);
        const output = createOutput({ json: flags.json });
        const store = deltaStore(flags);
        try {
          const entries = await tableHistory(store, limit === undefined ? {} : { limit });
          printHistory(output, entries);
          output.resultJson({ location: store.url, history: entries });
          return EXIT_CODES.OK;
        } finally {
          await store.close();
        }
      }),
    );
}

function registerVacuum(table: Command, context: CommandContext): void {
  withJsonOption(
    withAwsOptions(
      table
        .command('vacuum')
        .summary('delete data files the table no longer uses, older than the retention (default 7 days)')
        .description(
          'Deletes the data files and deletion vector files of the table that its latest version no longer uses and that are older than the retention (see below), and prints what it deleted, with sizes. --dry-run lists them and deletes nothing. The transaction log is never touched. --endpoint-url is the S3 endpoint.',
        )
        .option(...DELTA_FLAG)
        .option('--dry-run', 'list the files that would be deleted; delete nothing', false)
        .option(
          '--retain-hours <n>',
          `keep files younger than this many hours (default: the table's delta.deletedFileRetentionDuration, ${DEFAULT_RETENTION_HOURS} hours unless set)`,
        )
        .option(
          '--allow-short-retention',
          "allow a retention shorter than the table's (only when nothing else reads or writes the table)",
          false,
        ),
    ),
  )
    .addHelpText(
      'after',
      `\n${VACUUM_HELP}\n\nExamples:\n  ddb-lake table vacuum --delta s3://lake/orders --dry-run\n  ddb-lake table vacuum --delta s3://lake/orders --retain-hours 336`,
    )
    .action(
      context.action(async (flags: VacuumFlags): Promise<ExitCode> => {
        const retentionHours =
          flags.retainHours === undefined ? undefined : wholeNumber('--retain-hours', flags.retainHours, 0);
        const output = createOutput({ json: flags.json });
        const result = await withTable(flags, (store, engine) =>
          vacuum(store, engine, {
            dryRun: flags.dryRun,
            allowShortRetention: flags.allowShortRetention,
            ...(retentionHours === undefined ? {} : { retentionHours }),
            onDeleted: (file) => output.status(`deleted ${file.key}`),
          }),
        );
        printVacuum(output, result);
        output.resultJson(result);
        return EXIT_CODES.OK;
      }),
    );
}

/** `ddb-lake table …`: look after a Delta table: describe, history, vacuum, optimize, register. */
export function registerTableCommand(program: Command, context: CommandContext): void {
  const table = program
    .command('table')
    .summary(
      'look after a Delta table: describe it, list its history, vacuum old files, optimize, register it in Unity Catalog',
    )
    .description(
      'Commands on a Delta table (--delta): describe shows its schema, properties and exactly-once state; history lists its commits; vacuum deletes data files it no longer uses; optimize rewrites files with many deleted rows and merges small files; register makes a table on S3 queryable in Databricks (Unity Catalog).',
    );
  registerDescribe(table, context);
  registerHistory(table, context);
  registerVacuum(table, context);
  registerOptimize(table, context);
  registerRegister(table, context);
}
