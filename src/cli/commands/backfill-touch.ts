import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { DEFAULT_TOUCH_PRICES, type TouchEstimate } from '../../backfill/touch-estimate.ts';
import { type TouchEvent, TouchEventCode } from '../../backfill/touch-events.ts';
import { TOUCH_MARKER_ATTRIBUTE } from '../../backfill/touch-marker.ts';
import { type TouchResult, touchTable } from '../../backfill/touch-table.ts';
import { UsageError } from '../../errors.ts';
import { scanningDynamoDbClient } from '../aws-flags.ts';
import { EXIT_CODES, type ExitCode } from '../exit-codes.ts';
import { count, duration } from '../format.ts';
import { openLandingBesideDynamoDb } from '../landing.ts';
import { createOutput, type Output } from '../output.ts';
import { type AwsFlags, type CommandContext, withAwsOptions, withJsonOption } from '../program.ts';
import { untilStopped } from '../stop-signals.ts';
import { dollars, longDuration, progressText, rate, rateText } from './backfill-scan.ts';

interface TouchFlags extends AwsFlags {
  table?: string;
  landing?: string;
  segments?: string;
  concurrency?: string;
  writePercent: string;
  maxWcu?: string;
  readPercent: string;
  maxRcu?: string;
  priceWru: string;
  priceRru: string;
  yes: boolean;
  resume?: string;
  fresh: boolean;
  json: boolean;
}

const DESCRIPTION = `Sends every item of the table through its stream, for capture to pick up: a parallel Scan of the keys, and for each item an UpdateItem that sets the attribute ${TOUCH_MARKER_ATTRIBUTE} to this run's start time (ISO-8601), on the condition that the item still exists. An item deleted in between is skipped, not recreated. apply leaves ${TOUCH_MARKER_ATTRIBUTE} out of the lake table; the attribute stays on the items in DynamoDB.

This costs a write per item. Before writing anything it prints the estimated write units (from DescribeTable's item count and average item size, refreshed by DynamoDB about every six hours) and their price (--price-wru, default $${DEFAULT_TOUCH_PRICES.writePerMillion} per million write request units: on-demand, us-east-1; a provisioned table pays for its capacity instead) and asks for confirmation on a terminal. --yes confirms in advance; without a terminal and without --yes it refuses.

Start capture first: the stream keeps records for 24 hours. The table needs a stream with new images (NEW_AND_OLD_IMAGES or NEW_IMAGE).

Rate: writes use --write-percent of the table's write capacity (default 50; for an on-demand table of its maximum write throughput, else its warm throughput, else 4,000) or --max-wcu; the Scan uses --read-percent / --max-rcu likewise. Both are measured from the units DynamoDB reports as consumed, and throttling lowers them.

Resume: after each page the segment's position is checkpointed under _ddb_lake/touch/<runId>/; running the command again resumes the latest unfinished touch of the table (--resume <runId> names one, --fresh starts anew). Items of a page cut off by a crash are written again with the same value, which changes nothing and adds no stream record on DynamoDB. --endpoint-url applies to DynamoDB; for an S3-compatible landing area set AWS_ENDPOINT_URL_S3.`;

