import type { CostEstimate } from './cost-estimate.ts';
import {
  type HandoffCheck,
  type HandoffProblem,
  HandoffProblemCode,
  STREAM_RETENTION_MS,
} from './handoff-check.ts';
import type { StoreLocation } from './landing-location.ts';
import type { BackfillStrategy } from './strategy.ts';
import type { TableFacts } from './table-facts.ts';

/** Stable codes of what plan finds: blockers make it not ready, warnings do not. */
export const PlanFindingCode = {
  tableNotActive: 'TABLE_NOT_ACTIVE',
  streamDisabled: 'STREAM_DISABLED',
  streamViewType: 'STREAM_VIEW_TYPE',
  noCapture: HandoffProblemCode.noCapture,
  nothingCapturedSinceBreak: HandoffProblemCode.nothingCapturedSinceBreak,
  captureStartedLate: HandoffProblemCode.captureStartedLate,
  captureGap: HandoffProblemCode.gap,
  streamEnabledLate: HandoffProblemCode.streamEnabledLate,
  pitrDisabled: 'PITR_DISABLED',
  pitrUnconfirmed: 'PITR_UNCONFIRMED',
  exportNeedsS3: 'EXPORT_NEEDS_S3',
  exportTimeInFuture: 'EXPORT_TIME_IN_FUTURE',
  exportTimeBeforePitr: 'EXPORT_TIME_BEFORE_PITR_WINDOW',
  landingNotWritable: 'LANDING_NOT_WRITABLE',
  /** Stream records capture quarantined that no apply batch accepted: apply commits nothing past them. */
  captureQuarantine: 'CAPTURE_QUARANTINE',
  /** Warnings. */
  pitrNotReadable: 'PITR_NOT_READABLE',
  captureStale: 'CAPTURE_STALE',
  exportTimeMoved: 'EXPORT_TIME_MOVED',
} as const;

export type PlanFindingCode = (typeof PlanFindingCode)[keyof typeof PlanFindingCode];

/** One thing plan found: what, and what to do about it. */
export interface PlanFinding {
  readonly code: PlanFindingCode;
  readonly message: string;
  /** What to do next (a command to run, a time to wait for). */
  readonly action: string;
}

/** What capture left in the landing area besides change files. */
export interface CaptureState {
  /** Shard checkpoints of the local poller (the Lambda handler writes none). */
  readonly checkpoints: number;
  /** The newest checkpoint's `updatedAt`, or null. */
  readonly lastCheckpointAt: string | null;
  /** Records capture could not write as change-file lines, kept in quarantine. */
  readonly quarantined: number;
  /**
   * The quarantined records no apply batch accepted as lost (each holds apply: DESIGN.md rule 7),
   * and those a batch accepted (known only when the Delta table was given).
   */
  readonly quarantine: {
    readonly notAccepted: readonly CaptureQuarantineSummary[];
    readonly accepted: readonly CaptureQuarantineSummary[];
  };
}

/** A capture quarantine object as plan reports it. */
export interface CaptureQuarantineSummary {
  readonly key: string;
  readonly shard: string | null;
  readonly seq: string | null;
  readonly reason: string;
}

/** Objects named in the finding's message; the report's capture state lists them all. */
const QUARANTINE_NAMED = 5;

export interface ReadinessInput {
  readonly facts: TableFacts;
  readonly strategy: BackfillStrategy;
  readonly landing: StoreLocation;
  readonly handoff: HandoffCheck;
  /** The export time asked for (`--export-time`), if any; T itself is in `handoff`. */
  readonly requestedExportTime: Date | undefined;
  readonly now: Date;
  readonly costs: CostEstimate;
  readonly capture: CaptureState;
  /** Outcome of the landing area's write check; undefined when it was skipped. */
  readonly landingWrite: { readonly ok: true } | { readonly ok: false; readonly error: string } | undefined;
}

/**
 * Decides whether the table and the landing area are ready for the chosen strategy and a correct
 * handoff, and says what to do about each thing that is not. Pure: the same input gives the same
 * findings, blockers first in the order to fix them (table, stream, capture, strategy, landing).
 */
