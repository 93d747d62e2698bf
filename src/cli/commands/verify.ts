import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { openStore } from '../../storage/open-store.ts';
import { type VerifyEvent, VerifyEventCode } from '../../verify/verify-events.ts';
import type { VerifyReport } from '../../verify/verify-report.ts';
import { DEFAULT_LIMIT, verifyTable } from '../../verify/verify-table.ts';
import { scanningDynamoDbClient, storeOptionsBesideDynamoDb } from '../aws-flags.ts';
import { EXIT_CODES, type ExitCode } from '../exit-codes.ts';
import { durationMs } from '../flag-values.ts';
import { count, duration } from '../format.ts';
import { createOutput, type Output } from '../output.ts';
import { type AwsFlags, type CommandContext, withAwsOptions, withJsonOption } from '../program.ts';
import { longDuration, rate, rateText } from './backfill-scan.ts';

interface VerifyFlags extends AwsFlags {
  table?: string;
  delta?: string;
  segments?: string;
  concurrency?: string;
  readPercent: string;
  maxRcu?: string;
  consistentRead?: boolean;
  settle: string;
  sample?: string;
  seed?: string;
  limit: string;
  json: boolean;
}

const DESCRIPTION = `Proves the Delta table at --delta equal to the DynamoDB table, key by key, or shows where it is not.

What is compared: every item of the DynamoDB table (a parallel Scan) with every live row of the Delta table's latest version (rows soft-deleted with _ddb_deleted are deleted items). Each side is reduced to its key (the lake's _ddb_key: the key attributes as canonical JSON) and a canonical hash: SHA-256 of the item's canonical plain JSON, in which numbers are written by value (1.0 = 1, all 38 digits kept), sets in a fixed order, binary as base64, maps and lists nested. A lake row is turned back into the plain JSON of the item it was written from, so the check is exact for numbers, sets, binary and nested values. DuckDB joins the two sides on key, so memory stays bounded however big the table is. A key only DynamoDB holds is missing, one only the lake holds is extra, one whose hashes differ is different; the report lists the first --limit of each (default 20), a different key with the attributes that differ (from a strongly consistent read).

Settle: a table that keeps changing is never equal to a copy at one instant. When something mismatched, verify waits --settle (default 60s; minutes or 90s, 15m, 1h; 0 turns it off), reloads the Delta table at its latest version (apply may have committed a batch meanwhile) and re-checks each mismatched key (at most 10,000) with a strongly consistent read: a key that now matches was a change in flight and is not reported. The report says how many settled.

Sample: --sample P (a fraction such as 0.1 or a percent such as 10%) scans only that share of the Scan segments, chosen at random from a seed that the report gives (--seed repeats a choice); missing and different keys are checked for the items scanned, and the same share of the lake's keys is checked for extra keys with strongly consistent reads. The report says that it was sampled and that its counts are of the sample.

Rate: as backfill scan, the Scan uses --read-percent of the table's read capacity (default 50), or --max-rcu outright, with throttled requests retried at a lower rate.

Exit code: 0 only when the two tables are equal; 1 when they differ (or verify failed).`;

