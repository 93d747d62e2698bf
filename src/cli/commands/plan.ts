import { type Command, Option } from 'commander';
import {
  parseUnityCatalogName,
  TableRegisterError,
  type UnityCatalogName,
} from '../../databricks/table-register.ts';
import { UsageError } from '../../errors.ts';
import { DEFAULT_SNAPSHOT_RETENTION_DAYS } from '../../plan/bucket-policies.ts';
import {
  DEFAULT_PRICES,
  DEFAULT_RATES,
  formatPrice,
  type StrategyEstimate,
} from '../../plan/cost-estimate.ts';
import {
  DEFAULT_STORAGE_CREDENTIAL,
  DEFAULT_WAREHOUSE_ASSUMPTIONS,
  databricksPlanText,
  PRINCIPAL_PLACEHOLDER,
} from '../../plan/databricks-plan.ts';
import { type PlanEvent, PlanEventCode } from '../../plan/plan-events.ts';
import { planTable, type TablePlan } from '../../plan/plan-table.ts';
import type { PlanFinding } from '../../plan/readiness.ts';
import { BACKFILL_STRATEGIES, type BackfillStrategy } from '../../plan/strategy.ts';
import { openStore } from '../../storage/open-store.ts';
import { dynamoDbClientOf, storeOptionsBesideDynamoDb } from '../aws-flags.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { count } from '../format.ts';
import { openLandingBesideDynamoDb } from '../landing.ts';
import { createOutput, type Output } from '../output.ts';
import { type AwsFlags, type CommandContext, withAwsOptions, withJsonOption } from '../program.ts';

interface PlanFlags extends AwsFlags {
  table?: string;
  landing?: string;
  exportTime?: string;
  margin: string;
  strategy: string;
  preferStream: boolean;
  smallTableGb: string;
  readPercent: string;
  maxRcu?: string;
  writePercent: string;
  maxWcu?: string;
  consistentRead: boolean;
  exportPrice: string;
  incrementalExportPrice: string;
  readPrice: string;
  writePrice: string;
  pitrPrice: string;
  delta?: string;
  principal?: string;
  bucketOwner?: string;
  snapshotRetentionDays: string;
  writeReport: boolean;
  databricksName?: string;
  warehouse?: string;
  databricksPrincipal?: string;
  databricksStorageCredential: string;
  databricksMbPerSecond: string;
  databricksStatementSeconds: string;
  json: boolean;
}

const PRICING_HELP = `Estimates rest on these assumptions (the flags override the prices; your region's list
prices are yours to look up):
  - Default prices are US East (N. Virginia) list prices, aws.amazon.com/dynamodb/pricing/on-demand/:
    full export to S3 ${formatPrice(DEFAULT_PRICES.exportPerGb)} per GB of table size at the export time;
    incremental export ${formatPrice(DEFAULT_PRICES.incrementalExportPerGb)} per GB of changed data processed, at least 10 MB per export;
    on-demand reads ${formatPrice(DEFAULT_PRICES.readPerMillion)} and writes ${formatPrice(DEFAULT_PRICES.writePerMillion)} per million request units
    (since the price cut of 1 November 2024); point-in-time recovery ${formatPrice(DEFAULT_PRICES.pitrPerGbMonth)} per GB-month.
    A GB is 2^30 bytes. Standard-IA tables and other regions have other prices.
  - A Scan reads 4 KB per read unit, strongly consistent, or two eventually consistent; touch
    writes 1 KB per write unit, rounded up per item (average item size plus a 64-byte marker).
  - On a provisioned table Scan and touch use --read-percent / --write-percent of its capacity
    (no extra charge); on demand --max-rcu / --max-wcu, by default that share of 12,000 reads/s
    and 4,000 writes/s (what a new on-demand table serves at once).
  - Item count and size come from DescribeTable, which DynamoDB refreshes about every six hours.
  - AWS publishes no export rate: an export is estimated at 10 minutes plus a minute per 5 GB.
  - With --databricks-name, the warehouse time of the first load and of a batch: Databricks
    publishes no throughput per warehouse size, so it assumes ${DEFAULT_WAREHOUSE_ASSUMPTIONS.mbPerSecond} MB/s of table data per
    statement (--databricks-mb-per-second) and ${DEFAULT_WAREHOUSE_ASSUMPTIONS.statementSeconds} s per statement (--databricks-statement-seconds);
    the first load handles the table's size once, a batch reads the key and sequence columns of
    every row. Measure one batch in the warehouse query history and pass your figures.`;

