import type { Command } from 'commander';
import type { BackfillProgress } from '../../backfill/backfill-progress.ts';
import type { CapacitySource, CapacityTarget } from '../../backfill/backfill-table.ts';
import { type ScanEvent, ScanEventCode } from '../../backfill/scan-events.ts';
import { type ScanExportResult, scanExport } from '../../backfill/scan-export.ts';
import { UsageError } from '../../errors.ts';
import { scanningDynamoDbClient } from '../aws-flags.ts';
import { EXIT_CODES, type ExitCode } from '../exit-codes.ts';
import { count, duration, megabytes } from '../format.ts';
import { openLandingBesideDynamoDb } from '../landing.ts';
import { createOutput, type Output } from '../output.ts';
import { type AwsFlags, type CommandContext, withAwsOptions, withJsonOption } from '../program.ts';
import { untilStopped } from '../stop-signals.ts';

interface ScanFlags extends AwsFlags {
  table?: string;
  landing?: string;
  segments?: string;
  concurrency?: string;
  readPercent: string;
  maxRcu?: string;
  consistentRead?: boolean;
  resume?: string;
  fresh: boolean;
  fileMb: string;
  json: boolean;
}

const DESCRIPTION = `Exports the table with a parallel Scan into the landing area, in the layout of DynamoDB's native export (AWSDynamoDB/<exportId>/: gzip JSON-lines data files, manifest-files.json with real MD5s, manifest-summary.json last), so that apply reads it as it reads a native export. The export time is the scan's start: every change captured after it is replayed on top. For tables without point-in-time recovery, or small ones.

Rate: the scan uses --read-percent of the table's read capacity (default 50): of the provisioned read capacity units, or for an on-demand table of its maximum read throughput, else its warm throughput, else 12,000 (what a new on-demand table serves), measured from the read units DynamoDB reports as consumed and shared by all segments. --max-rcu gives the rate outright (any table; "unlimited" for none). Throttled requests are retried and lower the rate, which then climbs back.

Resume: each segment's position is checkpointed under _ddb_lake/scan/<exportId>/ in the landing area whenever a data file is complete, so a scan that was killed or failed goes on where it stopped when the same command is run again: by default the latest unfinished scan of the same table is resumed (with its own --segments and --consistent-read), --resume <exportId> names one, --fresh starts a new one. The finished export holds each item exactly once. Ctrl-C stops at the next page and checkpoints every segment. --endpoint-url applies to DynamoDB; for an S3-compatible landing area set AWS_ENDPOINT_URL_S3.`;

