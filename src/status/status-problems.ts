import { STREAM_RETENTION_MS } from '../plan/handoff-check.ts';
import { ageText } from './age-text.ts';
import {
  type ApplyStatus,
  type CaptureStatus,
  type StatusProblem,
  StatusProblemCode,
} from './status-report.ts';

/*
 * What in a status report needs a person, and what to do about it. Pure: the same report gives the
 * same problems. What counts (docs of `ddb-lake status`, exit code 5):
 *   - a capture quarantine object no batch accepted (a hole in its shard's changes);
 *   - a recorded gap that no incremental export recovers and that ended after the table's T − margin
 *     (or, before the table exists, any such gap);
 *   - no capture at all: neither a checkpoint nor a change file;
 *   - the newest captured record older than the allowed lag;
 *   - the oldest change file not applied older than the allowed lag (once the table exists);
 *   - quarantined apply lines that no batch replayed;
 *   - a lease not released and past its expiry.
 * A table not created yet is not a problem by itself, nor a batch in progress.
 */

/** Quarantine objects or gaps named one by one in a message; the rest are counted. */
const NAMED = 3;

export interface ProblemInput {
  readonly table: string;
  readonly landingUrl: string;
  readonly deltaUrl: string | null;
  readonly maxLagMs: number;
  readonly capture: CaptureStatus;
  readonly apply: ApplyStatus | null;
}