function whole(flag: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

/** `0.1` or `10%` → 0.1; above 0 and at most 1. */
function share(flag: string, text: string): number {
  const percent = text.trim().endsWith('%');
  const value = Number(percent ? text.trim().slice(0, -1) : text);
  const fraction = percent ? value / 100 : value;
  if (text.trim() === '' || !(fraction > 0 && fraction <= 1)) {
    throw new UsageError(
      `${flag} must be a fraction above 0 and at most 1 (0.1) or a percent (10%), got "${text}"`,
    );
  }
  return fraction;
}

/** `ddb-lake verify`: compare the DynamoDB table with the Delta table, key by key, by canonical hash. */
export function registerVerifyCommand(program: Command, context: CommandContext): void {
  withJsonOption(
    withAwsOptions(
      program
        .command('verify')
        .summary('prove the Delta table equal to the DynamoDB table, key by key (exit 0 only when equal)')
        .description(DESCRIPTION)
        .option('--table <name|arn>', 'the DynamoDB table')
        .option('--delta <url>', 'the Delta table apply maintains: s3://bucket/prefix or a local folder')
        .option(
          '--segments <n>',
          'parallel Scan segments (default: one per 2 GB of table, at least one per CPU core)',
        )
        .option('--concurrency <n>', 'segments scanned at once (default: all, at most 16)')
        .option('--read-percent <p>', "share of the table's read capacity to use, in percent", '50')
        .option('--max-rcu <n|unlimited>', 'read capacity units per second to use, instead of --read-percent')
        .option('--consistent-read', 'strongly consistent Scan reads (twice the read units)')
        .option('--settle <duration>', 're-check mismatched keys after this wait; 0 turns it off', '60s')
        .option('--sample <P>', 'scan only this share of the segments: 0.1 or 10%')
        .option('--seed <n>', 'the seed that chooses the sampled segments and lake keys (default: random)')
        .option('--limit <n>', 'mismatched keys of each kind listed in the report', String(DEFAULT_LIMIT)),
    ),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  ddb-lake verify --table orders --delta s3://lake/tables/orders\n' +
        '  ddb-lake verify --table orders --delta ./orders --settle 0 --json\n' +
        '  ddb-lake verify --table orders --delta s3://lake/tables/orders --sample 5% --max-rcu 200',
    )
    .action(
      context.action(async (flags: VerifyFlags) => {
        if (flags.table === undefined || flags.table === '') {
          throw new UsageError('no table: pass --table <name or ARN>');
        }
        if (flags.delta === undefined || flags.delta === '') {
          throw new UsageError('no Delta table: pass --delta s3://bucket/prefix (or a local folder)');
        }
        const segments = whole('--segments', flags.segments, 1, 1_000_000);
        const concurrency = whole('--concurrency', flags.concurrency, 1, 1_000);
        const readPercent = Number(flags.readPercent);
        if (!(readPercent > 0 && readPercent <= 100)) {
          throw new UsageError(
            `--read-percent must be a number above 0 and at most 100, got "${flags.readPercent}"`,
          );
        }
        const maxRcu = rate('--max-rcu', flags.maxRcu);
        const settleMs = durationMs('--settle', flags.settle);
        const sample = flags.sample === undefined ? undefined : share('--sample', flags.sample);
        const seed = whole('--seed', flags.seed, 0, 2 ** 31 - 1);
        const limit = whole('--limit', flags.limit, 0, 1_000_000) as number;
        const output = createOutput({ json: flags.json });
        const client = scanningDynamoDbClient(flags);
        let delta: ObjectStore | undefined;
        try {
          delta = openStore(flags.delta, storeOptionsBesideDynamoDb(flags));
          const report = await verifyTable({
            client,
            table: flags.table,
            delta,
            segments,
            concurrency,
            readPercent,
            maxReadUnitsPerSecond: maxRcu,
            consistentRead: flags.consistentRead,
            settleMs,
            sample,
            sampleSeed: seed,
            limit,
            onEvent: (event) => render(event, output),
          });
          return summarize(report, output);
        } finally {
          client.destroy();
          await delta?.close();
        }
      }),
    );
}

function render(event: VerifyEvent, output: Output): void {
  switch (event.code) {
    case VerifyEventCode.started:
      output.progress(
        `Verifying ${event.table} against ${event.delta} (Delta version ${event.deltaVersion}): ${event.segmentsScanned} of ${event.totalSegments} segments (${event.concurrency} at once)${event.consistentRead ? ', strongly consistent' : ''}, ${rateText(event.readCapacity, 'read units')}`,
      );
      break;
    case VerifyEventCode.lakeProgress:
      output.status(`  lake: ${count(event.rows)} rows hashed`);
      break;
    case VerifyEventCode.lakeRead:
      output.progress(`  lake: ${count(event.rows)} live rows hashed in ${duration(event.elapsedMs)}`);
      break;
    case VerifyEventCode.scanProgress:
      output.status(
        `  table: ${count(event.items)} items, segments ${event.segmentsDone}/${event.segments}, ${count(Math.round(event.readUnits))} read units, ${longDuration(event.elapsedMs)}`,
      );
      break;
    case VerifyEventCode.scanned:
      output.progress(`  table: ${count(event.items)} items scanned in ${longDuration(event.elapsedMs)}`);
      break;
    case VerifyEventCode.sampleRead:
      output.status(`  sampled lake keys read: ${count(event.keys)} (${count(event.found)} found)`);
      break;
    case VerifyEventCode.compared:
      output.progress(
        `  compared: ${count(event.matched)} matched, ${count(event.missing)} missing, ${count(event.extra)} extra, ${count(event.different)} different`,
      );
      break;
    case VerifyEventCode.settling:
      output.progress(
        `  waiting ${longDuration(event.waitMs)} to re-check ${count(event.keys)} mismatched keys…`,
      );
      break;
    case VerifyEventCode.settled:
      output.progress(`  re-checked ${count(event.rechecked)} keys: ${count(event.settled)} settled`);
      break;
    case VerifyEventCode.throttled:
      output.warn(
        `warning: segment ${event.segment}: DynamoDB throttled the Scan (${event.error}); rate lowered to ${count(Math.round(event.unitsPerSecond))} read units/s, retrying in ${duration(event.delayMs)}`,
      );
      break;
  }
}

function summarize(report: VerifyReport, output: Output): ExitCode {
  output.resultJson(report);
  const sampled = report.sample === null ? '' : ' (of the sample)';
  output.result(
    report.equal
      ? `EQUAL: the Delta table (version ${report.deltaVersion}) holds exactly the items of ${report.table}${sampled}.`
      : `DIFFERENT: the Delta table (version ${report.deltaVersion}) does not hold exactly the items of ${report.table}${sampled}.`,
  );
  output.result(
    `  table items ${count(report.tableItems)}, lake rows ${count(report.lakeRows)}, matched ${count(report.matched)}, missing ${count(report.missing.count)}, extra ${count(report.extra.count)}, different ${count(report.different.count)}`,
  );
  if (report.sample !== null) {
    const s = report.sample;
    output.result(
      `  sampled: ${+(s.share * 100).toFixed(2)}% — ${s.segments.length} of ${s.totalSegments} segments, ${count(s.lakeKeysChecked)} lake keys checked for extra (seed ${s.seed}); counts are of the sample`,
    );
  }
  if (report.settle !== null) {
    const s = report.settle;
    output.result(
      `  settle: after ${longDuration(s.waitedMs)}, ${count(s.rechecked)} keys re-checked against Delta version ${s.deltaVersion}, ${count(s.settled)} settled${s.capped ? ` (only the first ${count(s.maxKeys)} mismatched keys were re-checked; the rest are reported unchecked)` : ''}`,
    );
  }
  for (const key of report.missing.keys) output.result(`  missing   ${key}`);
  if (report.missing.count > report.missing.keys.length) {
    output.result(`  … and ${count(report.missing.count - report.missing.keys.length)} more missing`);
  }
  for (const key of report.extra.keys) output.result(`  extra     ${key}`);
  if (report.extra.count > report.extra.keys.length) {
    output.result(`  … and ${count(report.extra.count - report.extra.keys.length)} more extra`);
  }
  for (const { key, attributes } of report.different.keys) {
    output.result(`  different ${key}`);
    for (const { attribute, table, lake } of attributes) {
      output.result(`    ${attribute}: table ${table ?? '(absent)'} | lake ${lake ?? '(absent)'}`);
    }
  }
  if (report.different.count > report.different.keys.length) {
    output.result(`  … and ${count(report.different.count - report.different.keys.length)} more different`);
  }
  output.result(
    `  ${longDuration(report.elapsedMs)}, ${count(Math.round(report.itemsPerSecond))} items/s, ${count(Math.round(report.scan.readUnits))} read units`,
  );
  return report.equal ? EXIT_CODES.OK : EXIT_CODES.FAILED;
}
