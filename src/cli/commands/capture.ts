import type { Command } from 'commander';
import { CAPTURE_QUARANTINE_FOLDER } from '../../capture/capture-quarantine.ts';
import type { RecordedShardGap } from '../../capture/shard-gap.ts';
import { pollStream, type StreamPollSummary } from '../../capture/stream-poller.ts';
import { streamsApiOf } from '../../capture/stream-poller-api.ts';
import {
  type CaptureEvent,
  CaptureEventCode,
  type CaptureProgress,
} from '../../capture/stream-poller-events.ts';
import { tableStream } from '../../capture/stream-poller-table.ts';
import { UsageError } from '../../errors.ts';
import { dynamoDbClientOf, streamsClientOf } from '../aws-flags.ts';
import { EXIT_CODES, type ExitCode } from '../exit-codes.ts';
import { count, duration, megabytes } from '../format.ts';
import { openLandingBesideDynamoDb } from '../landing.ts';
import { createOutput, type Output } from '../output.ts';
import { type AwsFlags, type CommandContext, withAwsOptions, withJsonOption } from '../program.ts';
import { untilStopped } from '../stop-signals.ts';

interface CaptureFlags extends AwsFlags {
  table?: string;
  landing?: string;
  batchSize: string;
  untilIdle: boolean;
  json: boolean;
}

/** `ddb-lake capture`: reads a table's stream into change files, as the Lambda handler does. */
export function registerCaptureCommand(program: Command, context: CommandContext): void {
  withJsonOption(
    withAwsOptions(
      program
        .command('capture')
        .summary("read a table's DynamoDB stream into change files in the landing area")
        .description(
          "Polls the table's DynamoDB stream and hands each batch to the same handler as the capture Lambda function, which writes change files under changes/<table>/ in the landing area. Shards are read parents first, closed shards to their end, new shards as they appear. After each batch the shard's checkpoint is written under _ddb_lake/capture/<table>/, and a rerun resumes after it (at least once: a batch cut off before its checkpoint comes again, with the same keys and sequence numbers). Changes the stream trimmed before they were read are recorded as a gap and reported, and the exit code is then 1. --endpoint-url applies to DynamoDB and DynamoDB Streams; for an S3-compatible landing area set AWS_ENDPOINT_URL_S3.",
        )
        .option('--table <name|arn>', 'the table (name or ARN), or the ARN of one of its streams')
        .option(
          '--landing <url>',
          'the landing area: s3://bucket/prefix or a local folder (env DDB_LAKE_LANDING)',
        )
        .option('--batch-size <n>', 'records per handler call, 1 to 1000 (as Lambda’s BatchSize)', '100')
        .option(
          '--until-idle',
          'stop once every shard is read to its end or returned nothing twice in a row (default: run until Ctrl-C)',
          false,
        ),
    ),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  ddb-lake capture --table orders --landing s3://lake/landing\n' +
        '  ddb-lake capture --table orders --landing ./landing --endpoint-url http://127.0.0.1:8000 --until-idle',
    )
    .action(
      context.action(async (flags: CaptureFlags) => {
        if (flags.table === undefined || flags.table === '') {
          throw new UsageError('no table: pass --table <name or ARN>');
        }
        const batchSize = Number(flags.batchSize);
        if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1000) {
          throw new UsageError(
            `--batch-size must be a whole number from 1 to 1000, got "${flags.batchSize}"`,
          );
        }
        const output = createOutput({ json: flags.json });
        const table = flags.table;
        // The landing area is S3 or a folder; --endpoint-url names the DynamoDB endpoint here.
        const landing = openLandingBesideDynamoDb(flags);
        const dynamodb = dynamoDbClientOf(flags);
        const streams = streamsClientOf(flags);
        try {
          return await untilStopped(
            output,
            'Stopping: cancelling the reads in flight; checkpoints hold what was captured (Ctrl-C again to stop at once)…',
            async (signal) => {
              const stream = await tableStream(dynamodb, table, signal);
              output.progress(`Capturing ${stream.streamArn} into ${landing.url}`);
              const summary = await pollStream({
                stream,
                streams: streamsApiOf(streams, signal),
                store: landing,
                batchSize,
                untilIdle: flags.untilIdle,
                signal,
                onEvent: (event) => render(event, output),
              });
              return report(summary, landing.url, output);
            },
            { runsUntilStopped: !flags.untilIdle },
          );
        } finally {
          dynamodb.destroy();
          streams.destroy();
          await landing.close();
        }
      }),
    );
}