export function assessReadiness(input: ReadinessInput): {
  readonly blockers: readonly PlanFinding[];
  readonly warnings: readonly PlanFinding[];
} {
  const { facts, strategy, handoff, now } = input;
  const table = facts.name;
  const landingUrl = input.landing.url;
  const blockers: PlanFinding[] = [];
  const warnings: PlanFinding[] = [];

  if (facts.status !== 'ACTIVE' && facts.status !== 'UPDATING') {
    blockers.push({
      code: PlanFindingCode.tableNotActive,
      message: `table ${table} is ${facts.status}`,
      action: 'wait until it is ACTIVE (aws dynamodb describe-table), then plan again',
    });
  }
  const enableStream =
    `aws dynamodb update-table --table-name ${table} ` +
    '--stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES';
  const startCapture = `ddb-lake capture --table ${table} --landing ${landingUrl} (or deploy the capture Lambda)`;
  if (!facts.stream.enabled) {
    blockers.push({
      code: PlanFindingCode.streamDisabled,
      message: `table ${table} has no stream enabled: changes made during and after the backfill would be lost`,
      action: `enable it with new and old images: ${enableStream}; then start capture: ${startCapture}`,
    });
  } else if (facts.stream.viewType !== 'NEW_AND_OLD_IMAGES' && facts.stream.viewType !== 'NEW_IMAGE') {
    blockers.push({
      code: PlanFindingCode.streamViewType,
      message: `the stream of table ${table} has the view type ${facts.stream.viewType}: its records do not carry the item after each change`,
      action:
        'a view type cannot be changed in place: disable the stream (aws dynamodb update-table --table-name ' +
        `${table} --stream-specification StreamEnabled=false), enable it again (${enableStream}), and capture the new stream`,
    });
  }

  for (const problem of handoff.problems) blockers.push(handoffFinding(problem, input, startCapture));

  const pitrCommand =
    `aws dynamodb update-continuous-backups --table-name ${table} ` +
    '--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true';
  if (strategy === 'export') {
    if (facts.pitr.status === 'DISABLED') {
      blockers.push({
        code: PlanFindingCode.pitrDisabled,
        message: `point-in-time recovery of table ${table} is off, and DynamoDB exports only from it`,
        action: `enable it (about $${input.costs.pitrMonthlyUsd.toFixed(2)} a month): ${pitrCommand}; or use --strategy scan`,
      });
    } else if (facts.pitr.status !== 'ENABLED') {
      blockers.push({
        code: PlanFindingCode.pitrUnconfirmed,
        message: `point-in-time recovery of table ${table} could not be confirmed: ${facts.pitr.note ?? facts.pitr.status}`,
        action: 'grant dynamodb:DescribeContinuousBackups and plan again, or use --strategy scan',
      });
    }
    if (input.landing.kind !== 's3') {
      blockers.push({
        code: PlanFindingCode.exportNeedsS3,
        message: `DynamoDB exports only to S3, and the landing area ${landingUrl} is a local folder`,
        action: 'use an s3://bucket/prefix landing area, or --strategy scan',
      });
    }
    const requested = input.requestedExportTime;
    if (requested !== undefined && requested.getTime() > now.getTime() + 60_000) {
      blockers.push({
        code: PlanFindingCode.exportTimeInFuture,
        message: `the export time ${requested.toISOString()} is in the future; an export copies a past point in time`,
        action: `plan again at ${requested.toISOString()} or later, or leave out --export-time`,
      });
    }
    const earliest = facts.pitr.earliestRestorableTime;
    if (requested !== undefined && earliest !== null && requested.getTime() < Date.parse(earliest)) {
      blockers.push({
        code: PlanFindingCode.exportTimeBeforePitr,
        message: `the export time ${requested.toISOString()} is before the earliest restorable time ${earliest}`,
        action: `choose an --export-time at or after ${earliest}`,
      });
    }
  } else if (input.requestedExportTime !== undefined && input.requestedExportTime < now) {
    warnings.push({
      code: PlanFindingCode.exportTimeMoved,
      message: `a ${strategy === 'scan' ? 'Scan' : 'touch'} reads the table as it is when it starts, so T is its start time, not ${input.requestedExportTime.toISOString()}`,
      action: `the handoff was checked for T = ${handoff.exportTime} (now)`,
    });
  }

  if (input.landingWrite !== undefined && !input.landingWrite.ok) {
    blockers.push({
      code: PlanFindingCode.landingNotWritable,
      message: `the landing area ${landingUrl} refused a write: ${input.landingWrite.error}`,
      action:
        'grant the writes of the IAM policy below (s3:PutObject on the landing prefix), or check the bucket and its policy',
    });
  }

  if (facts.pitr.status === 'UNAVAILABLE' || facts.pitr.status === 'UNKNOWN') {
    warnings.push({
      code: PlanFindingCode.pitrNotReadable,
      message: `point-in-time recovery: ${facts.pitr.note ?? facts.pitr.status}`,
      action: strategy === 'export' ? 'see the blockers' : 'nothing, unless you want the native export',
    });
  }
  const last = input.capture.lastCheckpointAt;
  if (last !== null && now.getTime() - Date.parse(last) > STREAM_RETENTION_MS) {
    warnings.push({
      code: PlanFindingCode.captureStale,
      message: `capture last wrote a checkpoint at ${last}, more than 24 hours ago: unless the table had no writes since, the stream has trimmed changes capture has not read, and capture will record a gap when it resumes`,
      action: `make sure capture runs (${startCapture}), then plan again`,
    });
  }
  const holes = input.capture.quarantine.notAccepted;
  if (holes.length > 0) {
    const named = holes
      .slice(0, QUARANTINE_NAMED)
      .map(
        (entry) =>
          `shard ${entry.shard ?? '(unknown)'} sequence number ${entry.seq ?? '(unknown)'} (${entry.key}): ${entry.reason}`,
      );
    if (holes.length > QUARANTINE_NAMED) named.push(`… and ${holes.length - QUARANTINE_NAMED} more`);
    blockers.push({
      code: PlanFindingCode.captureQuarantine,
      message: `${holes.length} stream record(s) of table ${table} could not be written as change-file lines and wait in quarantine (_ddb_lake/quarantine/capture/${table}/), accepted by no apply batch: each is a hole in its shard's changes, and apply commits no batch while it is there. ${named.join('; ')}`,
      action: `fix each record in place and replay it: ddb-lake quarantine replay --table ${table} --landing ${landingUrl} --key <object> (or --all); or accept it as lost: ddb-lake apply --table ${table} --landing ${landingUrl} --delta <table> --accept-capture-quarantine <object>`,
    });
  }
  return { blockers, warnings };
}

