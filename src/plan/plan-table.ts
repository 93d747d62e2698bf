import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { acceptedCaptureQuarantine, listCaptureQuarantine } from '../apply/inputs/capture-quarantine-gate.ts';
import { newestBatchRecord } from '../apply/inputs/quarantine-report.ts';
import { readCheckpoints } from '../capture/checkpoint.ts';
import { StorageError } from '../storage/errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import {
  DEFAULT_SNAPSHOT_RETENTION_DAYS,
  exportBucketPolicy,
  type LifecycleConfiguration,
  snapshotLifecycleRule,
} from './bucket-policies.ts';
import {
  type CostEstimate,
  DEFAULT_PRICES,
  DEFAULT_RATES,
  estimateCosts,
  type Prices,
  type RateAssumptions,
} from './cost-estimate.ts';
import { type DatabricksPlan, type DatabricksPlanInput, databricksPlan } from './databricks-plan.ts';
import { InvalidPlanOptionError } from './errors.ts';
import { checkHandoff, type HandoffCheck } from './handoff-check.ts';
import { callerPolicy, type PolicyDocument } from './iam-policy.ts';
import {
  type LandingFolders,
  landingFoldersOf,
  type StoreLocation,
  storeLocationOf,
} from './landing-location.ts';
import { type PlanEvent, PlanEventCode } from './plan-events.ts';
import { assessReadiness, type CaptureState, type PlanFinding } from './readiness.ts';
import {
  type BackfillStrategy,
  chooseStrategy,
  DEFAULT_SMALL_TABLE_BYTES,
  type StrategyChoice,
} from './strategy.ts';
import { readTableFacts, type TableFacts } from './table-facts.ts';

export interface PlanTableOptions {
  readonly dynamodb: DynamoDBClient;
  /** The landing area. */
  readonly landing: ObjectStore;
  /** Table name or ARN. */
  readonly table: string;
  /** T for a native export (default now); a Scan or touch starts now at the earliest. */
  readonly exportTime?: Date | undefined;
  /** DESIGN.md rule 2's margin; default 15 minutes. */
  readonly marginMs?: number | undefined;
  /** Default `auto`: let `chooseStrategy` recommend one. */
  readonly strategy?: BackfillStrategy | 'auto' | undefined;
  /** Recommend touch for a small table whose stream carries new images. */
  readonly preferStream?: boolean | undefined;
  /** Up to this size a table counts as small; default 1 GB. */
  readonly smallTableBytes?: number | undefined;
  readonly prices?: Partial<Prices> | undefined;
  readonly rates?: Partial<RateAssumptions> | undefined;
  /** The Delta table's store URL (`ObjectStore.url`), when known: the IAM policy then covers it. */
  readonly deltaUrl?: string | undefined;
  /**
   * The Delta table, when known: read (its batch records) for the capture quarantine objects a
   * batch accepted. Without it, every object counts as accepted by none.
   */
  readonly delta?: ObjectStore | undefined;
  /** Who requests the native export, for the bucket policy: a role or user ARN, or an account id. */
  readonly principal?: string | undefined;
  /** The account that owns the landing bucket, when known (says whether the bucket policy is needed). */
  readonly bucketOwner?: string | undefined;
  /** Age in days at which the lifecycle rule removes snapshot files; default 30. */
  readonly snapshotRetentionDays?: number | undefined;
  /**
   * Write the report to `_ddb_lake/plan/<table>/last-plan.json` (default true): it shows the
   * landing area takes writes, which capture and every backfill need.
   */
  readonly writeReport?: boolean | undefined;
  /**
   * The Databricks side (`--databricks-name`): the Unity Catalog name and who apply runs as; needs
   * `deltaUrl` on S3. The plan then has a `databricks` section (databricks-plan.ts).
   */
  readonly databricks?:
    | Pick<DatabricksPlanInput, 'table' | 'principal' | 'warehouseId' | 'storageCredential' | 'assumptions'>
    | undefined;
  /** The clock (tests). */
  readonly now?: (() => Date) | undefined;
  readonly onEvent?: ((event: PlanEvent) => void) | undefined;
}

/** The bucket policy the native export needs, and whether it is needed here. */
export interface ExportBucketPolicyAdvice {
  /** `yes` for a bucket of another account, `no` within one account or without a native export. */
  readonly needed: 'yes' | 'no' | 'if-other-account';
  readonly why: string;
  /** Null for a local landing area. */
  readonly policy: PolicyDocument | null;
}