/** `ddb-lake backfill scan`: a rate-limited, resumable parallel Scan export in the native layout. */
export function registerBackfillScanCommand(backfill: Command, context: CommandContext): void {
  withJsonOption(
    withAwsOptions(
      backfill
        .command('scan')
        .summary('export the table with a parallel Scan, in the native export layout (resumable)')
        .description(DESCRIPTION)
        .option('--table <name|arn>', 'the table to export')
        .option(
          '--landing <url>',
          'the landing area: s3://bucket/prefix or a local folder (env DDB_LAKE_LANDING)',
        )
        .option(
          '--segments <n>',
          'parallel Scan segments (default: one per 2 GB of table, at least one per CPU core)',
        )
        .option('--concurrency <n>', 'segments scanned at once (default: all, at most 16)')
        .option(
          '--read-percent <p>',
          "share of the table's read capacity to use, in percent (above 0, at most 100)",
          '50',
        )
        .option('--max-rcu <n|unlimited>', 'read capacity units per second to use, instead of --read-percent')
        .option('--consistent-read', 'strongly consistent reads (twice the read units)')
        .option('--resume <exportId>', 'resume this unfinished scan (default: the latest one of the table)')
        .option('--fresh', 'start a new scan even if an unfinished one exists', false)
        .option('--file-mb <n>', 'close data files at about this many MB of JSON lines', '256'),
    ),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  ddb-lake backfill scan --table orders --landing s3://lake/landing\n' +
        '  ddb-lake backfill scan --table orders --landing ./landing --max-rcu 500 --segments 8',
    )
    .action(
      context.action(async (flags: ScanFlags) => {
        if (flags.table === undefined || flags.table === '') {
          throw new UsageError('no table: pass --table <name or ARN>');
        }
        const table = flags.table;
        if (flags.resume !== undefined && flags.fresh) {
          throw new UsageError('--resume and --fresh exclude each other: pass one of them');
        }
        const segments = optionalWhole('--segments', flags.segments, 1, 1_000_000);
        const concurrency = optionalWhole('--concurrency', flags.concurrency, 1, 1_000);
        const readPercent = percent('--read-percent', flags.readPercent);
        const maxRcu = rate('--max-rcu', flags.maxRcu);
        const fileMb = Number(flags.fileMb);
        if (!(fileMb > 0)) throw new UsageError(`--file-mb must be a positive number, got "${flags.fileMb}"`);
        const output = createOutput({ json: flags.json });
        const landing = openLandingBesideDynamoDb(flags);
        const client = scanningDynamoDbClient(flags);
        let exportId: string | undefined;
        try {
          return await untilStopped(
            output,
            'Stopping at the next page and checkpointing every segment (Ctrl-C again to stop at once)…',
            async (signal) => {
              const result = await scanExport({
                client,
                table,
                landing,
                segments,
                concurrency,
                readPercent,
                maxReadUnitsPerSecond: maxRcu,
                consistentRead: flags.consistentRead,
                resume: flags.fresh
                  ? 'none'
                  : flags.resume === undefined
                    ? 'latest'
                    : { runId: flags.resume },
                maxFileBytes: Math.round(fileMb * 1e6),
                signal,
                onEvent: (event) => {
                  if (event.code === ScanEventCode.started) exportId = event.exportId;
                  render(event, output, landing.url);
                },
              });
              return report(result, landing.url, output);
            },
          );
        } catch (error) {
          if (exportId !== undefined) {
            output.warn(
              `The Scan export ${exportId} keeps everything up to its checkpoints: run the same command again to resume it.`,
            );
          }
          throw error;
        } finally {
          client.destroy();
          await landing.close();
        }
      }),
    );
}

function optionalWhole(flag: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

function percent(flag: string, text: string): number {
  const value = Number(text);
  if (!(value > 0 && value <= 100)) {
    throw new UsageError(`${flag} must be a number above 0 and at most 100, got "${text}"`);
  }
  return value;
}

/** A positive rate, or `unlimited`. Shared with `backfill touch`. */
export function rate(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (text === 'unlimited') return Number.POSITIVE_INFINITY;
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new UsageError(
      `${flag} must be a positive number of units per second or "unlimited", got "${text}"`,
    );
  }
  return value;
}

