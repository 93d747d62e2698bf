import { duckdbEngine } from '../duckdb/duckdb-engine.ts';
import { DuckSession } from '../duckdb/session.ts';
import { tableNameOf } from '../formats/change-file-key.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { readApplyStatus } from './apply-status.ts';
import { readCaptureQuarantineStatus } from './capture-quarantine-status.ts';
import { readCaptureStatus } from './capture-status.ts';
import { statusProblems } from './status-problems.ts';
import type { ApplyStatus, StatusReport } from './status-report.ts';

/** The lag allowed by default, capture's and apply's: 15 minutes (the capture Lambda's lag alarm too). */
export const DEFAULT_MAX_LAG_MS = 15 * 60 * 1000;

export interface StatusOptions {
  /** The landing area (change files, capture checkpoints, gaps and quarantine). */
  readonly landing: ObjectStore;
  /** The Delta table's location; without it only the capture side is reported. */
  readonly delta?: ObjectStore | undefined;
  /** The DynamoDB table name or ARN. */
  readonly table: string;
  /** Capture lag and unapplied changes older than this are problems; default 15 minutes. */
  readonly maxLagMs?: number;
  /** The clock (epoch ms), read once: every age in the report is measured against that reading. */
  readonly now?: () => number;
  /** Default: one opened (one thread) and closed by the call, to read the Delta log's checkpoints. */
  readonly session?: DuckSession;
}

/**
 * The status of one table's pipeline (status-report.ts): capture's position and lag, gaps and
 * quarantine from the landing area; with `delta`, the last batch, what is not applied yet and how
 * old it is, apply's quarantine and the lease; and the problems that need a person, each with what
 * to do (status-problems.ts). Read-only: it writes nothing anywhere, takes no lease, and can run
 * beside capture and apply.
 * @throws RangeError for a negative `maxLagMs`; the readers' errors (a damaged checkpoint, batch
 *   record, taken index or Delta log; ApplyRunError `APPLY_TABLE_MISMATCH` for a Delta table apply
 *   did not write or that follows another table; the stores' errors).
 */
export async function pipelineStatus(options: StatusOptions): Promise<StatusReport> {
  const maxLagMs = options.maxLagMs ?? DEFAULT_MAX_LAG_MS;
  if (!Number.isFinite(maxLagMs) || maxLagMs < 0) {
    throw new RangeError(`the allowed lag must be zero or more milliseconds, not ${maxLagMs}`);
  }
  const now = (options.now ?? Date.now)();
  const table = tableNameOf(options.table);
  const { landing, delta } = options;

  let apply: ApplyStatus | null = null;
  if (delta !== undefined) {
    const session = options.session ?? (await DuckSession.open({ threads: 1 }));
    try {
      apply = await readApplyStatus(delta, landing, table, { now, engine: duckdbEngine(session) });
    } finally {
      if (options.session === undefined) await session.close();
    }
  }
  const windowStartMs =
    apply === null || apply.windowStart === null ? undefined : Date.parse(apply.windowStart);
  const capture = {
    ...(await readCaptureStatus(landing, table, { now, windowStartMs })),
    quarantine: await readCaptureQuarantineStatus(landing, delta, table, apply?.lastBatch?.batch ?? 0),
  };
  const problems = statusProblems({
    table,
    landingUrl: landing.url,
    deltaUrl: delta?.url ?? null,
    maxLagMs,
    capture,
    apply,
  });
  return {
    table,
    landing: landing.url,
    delta: delta?.url ?? null,
    now: new Date(now).toISOString(),
    maxLagMs,
    healthy: problems.length === 0,
    problems,
    capture,
    apply,
  };
}