/** Everything `ddb-lake plan` reports: facts, recommendation, estimates, readiness, policies. */
export interface TablePlan {
  readonly generatedAt: string;
  /** No blockers: the strategy can run and the handoff at T is covered. */
  readonly ready: boolean;
  readonly table: TableFacts;
  readonly landing: StoreLocation;
  readonly folders: LandingFolders;
  readonly strategy: StrategyChoice;
  readonly handoff: HandoffCheck;
  readonly capture: CaptureState;
  readonly costs: CostEstimate;
  readonly blockers: readonly PlanFinding[];
  readonly warnings: readonly PlanFinding[];
  readonly policies: {
    /** For the caller: plan, the strategy, capture and apply. */
    readonly iam: PolicyDocument;
    readonly exportBucket: ExportBucketPolicyAdvice;
    /** Null for a local landing area. */
    readonly snapshotLifecycle: {
      readonly days: number;
      readonly configuration: LifecycleConfiguration;
    } | null;
  };
  /** What Unity Catalog needs and the warehouse time, with `databricks`; null without. */
  readonly databricks: DatabricksPlan | null;
  /** Where the report was written, or null when `writeReport` was false. */
  readonly report: { readonly key: string; readonly written: boolean } | null;
}

/**
 * Plans the backfill of one table into a landing area: reads the table's facts (DescribeTable,
 * DescribeContinuousBackups), recommends a strategy (`chooseStrategy`), estimates cost and time
 * (`estimateCosts`), checks the handoff at T (`checkHandoff`: T is `exportTime` or now, and never
 * before now for a Scan or touch), reads capture's checkpoints and quarantine (each object read; with
 * `delta`, the batch records say which a batch accepted), decides readiness
 * (`assessReadiness`), and builds the IAM policy, the export's bucket policy and the snapshot
 * lifecycle rule. Unless `writeReport` is false, writes the report to
 * `_ddb_lake/plan/<table>/last-plan.json` (replacing the previous one); a refused write is a
 * blocker, not an error.
 *
 * Reads DynamoDB and the landing area only, apart from that one object. Throws
 * `TableNotFoundError`, `AwsRequestError`, `InvalidPlanOptionError`, the store's errors when the
 * landing area cannot be read, and the change-file and checkpoint readers' errors for damaged files.
 */
export async function planTable(options: PlanTableOptions): Promise<TablePlan> {
  const emit = options.onEvent ?? (() => {});
  const now = (options.now ?? (() => new Date()))();
  const smallTableBytes = options.smallTableBytes ?? DEFAULT_SMALL_TABLE_BYTES;
  if (!Number.isFinite(smallTableBytes) || smallTableBytes < 0) {
    throw new InvalidPlanOptionError('smallTableBytes', `must be 0 or more, not ${smallTableBytes}`);
  }
  const retentionDays = options.snapshotRetentionDays ?? DEFAULT_SNAPSHOT_RETENTION_DAYS;
  const landing = storeLocationOf(options.landing.url);
  const delta = options.deltaUrl === undefined ? undefined : storeLocationOf(options.deltaUrl);

  if (options.databricks !== undefined && delta === undefined) {
    throw new InvalidPlanOptionError('databricks', 'needs the Delta table (deltaUrl, --delta s3://…)');
  }
  const facts = await readTableFacts(options.dynamodb, options.table);
  emit({ code: PlanEventCode.tableDescribed, table: facts.name, status: facts.status });
  const folders = landingFoldersOf(facts.name);
  const costs = estimateCosts(
    facts,
    { ...DEFAULT_PRICES, ...definedOnly(options.prices ?? {}) },
    { ...DEFAULT_RATES, ...definedOnly(options.rates ?? {}) },
  );
  const strategy = chooseStrategy({
    facts,
    landing,
    costs,
    requested: options.strategy ?? 'auto',
    preferStream: options.preferStream ?? false,
    smallTableBytes,
  });

  const requested = options.exportTime;
  const exportTime =
    strategy.strategy === 'export'
      ? (requested ?? now)
      : new Date(Math.max((requested ?? now).getTime(), now.getTime()));
  const handoff = await checkHandoff({
    store: options.landing,
    table: facts.name,
    exportTime,
    marginMs: options.marginMs,
    streamEnabledAt: facts.stream.enabledAt === null ? undefined : new Date(facts.stream.enabledAt),
  });
  emit({
    code: PlanEventCode.handoffChecked,
    ok: handoff.ok,
    filesListed: handoff.filesListed,
    firstRecordsRead: handoff.firstRecordsRead,
  });
  const capture = await readCaptureState(options.landing, facts.name, options.delta);
  emit({
    code: PlanEventCode.captureStateRead,
    checkpoints: capture.checkpoints,
    quarantined: capture.quarantined,
  });

  const policies: TablePlan['policies'] = {
    iam: callerPolicy({ table: facts, strategy: strategy.strategy, landing, folders, delta }),
    exportBucket: exportBucketAdvice(landing, folders, facts, strategy.strategy, options),
    snapshotLifecycle:
      landing.kind === 's3'
        ? { days: retentionDays, configuration: snapshotLifecycleRule(landing, folders, retentionDays) }
        : null,
  };
  const databricks =
    options.databricks === undefined || delta === undefined
      ? null
      : databricksPlan({
          ...options.databricks,
          landing,
          delta,
          awsPartition: facts.partition,
          awsAccount: facts.account,
          itemCount: facts.itemCount,
          sizeBytes: facts.sizeBytes,
        });
  const reportKey = `${folders.plan}last-plan.json`;
  const build = (landingWrite: { ok: true } | { ok: false; error: string } | undefined): TablePlan => {
    const { blockers, warnings } = assessReadiness({
      facts,
      strategy: strategy.strategy,
      landing,
      handoff,
      requestedExportTime: requested,
      now,
      costs,
      capture,
      landingWrite,
    });
    return {
      generatedAt: now.toISOString(),
      ready: blockers.length === 0,
      table: facts,
      landing,
      folders,
      strategy,
      handoff,
      capture,
      costs,
      blockers,
      warnings,
      policies,
      databricks,
      report: landingWrite === undefined ? null : { key: reportKey, written: landingWrite.ok },
    };
  };

  if (options.writeReport === false) return build(undefined);
  const plan = build({ ok: true });
  try {
    await options.landing.put(reportKey, `${JSON.stringify(plan, null, 2)}\n`);
  } catch (error) {
    if (!(error instanceof StorageError)) throw error;
    emit({ code: PlanEventCode.reportWritten, key: reportKey, ok: false });
    return build({ ok: false, error: error.message });
  }
  emit({ code: PlanEventCode.reportWritten, key: reportKey, ok: true });
  return plan;
}

