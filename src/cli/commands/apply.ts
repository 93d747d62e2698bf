import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type Command, Option } from 'commander';
import {
  type AppliedBatch,
  type ApplyBatchResult,
  applyBatch,
  type WarehouseBatch,
  type WarehouseDryRun,
} from '../../apply/apply-batch.ts';
import {
  ApplyErrorCode,
  ApplyRunError,
  HandoffRefusedError,
  PinnedInputError,
  TooManyBadLinesError,
} from '../../apply/apply-errors.ts';
import { type ApplyEvent, ApplyEventCode } from '../../apply/apply-events.ts';
import {
  CaptureQuarantineBlockedError,
  CaptureQuarantineUnknownError,
  describeCaptureQuarantineEntry,
} from '../../apply/inputs/capture-quarantine-errors.ts';
import { resolveDatabricksConfig } from '../../databricks/databricks-config.ts';
import { databricksEngine, type UnityCatalogTable } from '../../databricks/databricks-engine.ts';
import { StatementExecutionClient } from '../../databricks/statement-execution.ts';
import { UsageError } from '../../errors.ts';
import { tableNameOf } from '../../formats/change-file-key.ts';
import { sleep } from '../../sleep.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { openStore } from '../../storage/open-store.ts';
import { dynamoDbClientOf, storeOptionsOf } from '../aws-flags.ts';
import { EXIT_CODES, type ExitCode } from '../exit-codes.ts';
import { durationMs } from '../flag-values.ts';
import { count, duration, megabytes, rate } from '../format.ts';
import { openLanding } from '../landing.ts';
import { createOutput, type Output } from '../output.ts';
import { type AwsFlags, type CommandContext, withAwsOptions, withJsonOption } from '../program.ts';
import { untilStopped } from '../stop-signals.ts';

interface ApplyFlags extends AwsFlags {
  landing?: string;
  delta?: string;
  table?: string;
  snapshot?: string;
  keys?: string;
  margin?: string;
  deletes?: 'hard' | 'soft';
  maxBad: string;
  buckets?: string;
  deletionVectors?: 'on' | 'off';
  autoOptimize: boolean;
  untilIdle: boolean;
  every?: string;
  replayQuarantine?: string;
  rescan: boolean;
  acceptCaptureQuarantine: string[];
  replan: boolean;
  replanWithout: string[];
  describeTable: boolean;
  engine: 'duckdb' | 'databricks';
  warehouse?: string;
  catalog?: string;
  schema?: string;
  name?: string;
  databricksProfile?: string;
  dryRun: boolean;
  json: boolean;
}

/**
 * The shortest `--every`: each round lists the landing area and the table's state, so a shorter
 * wait only turns into a steady stream of LIST requests (and S3 bills them) without landing
 * changes sooner than capture writes them.
 */
const EVERY_FLOOR_MS = 10_000;
const EVERY_FLOOR_TEXT = '10s';

