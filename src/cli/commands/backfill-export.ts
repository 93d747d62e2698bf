import { type Command, Option } from 'commander';
import type { NativeExportOutcome } from '../../backfill/export-watch.ts';
import { DEFAULT_POLL_INTERVAL_MS, watchNativeExport } from '../../backfill/export-watch.ts';
import { runNativeExport, type StartedNativeExport } from '../../backfill/native-export.ts';
import {
  type ExportInfo,
  type NativeExportEvent,
  NativeExportEventCode,
} from '../../backfill/native-export-events.ts';
import type { ExportSse } from '../../backfill/native-export-request.ts';
import { UsageError } from '../../errors.ts';
import { openStore } from '../../storage/open-store.ts';
import { dynamoDbClientOf, storeOptionsBesideDynamoDb } from '../aws-flags.ts';
import { EXIT_CODES, type ExitCode } from '../exit-codes.ts';
import { count, duration, megabytes } from '../format.ts';
import { createOutput, type Output } from '../output.ts';
import { type AwsFlags, type CommandContext, withAwsOptions, withJsonOption } from '../program.ts';
import { untilStopped } from '../stop-signals.ts';

interface WatchFlags extends AwsFlags {
  wait: boolean;
  pollInterval: string;
  json: boolean;
}

interface ExportFlags extends WatchFlags {
  table?: string;
  landing?: string;
  exportTime?: string;
  incremental: boolean;
  from?: string;
  to?: string;
  bucketOwner?: string;
  sse?: 'AES256' | 'KMS';
  kmsKey?: string;
  attempt: string;
}

const TOKEN_HELP =
  'Each request carries a ClientToken derived from all of its parameters (table, export time or window, ' +
  'bucket, prefix, owner, encryption, --attempt). DynamoDB keeps a ClientToken for 8 hours: within them the ' +
  'same request answers with the export already started instead of starting (and billing) a second one, so a ' +
  'rerun after a crash attaches to it. Without --export-time the time is "now", recorded under ' +
  '_ddb_lake/backfill/native-export/ in the landing area so that a rerun asks for the same time. Within the ' +
  '8 hours a failed export is answered again too: pass --attempt 2 (3, …) to try anew.';

/**
 * `ddb-lake backfill export` (DynamoDB Export to S3, from point-in-time recovery) and
 * `ddb-lake backfill status <arn>` (watch an export started earlier).
 */
