import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { tableNameOf } from '../../formats/change-file-key.ts';
import { ageText } from '../../status/age-text.ts';
import { DEFAULT_MAX_LAG_MS, pipelineStatus } from '../../status/pipeline-status.ts';
import type { ApplyStatus, CaptureStatus, ShardPosition, StatusReport } from '../../status/status-report.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { openStore } from '../../storage/open-store.ts';
import { storeOptionsOf } from '../aws-flags.ts';
import { EXIT_CODES, type ExitCode } from '../exit-codes.ts';
import { durationMs } from '../flag-values.ts';
import { count } from '../format.ts';
import { openLanding } from '../landing.ts';
import { createOutput, type Output } from '../output.ts';
import { type AwsFlags, type CommandContext, withAwsOptions, withJsonOption } from '../program.ts';

interface StatusFlags extends AwsFlags {
  table?: string;
  landing?: string;
  delta?: string;
  maxLag: string;
  json: boolean;
}

const DESCRIPTION = `Shows on one screen whether a table's pipeline is behind or stuck, and exits 5 when something needs you.

Capture, from the landing area. Per shard: the last record captured, its sequence number and its age. The local poller (ddb-lake capture) keeps a checkpoint per shard under _ddb_lake/capture/<table>/shards/; the capture Lambda keeps none, so its position is its newest change file and the age of that file's last record (Lambda batches carry no shard id: they show as one line, "lambda"). Lag: the age of the newest record captured; a table that had no writes for a while shows a lag too, since the files alone cannot tell a quiet table from a stopped capture. Gaps: stretches of a shard the stream trimmed before capture read them; recovered when an incremental export covers the window, harmless when they ended before the table's T − margin. Quarantine: stream records capture could not write as change-file lines (_ddb_lake/quarantine/capture/<table>/), each a hole in its shard's changes: apply commits no batch while one is there that no batch accepted.

Apply, with --delta. Last batch: its number, the Delta version that holds it, when it was committed, its inputs and what it wrote. In progress: a batch planned but not committed (running now, or interrupted: the next apply finishes it). Unapplied: the change files no committed batch took yet, decided as apply plans its next batch, and the age of the oldest one's first record. Quarantine: lines of a batch that could not be applied and were not replayed yet. Lease: one writer at a time; released, held until its expiry, or expired (a writer stopped without releasing it).

Exit code 5 (needs attention) when any of these holds, each printed with what to do:
  CAPTURE_QUARANTINE  a capture quarantine object that no batch accepted
  SHARD_GAP           a recorded gap that no incremental export recovers (after the table's T − margin)
  NO_CAPTURE          no capture checkpoint and no change file of the table
  CAPTURE_BEHIND      the newest captured record is older than --max-lag
  APPLY_BEHIND        the oldest change file not applied is older than --max-lag (once the table exists)
  APPLY_QUARANTINE    quarantined apply lines that no batch replayed
  LEASE_EXPIRED       the table's lease was never released and is past its expiry
A table not created yet is not a problem by itself. Exit code 1 when something cannot be read (3 when a change file it reads is not gzip).

Read-only: status writes nothing and takes no lease, so it runs beside capture and apply. --endpoint-url applies to S3 (the landing area and the Delta table).`;

/** Shards listed one by one; the rest are counted. */
const SHARDS_SHOWN = 8;