const DESCRIPTION = `Merges the snapshot and the captured change files into the Delta table at --delta, so that it equals the DynamoDB table, and keeps it equal batch after batch.

First run: the handoff. The snapshot is a full export (native or Scan; --snapshot <export id>, default the newest complete one of the table under AWSDynamoDB/) taken at T (a Scan export: its start). Its items are exact as of T, and every change captured from T − margin on is replayed on top: per key the last change by sequence number wins, so replaying a change the snapshot already holds is harmless. This is only correct when capture ran without a gap from T − margin on; apply checks that first (as ddb-lake plan does) and refuses with exit code 4 and what to do when it did not (take a later export, or repair the window with an incremental export). The first run then creates the table (a column per attribute, types inferred from the snapshot, partitioned by a key-hash bucket), loads the snapshot and applies the changes, as batch 1.

Later runs: the change files (and incremental exports) that no earlier batch took, as one batch. Per key the record with the greatest sequence number wins, duplicates of (key, sequence number) collapse (two with different content are corrupt input: every copy goes to the quarantine naming the others, and neither changes the key, nor does an older record of it in the batch), records older than the row in the table or than the key's tombstone change nothing (a deleted key is never brought back by a late older record), records from before T − margin are skipped. REMOVE deletes the row, or with --deletes soft keeps it with _ddb_deleted (and _ddb_ttl_expired for TTL deletions). No data file is rewritten (merge-on-read): the rows a batch replaces or deletes are marked in deletion vectors of their files, and the new rows are appended as files sorted by key. Only files whose key range can hold a changed key are looked into (the table is partitioned by a hash of the key, each bucket's files sorted by key). Readers must support deletion vectors (Delta reader version 3: Databricks Runtime 12.2 and later, Spark with Delta 2.4 and later, recent delta-rs and DuckDB's delta extension); for older readers, create the table with --deletion-vectors off at the first run, and each batch then rewrites the files that hold its keys (copy-on-write). A new attribute adds a column of one type (the type of most of its values; numbers as bigint or decimal(38,s) with s at most 18), and a value of another type or a number that does not fit goes to a column <name>__<TYPE> (an S as its own text, other types as plain JSON), in the first batch as in later ones; the report says which. Data files go in ddb_bucket=N/ folders.

Exactly once: every batch has a number. Its list of input files is written beside the table (_ddb_lake/apply/batches/) before its Delta commit, and the commit carries txn(appId, batch). A run killed at any point is simply run again: a batch already in the table is skipped, a batch whose list exists but whose commit does not is rebuilt from exactly that list. Nothing is applied twice, nothing is lost.

The key: the first run fixes the table's key attributes. With --describe-table it reads them from DynamoDB (DescribeTable of --table, with --region and --profile; the DynamoDB endpoint from AWS_ENDPOINT_URL_DYNAMODB, as --endpoint-url here is S3's) and refuses a --keys that differs; without it, --keys or else the change records name them. Either way, before anything is written, sampled change records must hold exactly those attributes as their keys, and the snapshot's first items must each hold them, no two the same key: a wrong key is refused, naming the file and line that contradict it.

First-run flags are fixed: the record of batch 1 keeps --snapshot, --keys, --margin, --deletes, --buckets and --deletion-vectors, and the table keeps them once batch 1 is committed. A later run that passes one of them with another value is refused (exit code 2) and told what is recorded. A batch planned but not committed (a run that failed or was killed) is rebuilt from its record by every run. To plan it again instead, with this run's flags: --replan. When its record lists a change file that is lost for good (or damaged, its records expired from the stream), apply stops (exit code 3) naming the record and the file: restore the file, or re-plan the batch without it with --replan-without <change file key> (repeatable). The new record lists what it dropped, like an accepted quarantine, and the record it replaces is kept beside it as <batch>.superseded-<n>.json; apply --json reports both (dropped, replans). A dropped file that is still there counts as taken; a missing one, if restored later, is applied by a later batch (with --rescan when its partition is settled). Only a batch that is not in the table can be re-planned: a committed batch's records are in the table.

Listing stays fast as the history grows: a change file lands in the partition dt=<UTC date of its first record>, and capture can only write records the stream still holds (24 hours), so two days after a batch's start every partition dated before then is settled: all its files are taken, and later batches neither list it nor read the old batch lists (each batch writes a small index of what is taken under _ddb_lake/apply/taken/). A change file restored from a backup, or written by hand, into a settled partition is therefore not picked up by itself: run apply --rescan once, which lists every partition and reads every batch list, as the first batch does. (Change files written by ddb-lake quarantine replay are taken whatever their partition.)

Bad lines (unreadable JSON, a record without its key) go to _ddb_lake/quarantine/apply/<batch>/ beside the table with file, line and reason; the run prints the first few and the count. Past --max-bad (default 0) the batch is not committed (exit code 3): fix the input files and run again, the batch is rebuilt from the same list. Lines let through with a higher --max-bad can be fixed in their quarantine file and applied later with --replay-quarantine <batch>.

--every keeps running, at least ${EVERY_FLOOR_TEXT} between rounds: each round lists the landing area and the table (on S3, billed requests), so a shorter wait only adds requests.

A stream record capture could not write as a change-file line (it is kept under _ddb_lake/quarantine/capture/<table>/ in the landing area) is a hole in its shard's changes: no batch is committed while one is there that no batch accepted (exit code 3, naming each object's shard, sequence number and reason; the table is unchanged). Fix it in place and replay it with ddb-lake quarantine replay (the next batch takes it in sequence order, whatever its date), or drop it knowingly with --accept-capture-quarantine <object> (or all), which the batch records; the acceptance is committed even when nothing else is new.

Past one machine: --engine databricks runs each batch as SQL on a Databricks SQL warehouse (--warehouse <id>; host and credentials as the Databricks CLI reads them: DATABRICKS_HOST with DATABRICKS_TOKEN or DATABRICKS_CLIENT_ID/DATABRICKS_CLIENT_SECRET, or --databricks-profile), the table an external table in Unity Catalog named --catalog.--schema.--name at --delta, both on S3. The batch is planned, recorded and gated as above; the warehouse creates ddb-lake's two functions, the table (batch 1) or registers it, adds new columns, runs one MERGE guarded by _ddb_seq, and the batch is marked done in _ddb_lake/apply/completed/ (a warehouse cannot write txn: a batch killed before its mark runs again and changes nothing). Either engine takes the batch after the other. --dry-run prints every statement the next batch would submit, in order, with its parameters, and writes nothing. Ctrl-C cancels the running statement. README.md, "Databricks", lists the prerequisites and grants (ddb-lake plan prints them).

One writer at a time per table. --endpoint-url applies to S3 (landing area and Delta table).`;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function everyMs(text: string): number {
  const ms = durationMs('--every', text);
  if (ms < EVERY_FLOOR_MS) {
    throw new UsageError(
      `--every must be at least ${EVERY_FLOOR_TEXT}, got "${text}": each round lists the landing area and the table, so a shorter wait only repeats those requests. Use --until-idle to apply everything there is now and stop.`,
    );
  }
  return ms;
}