async function readCaptureState(
  store: ObjectStore,
  table: string,
  delta: ObjectStore | undefined,
): Promise<CaptureState> {
  const checkpoints = await readCheckpoints(store, table);
  let lastCheckpointAt: string | null = null;
  for (const checkpoint of checkpoints.values()) {
    if (lastCheckpointAt === null || Date.parse(checkpoint.updatedAt) > Date.parse(lastCheckpointAt)) {
      lastCheckpointAt = checkpoint.updatedAt;
    }
  }
  const entries = await listCaptureQuarantine(store, table);
  const accepted =
    delta === undefined
      ? new Set<string>()
      : await acceptedCaptureQuarantine(delta, (await newestBatchRecord(delta)) ?? 0);
  const summary = ({ key, shard, seq, reason }: (typeof entries)[number]) => ({ key, shard, seq, reason });
  return {
    checkpoints: checkpoints.size,
    lastCheckpointAt,
    quarantined: entries.length,
    quarantine: {
      notAccepted: entries.filter((entry) => !accepted.has(entry.key)).map(summary),
      accepted: entries.filter((entry) => accepted.has(entry.key)).map(summary),
    },
  };
}

function exportBucketAdvice(
  landing: StoreLocation,
  folders: LandingFolders,
  facts: TableFacts,
  strategy: BackfillStrategy,
  options: PlanTableOptions,
): ExportBucketPolicyAdvice {
  if (landing.kind !== 's3') {
    return { needed: 'no', why: 'the landing area is a local folder: no native export', policy: null };
  }
  const policy = exportBucketPolicy({
    landing,
    folders,
    partition: facts.partition,
    principal: options.principal ?? facts.account,
  });
  if (strategy !== 'export') {
    return { needed: 'no', why: `the ${strategy} strategy writes with the caller's own permissions`, policy };
  }
  if (options.bucketOwner === undefined) {
    return {
      needed: 'if-other-account',
      why: `only when bucket ${landing.bucket} belongs to another account than ${facts.account} (then also pass --bucket-owner to the export)`,
      policy,
    };
  }
  return options.bucketOwner === facts.account
    ? { needed: 'no', why: `bucket ${landing.bucket} belongs to the table's account`, policy }
    : { needed: 'yes', why: `bucket ${landing.bucket} belongs to account ${options.bucketOwner}`, policy };
}

function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>;
}