/** `ddb-lake status`: what is behind or stuck in a table's pipeline, on one screen. */
export function registerStatusCommand(program: Command, context: CommandContext): void {
  withJsonOption(
    withAwsOptions(
      program
        .command('status')
        .summary("what is behind or stuck in a table's pipeline: capture, apply, quarantines, lease")
        .description(DESCRIPTION)
        .option('--table <name|arn>', 'the DynamoDB table')
        .option(
          '--landing <url>',
          'the landing area: s3://bucket/prefix or a local folder (env DDB_LAKE_LANDING)',
        )
        .option(
          '--delta <url>',
          'the Delta table: s3://bucket/prefix or a local folder (without it: capture only)',
        )
        .option(
          '--max-lag <duration>',
          'capture lag and unapplied changes older than this need attention: minutes or 90s, 15m, 1h',
          `${DEFAULT_MAX_LAG_MS / 60_000}m`,
        ),
    ),
  )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  ddb-lake status --table orders --landing s3://lake/landing --delta s3://lake/tables/orders\n' +
        '  ddb-lake status --table orders --landing ./landing --max-lag 1h --json',
    )
    .action(
      context.action(async (flags: StatusFlags): Promise<ExitCode> => {
        if (flags.table === undefined || flags.table === '')
          throw new UsageError('no table: pass --table <name or ARN>');
        try {
          tableNameOf(flags.table);
        } catch (error) {
          throw new UsageError(
            `--table ${JSON.stringify(flags.table)} is neither a table name nor a table ARN`,
            {
              cause: error,
            },
          );
        }
        const maxLagMs = durationMs('--max-lag', flags.maxLag);
        const output = createOutput({ json: flags.json });
        const landing = openLanding(flags);
        let delta: ObjectStore | undefined;
        try {
          if (flags.delta !== undefined && flags.delta !== '')
            delta = openStore(flags.delta, storeOptionsOf(flags));
          const report = await pipelineStatus({
            landing,
            delta,
            table: flags.table,
            maxLagMs,
            now: Date.now,
          });
          renderReport(report, output);
          output.resultJson(report);
          return report.healthy ? EXIT_CODES.OK : EXIT_CODES.NEEDS_ATTENTION;
        } finally {
          await delta?.close();
          await landing.close();
        }
      }),
    );
}

/** `3 min ago (2026-…)`, or `unknown`. */
function ago(ageMs: number | null, time: string | null): string {
  return ageMs === null || time === null ? 'unknown' : `${ageText(ageMs)} ago (${time})`;
}

function renderReport(report: StatusReport, output: Output): void {
  const line = (text: string) => output.result(text);
  line(`Table ${report.table}, as of ${report.now} (allowed lag ${ageText(report.maxLagMs)})`);
  line(`  landing     ${report.landing}`);
  line(`  delta       ${report.delta ?? 'not given (--delta): capture only'}`);
  line('');
  renderCapture(report.capture, line);
  if (report.apply !== null) {
    line('');
    renderApply(report.apply, line);
  }
  line('');
  if (report.healthy) {
    line('Healthy: nothing needs you.');
    return;
  }
  line(`Needs attention (exit code ${EXIT_CODES.NEEDS_ATTENTION}): ${report.problems.length} problem(s)`);
  for (const problem of report.problems) {
    line(`  [${problem.code}] ${problem.message}`);
    line(`    → ${problem.action}`);
  }
}

function renderCapture(capture: CaptureStatus, line: (text: string) => void): void {
  const from =
    capture.source === 'checkpoints'
      ? 'poller checkpoints'
      : capture.source === 'change-files'
        ? `newest change files${capture.listedFrom === null ? '' : `, partitions from dt=${capture.listedFrom}`}`
        : 'nothing captured';
  line(`Capture (${from})`);
  line(
    `  lag         ${capture.lagMs === null ? 'unknown: no record captured' : `${ageText(capture.lagMs)}: the newest record captured was made at ${capture.newestRecordTime}`}`,
  );
  const open = capture.shards.filter((shard) => !shard.finished);
  const finished = capture.shards.length - open.length;
  for (const shard of open.slice(0, SHARDS_SHOWN)) line(`  ${shardLine(shard)}`);
  const hidden = open.length - Math.min(open.length, SHARDS_SHOWN) + capture.shardsNotRead;
  if (hidden > 0) line(`  … and ${count(hidden)} more shard(s) with older records`);
  if (finished > 0) line(`  finished    ${count(finished)} closed shard(s) read to their end`);
  const openGaps = capture.gaps.filter((gap) => gap.recoveredBy === null && !gap.beforeSnapshot);
  line(
    `  gaps        ${capture.gaps.length === 0 ? 'none' : `${count(capture.gaps.length)} recorded, ${count(openGaps.length)} not recovered`}`,
  );
  for (const gap of capture.gaps) {
    const state =
      gap.recoveredBy !== null
        ? `recovered by incremental export ${gap.recoveredBy}`
        : gap.beforeSnapshot
          ? "before the table's snapshot"
          : 'NOT recovered';
    line(
      `    shard ${gap.shardId}: ${gap.fromTime ?? '(24 h before)'} → ${gap.toTime}, ${gap.reason}, ${state}`,
    );
  }
  const waiting = capture.quarantine.filter((entry) => !entry.accepted);
  line(
    `  quarantine  ${capture.quarantine.length === 0 ? 'none' : `${count(capture.quarantine.length)} record(s), ${count(waiting.length)} not accepted by any batch`}`,
  );
  for (const entry of capture.quarantine.slice(0, SHARDS_SHOWN)) {
    line(
      `    ${entry.key}: shard ${entry.shard ?? '?'}, sequence number ${entry.seq ?? '?'}, ${entry.reason}${entry.accepted ? ' (accepted)' : ''}`,
    );
  }
  if (capture.quarantine.length > SHARDS_SHOWN)
    line(`    … and ${count(capture.quarantine.length - SHARDS_SHOWN)} more`);
}