function wholeNumber(flag: string, text: string, minimum: number): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(value) || value < minimum) {
    throw new UsageError(`${flag} must be a whole number of at least ${minimum}, got "${text}"`);
  }
  return value;
}

function parseKeys(text: string): { partition: string; sort?: string } {
  const parts = text.split(',').map((part) => part.trim());
  if (parts.length > 2 || parts.some((part) => part === '')) {
    throw new UsageError(
      `--keys must be the partition key, or the partition and sort key, as pk or pk,sk; got "${text}"`,
    );
  }
  const [partition, sort] = parts as [string, string | undefined];
  return sort === undefined ? { partition } : { partition, sort };
}

/** `ddb-lake apply`: merge the snapshot and the change files into the Delta table, exactly once per batch. */
export function registerApplyCommand(program: Command, context: CommandContext): void {
  withJsonOption(
    withAwsOptions(
      program
        .command('apply')
        .summary('merge the snapshot and the captured changes into the Delta table (exactly once per batch)')
        .description(DESCRIPTION)
        .option(
          '--landing <url>',
          'the landing area: s3://bucket/prefix or a local folder (env DDB_LAKE_LANDING)',
        )
        .option('--delta <url>', 'the Delta table: s3://bucket/prefix or a local folder')
        .option('--table <name|arn>', 'the DynamoDB table the change files and exports belong to')
        .option(
          '--snapshot <export id>',
          'first run: the export to start from (default: the newest complete full export)',
        )
        .option(
          '--keys <pk[,sk]>',
          "first run: the table's key attributes (default: those of the first captured change record)",
        )
        .option('--margin <duration>', 'first run: the handoff margin, minutes or 90s, 15m, 1h (default 15m)')
        .addOption(
          new Option(
            '--deletes <mode>',
            'first run: REMOVE deletes the row (hard) or flags it (soft)',
          ).choices(['hard', 'soft']),
        )
        .option('--buckets <n>', 'first run: key-hash buckets (the partition column), default 16')
        .addOption(
          new Option(
            '--deletion-vectors <mode>',
            'first run: on (default) merges on read with deletion vectors; off rewrites files (copy-on-write) for readers without deletion vectors',
          ).choices(['on', 'off']),
        )
        .option(
          '--no-auto-optimize',
          'do not optimize after a batch (rewrite files past a 20 % deleted share, merge small files); leave it to `ddb-lake table optimize` on a schedule',
        )
        .option('--max-bad <n>', 'bad lines tolerated per batch before it fails', '0')
        .option('--until-idle', 'apply batch after batch until no new input is left', false)
        .option(
          '--every <duration>',
          `keep running: apply a batch, then wait this long (at least ${EVERY_FLOOR_TEXT}; Ctrl-C stops)`,
        )
        .option(
          '--replay-quarantine <batch>',
          'apply the quarantined lines of an earlier batch (after fixing them in place) as a batch of their own',
        )
        .option(
          '--accept-capture-quarantine <object|all>',
          'accept a record capture quarantined as lost (its key or name under _ddb_lake/quarantine/capture/<table>/, or all): the batch records it and stops waiting for it; repeatable',
          collect,
          [],
        )
        .option(
          '--rescan',
          'the next batch this run plans lists every change-file partition and reads every batch list, to take change files restored into partitions older than two days',
          false,
        )
        .option(
          '--describe-table',
          "first run: read the table's key schema with DescribeTable (DynamoDB endpoint from AWS_ENDPOINT_URL_DYNAMODB) and refuse a --keys that differs",
          false,
        )
        .option(
          '--replan',
          "plan the batch an earlier run planned but did not commit again, with this run's flags (the old batch record is kept beside the new one)",
          false,
        )
        .option(
          '--replan-without <change file key>',
          'as --replan, leaving out a change file the batch lists that is lost for good (repeatable; the drop is recorded)',
          (value: string, previous: string[]) => [...previous, value],
          [] as string[],
        )
        .addOption(
          new Option(
            '--engine <engine>',
            'who merges: duckdb (this machine) or databricks (a SQL warehouse; --landing and --delta on S3); either can take the batch after the other',
          )
            .choices(['duckdb', 'databricks'])
            .default('duckdb'),
        )
        .option(
          '--warehouse <id>',
          'databricks: the SQL warehouse id (env DATABRICKS_WAREHOUSE_ID); host and credentials as the Databricks CLI reads them',
        )
        .option(
          '--catalog <name>',
          "databricks: the Unity Catalog catalog of the table and of ddb-lake's functions",
        )
        .option('--schema <name>', 'databricks: the schema in --catalog')
        .option('--name <name>', 'databricks: the table name in --schema (default: the DynamoDB table name)')
        .option(
          '--databricks-profile <name>',
          'databricks: the profile of ~/.databrickscfg (default: DATABRICKS_* variables, then [DEFAULT])',
        )
        .option(
          '--dry-run',
          'databricks: print every statement the next batch would submit, in order, and write nothing (reads the inputs here; no workspace needed)',
          false,
        ),
    ),
  )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  ddb-lake apply --table orders --landing s3://lake/landing --delta s3://lake/tables/orders\n' +
        '  ddb-lake apply --table orders --landing ./landing --delta ./orders --snapshot 01795392000000-5a1c9e20 --margin 15m\n' +
        '  ddb-lake apply --table orders --landing ./landing --delta ./orders --every 5m\n' +
        '  ddb-lake apply --table orders --landing ./landing --delta ./orders --rescan   # after restoring old change files\n' +
        '  ddb-lake apply --table orders --landing ./landing --delta ./orders --accept-capture-quarantine 4938000000000001234567.json\n' +
        '  ddb-lake apply --table orders --landing ./landing --delta ./orders --replan-without changes/orders/dt=2026-01-05/shardId-…/49…-49….jsonl.gz\n' +
        '  ddb-lake apply --table orders --landing s3://lake/landing --delta s3://lake/tables/orders --engine databricks --warehouse 1234567890abcdef --catalog main --schema sales --until-idle\n' +
        '  ddb-lake apply --table orders --landing s3://lake/landing --delta s3://lake/tables/orders --engine databricks --catalog main --schema sales --dry-run',
    )
    .action(
      context.action(async (flags: ApplyFlags) => {
        if (flags.table === undefined || flags.table === '')
          throw new UsageError('no table: pass --table <name or ARN>');
        if (flags.delta === undefined || flags.delta === '') {
          throw new UsageError('no Delta table: pass --delta s3://bucket/prefix (or a local folder)');
        }
        const loops = [flags.untilIdle, flags.every !== undefined, flags.replayQuarantine !== undefined];
        if (loops.filter(Boolean).length > 1) {
          throw new UsageError(
            '--until-idle, --every and --replay-quarantine exclude each other: pass one of them',
          );
        }
        const accept = flags.acceptCaptureQuarantine.map((given) => given.trim());
        if (accept.some((given) => given === '')) {
          throw new UsageError('--accept-capture-quarantine needs an object key or name, or all');
        }
        if (accept.length > 0 && flags.every !== undefined) {
          throw new UsageError(
            '--accept-capture-quarantine is a decision about the objects in quarantine now, and --every would keep accepting new ones: run apply once with it, then start --every without it',
          );
        }
        const replay =
          flags.replayQuarantine === undefined
            ? undefined
            : wholeNumber('--replay-quarantine', flags.replayQuarantine, 1);
        const maxBad = wholeNumber('--max-bad', flags.maxBad, 0);
        const marginMs = flags.margin === undefined ? undefined : durationMs('--margin', flags.margin);
        const every = flags.every === undefined ? undefined : everyMs(flags.every);
        const buckets = flags.buckets === undefined ? undefined : wholeNumber('--buckets', flags.buckets, 1);
        const keys = flags.keys === undefined ? undefined : parseKeys(flags.keys);
        const warehouse = databricksFlags(flags);
        const output = createOutput({ json: flags.json });
        const landing = openLanding(flags);
        let delta: ObjectStore | undefined;
        let dynamodb: DynamoDBClient | undefined;
        const results: ApplyBatchResult[] = [];
        try {
          delta = openStore(flags.delta, storeOptionsOf(flags));
          // Each batch opens its own DuckDB session: files it downloads from S3 go with it.
          const progress = progressRenderer(output);
          dynamodb = flags.describeTable ? describeTableClientOf(flags) : undefined;
          // Ctrl-C cancels the statement a warehouse runs (the loops below pass their stop on).
          const cancel = new AbortController();
          const engine =
            warehouse === undefined
              ? undefined
              : databricksEngine({
                  table: warehouse.table,
                  signal: cancel.signal,
                  ...(flags.dryRun
                    ? {}
                    : { runner: warehouseClient(flags, warehouse.warehouseId as string, output) }),
                });
          const options = {
            landing,
            delta,
            table: flags.table,
            maxBad,
            ...(engine === undefined ? {} : { engine }),
            ...(flags.dryRun ? { dryRun: true } : {}),
            onEvent: progress,
            ...(dynamodb === undefined ? {} : { dynamodb }),
            ...(flags.snapshot === undefined ? {} : { snapshot: flags.snapshot }),
            ...(keys === undefined ? {} : { keys }),
            ...(marginMs === undefined ? {} : { marginMs }),
            ...(flags.deletes === undefined ? {} : { deletes: flags.deletes }),
            ...(buckets === undefined ? {} : { buckets }),
            ...(flags.autoOptimize === false ? { autoOptimize: false } : {}),
            ...(flags.deletionVectors === undefined
              ? {}
              : { deletionVectors: flags.deletionVectors === 'on' }),
          };
          // --rescan is for the next batch planned: a rebuilt batch plans nothing and does not use it up.
          let rescan = flags.rescan;
          // An acceptance goes with the first batch committed: later ones must not accept new objects.
          let accepting: readonly string[] = accept;
          // --replan and --replan-without are for the uncommitted batch: the first call only.
          let replan: { replan?: boolean; replanWithout?: readonly string[] } = {
            ...(flags.replan ? { replan: true } : {}),
            ...(flags.replanWithout.length === 0 ? {} : { replanWithout: flags.replanWithout }),
          };
          const takeReplan = () => {
            const taken = replan;
            replan = {};
            return taken;
          };
          const once = async (): Promise<ApplyBatchResult> => {
            const result = await applyBatch({
              ...options,
              ...(rescan ? { rescan } : {}),
              ...(accepting.length === 0 ? {} : { acceptCaptureQuarantine: accepting }),
              ...takeReplan(),
            });
            if (result.outcome !== 'applied' || !result.rebuilt) rescan = false;
            if (result.outcome === 'applied') accepting = [];
            results.push(result);
            renderResult(result, output);
            return result;
          };
          const stopping =
            engine === undefined ? 'stopping after the current batch…' : 'cancelling the running statement…';
          const passOn = (signal: AbortSignal) =>
            signal.addEventListener('abort', () => cancel.abort(signal.reason));
          if (every !== undefined) {
            await untilStopped(
              output,
              stopping,
              async (signal) => {
                if (engine !== undefined) passOn(signal);
                while (!signal.aborted) {
                  let result: ApplyBatchResult;
                  do result = await once();
                  while (result.outcome === 'applied' && !signal.aborted);
                  await sleep(every, signal);
                }
              },
              { runsUntilStopped: true },
            );
          } else if (flags.untilIdle) {
            await untilStopped(output, stopping, async (signal) => {
              if (engine !== undefined) passOn(signal);
              let result: ApplyBatchResult;
              do result = await once();
              while (result.outcome === 'applied' && !signal.aborted);
            });
          } else if (replay !== undefined) {
            // A batch left unfinished by an earlier run is rebuilt first; the replay comes after it.
            const withAccept =
              accept.length === 0 ? options : { ...options, acceptCaptureQuarantine: accept };
            const result = await applyBatch({ ...withAccept, ...takeReplan(), replayQuarantine: replay });
            results.push(result);
            renderResult(result, output);
            if (result.outcome === 'applied' && result.replayedQuarantine !== replay) {
              const again = await applyBatch({ ...options, replayQuarantine: replay });
              results.push(again);
              renderResult(again, output);
            }
          } else if (engine !== undefined) {
            await untilStopped(output, stopping, async (signal) => {
              passOn(signal);
              await once();
            });
          } else {
            await once();
          }
          output.resultJson({ table: flags.table, delta: delta.url, landing: landing.url, batches: results });
          return EXIT_CODES.OK;
        } catch (error) {
          const reported = reportedApplyError(error, flags);
          if (reported === undefined) throw error;
          output.warn(`ddb-lake: ${reported.error.message}`);
          for (const line of reported.lines ?? []) output.warn(line);
          output.resultJson({
            batches: results,
            error: { code: reported.error.code, message: reported.error.message, ...reported.details },
          });
          return reported.exitCode;
        } finally {
          dynamodb?.destroy();
          await delta?.close();
          await landing.close();
        }
      }),
    );
}