function handoffFinding(problem: HandoffProblem, input: ReadinessInput, startCapture: string): PlanFinding {
  const marginMinutes = Math.round(input.handoff.marginMs / 60_000);
  switch (problem.code) {
    case HandoffProblemCode.noCapture:
      return {
        code: PlanFindingCode.noCapture,
        message: problem.message,
        action: `start capture: ${startCapture}; once it has captured a change, wait ${marginMinutes} minutes and plan again`,
      };
    case HandoffProblemCode.nothingCapturedSinceBreak:
      return {
        code: PlanFindingCode.nothingCapturedSinceBreak,
        message: problem.message,
        action: `make sure capture runs (${startCapture}); once it has captured a change after ${problem.since}, wait ${marginMinutes} minutes and plan again`,
      };
    case HandoffProblemCode.captureStartedLate:
      return {
        code: PlanFindingCode.captureStartedLate,
        message: problem.message,
        action:
          input.strategy === 'export'
            ? `keep capture running and export at ${problem.readyAt} or later (--export-time ${problem.readyAt} once that has passed)`
            : `keep capture running and start the ${input.strategy} at ${problem.readyAt} or later`,
      };
    case HandoffProblemCode.gap: {
      const at =
        input.handoff.readyAt === null
          ? `${new Date(Date.parse(problem.lostUntil) + input.handoff.marginMs).toISOString()} or later, once capture has captured a change since,`
          : `${input.handoff.readyAt} or later`;
      const from = problem.lostFrom;
      const to = new Date(
        Math.max(Date.parse(problem.lostUntil), Date.parse(from) + 15 * 60_000),
      ).toISOString();
      return {
        code: PlanFindingCode.captureGap,
        message: problem.message,
        action:
          `take the snapshot at ${at} or recover the window with an incremental ` +
          `export into this landing area (point-in-time recovery needed; windows of 15 minutes to 24 hours; at least ` +
          `$${input.costs.incrementalExportMinimumUsd.toFixed(4)} each): ddb-lake backfill export --table ${input.facts.name} ` +
          `--landing ${input.landing.url} --incremental --from ${from} --to ${to}`,
      };
    }
    case HandoffProblemCode.streamEnabledLate:
      return {
        code: PlanFindingCode.streamEnabledLate,
        message: problem.message,
        action:
          input.handoff.readyAt === null
            ? `keep capture running; once it has captured a change, take the snapshot at least ${marginMinutes} minutes after it`
            : `keep capture running and take the snapshot at ${input.handoff.readyAt} or later`,
      };
  }
}