/** The problems of a report, in the order of the pipeline (capture, then apply). Pure. */
export function statusProblems(input: ProblemInput): StatusProblem[] {
  const { table, capture, apply, maxLagMs } = input;
  const landing = `--table ${table} --landing ${input.landingUrl}`;
  const pipeline = `${landing} --delta ${input.deltaUrl ?? '<the Delta table>'}`;
  const problems: StatusProblem[] = [];

  const unaccepted = capture.quarantine.filter((entry) => !entry.accepted);
  if (unaccepted.length > 0) {
    const named = unaccepted
      .slice(0, NAMED)
      .map(
        (entry) =>
          `${entry.key} (shard ${entry.shard ?? '?'}, sequence number ${entry.seq ?? '?'}: ${entry.reason})`,
      );
    const more = unaccepted.length > NAMED ? `, and ${unaccepted.length - NAMED} more` : '';
    problems.push({
      code: StatusProblemCode.captureQuarantine,
      message: `capture quarantined ${unaccepted.length} stream record(s) of table ${table} that no batch accepted: ${named.join('; ')}${more}. Each is a hole in its shard's changes: apply commits no batch while one is there.`,
      action: `Fix each record in place (the "record" member of its object; one that is valid as it is needs nothing) and replay it into a change file: ddb-lake quarantine replay ${landing} --key <object> (or --all); the next batch takes it in sequence order. Or drop it knowingly, recorded by the next batch: ddb-lake apply ${pipeline} --accept-capture-quarantine <object> (or all).`,
    });
  }

  const openGaps = capture.gaps.filter((gap) => gap.recoveredBy === null && !gap.beforeSnapshot);
  for (const gap of openGaps.slice(0, NAMED)) {
    const lostUntil = Date.parse(gap.toTime);
    const lostFrom = gap.fromTime === null ? lostUntil - STREAM_RETENTION_MS : Date.parse(gap.fromTime);
    const from = new Date(lostFrom).toISOString();
    problems.push({
      code: StatusProblemCode.shardGap,
      message: `capture recorded a gap in shard ${gap.shardId} of table ${table} (${gap.reason}, ${gap.key}): changes made between ${from} and ${gap.toTime} may be lost, and no incremental export in the landing area covers that window.`,
      action: `Export the changes of that window; apply replays them: ddb-lake backfill export ${landing} --incremental --from ${from} --to ${gap.toTime} (a window of 15 minutes to 24 hours: widen a shorter one).${apply?.exists === true ? '' : ' Before the first batch, a snapshot taken after the gap (plus the margin) covers it too.'}`,
    });
  }
  if (openGaps.length > NAMED) {
    problems.push({
      code: StatusProblemCode.shardGap,
      message: `${openGaps.length - NAMED} more gap(s) of table ${table} are not recovered (see the gaps under _ddb_lake/capture/${table}/gaps/ in the landing area).`,
      action: 'Export the changes of each window as above.',
    });
  }

  if (capture.source === 'none') {
    problems.push({
      code: StatusProblemCode.noCapture,
      message: `nothing shows that capture runs for table ${table}: the landing area ${input.landingUrl} holds no capture checkpoint and no change file of it.`,
      action: `Deploy the capture Lambda (deploy/template.json; README: Deploying the capture Lambda) or run the poller: ddb-lake capture ${landing}. A table that had no write since capture started has no change file yet either.`,
    });
  } else if (capture.lagMs !== null && capture.lagMs > maxLagMs) {
    const newest = capture.shards[0];
    problems.push({
      code: StatusProblemCode.captureBehind,
      message: `the newest change captured for table ${table} was made ${ageText(capture.lagMs)} ago (${capture.newestRecordTime}${newest === undefined ? '' : `, shard ${newest.shard}`}), more than --max-lag ${ageText(maxLagMs)}.`,
      action:
        capture.source === 'checkpoints'
          ? `If the table had writes since, the poller is stopped or behind: check that ddb-lake capture ${landing} runs, and its messages. A table without writes for that long looks the same; then nothing is wrong.`
          : `If the table had writes since, the capture Lambda is stopped or behind: look for batch-failed lines in its log, messages in its failure queue, and its LagAlarm. A table without writes for that long looks the same; then nothing is wrong.`,
    });
  }

  if (apply === null) return problems;
  const oldest = apply.unapplied.oldest;
  if (apply.exists && oldest !== null && oldest.ageMs !== null && oldest.ageMs > maxLagMs) {
    const pending =
      apply.pendingBatch === null
        ? ''
        : ` Batch ${apply.pendingBatch.batch} was planned at ${apply.pendingBatch.createdAt} and is not committed.`;
    problems.push({
      code: StatusProblemCode.applyBehind,
      message: `${apply.unapplied.changeFiles} change file(s) of table ${table} are not applied; the oldest holds changes from ${ageText(oldest.ageMs)} ago (${oldest.key}, first record at ${oldest.firstRecordTime}), more than --max-lag ${ageText(maxLagMs)}.${pending}`,
      action: `Run ddb-lake apply ${pipeline} (--until-idle to take everything, --every 5m to keep up); if one is scheduled, look at its messages and at the lease below.`,
    });
  }
  for (const entry of apply.quarantine) {
    if (entry.replayedBy !== null) continue;
    const folder = `${(input.deltaUrl ?? '').replace(/\/$/, '')}/${entry.folder}`;
    problems.push({
      code: StatusProblemCode.applyQuarantine,
      message: `batch ${entry.batch} quarantined ${entry.lines ?? '?'} line(s) that no batch replayed (in ${folder}): their changes are not in the table.`,
      action: `Fix each line in place (each names its file, line and reason), then run ddb-lake apply ${pipeline} --replay-quarantine ${entry.batch}. Lines that cannot be fixed: once their loss is accepted, delete that folder.`,
    });
  }
  const lease = apply.lease;
  if (lease?.state === 'expired') {
    problems.push({
      code: StatusProblemCode.leaseExpired,
      message: `the table's lease was taken by process ${lease.pid} on ${lease.host} at ${lease.acquiredAt} and never released; it expired at ${lease.expiresAt}: that apply was killed or hangs.`,
      action: `If process ${lease.pid} on ${lease.host} still runs, it hangs: stop it. Then run ddb-lake apply ${pipeline}: it takes the lease over and finishes an interrupted batch from its record.`,
    });
  }
  return problems;
}