/** `ddb-lake backfill touch`: write a marker to every item so that it passes through the stream. */
export function registerBackfillTouchCommand(backfill: Command, context: CommandContext): void {
  withJsonOption(
    withAwsOptions(
      backfill
        .command('touch')
        .summary('write a marker to every item so that each passes through the stream (costs writes)')
        .description(DESCRIPTION)
        .option('--table <name|arn>', 'the table to touch')
        .option(
          '--landing <url>',
          'the landing area, for the run’s checkpoints: s3://bucket/prefix or a local folder (env DDB_LAKE_LANDING)',
        )
        .option(
          '--segments <n>',
          'parallel Scan segments (default: one per 2 GB of table, at least one per CPU core)',
        )
        .option('--concurrency <n>', 'segments worked on at once (default: all, at most 16)')
        .option(
          '--write-percent <p>',
          "share of the table's write capacity to use, in percent (above 0, at most 100)",
          '50',
        )
        .option(
          '--max-wcu <n|unlimited>',
          'write capacity units per second to use, instead of --write-percent',
        )
        .option(
          '--read-percent <p>',
          "share of the table's read capacity for the Scan, in percent (above 0, at most 100)",
          '50',
        )
        .option(
          '--max-rcu <n|unlimited>',
          'read capacity units per second for the Scan, instead of --read-percent',
        )
        .option(
          '--price-wru <usd>',
          'price per million write request units, for the estimate',
          String(DEFAULT_TOUCH_PRICES.writePerMillion),
        )
        .option(
          '--price-rru <usd>',
          'price per million read request units, for the estimate',
          String(DEFAULT_TOUCH_PRICES.readPerMillion),
        )
        .option('--yes', 'do not ask for confirmation (needed without a terminal)', false)
        .option('--resume <runId>', 'resume this unfinished touch run (default: the latest one of the table)')
        .option('--fresh', 'start a new touch run even if an unfinished one exists', false),
    ),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  ddb-lake backfill touch --table orders --landing s3://lake/landing\n' +
        '  ddb-lake backfill touch --table orders --landing ./landing --max-wcu 200 --yes',
    )
    .action(
      context.action(async (flags: TouchFlags) => {
        if (flags.table === undefined || flags.table === '') {
          throw new UsageError('no table: pass --table <name or ARN>');
        }
        if (flags.resume !== undefined && flags.fresh) {
          throw new UsageError('--resume and --fresh exclude each other: pass one of them');
        }
        const table = flags.table;
        const options = {
          segments: whole('--segments', flags.segments, 1_000_000),
          concurrency: whole('--concurrency', flags.concurrency, 1_000),
          writePercent: share('--write-percent', flags.writePercent),
          maxWriteUnitsPerSecond: rate('--max-wcu', flags.maxWcu),
          readPercent: share('--read-percent', flags.readPercent),
          maxReadUnitsPerSecond: rate('--max-rcu', flags.maxRcu),
          pricePerMillionWriteUnits: price('--price-wru', flags.priceWru),
          pricePerMillionReadUnits: price('--price-rru', flags.priceRru),
        };
        const output = createOutput({ json: flags.json });
        const landing = openLandingBesideDynamoDb(flags);
        const client = scanningDynamoDbClient(flags);
        try {
          return await untilStopped(
            output,
            'Stopping after the pages in hand and checkpointing every segment (Ctrl-C again to stop at once)…',
            async (signal) => {
              const result = await touchTable({
                client,
                table,
                landing,
                ...options,
                resume: flags.fresh
                  ? 'none'
                  : flags.resume === undefined
                    ? 'latest'
                    : { runId: flags.resume },
                signal,
                confirm: (estimate) => confirm(estimate, flags.yes, output),
                onEvent: (event) => render(event, output),
              });
              return report(result, table, output);
            },
          );
        } finally {
          client.destroy();
          await landing.close();
        }
      }),
    );
}

function whole(flag: string, text: string | undefined, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new UsageError(`${flag} must be a whole number from 1 to ${max}, got "${text}"`);
  }
  return value;
}

function share(flag: string, text: string): number {
  const value = Number(text);
  if (!(value > 0 && value <= 100))
    throw new UsageError(`${flag} must be above 0 and at most 100, got "${text}"`);
  return value;
}

function price(flag: string, text: string): number {
  const value = Number(text);
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw new UsageError(`${flag} must be a price in US dollars (0 or more), got "${text}"`);
  }
  return value;
}

/** The estimate as lines of text. */
function estimateLines(estimate: TouchEstimate): string[] {
  const lines: string[] = [];
  if (estimate.resuming !== null) {
    lines.push(
      `Resuming the touch run ${estimate.resuming.runId}: ${count(estimate.resuming.itemsDone)} items done already.`,
    );
  }
  if (!estimate.itemCountKnown) {
    lines.push(
      `DescribeTable reports no items for ${estimate.table} yet (it counts about every six hours): the cost cannot be estimated; it is one write per item, at least one write unit per started KB.`,
    );
  } else {
    const indexes =
      estimate.indexesWritten.length === 0
        ? ''
        : `, and the same again for each index that projects all attributes (${estimate.indexesWritten.join(', ')})`;
    lines.push(
      `Touching ~${count(estimate.items)} items of ${estimate.table} (~${count(Math.round(estimate.averageItemBytes))} bytes each, +${estimate.markerBytes} for ${TOUCH_MARKER_ATTRIBUTE}): ~${count(estimate.writeUnitsPerItem)} write unit(s) per item${indexes}.`,
    );
    lines.push(
      `Estimated: ${count(estimate.writeUnits)} write units and ${count(Math.ceil(estimate.readUnits))} read units, about ${dollars(estimate.costUsd)} at $${estimate.pricePerMillionWriteUnits} per million WRU and $${estimate.pricePerMillionReadUnits} per million RRU${estimate.billingMode === 'PROVISIONED' ? ' (on-demand prices: a provisioned table uses its capacity instead)' : ''}.`,
    );
    if (estimate.durationMs !== null) {
      lines.push(
        `At ${count(Math.round(estimate.writeUnitsPerSecond))} write units/s that takes about ${longDuration(estimate.durationMs)}.`,
      );
    }
  }
  lines.push(
    'Every item touched passes through the stream: capture must be running (the stream keeps 24 hours).',
  );
  return lines;
}