const DATABRICKS_HELP = `With --databricks-name catalog.schema.table (and --delta s3://…), plan adds what Unity Catalog
needs before apply runs on Databricks or table register runs: the storage credential (an IAM role,
created in Catalog Explorer, with the trust policy the Databricks docs require), the external
location(s) covering the landing area and the Delta table as SQL, the grants the principal apply
runs as needs (--databricks-principal, default ${PRINCIPAL_PLACEHOLDER}: replace it), CAN USE on the SQL
warehouse (--warehouse; a workspace permission, not SQL), and the warehouse time estimate.`;

/** `ddb-lake plan`: is this table ready to be backfilled and handed off, and how. */
export function registerPlanCommand(program: Command, context: CommandContext): void {
  withJsonOption(
    withAwsOptions(
      program
        .command('plan')
        .summary('check prerequisites, recommend a backfill strategy, estimate cost, print IAM policies')
        .description(
          "Reads the table's size, stream and point-in-time recovery, and checks whether the change files captured in the landing area cover a handoff at T (--export-time, default now): captured changes must run without a gap from S ≤ T − margin (the handoff rule, rule 2 of docs/DESIGN.md). Recommends a backfill strategy (native export when point-in-time recovery is on, a parallel Scan otherwise or for small tables, touch for small tables when you prefer the stream path) and says why, estimates each strategy's cost and time, and prints the IAM policy for the caller, the bucket policy the native export needs and an S3 lifecycle rule for old snapshots. Writes its report to _ddb_lake/plan/<table>/last-plan.json, which also shows the landing area takes writes (--no-write-report to skip). Exit code 0 when ready, 4 when not, with what to do.",
        )
        .option('--table <name|arn>', 'the table (name or ARN)')
        .option(
          '--landing <url>',
          'the landing area: s3://bucket/prefix or a local folder (env DDB_LAKE_LANDING)',
        )
        .option(
          '--export-time <time>',
          'T: the snapshot time to check, ISO 8601 or epoch seconds (default: now)',
        )
        .option('--margin <duration>', 'the handoff margin: minutes, or with a unit (90s, 15m, 1h)', '15')
        .addOption(
          new Option('--strategy <strategy>', 'plan this strategy instead of the recommended one')
            .choices(['auto', ...BACKFILL_STRATEGIES])
            .default('auto'),
        )
        .option('--prefer-stream', 'recommend touch (every item through the stream) for a small table', false)
        .option('--small-table-gb <gb>', 'up to this size a table counts as small', '1')
        .option(
          '--read-percent <n>',
          'share of read capacity a Scan or touch may use, 1-100',
          String(DEFAULT_RATES.readPercent),
        )
        .option('--max-rcu <n>', 'read units per second on an on-demand table')
        .option(
          '--write-percent <n>',
          'share of write capacity touch may use, 1-100',
          String(DEFAULT_RATES.writePercent),
        )
        .option('--max-wcu <n>', 'write units per second on an on-demand table')
        .option('--consistent-read', 'estimate a Scan with strongly consistent reads', false)
        .option('--export-price <usd>', 'full export, USD per GB', String(DEFAULT_PRICES.exportPerGb))
        .option(
          '--incremental-export-price <usd>',
          'incremental export, USD per GB',
          String(DEFAULT_PRICES.incrementalExportPerGb),
        )
        .option(
          '--read-price <usd>',
          'on-demand reads, USD per million read request units',
          String(DEFAULT_PRICES.readPerMillion),
        )
        .option(
          '--write-price <usd>',
          'on-demand writes, USD per million write request units',
          String(DEFAULT_PRICES.writePerMillion),
        )
        .option(
          '--pitr-price <usd>',
          'point-in-time recovery, USD per GB-month',
          String(DEFAULT_PRICES.pitrPerGbMonth),
        )
        .option(
          '--delta <url>',
          'the Delta table (s3://bucket/prefix or a folder): the IAM policy then covers it, and its batch records say which quarantined stream records were accepted',
        )
        .option(
          '--principal <arn|account>',
          "who requests the native export, for the bucket policy (default: the table's account)",
        )
        .option('--bucket-owner <account>', 'the account that owns the landing bucket')
        .option(
          '--snapshot-retention-days <n>',
          'age at which the lifecycle rule removes snapshot files',
          String(DEFAULT_SNAPSHOT_RETENTION_DAYS),
        )
        .option('--no-write-report', 'do not write the report (nor check that the landing area takes writes)')
        .option(
          '--databricks-name <catalog.schema.table>',
          'add the Databricks section for this Unity Catalog table (needs --delta s3://…)',
        )
        .option('--warehouse <id>', 'the SQL warehouse apply will use (Databricks section)')
        .option(
          '--databricks-principal <name>',
          "who apply runs as in Databricks: a user's email or a service principal's application ID",
        )
        .option(
          '--databricks-storage-credential <name>',
          'the storage credential the external locations use',
          DEFAULT_STORAGE_CREDENTIAL,
        )
        .option(
          '--databricks-mb-per-second <n>',
          'assumed MB/s of table data a warehouse statement processes',
          String(DEFAULT_WAREHOUSE_ASSUMPTIONS.mbPerSecond),
        )
        .option(
          '--databricks-statement-seconds <n>',
          'assumed fixed seconds per warehouse statement',
          String(DEFAULT_WAREHOUSE_ASSUMPTIONS.statementSeconds),
        ),
    ),
  )
    .addHelpText(
      'after',
      `\n${PRICING_HELP}\n\n${DATABRICKS_HELP}\n\nExamples:\n  ddb-lake plan --table orders --landing s3://lake/landing\n` +
        '  ddb-lake plan --table orders --landing s3://lake/landing --export-time 2026-11-24T09:00:00Z --json\n' +
        '  ddb-lake plan --table orders --landing s3://lake/landing --delta s3://lake/tables/orders \\\n' +
        '    --databricks-name main.sales.orders --databricks-principal etl@example.com --warehouse 1234abcd5678ef90',
    )
    .action(
      context.action(async (flags: PlanFlags) => {
        if (flags.table === undefined || flags.table === '')
          throw new UsageError('no table: pass --table <name or ARN>');
        const databricks = databricksOptions(flags);
        const output = createOutput({ json: flags.json });
        const landing = openLandingBesideDynamoDb(flags);
        // Read for the capture quarantine objects its batches accepted; an absent table has none.
        const delta =
          flags.delta === undefined ? undefined : openStore(flags.delta, storeOptionsBesideDynamoDb(flags));
        const deltaUrl = delta?.url;
        const dynamodb = dynamoDbClientOf(flags);
        try {
          const plan = await planTable({
            dynamodb,
            landing,
            table: flags.table,
            exportTime: flags.exportTime === undefined ? undefined : parseTime(flags.exportTime),
            marginMs: parseDuration(flags.margin),
            strategy: flags.strategy as BackfillStrategy | 'auto',
            preferStream: flags.preferStream,
            smallTableBytes: positive('--small-table-gb', flags.smallTableGb, true) * 1024 ** 3,
            rates: {
              readPercent: percent('--read-percent', flags.readPercent),
              writePercent: percent('--write-percent', flags.writePercent),
              maxRcu: flags.maxRcu === undefined ? undefined : positive('--max-rcu', flags.maxRcu, false),
              maxWcu: flags.maxWcu === undefined ? undefined : positive('--max-wcu', flags.maxWcu, false),
              consistentRead: flags.consistentRead,
            },
            prices: {
              exportPerGb: positive('--export-price', flags.exportPrice, true),
              incrementalExportPerGb: positive(
                '--incremental-export-price',
                flags.incrementalExportPrice,
                true,
              ),
              readPerMillion: positive('--read-price', flags.readPrice, true),
              writePerMillion: positive('--write-price', flags.writePrice, true),
              pitrPerGbMonth: positive('--pitr-price', flags.pitrPrice, true),
            },
            deltaUrl,
            delta,
            principal: flags.principal,
            bucketOwner: flags.bucketOwner,
            snapshotRetentionDays: wholeDays(flags.snapshotRetentionDays),
            writeReport: flags.writeReport,
            databricks,
            onEvent: (event) => renderEvent(event, output),
          });
          output.resultJson(plan);
          renderPlan(plan, output);
          return plan.ready ? EXIT_CODES.OK : EXIT_CODES.NOT_READY;
        } finally {
          dynamodb.destroy();
          await delta?.close();
          await landing.close();
        }
      }),
    );
}