function render(event: CaptureEvent, output: Output): void {
  switch (event.code) {
    case CaptureEventCode.shardStarted:
      output.progress(
        `  shard ${event.shardId}: reading ${event.afterSequenceNumber === null ? 'from its oldest record' : `after ${event.afterSequenceNumber}`}`,
      );
      break;
    case CaptureEventCode.shardFinished:
      output.progress(`  shard ${event.shardId}: read to its end`);
      break;
    case CaptureEventCode.batchCaptured:
    case CaptureEventCode.progress:
      output.status(status(event.progress));
      break;
    case CaptureEventCode.batchRetry:
      output.warn(
        `warning: shard ${event.shardId}: the handler reported a failed record; retrying from ${event.fromSequenceNumber} in ${duration(event.delayMs)} (attempt ${event.attempt + 1})`,
      );
      break;
    case CaptureEventCode.streamsRetry:
      output.warn(
        `warning: DynamoDB Streams ${event.operation}${event.shardId === null ? '' : ` on shard ${event.shardId}`} failed (${event.error}); retrying in ${duration(event.delayMs)}`,
      );
      break;
    case CaptureEventCode.iteratorExpired:
      output.progress(`  shard ${event.shardId}: the shard iterator expired; took a new one`);
      break;
    case CaptureEventCode.gap:
      output.warn(`WARNING: ${gapText(event.gap)}`);
      break;
    case CaptureEventCode.handlerLog:
      if (event.entry.event === 'record-quarantined') {
        output.warn(
          `warning: record ${event.entry.seq ?? '(no sequence number)'} could not be captured (${event.entry.problem}); kept in ${event.entry.key}`,
        );
      } else if (event.entry.event === 'write-failed') {
        output.warn(`warning: writing ${event.entry.key} failed: ${event.entry.error.message}`);
      }
      break;
    case CaptureEventCode.shardsListed:
      break;
  }
}

function status(progress: CaptureProgress): string {
  return (
    `  ${count(progress.records)} records, ${count(progress.files)} files, ` +
    `${progress.shardsOpen} shard(s) open, lag ${duration(progress.lagMs)}`
  );
}

function gapText(gap: RecordedShardGap): string {
  const range =
    `after ${gap.afterSequenceNumber ?? 'its start'}` +
    (gap.beforeSequenceNumber === null ? '' : ` and before ${gap.beforeSequenceNumber}`);
  return (
    `changes of shard ${gap.shardId} may be lost (${gap.reason}): the stream no longer holds its records ${range}, ` +
    `made between ${gap.fromTime ?? 'the start of the stream’s 24 hours'} and ${gap.toTime}. Recorded in ${gap.key}.`
  );
}

function report(summary: StreamPollSummary, landingUrl: string, output: Output): ExitCode {
  output.resultJson({ landing: landingUrl, ...summary });
  output.result(`Captured ${summary.table} (${summary.streamArn})`);
  output.result(
    `  ${count(summary.records)} records in ${count(summary.files)} change file(s) (${megabytes(summary.bytes)}), ${count(summary.batches)} batch(es)`,
  );
  output.result(
    `  shards: ${summary.shardsFinished} read to their end, ${summary.shardsOpen} open; stopped: ${stopText(summary.stoppedBecause)} after ${duration(summary.elapsedMs)}`,
  );
  if (summary.quarantined > 0) {
    output.warn(
      `${count(summary.quarantined)} record(s) could not be written as change-file lines and were kept under ${CAPTURE_QUARANTINE_FOLDER}${summary.table}/ with the reason: nothing was dropped, but apply commits no batch while they are there. See them with ddb-lake quarantine list --table ${summary.table} --landing ${landingUrl}; fix each in place and run ddb-lake quarantine replay, or accept it as lost with apply --accept-capture-quarantine.`,
    );
  }
  if (summary.gaps.length > 0) {
    output.warn(
      `ddb-lake: ${summary.gaps.length} gap(s) in the captured stream: changes may be lost. Capture went on from the oldest record the stream still holds.`,
    );
    for (const gap of summary.gaps) output.warn(`  ${gapText(gap)}`);
    output.warn(
      '  To recover them, take an incremental export (point-in-time recovery) of the table covering each window above ' +
        'and land it in this landing area (ddb-lake backfill, once available), then apply as usual.',
    );
    return EXIT_CODES.FAILED;
  }
  return summary.quarantined > 0 ? EXIT_CODES.BAD_INPUT : EXIT_CODES.OK;
}

function stopText(reason: StreamPollSummary['stoppedBecause']): string {
  switch (reason) {
    case 'idle':
      return 'caught up with the stream';
    case 'finished':
      return 'every shard read to its end';
    case 'stream-disabled':
      return 'the stream is disabled and was read to its end';
    case 'signal':
      return 'on request';
  }
}