function shardLine(shard: ShardPosition): string {
  const name =
    shard.shard === 'lambda' ? `Lambda batches (${count(shard.files)} recent file(s))` : shard.shard;
  const written =
    shard.source === 'checkpoint' ? `checkpoint written ${shard.writtenAt}` : `newest file ${shard.file}`;
  return `shard ${name}: last record ${ago(shard.lastRecordAgeMs, shard.lastRecordTime)}, sequence number ${shard.lastSequenceNumber ?? 'none yet'}; ${written}`;
}

function renderApply(apply: ApplyStatus, line: (text: string) => void): void {
  line('Apply');
  if (!apply.exists) {
    line('  table       not created yet: the first ddb-lake apply creates it (batch 1)');
  } else {
    line(`  table       version ${apply.version}, appId ${apply.appId}, T − margin ${apply.windowStart}`);
  }
  const last = apply.lastBatch;
  if (last !== null) {
    const inputs =
      last.replayedQuarantine !== null
        ? `the quarantine of batch ${last.replayedQuarantine}`
        : `${last.snapshot === null ? '' : `snapshot ${last.snapshot.exportId}, `}${count(last.changeFiles ?? 0)} change file(s), ${count(last.incrementalExports ?? 0)} incremental export(s)`;
    const wrote =
      last.filesAdded === null
        ? ''
        : `; wrote ${count(last.filesAdded)} file(s)${last.rowsWritten === null ? '' : ` (${count(last.rowsWritten)} rows)`}, removed ${count(last.filesRemoved ?? 0)}`;
    line(
      `  last batch  ${last.batch} at version ${last.version ?? '?'}, committed ${ago(last.ageMs, last.committedAt)}: ${inputs}${wrote}`,
    );
  } else if (apply.exists) {
    line('  last batch  none of this pipeline in the table');
  }
  if (apply.pendingBatch !== null) {
    const pending = apply.pendingBatch;
    line(
      `  in progress batch ${pending.batch}, planned at ${pending.createdAt} (${count(pending.changeFiles)} change file(s)): not committed yet; if no apply runs, the next one finishes it`,
    );
  }
  const unapplied = apply.unapplied;
  line(
    `  unapplied   ${
      unapplied.changeFiles === 0 && unapplied.incrementalExports === 0
        ? 'none'
        : `${count(unapplied.changeFiles)} change file(s), ${count(unapplied.incrementalExports)} incremental export(s)${
            unapplied.oldest === null
              ? ''
              : `; the oldest holds changes from ${ago(unapplied.oldest.ageMs, unapplied.oldest.firstRecordTime)}: ${unapplied.oldest.key}`
          }`
    }`,
  );
  const open = apply.quarantine.filter((entry) => entry.replayedBy === null);
  line(
    `  quarantine  ${apply.quarantine.length === 0 ? 'none' : `${count(apply.quarantine.length)} batch(es), ${count(open.length)} not replayed`}`,
  );
  for (const entry of apply.quarantine) {
    line(
      `    batch ${entry.batch}: ${entry.replayedBy === null ? `${count(entry.lines ?? 0)} line(s) not replayed` : `replayed by batch ${entry.replayedBy}`} (${entry.folder})`,
    );
  }
  const lease = apply.lease;
  line(
    `  lease       ${
      lease === null
        ? 'never taken'
        : lease.state === 'released'
          ? `free (last taken by process ${lease.pid} on ${lease.host} at ${lease.acquiredAt})`
          : lease.state === 'held'
            ? `held by process ${lease.pid} on ${lease.host} since ${lease.acquiredAt}, until ${lease.expiresAt} unless renewed`
            : `EXPIRED: taken by process ${lease.pid} on ${lease.host} at ${lease.acquiredAt}, never released, expired at ${lease.expiresAt}`
    }`,
  );
}