function renderEvent(event: PlanEvent, output: Output): void {
  if (event.code === PlanEventCode.tableDescribed)
    output.status(`  ${event.table} is ${event.status}; reading the landing area…`);
  else if (event.code === PlanEventCode.handoffChecked)
    output.status(`  read ${count(event.firstRecordsRead)} change file(s)…`);
}

function renderPlan(plan: TablePlan, output: Output): void {
  const t = plan.table;
  const line = (text = '') => output.result(text);
  line(`Table ${t.name}  ${t.arn}`);
  line(
    `  status     ${t.status}, ${t.billingMode === 'PAY_PER_REQUEST' ? 'on-demand' : `provisioned ${t.readCapacityUnits} RCU / ${t.writeCapacityUnits} WCU`}, ${t.tableClass}`,
  );
  line(
    `  size       ${count(t.itemCount)} items, ${bytes(t.sizeBytes)} (DescribeTable refreshes these about every six hours)`,
  );
  line(
    `  stream     ${t.stream.enabled ? `enabled, ${t.stream.viewType}, since ${t.stream.enabledAt ?? 'an unknown time'}` : 'not enabled'}`,
  );
  const pitr = t.pitr;
  line(
    `  PITR       ${pitr.status.toLowerCase()}${pitr.earliestRestorableTime === null ? '' : `, restorable from ${pitr.earliestRestorableTime} to ${pitr.latestRestorableTime}`}${pitr.note === null ? '' : ` (${pitr.note})`}`,
  );
  line(`Landing area ${plan.landing.url}`);
  const h = plan.handoff;
  line(
    `  captured   ${h.coveredFrom === null ? 'nothing that proves coverage' : `without a gap from ${h.coveredFrom} (first change in ${h.earliestChange?.key})`}`,
  );
  line(
    `  gaps       ${h.gaps.length} recorded, ${h.recoveredGaps.length} recovered by incremental exports; capture checkpoints: ${plan.capture.checkpoints}${plan.capture.lastCheckpointAt === null ? '' : `, last ${plan.capture.lastCheckpointAt}`}`,
  );
  const q = plan.capture.quarantine;
  if (q.notAccepted.length > 0 || q.accepted.length > 0) {
    line(
      `  quarantine ${count(q.notAccepted.length)} stream record(s) capture quarantined that no apply batch accepted${q.accepted.length === 0 ? '' : `; ${count(q.accepted.length)} accepted as lost by a batch`}`,
    );
    for (const entry of q.notAccepted.slice(0, 10)) {
      line(
        `    not accepted: shard ${entry.shard ?? '(unknown)'}, sequence number ${entry.seq ?? '(unknown)'} (${entry.key}): ${entry.reason}`,
      );
    }
    if (q.notAccepted.length > 10)
      line(`    … and ${count(q.notAccepted.length - 10)} more (ddb-lake quarantine list)`);
    for (const entry of q.accepted.slice(0, 10)) {
      line(
        `    accepted:     shard ${entry.shard ?? '(unknown)'}, sequence number ${entry.seq ?? '(unknown)'} (${entry.key})`,
      );
    }
  }
  line();
  line(
    `Handoff at T = ${h.exportTime} (margin ${humanDuration(h.marginMs)}: changes from ${h.windowStart} on are replayed)`,
  );
  if (h.ok) line(`  covered: S = ${h.coveredFrom} ≤ T − margin`);
  else for (const problem of h.problems) line(`  not covered: ${problem.message}`);
  line();
  line(`Strategy: ${plan.strategy.strategy}${plan.strategy.requested === 'auto' ? ' (recommended)' : ''}`);
  for (const why of plan.strategy.why) line(`  - ${why}`);
  for (const other of plan.strategy.others) line(`  not ${other.strategy}: ${other.why}`);
  line();
  line('Estimates (prices and rates: see --help; pass your region’s prices)');
  line(`  ${'strategy'.padEnd(10)} ${'cost (USD)'.padStart(12)}  ${'time'.padEnd(10)} basis`);
  const rows: [string, StrategyEstimate][] = [
    ['export', plan.costs.export],
    ['scan', plan.costs.scan],
    ['touch', plan.costs.touch],
  ];
  for (const [name, estimate] of rows) {
    const mark = name === plan.strategy.strategy ? '*' : ' ';
    line(
      `${mark} ${name.padEnd(10)} ${estimate.usd.toFixed(4).padStart(12)}  ${humanDuration(estimate.durationMs).padEnd(10)} ${estimate.basis}`,
    );
  }
  line(
    `  incremental export (to recover a gap): at least $${plan.costs.incrementalExportMinimumUsd.toFixed(5)} each (10 MB minimum)`,
  );
  line(`  point-in-time recovery for this table: $${plan.costs.pitrMonthlyUsd.toFixed(4)} a month`);
  for (const note of plan.costs.notes) line(`  note: ${note}`);
  line();
  if (plan.ready) line(`READY for ${plan.strategy.strategy} with a handoff at ${h.exportTime}.`);
  else line(`NOT READY (exit code ${EXIT_CODES.NOT_READY}):`);
  for (const blocker of plan.blockers) finding('✗', blocker, line);
  if (plan.warnings.length > 0) line('Warnings:');
  for (const warning of plan.warnings) finding('!', warning, line);
  line();
  line(`IAM policy for the caller (plan, ${plan.strategy.strategy}, capture, apply):`);
  line(JSON.stringify(plan.policies.iam, null, 2));
  const bucket = plan.policies.exportBucket;
  if (bucket.policy !== null) {
    line();
    line(`Bucket policy for the native export (needed: ${bucket.needed}; ${bucket.why}):`);
    line(JSON.stringify(bucket.policy, null, 2));
  }
  const lifecycle = plan.policies.snapshotLifecycle;
  if (lifecycle !== null && plan.landing.kind === 's3') {
    line();
    line(
      `S3 lifecycle rule removing snapshot files after ${lifecycle.days} days (aws s3api put-bucket-lifecycle-configuration --bucket ${plan.landing.bucket} --lifecycle-configuration file://lifecycle.json; it replaces the bucket's rules, so merge it with any already there):`,
    );
    line(JSON.stringify(lifecycle.configuration, null, 2));
  }
  if (plan.databricks !== null) {
    line();
    for (const text of databricksPlanText(plan.databricks)) line(text);
  }
  if (plan.report?.written) {
    line();
    line(`Report written to ${plan.report.key} in the landing area.`);
  }
}