/** The Databricks settings of `--engine databricks`, checked; undefined for our engine. */
function databricksFlags(
  flags: ApplyFlags,
): { table: UnityCatalogTable; warehouseId: string | undefined } | undefined {
  const databricksOnly = [
    ['--warehouse', flags.warehouse],
    ['--catalog', flags.catalog],
    ['--schema', flags.schema],
    ['--name', flags.name],
    ['--databricks-profile', flags.databricksProfile],
  ] as const;
  if (flags.engine !== 'databricks') {
    const given: string[] = databricksOnly.filter(([, value]) => value !== undefined).map(([flag]) => flag);
    if (flags.dryRun) given.push('--dry-run');
    if (given.length > 0) {
      throw new UsageError(
        `${given.join(', ')} ${given.length === 1 ? 'is' : 'are'} for --engine databricks`,
      );
    }
    return undefined;
  }
  if (flags.catalog === undefined || flags.schema === undefined) {
    throw new UsageError(
      "--engine databricks needs --catalog and --schema: the Unity Catalog schema that holds the table and ddb-lake's functions",
    );
  }
  const warehouseId = flags.warehouse ?? process.env['DATABRICKS_WAREHOUSE_ID'];
  if (!flags.dryRun && (warehouseId === undefined || warehouseId === '')) {
    throw new UsageError(
      "--engine databricks needs --warehouse <id> (or DATABRICKS_WAREHOUSE_ID): the SQL warehouse that runs the statements (its id is in the warehouse's Connection details); --dry-run needs none",
    );
  }
  const table = {
    catalog: flags.catalog,
    schema: flags.schema,
    name: flags.name ?? tableNameOf(flags.table as string),
  };
  for (const [flag, value] of [
    ['--catalog', table.catalog],
    ['--schema', table.schema],
    ['--name', table.name],
  ] as const) {
    if (value === '' || /[`.\s]/.test(value)) {
      throw new UsageError(
        flag === '--name' && flags.name === undefined
          ? `the DynamoDB table name "${value}" is not a Unity Catalog table name (no dots, backticks or spaces): pass --name <name>`
          : `${flag} must be one Unity Catalog name, without dots, backticks or spaces; got "${value}"`,
      );
    }
  }
  return { table, warehouseId };
}

/** The Statement Execution API client of `--warehouse`, its statement ids reported on stderr. */
function warehouseClient(flags: ApplyFlags, warehouseId: string, output: Output): StatementExecutionClient {
  const config = resolveDatabricksConfig(
    flags.databricksProfile === undefined ? {} : { profile: flags.databricksProfile },
  );
  return new StatementExecutionClient({
    config,
    warehouseId,
    onEvent: (event) => {
      if (event.code === 'statement-submitted') {
        output.progress(`  statement ${event.statementId}: ${event.firstLine}`);
      } else if (event.code === 'statement-finished') {
        output.progress(`  statement ${event.statementId} ${event.state} in ${duration(event.durationMs)}`);
      } else if (event.code === 'statement-cancel-requested') {
        output.progress(
          `  statement ${event.statementId}: cancel ${event.sent ? 'sent' : 'could not be sent'}`,
        );
      } else {
        output.progress(
          `  ${event.method} ${event.path}: ${event.reason}; attempt ${event.attempt + 1} in ${duration(event.delayMs)}`,
        );
      }
    },
  });
}

/**
 * The DynamoDB client of `--describe-table`: --region, --profile and the timeouts as for S3; the
 * endpoint is the SDK's own choice (AWS_ENDPOINT_URL_DYNAMODB, then AWS_ENDPOINT_URL), since
 * --endpoint-url is S3's here.
 */
function describeTableClientOf(flags: AwsFlags): DynamoDBClient {
  const { endpointUrl: _s3Endpoint, ...withoutS3Endpoint } = flags;
  return dynamoDbClientOf(withoutS3Endpoint);
}

/** An error apply reports itself: its exit code, the lines beyond its message, its JSON details. */
interface ReportedApplyError {
  readonly error: ApplyRunError;
  readonly exitCode: ExitCode;
  readonly details: Readonly<Record<string, unknown>>;
  readonly lines?: readonly string[];
}

/**
 * How the command reports an apply error, or undefined for one it leaves to the common error path
 * (exit code 1). Not ready: an uncovered handoff (4). Bad input: a capture quarantine no batch
 * accepted, too many bad lines, a pinned input file, keys the inputs disagree on (3). The command
 * line's fault: an unknown quarantine object, first-run flags that differ from what is recorded, a
 * re-plan that cannot be done, --keys that contradicts the table (2).
 */
function reportedApplyError(error: unknown, flags: ApplyFlags): ReportedApplyError | undefined {
  if (error instanceof HandoffRefusedError) {
    return {
      error,
      exitCode: EXIT_CODES.NOT_READY,
      details: { problems: error.problems },
      lines: error.problems.map((problem) => `  not covered [${problem.code}]: ${problem.message}`),
    };
  }
  if (error instanceof CaptureQuarantineBlockedError) {
    return {
      error,
      exitCode: EXIT_CODES.BAD_INPUT,
      details: { batch: error.batch, table: error.table, captureQuarantine: error.entries },
    };
  }
  if (error instanceof CaptureQuarantineUnknownError) {
    return { error, exitCode: EXIT_CODES.USAGE, details: { keys: error.keys } };
  }
  if (error instanceof TooManyBadLinesError) {
    return {
      error,
      exitCode: EXIT_CODES.BAD_INPUT,
      details: { count: error.count, quarantine: error.quarantine, batch: error.batch },
    };
  }
  if (error instanceof PinnedInputError) {
    return {
      error,
      exitCode: EXIT_CODES.BAD_INPUT,
      details: { batch: error.batch, record: error.record, file: error.file, problem: error.problem },
    };
  }
  if (!(error instanceof ApplyRunError)) return undefined;
  switch (error.code) {
    case ApplyErrorCode.settingsDiffer:
    case ApplyErrorCode.replanRefused:
      return { error, exitCode: EXIT_CODES.USAGE, details: {} };
    case ApplyErrorCode.keysMismatch:
      return {
        error,
        exitCode: flags.keys === undefined ? EXIT_CODES.BAD_INPUT : EXIT_CODES.USAGE,
        details: {},
      };
    default:
      return undefined;
  }
}

/** How many bad lines of a batch are printed one by one; the rest are counted. */
const BAD_LINES_SHOWN = 5;

/** Progress lines for an interactive terminal (the output draws nothing elsewhere). */
function progressRenderer(output: Output): (event: ApplyEvent) => void {
  return (event) => {
    switch (event.code) {
      case ApplyEventCode.replanned:
        output.progress(
          `Batch ${event.batch} re-planned: ${event.dropped.length === 0 ? 'no change file dropped' : `dropped ${event.dropped.map((input) => `${input.file} (${input.state})`).join(', ')}`}; it now reads ${count(event.changeFiles)} change file(s). The record it replaced is kept as ${event.superseded}.`,
        );
        break;
      case ApplyEventCode.snapshotFileLoaded:
        output.status(
          `  snapshot, ${event.pass === 'schema' ? 'inferring the schema' : 'loading rows'}: ${count(event.filesDone)}/${count(event.files)} files, ${count(event.items)} items, ${megabytes(event.bytes)} (${rate(event.items, event.elapsedMs, 'items')}, ${(event.bytes / 1e6 / Math.max(event.elapsedMs / 1000, 0.001)).toFixed(1)} MB/s)`,
        );
        break;
      case ApplyEventCode.changeFileRead:
        output.status(
          `  changes: ${count(event.filesDone)}/${count(event.files)} files, ${count(event.records)} records`,
        );
        break;
      case ApplyEventCode.bucketWritten:
        output.status(
          `  writing: ${count(event.bucketsDone)}/${count(event.buckets)} buckets, ${count(event.rows)} rows in bucket ${event.bucket}, ${megabytes(event.bytes)}`,
        );
        break;
      case ApplyEventCode.quarantined:
        // `count` is the batch's: each batch shows its own first few.
        if (event.count <= BAD_LINES_SHOWN) {
          output.warn(`  quarantined ${event.file} line ${event.line}: ${event.reason}`);
        } else if (event.count === BAD_LINES_SHOWN + 1) {
          output.warn('  … more bad lines: the count and where they all are follow.');
        } else {
          output.status(`  quarantined ${count(event.count)} bad lines`);
        }
        break;
      case ApplyEventCode.checkpoint:
        if (event.outcome === 'failed') {
          output.warn(
            `  the checkpoint at version ${event.version} failed (the table is fine; readers replay the commits): ${event.message ?? ''}`,
          );
        }
        break;
      default:
        break;
    }
  };
}

function renderResult(result: ApplyBatchResult, output: Output): void {
  if (result.outcome === 'nothing-new') {
    output.result(
      `Nothing new to apply: the table holds batch ${result.batch} at version ${result.version}.`,
    );
    if (result.checkpoint === 'written') {
      output.result(`  checkpoint  written at version ${result.version} (an interrupted run had skipped it)`);
    }
    return;
  }
  if (result.outcome === 'already-applied') {
    output.result(
      `Batch ${result.batch} was already committed by another run (version ${result.version}); nothing written.`,
    );
    return;
  }
  if (result.outcome === 'dry-run') {
    renderDryRun(result, output);
    return;
  }
  if ('engine' in result) {
    renderWarehouseBatch(result, output);
    return;
  }
  renderApplied(result, output);
}

function renderSchemaChanges(changes: WarehouseBatch['schemaChanges'], line: (text: string) => void): void {
  for (const change of changes) {
    line(
      change.kind === 'column'
        ? `  new column  ${change.column} ${change.type} (attribute ${change.attribute})`
        : `  conflicts   ${change.column}: ${count(change.rows)} ${change.valueType} value(s) of ${change.attribute}`,
    );
  }
}

function renderDryRun(r: WarehouseDryRun, output: Output): void {
  const line = (text: string) => output.result(text);
  line(
    `Batch ${r.batch}${r.rebuilt ? ' (planned by an earlier run)' : ''} would run ${r.statements.length} statements on the warehouse (${count(r.changeFiles)} change files); nothing was written.`,
  );
  renderSchemaChanges(r.schemaChanges, line);
  r.statements.forEach((statement, index) => {
    line('');
    line(`-- ${index + 1}. ${statement.purpose}`);
    for (const parameter of statement.parameters) {
      line(`--   :${parameter.name} ${parameter.type} = ${JSON.stringify(parameter.value)}`);
    }
    line(`${statement.sql};`);
  });
}

function renderWarehouseBatch(r: WarehouseBatch, output: Output): void {
  const line = (text: string) => output.result(text);
  line(
    `Batch ${r.batch}${r.rebuilt ? ' (rebuilt from its record after an interrupted run)' : ''} applied by the warehouse as version ${r.version} in ${duration(r.durationMs)}.`,
  );
  if (r.snapshot !== null)
    line(`  snapshot    ${r.snapshot.exportId} (${r.snapshot.kind}, T = ${r.snapshot.exportTime})`);
  line(`  inputs      ${count(r.changeFiles)} change files`);
  const shown = (n: number | null) => (n === null ? 'not reported' : count(n));
  line(
    `  rows        ${shown(r.inserted)} inserted, ${shown(r.updated)} updated, ${shown(r.deleted)} deleted`,
  );
  renderSchemaChanges(r.schemaChanges, line);
  line(`  tombstones  ${count(r.tombstones)}`);
  line(`  statements  ${r.statements.map((s) => `${s.purpose} ${s.statementId}`).join(', ')}`);
}

/** `583 bytes` below a megabyte, `1.5 MB` above. */
function size(bytes: number): string {
  return bytes < 1e6 ? `${count(bytes)} bytes` : megabytes(bytes);
}

function renderApplied(r: AppliedBatch, output: Output): void {
  const line = (text: string) => output.result(text);
  line(
    `Batch ${r.batch}${r.rebuilt ? ' (rebuilt from its record after an interrupted run)' : ''} committed as version ${r.version} in ${duration(r.durationMs)}.`,
  );
  if (r.snapshot !== null) {
    line(
      `  snapshot    ${r.snapshot.exportId} (${r.snapshot.kind === 'scan' ? 'Scan export' : 'export'}, T = ${r.snapshot.exportTime}): ${count(r.snapshot.items)} items`,
    );
  }
  line(
    r.replayedQuarantine === null
      ? `  input       ${count(r.changeFiles)} change file(s), ${count(r.incrementalExports)} incremental export(s), ${count(r.records)} record(s)`
      : `  input       the quarantine of batch ${r.replayedQuarantine}: ${count(r.records)} line(s)`,
  );
  line(
    `  rows        ${count(r.inserted)} inserted, ${count(r.updated)} updated, ${count(r.deleted)} deleted`,
  );
  const s = r.skipped;
  line(
    `  skipped     ${count(s.olderThanRow)} older than the row, ${count(s.tombstoned)} tombstoned, ${count(s.beforeWindow)} before T − margin, ${count(s.duplicates)} duplicate or superseded`,
  );
  line(`  quarantined ${count(r.quarantined)}${r.quarantine === null ? '' : ` (in ${r.quarantine})`}`);
  if (r.replayedCaptureRecords > 0) {
    line(`  replayed    ${count(r.replayedCaptureRecords)} record(s) from the capture quarantine`);
  }
  for (const entry of r.acceptedCaptureQuarantine) {
    line(`  accepted    as lost: ${describeCaptureQuarantineEntry(entry)}`);
  }
  for (const input of r.dropped) {
    const replan = r.replans[input.replan - 1];
    line(
      `  dropped     ${input.file} (${input.state === 'missing' ? 'missing' : 'there, taken unread'}), by re-plan ${input.replan}${replan === undefined ? '' : ` of ${replan.at}; the record before it is ${replan.superseded}`}`,
    );
  }
  const columns = r.schemaChanges.filter((change) => change.kind === 'column');
  const conflicts = r.schemaChanges.filter((change) => change.kind === 'conflict');
  if (r.snapshot !== null && columns.length > 0) {
    line(
      `  schema      ${count(columns.length)} columns: ${columns.map((c) => `${c.column} ${c.type}`).join(', ')}`,
    );
  } else {
    for (const c of columns) {
      line(
        `  schema      new column ${c.column} ${c.type} for attribute ${JSON.stringify(c.attribute)} (${count(c.rows)} row(s))`,
      );
    }
  }
  for (const c of conflicts) {
    line(
      `  conflict    ${count(c.rows)} ${c.valueType ?? ''} value(s) of ${JSON.stringify(c.attribute)} do not fit its column: kept as JSON text in ${c.added ? 'the new column ' : ''}${c.column}`,
    );
  }
  if (columns.length === 0 && conflicts.length === 0) line('  schema      unchanged');
  line(
    r.snapshot !== null
      ? `  files       ${count(r.filesWritten)} file(s) in ${count(r.bucketsRewritten)} bucket(s), ${size(r.bytesWritten)}, ${count(r.rowsWritten)} rows`
      : r.filesMarked > 0 || (r.filesRewritten === 0 && r.filesWritten > 0)
        ? `  files       ${count(r.rowsMarked)} row(s) marked deleted in ${count(r.filesMarked)} file(s); ${count(r.filesWritten)} file(s) of ${count(r.rowsWritten)} rows appended in ${count(r.bucketsRewritten)} bucket(s); ${size(r.bytesWritten)} written`
        : `  files       ${count(r.filesRewritten)} file(s) of ${size(r.bytesRewritten)} in ${count(r.bucketsRewritten)} bucket(s) rewritten as ${count(r.filesWritten)} file(s) of ${size(r.bytesWritten)} (${count(r.rowsWritten)} rows)`,
  );
  if (r.tombstones > 0) line(`  tombstones  ${count(r.tombstones)}`);
  if (r.optimize?.outcome === 'optimized') {
    line(
      `  optimize    ${count(r.optimize.buckets)} bucket(s): ${count(r.optimize.filesRemoved)} file(s) rewritten as ${count(r.optimize.filesAdded)} (${count(r.optimize.rows)} rows, ${count(r.optimize.deletedRowsPurged)} deleted rows purged), version ${r.optimize.version}`,
    );
  } else if (r.optimize?.outcome === 'failed') {
    line(
      `  optimize    failed, the batch is committed (run ddb-lake table optimize later): ${r.optimize.message}`,
    );
  }
  if (r.checkpoint !== 'not-due') line(`  checkpoint  ${r.checkpoint}`);
}