export function registerBackfillExportCommands(backfill: Command, context: CommandContext): void {
  withJsonOption(
    withWatchOptions(
      withAwsOptions(
        backfill
          .command('export')
          .summary("start DynamoDB's Export to S3 (needs point-in-time recovery), watch it, check its files")
          .description(
            "Checks that point-in-time recovery is on (and says how to switch it on), starts ExportTableToPointInTime into the S3 landing area, watches DescribeExport until the export ends, then reads both manifests and every data file back and checks each file's MD5 and item count. A full export copies the table as of --export-time (default: now); --incremental --from --to exports the changes of a window of 15 minutes to 24 hours (NEW_AND_OLD_IMAGES). The files land under AWSDynamoDB/<exportId>/, the layout apply reads. " +
              TOKEN_HELP +
              ' --endpoint-url applies to DynamoDB; for an S3-compatible landing area set AWS_ENDPOINT_URL_S3.',
          )
          .option('--table <name|arn>', 'the table to export')
          .option(
            '--landing <url>',
            'the landing area, s3://bucket/prefix: DynamoDB exports only to S3 (env DDB_LAKE_LANDING)',
          )
          .option(
            '--export-time <time>',
            'full export: the point in time, ISO-8601 with a zone (default: now)',
          )
          .option('--incremental', 'export the changes of a window instead of the whole table', false)
          .option('--from <time>', 'incremental: start of the window (inclusive), ISO-8601 with a zone')
          .option('--to <time>', 'incremental: end of the window (exclusive), 15 min to 24 h after --from')
          .option('--bucket-owner <account>', 'the 12-digit account id owning the bucket, if not yours')
          .addOption(
            new Option('--sse <algorithm>', 'encrypt the exported files: AES256 (S3 keys) or KMS').choices([
              'AES256',
              'KMS',
            ]),
          )
          .option('--kms-key <id>', 'with --sse KMS: the KMS key id or ARN (default: the AWS managed key)')
          .option('--attempt <n>', 'a number folded into the ClientToken: a new one makes a new export', '1'),
      ),
    ),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  ddb-lake backfill export --table orders --landing s3://lake/landing\n' +
        '  ddb-lake backfill export --table orders --landing s3://lake/landing --incremental \\\n' +
        '      --from 2026-11-23T00:00:00Z --to 2026-11-23T06:00:00Z\n' +
        '  arn=$(ddb-lake backfill export --table orders --landing s3://lake/landing --no-wait)\n' +
        '  ddb-lake backfill status "$arn"',
    )
    .action(
      context.action(async (flags: ExportFlags) => {
        const table = required(flags.table, 'no table: pass --table <name or ARN>');
        const landing = required(
          flags.landing ?? process.env['DDB_LAKE_LANDING'],
          'no landing area: pass --landing s3://bucket/prefix, or set DDB_LAKE_LANDING',
        );
        const kind = exportKind(flags);
        const output = createOutput({ json: flags.json });
        const dynamodb = dynamoDbClientOf(flags);
        return untilStopped(output, 'Stopping the watch; the export itself goes on…', async (signal) => {
          try {
            const { started, outcome } = await runNativeExport({
              dynamodb,
              table,
              landing,
              openStore: (url) => openStore(url, storeOptionsBesideDynamoDb(flags)),
              ...kind,
              ...(flags.bucketOwner === undefined ? {} : { bucketOwner: flags.bucketOwner }),
              ...sseOf(flags),
              attempt: wholeNumber(flags.attempt, '--attempt', 1),
              wait: flags.wait,
              pollIntervalMs: pollInterval(flags.pollInterval),
              signal,
              onEvent: renderer(output),
            });
            return report(output, outcome, started);
          } finally {
            dynamodb.destroy();
          }
        });
      }),
    );

  withJsonOption(
    withWatchOptions(
      withAwsOptions(
        backfill
          .command('status')
          .argument('<export-arn>', 'the export ARN that `backfill export` printed')
          .summary('watch an export started earlier until it ends, then check its files')
          .description(
            "Describes the export every --poll-interval seconds until it is COMPLETED or FAILED (with --no-wait: once), then, when completed, reads its manifests and every data file back from S3 and checks each file's MD5 and item count. Read-only towards DynamoDB: run it as often as you like. The region defaults to the one in the ARN.",
          ),
      ),
    ),
  ).action(
    context.action(async (exportArn: string, flags: WatchFlags) => {
      const output = createOutput({ json: flags.json });
      const region = flags.region ?? /^arn:[^:]+:dynamodb:([^:]+):/.exec(exportArn)?.[1];
      const config = { ...flags, ...(region === undefined ? {} : { region }) };
      const dynamodb = dynamoDbClientOf(config);
      return untilStopped(output, 'Stopping the watch; the export itself goes on…', async (signal) => {
        try {
          const outcome = await watchNativeExport({
            dynamodb,
            exportArn,
            openStore: (url) => openStore(url, storeOptionsBesideDynamoDb(config)),
            wait: flags.wait,
            pollIntervalMs: pollInterval(flags.pollInterval),
            signal,
            onEvent: renderer(output),
          });
          return report(output, outcome, undefined);
        } finally {
          dynamodb.destroy();
        }
      });
    }),
  );
}

function withWatchOptions(command: Command): Command {
  return command
    .option('--no-wait', 'return once the export is started (export) or described (status), with its ARN')
    .option(
      '--poll-interval <seconds>',
      'seconds between two DescribeExport calls',
      String(DEFAULT_POLL_INTERVAL_MS / 1000),
    );
}

function exportKind(flags: ExportFlags): { exportTime?: Date; incremental?: { from: Date; to: Date } } {
  if (flags.incremental) {
    if (flags.exportTime !== undefined) {
      throw new UsageError('--export-time is for a full export; an incremental export takes --from and --to');
    }
    const from = required(flags.from, '--incremental needs --from <time> and --to <time>');
    const to = required(flags.to, '--incremental needs --from <time> and --to <time>');
    return { incremental: { from: parseTime(from, '--from'), to: parseTime(to, '--to') } };
  }
  if (flags.from !== undefined || flags.to !== undefined) {
    throw new UsageError('--from and --to describe the window of an incremental export: add --incremental');
  }
  return flags.exportTime === undefined ? {} : { exportTime: parseTime(flags.exportTime, '--export-time') };
}

function sseOf(flags: ExportFlags): { sse?: ExportSse } {
  if (flags.kmsKey !== undefined && flags.sse !== 'KMS') {
    throw new UsageError('--kms-key goes with --sse KMS');
  }
  if (flags.sse === undefined) return {};
  if (flags.sse === 'AES256') return { sse: { algorithm: 'AES256' } };
  return { sse: { algorithm: 'KMS', ...(flags.kmsKey === undefined ? {} : { kmsKeyId: flags.kmsKey }) } };
}

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

function parseTime(text: string, flag: string): Date {
  const time = new Date(text);
  if (!ISO_WITH_ZONE.test(text) || Number.isNaN(time.getTime())) {
    throw new UsageError(
      `${flag} must be an ISO-8601 time with its zone, like 2026-11-23T00:00:00Z, got "${text}"`,
    );
  }
  return time;
}

function required(value: string | undefined, message: string): string {
  if (value === undefined || value === '') throw new UsageError(message);
  return value;
}