/** `--yes`, or a y/N answer on a terminal; without one, a refusal that writes nothing. */
async function confirm(estimate: TouchEstimate, yes: boolean, output: Output): Promise<boolean> {
  const lines = estimateLines(estimate);
  if (yes) {
    for (const line of lines) output.progress(line);
    return true;
  }
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    for (const line of lines) output.warn(line);
    throw new UsageError(
      `touch writes to every item of ${estimate.table} and needs a confirmation, but there is no terminal to ask on. Nothing was written. Run it on a terminal, or pass --yes to confirm in advance.`,
    );
  }
  for (const line of lines) output.warn(line);
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question('Go ahead? [y/N] ');
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    prompt.close();
  }
}

function render(event: TouchEvent, output: Output): void {
  switch (event.code) {
    case TouchEventCode.started:
      output.progress(
        `${event.resumed ? 'Resuming' : 'Starting'} the touch run ${event.runId}: ${TOUCH_MARKER_ATTRIBUTE} = ${event.marker}`,
      );
      output.progress(
        `  ${event.segments} segments (${event.concurrency} at once); writes ${rateText(event.writeCapacity, 'write units')}; Scan ${rateText(event.readCapacity, 'read units')}`,
      );
      break;
    case TouchEventCode.progress:
      output.status(
        progressText(event.progress, ` (${count(event.skipped)} skipped)`) +
          `, ${count(Math.round(event.progress.writeUnitsPerSecond))} WCU/s`,
      );
      break;
    case TouchEventCode.segmentFinished:
      output.status(progressText(event.progress));
      break;
    case TouchEventCode.skipped:
      output.progress(`  skipped ${event.key}: deleted since the Scan read it`);
      break;
    case TouchEventCode.throttled:
      output.warn(
        `warning: segment ${event.segment}: DynamoDB throttled ${event.operation === 'scan' ? 'the Scan' : 'a write'} (${event.error}); rate lowered to ${count(Math.round(event.unitsPerSecond))} ${event.operation === 'scan' ? 'read' : 'write'} units/s, retrying in ${duration(event.delayMs)}`,
      );
      break;
    case TouchEventCode.finished:
    case TouchEventCode.stopped:
      break;
  }
}

function report(result: TouchResult, table: string, output: Output): ExitCode {
  output.resultJson({ markerAttribute: TOUCH_MARKER_ATTRIBUTE, ...result });
  if (result.outcome === 'declined') {
    output.result('Declined: nothing was written.');
    return EXIT_CODES.FAILED;
  }
  const run = result.progress;
  const totals = `${count(result.touched)} items touched, ${count(result.skipped)} skipped (deleted since the Scan)`;
  const thisRun =
    `  this run: ${count(run.itemsThisRun)} items in ${longDuration(run.elapsedMs)}, ${count(Math.round(run.writeUnits))} write units ` +
    `(${count(Math.round(run.writeUnitsPerSecond))} WCU/s), ${count(Math.round(run.readUnits))} read units`;
  if (result.outcome === 'stopped') {
    output.result(
      `Stopped the touch run ${result.runId} of ${table}: ${totals} so far, every segment checkpointed.`,
    );
    output.result(thisRun);
    output.result('  Run the same command again to resume it.');
    return EXIT_CODES.FAILED;
  }
  output.result(`Touched ${table}: ${totals}${result.resumed ? ' (resumed)' : ''}.`);
  output.result(`  ${TOUCH_MARKER_ATTRIBUTE} = ${result.marker} (run ${result.runId})`);
  output.result(thisRun);
  output.result(
    '  Each item touched is now in the stream: let capture read it before the stream’s 24 hours pass.',
  );
  return EXIT_CODES.OK;
}