/** `340 ms`, `12.5 s`, `8.3 min`, `2.4 h`: for times that may run long. */
export function longDuration(ms: number): string {
  if (ms >= 2 * 3_600_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  if (ms >= 120_000) return `${(ms / 60_000).toFixed(1)} min`;
  return duration(ms);
}

/** `$12.34`, or four significant digits below a dollar (`$0.003125`). */
export function dollars(amount: number): string {
  return amount >= 1 || amount === 0 ? `$${amount.toFixed(2)}` : `$${Number(amount.toPrecision(4))}`;
}

/** The rate and why it is what it is: `up to 20 read units/s (50% of 40 provisioned)`. */
export function rateText(target: CapacityTarget, unit: string): string {
  if (!Number.isFinite(target.unitsPerSecond)) return 'no rate limit';
  const of: Record<CapacitySource, string> = {
    flag: 'as given',
    unlimited: 'as given',
    provisioned: 'provisioned',
    'on-demand-maximum': "the table's on-demand maximum",
    'warm-throughput': "the table's warm throughput",
    'on-demand-initial': 'what a new on-demand table serves',
  };
  const why =
    target.base === null
      ? of[target.source]
      : `${+((target.unitsPerSecond / target.base) * 100).toFixed(1)}% of ${count(target.base)}, ${of[target.source]}`;
  return `up to ${count(Math.round(target.unitsPerSecond))} ${unit}/s (${why})`;
}

/** `1,234 / ~5,000 items, 3.2 MB, 2,100 items/s, 80 RCU/s, segments 2/8, ETA 4.1 s` */
export function progressText(progress: BackfillProgress, extra = ''): string {
  const of = progress.estimatedItems > 0 ? ` / ~${count(progress.estimatedItems)}` : '';
  const eta = progress.etaMs === null ? '' : `, ETA ${longDuration(progress.etaMs)}`;
  return (
    `  ${count(progress.items)}${of} items${extra}, ${count(Math.round(progress.itemsPerSecond))} items/s, ` +
    `${count(Math.round(progress.readUnitsPerSecond))} RCU/s, segments ${progress.segmentsDone}/${progress.segments}${eta}`
  );
}

function render(event: ScanEvent, output: Output, landingUrl: string): void {
  switch (event.code) {
    case ScanEventCode.started:
      if (event.resumed) {
        output.progress(
          `Resuming the Scan export ${event.exportId} of ${event.table} (started ${event.startTime}): ${event.segmentsDone} of ${event.segments} segments done`,
        );
      } else {
        output.progress(`Scanning ${event.table} into ${landingUrl} as AWSDynamoDB/${event.exportId}/`);
      }
      output.progress(
        `  ${event.segments} segments (${event.concurrency} at once)${event.consistentRead ? ', strongly consistent' : ''}, ${rateText(event.readCapacity, 'read units')}`,
      );
      break;
    case ScanEventCode.orphansRemoved:
      output.progress(`  removed ${event.keys.length} data file(s) written after the last checkpoint`);
      break;
    case ScanEventCode.progress:
    case ScanEventCode.segmentFinished:
      output.status(progressText(event.progress, `, ${megabytes(event.progress.bytes)}`));
      break;
    case ScanEventCode.throttled:
      output.warn(
        `warning: segment ${event.segment}: DynamoDB throttled the Scan (${event.error}); rate lowered to ${count(Math.round(event.unitsPerSecond))} read units/s, retrying in ${duration(event.delayMs)}`,
      );
      break;
    case ScanEventCode.checkpoint:
    case ScanEventCode.finished:
    case ScanEventCode.stopped:
      break;
  }
}

function report(result: ScanExportResult, landingUrl: string, output: Output): ExitCode {
  output.resultJson({ landing: landingUrl, ...result });
  const run = result.progress;
  const thisRun =
    `  this run: ${count(run.itemsThisRun)} items, ${megabytes(run.bytes)} in ${longDuration(run.elapsedMs)}, ` +
    `${count(Math.round(run.itemsPerSecond))} items/s, ${count(Math.round(run.readUnits))} read units (${count(Math.round(run.readUnitsPerSecond))} RCU/s)`;
  if (result.outcome === 'stopped') {
    output.result(
      `Stopped the Scan export ${result.exportId}: ${count(run.items)} items so far, every segment checkpointed.`,
    );
    output.result(thisRun);
    output.result('  Run the same command again to resume it.');
    return EXIT_CODES.FAILED;
  }
  const summary = result.summary;
  output.result(`Scan export ${result.exportId} complete: ${landingUrl.replace(/\/$/, '')}/${result.dir}`);
  output.result(
    `  ${count(summary.itemCount)} items, ${megabytes(summary.billedSizeBytes)} of JSON lines, ${summary.ddbLakeScan?.segments ?? '?'} segments${result.resumed ? ' (resumed)' : ''}`,
  );
  output.result(`  export time (scan start) ${summary.exportTime}, scan ended ${summary.endTime}`);
  output.result(thisRun);
  return EXIT_CODES.OK;
}