function finding(mark: string, item: PlanFinding, line: (text: string) => void): void {
  line(`  ${mark} [${item.code}] ${item.message}`);
  line(`      → ${item.action}`);
}

function tableName(text: string): UnityCatalogName {
  try {
    return parseUnityCatalogName(text);
  } catch (error) {
    if (error instanceof TableRegisterError) throw new UsageError(`--databricks-name: ${error.message}`);
    throw error;
  }
}

/** The Databricks section's options, or undefined without --databricks-name; usage errors first. */
function databricksOptions(flags: PlanFlags) {
  if (flags.databricksName === undefined) {
    if (flags.warehouse !== undefined || flags.databricksPrincipal !== undefined) {
      throw new UsageError(
        '--warehouse and --databricks-principal go with --databricks-name catalog.schema.table',
      );
    }
    return undefined;
  }
  const table = tableName(flags.databricksName);
  if (flags.delta === undefined || !flags.delta.startsWith('s3://')) {
    throw new UsageError(
      `--databricks-name needs --delta s3://bucket/prefix: Unity Catalog only reads tables on cloud storage${flags.delta === undefined ? '' : `, not ${flags.delta}`}`,
    );
  }
  return {
    table,
    principal: flags.databricksPrincipal,
    warehouseId: flags.warehouse,
    storageCredential: flags.databricksStorageCredential,
    assumptions: {
      mbPerSecond: positive('--databricks-mb-per-second', flags.databricksMbPerSecond, false),
      statementSeconds: positive('--databricks-statement-seconds', flags.databricksStatementSeconds, true),
    },
  };
}