function wholeNumber(text: string, flag: string, min: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${flag} must be a whole number of at least ${min}, got "${text}"`);
  }
  return value;
}

function pollInterval(text: string): number {
  const seconds = Number(text);
  if (text.trim() === '' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new UsageError(`--poll-interval must be a number of seconds above 0, got "${text}"`);
  }
  return seconds * 1000;
}

function renderer(output: Output): (event: NativeExportEvent) => void {
  let lastStatus: string | undefined;
  return (event) => {
    switch (event.code) {
      case NativeExportEventCode.pitrChecked:
        output.progress(
          `Point-in-time recovery is on for ${event.tableArn}` +
            (event.window.earliestRestorable === null
              ? ''
              : ` (restorable from ${event.window.earliestRestorable.toISOString()})`),
        );
        break;
      case NativeExportEventCode.requestResumed:
        output.progress(
          `An earlier run asked for this export at ${event.requestedAt} (recorded in ${event.key}); asking again ` +
            `for the same time, ${event.exportTime}, with the same ClientToken, so DynamoDB answers with that export.`,
        );
        break;
      case NativeExportEventCode.earlierRequestReplaced:
        output.warn(
          `warning: an earlier export of this table to this landing area, ${event.exportArn} (asked for at ` +
            `${event.requestedAt}), was not watched to its end; see it with ddb-lake backfill status ${event.exportArn}`,
        );
        break;
      case NativeExportEventCode.started:
        output.progress(`Export ${event.export.exportArn} (ClientToken ${event.clientToken})`);
        break;
      case NativeExportEventCode.status: {
        const line = `  ${event.export.status}, ${duration(event.elapsedMs)} since it started`;
        if (event.export.status !== lastStatus) output.progress(line);
        else output.status(line);
        lastStatus = event.export.status;
        break;
      }
      case NativeExportEventCode.verifying:
        output.status(`  reading the export back… ${count(event.records)} records`);
        break;
    }
  };
}

function report(
  output: Output,
  outcome: NativeExportOutcome,
  started: StartedNativeExport | undefined,
): ExitCode {
  const info = outcome.export;
  output.resultJson({
    ...(started === undefined
      ? {}
      : { clientToken: started.clientToken, attached: started.attached, request: started.request }),
    outcome: outcome.outcome,
    export: info,
    ...(outcome.outcome === 'completed' ? { verification: outcome.verification } : {}),
  });
  switch (outcome.outcome) {
    case 'running':
      // The ARN alone on stdout, so that a script can take it: arn=$(ddb-lake backfill export … --no-wait).
      output.result(info.exportArn);
      output.progress(
        `${outcome.reason === 'signal' ? 'Stopped watching' : 'Not waiting'}: the export is ${info.status}. ` +
          `Watch it with: ddb-lake backfill status ${info.exportArn}`,
      );
      return outcome.reason === 'signal' ? EXIT_CODES.FAILED : EXIT_CODES.OK;
    case 'failed':
      output.warn(
        `ddb-lake: export ${info.exportArn} FAILED: ${info.failureCode ?? '(no FailureCode)'}: ` +
          `${info.failureMessage ?? '(no FailureMessage)'}`,
      );
      output.warn(
        '  Nothing of it can be used. Fix the cause above (often the bucket policy, KMS key permissions or the ' +
          'bucket owner), then run the export again with a new --attempt number: within 8 hours the same ' +
          'request (same ClientToken) answers with this same failed export.',
      );
      return EXIT_CODES.FAILED;
    case 'completed': {
      const check = outcome.verification;
      const incremental = info.exportType === 'INCREMENTAL_EXPORT';
      output.result(`Export ${info.exportArn} COMPLETED`);
      output.result(`  table ${info.tableArn ?? check.summary.tableArn}, ${describeKind(info)}`);
      output.result(
        `  ${count(info.itemCount ?? check.summary.itemCount)} ${incremental ? 'change records' : 'items'}, ` +
          `billed size ${billedSize(info.billedSizeBytes ?? check.summary.billedSizeBytes)}` +
          (info.startTime !== null && info.endTime !== null
            ? `, took ${duration(Date.parse(info.endTime) - Date.parse(info.startTime))}`
            : ''),
      );
      output.result(
        `  read back from ${check.landing}/${check.exportDir}: ${count(check.records)} ${incremental ? `change records (${count(check.deletions)} deletions)` : 'items'} ` +
          `in ${count(check.dataFiles)} data file(s); manifests and every file's MD5 and item count match`,
      );
      return EXIT_CODES.OK;
    }
  }
}

/** Bytes as they are below a megabyte (small exports bill a few hundred bytes), else megabytes. */
function billedSize(bytes: number): string {
  return bytes < 1e6 ? `${count(bytes)} bytes` : megabytes(bytes);
}

function describeKind(info: ExportInfo): string {
  return info.exportType === 'INCREMENTAL_EXPORT'
    ? `incremental export of ${info.exportFromTime ?? '?'} → ${info.exportToTime ?? '?'}`
    : `full export as of ${info.exportTime ?? '?'}`;
}
