import {
  DescribeContinuousBackupsCommand,
  type DescribeContinuousBackupsCommandOutput,
  DescribeTableCommand,
  type DescribeTableCommandOutput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { tableNameOf } from '../formats/change-file-key.ts';
import { PlanError, PlanErrorCode, planRequestError, TableNotFoundError } from './errors.ts';

/** Point-in-time recovery as far as plan could learn it. */
export type PitrStatus =
  /** Continuous backups run: the native export can copy any time in the window. */
  | 'ENABLED'
  | 'DISABLED'
  /** The endpoint does not implement point-in-time recovery (DynamoDB Local). */
  | 'UNAVAILABLE'
  /** DescribeContinuousBackups was refused (access): unknown. */
  | 'UNKNOWN';

/** What DynamoDB says about a table, as plan needs it. */
export interface TableFacts {
  readonly name: string;
  readonly arn: string;
  /** From the ARN: `aws`, `aws-cn`, `aws-us-gov`. */
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  /** ACTIVE, UPDATING, CREATING, … */
  readonly status: string;
  /** DescribeTable's ItemCount: DynamoDB refreshes it about every six hours. */
  readonly itemCount: number;
  /** DescribeTable's TableSizeBytes (table data, not indexes): refreshed about every six hours. */
  readonly sizeBytes: number;
  readonly billingMode: 'PAY_PER_REQUEST' | 'PROVISIONED';
  /** STANDARD or STANDARD_INFREQUENT_ACCESS (request prices differ). */
  readonly tableClass: string;
  /** Provisioned capacity, or null for an on-demand table. */
  readonly readCapacityUnits: number | null;
  readonly writeCapacityUnits: number | null;
  readonly stream: {
    readonly enabled: boolean;
    /** NEW_AND_OLD_IMAGES, NEW_IMAGE, OLD_IMAGE, KEYS_ONLY, or null without a stream. */
    readonly viewType: string | null;
    /** The latest stream's ARN (it stays readable 24 hours after the stream is disabled). */
    readonly arn: string | null;
    /** When the latest stream was enabled (from its label, ISO 8601 UTC), or null. */
    readonly enabledAt: string | null;
  };
  readonly pitr: {
    readonly status: PitrStatus;
    readonly earliestRestorableTime: string | null;
    readonly latestRestorableTime: string | null;
    readonly recoveryPeriodInDays: number | null;
    /** Why the status is UNAVAILABLE or UNKNOWN. */
    readonly note: string | null;
  };
}

const TABLE_ARN = /^arn:([A-Za-z0-9-]+):dynamodb:([^:]*):([^:]*):table\/[^/]+$/;

/**
 * Reads a table's size, capacity, stream and point-in-time recovery (DescribeTable, then
 * DescribeContinuousBackups). Read-only. A DescribeContinuousBackups the endpoint does not know
 * (DynamoDB Local) gives status UNAVAILABLE, and one refused for access gives UNKNOWN, each with a
 * note, since the rest of the plan is still worth having. Throws `TableNotFoundError` when the
 * table does not exist and the shared `AwsRequestError` when DescribeTable is refused or cannot
 * be sent (credentials, access, region, endpoint).
 */
export async function readTableFacts(dynamodb: DynamoDBClient, tableOrArn: string): Promise<TableFacts> {
  const name = tableNameOf(tableOrArn);
  let described: DescribeTableCommandOutput;
  try {
    described = await dynamodb.send(new DescribeTableCommand({ TableName: tableOrArn }));
  } catch (error) {
    if ((error as { name?: unknown }).name === 'ResourceNotFoundException') {
      throw new TableNotFoundError(name, await whereOf(dynamodb), { cause: error });
    }
    throw planRequestError('DescribeTable', `table ${name}`, error);
  }
  const table = described.Table;
  const arn = table?.TableArn;
  if (table === undefined || arn === undefined) {
    throw new PlanError(
      PlanErrorCode.unexpectedAnswer,
      `DescribeTable for table ${name} answered without the table's description (${arn === undefined ? 'no TableArn' : 'no Table'}). Check that --endpoint-url names a DynamoDB endpoint, then run plan again.`,
    );
  }
  const [, partition = 'aws', region = '', account = ''] = TABLE_ARN.exec(arn) ?? [];
  const onDemand = table.BillingModeSummary?.BillingMode === 'PAY_PER_REQUEST';
  const streamEnabled = table.StreamSpecification?.StreamEnabled === true;
  return {
    name: table.TableName ?? name,
    arn,
    partition,
    region,
    account,
    status: table.TableStatus ?? 'UNKNOWN',
    itemCount: table.ItemCount ?? 0,
    sizeBytes: table.TableSizeBytes ?? 0,
    billingMode: onDemand ? 'PAY_PER_REQUEST' : 'PROVISIONED',
    tableClass: table.TableClassSummary?.TableClass ?? 'STANDARD',
    readCapacityUnits: onDemand ? null : (table.ProvisionedThroughput?.ReadCapacityUnits ?? null),
    writeCapacityUnits: onDemand ? null : (table.ProvisionedThroughput?.WriteCapacityUnits ?? null),
    stream: {
      enabled: streamEnabled,
      viewType: streamEnabled ? (table.StreamSpecification?.StreamViewType ?? null) : null,
      arn: table.LatestStreamArn ?? null,
      enabledAt: streamEnabled ? streamLabelTime(table.LatestStreamLabel) : null,
    },
    pitr: await readPitr(dynamodb, tableOrArn, name),
  };
}

async function readPitr(
  dynamodb: DynamoDBClient,
  tableOrArn: string,
  name: string,
): Promise<TableFacts['pitr']> {
  let answer: DescribeContinuousBackupsCommandOutput;
  try {
    answer = await dynamodb.send(new DescribeContinuousBackupsCommand({ TableName: tableOrArn }));
  } catch (error) {
    const errorName = (error as { name?: unknown }).name;
    const none = { earliestRestorableTime: null, latestRestorableTime: null, recoveryPeriodInDays: null };
    if (errorName === 'UnknownOperationException') {
      return {
        status: 'UNAVAILABLE',
        ...none,
        note: 'this endpoint does not implement point-in-time recovery; DynamoDB Local does not',
      };
    }
    if (errorName === 'AccessDeniedException') {
      return {
        status: 'UNKNOWN',
        ...none,
        note: `DescribeContinuousBackups was refused: grant dynamodb:DescribeContinuousBackups on the table (${(error as Error).message})`,
      };
    }
    if (errorName === 'TableNotFoundException' || errorName === 'ResourceNotFoundException') {
      throw new TableNotFoundError(name, await whereOf(dynamodb), { cause: error });
    }
    throw planRequestError('DescribeContinuousBackups', `table ${name}`, error);
  }
  const recovery = answer.ContinuousBackupsDescription?.PointInTimeRecoveryDescription;
  return {
    status: recovery?.PointInTimeRecoveryStatus === 'ENABLED' ? 'ENABLED' : 'DISABLED',
    earliestRestorableTime: recovery?.EarliestRestorableDateTime?.toISOString() ?? null,
    latestRestorableTime: recovery?.LatestRestorableDateTime?.toISOString() ?? null,
    recoveryPeriodInDays: recovery?.RecoveryPeriodInDays ?? null,
    note: null,
  };
}

/** A stream label is its creation time in ISO 8601 without a zone (UTC), e.g. `2026-11-24T08:43:27.688`. */
function streamLabelTime(label: string | undefined): string | null {
  if (label === undefined) return null;
  const withZone = /(?:Z|[+-]\d{2}:?\d{2})$/.test(label) ? label : `${label}Z`;
  const time = Date.parse(withZone);
  return Number.isNaN(time) ? null : new Date(time).toISOString();
}

async function whereOf(dynamodb: DynamoDBClient): Promise<string> {
  const region = await dynamodb.config.region().catch(() => undefined);
  return region === undefined ? 'here' : `in region ${region}`;
}