function parseTime(text: string): Date {
  const time = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text);
  if (Number.isNaN(time)) {
    throw new UsageError(
      `--export-time must be an ISO 8601 time (2026-11-24T09:00:00Z) or epoch seconds, got "${text}"`,
    );
  }
  return new Date(time);
}

function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(s|m|min|h)?$/.exec(text.trim());
  if (match === null)
    throw new UsageError(`--margin must be minutes or a duration such as 90s, 15m or 1h, got "${text}"`);
  const unit = match[2] ?? 'm';
  const factor = unit === 's' ? 1000 : unit === 'h' ? 3_600_000 : 60_000;
  return Math.round(Number(match[1]) * factor);
}

function positive(flag: string, text: string, zeroAllowed: boolean): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || (!zeroAllowed && value === 0)) {
    throw new UsageError(
      `${flag} must be a number ${zeroAllowed ? 'of 0 or more' : 'above 0'}, got "${text}"`,
    );
  }
  return value;
}

function percent(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || value > 100)
    throw new UsageError(`${flag} must be above 0 and at most 100, got "${text}"`);
  return value;
}

function wholeDays(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new UsageError(`--snapshot-retention-days must be a whole number of at least 1, got "${text}"`);
  }
  return value;
}

function bytes(value: number): string {
  if (value >= 1024 ** 3) return `${(value / 1024 ** 3).toFixed(2)} GB`;
  if (value >= 1024 ** 2) return `${(value / 1024 ** 2).toFixed(1)} MB`;
  return `${count(value)} bytes`;
}

function humanDuration(ms: number): string {
  if (ms < 60_000) return `${Math.max(1, Math.ceil(ms / 1000))} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}
