import { availableParallelism } from 'node:os';
import { DescribeTableCommand, type DynamoDBClient, type TableDescription } from '@aws-sdk/client-dynamodb';
import { ScanError, ScanErrorCode, TableNotFoundError } from './scan-errors.ts';

/** What a Scan export or a touch run needs to know about the table, from DescribeTable. */
export interface BackfillTable {
  readonly name: string;
  readonly arn: string;
  /** `TableId` (a UUID), or null where the endpoint has none (DynamoDB Local). */
  readonly id: string | null;
  /** ISO-8601 `CreationDateTime`: tells a table from a later one of the same name. */
  readonly createdAt: string | null;
  readonly partitionKey: string;
  readonly sortKey: string | null;
  /** The scalar type of each key attribute (`AttributeDefinitions`). */
  readonly keyTypes: Readonly<Record<string, 'S' | 'N' | 'B'>>;
  /** DynamoDB's estimates, refreshed about every six hours (0 for a table it has not counted yet). */
  readonly itemCount: number;
  readonly sizeBytes: number;
  readonly billingMode: 'PROVISIONED' | 'PAY_PER_REQUEST';
  /** Provisioned read and write capacity units (0 for an on-demand table). */
  readonly provisioned: { readonly read: number; readonly write: number };
  /** An on-demand table's maximum request units per second, where one is set. */
  readonly onDemandMaximum: { readonly read: number | null; readonly write: number | null };
  /** The throughput the table can serve at once (warm throughput), where DescribeTable tells it. */
  readonly warm: { readonly read: number | null; readonly write: number | null };
  readonly stream: {
    readonly enabled: boolean;
    readonly viewType: string | null;
    readonly arn: string | null;
  };
  /** Global secondary indexes that project every attribute: a write of any attribute writes them too. */
  readonly indexesProjectingAll: readonly string[];
}

/**
 * What a new on-demand table serves before it has seen traffic: 12,000 read and 4,000 write
 * request units per second (Developer Guide, "Initial throughput for on-demand capacity mode").
 * The base of `--read-percent` / `--write-percent` for an on-demand table that has no maximum set
 * and whose warm throughput DescribeTable does not report.
 */
export const ON_DEMAND_INITIAL_UNITS = { read: 12_000, write: 4_000 } as const;

/** Default share of the table's capacity a run may use. */
export const DEFAULT_CAPACITY_PERCENT = 50;

/** Bytes of table per Scan segment when the segment count is derived from the table size. */
export const BYTES_PER_SEGMENT = 2 * 1024 ** 3;

/** DynamoDB's upper bound for `TotalSegments`. */
export const MAX_SEGMENTS = 1_000_000;

/**
 * Reads the table's description. Throws `TableNotFoundError` for a table DynamoDB does not know;
 * other SDK errors (credentials, network) pass through, and so does the `AbortError` of a request
 * `signal` cut short.
 */
export async function describeBackfillTable(
  client: DynamoDBClient,
  table: string,
  signal?: AbortSignal,
): Promise<BackfillTable> {
  let description: TableDescription | undefined;
  try {
    description = (
      await client.send(
        new DescribeTableCommand({ TableName: table }),
        signal === undefined ? {} : { abortSignal: signal },
      )
    ).Table;
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') {
      throw new TableNotFoundError(table, { cause: error });
    }
    throw error;
  }
  if (description?.TableName === undefined || description.TableArn === undefined) {
    throw new TableNotFoundError(table);
  }
  const partitionKey = description.KeySchema?.find((key) => key.KeyType === 'HASH')?.AttributeName;
  if (partitionKey === undefined) throw new TableNotFoundError(table);
  const provisioned = description.ProvisionedThroughput;
  const billingMode =
    description.BillingModeSummary?.BillingMode === 'PAY_PER_REQUEST' ? 'PAY_PER_REQUEST' : 'PROVISIONED';
  const positive = (value: number | undefined): number | null =>
    value !== undefined && value > 0 ? value : null;
  return {
    name: description.TableName,
    arn: description.TableArn,
    id: description.TableId ?? null,
    createdAt: description.CreationDateTime?.toISOString() ?? null,
    partitionKey,
    sortKey: description.KeySchema?.find((key) => key.KeyType === 'RANGE')?.AttributeName ?? null,
    keyTypes: Object.fromEntries(
      (description.AttributeDefinitions ?? []).flatMap((definition) => {
        const type = definition.AttributeType;
        return definition.AttributeName !== undefined && (type === 'S' || type === 'N' || type === 'B')
          ? [[definition.AttributeName, type]]
          : [];
      }),
    ),
    itemCount: description.ItemCount ?? 0,
    sizeBytes: description.TableSizeBytes ?? 0,
    billingMode,
    provisioned: {
      read: provisioned?.ReadCapacityUnits ?? 0,
      write: provisioned?.WriteCapacityUnits ?? 0,
    },
    onDemandMaximum: {
      read: positive(description.OnDemandThroughput?.MaxReadRequestUnits),
      write: positive(description.OnDemandThroughput?.MaxWriteRequestUnits),
    },
    warm: {
      read: positive(description.WarmThroughput?.ReadUnitsPerSecond),
      write: positive(description.WarmThroughput?.WriteUnitsPerSecond),
    },
    stream: {
      enabled: description.StreamSpecification?.StreamEnabled === true,
      viewType: description.StreamSpecification?.StreamViewType ?? null,
      arn: description.LatestStreamArn ?? null,
    },
    indexesProjectingAll: (description.GlobalSecondaryIndexes ?? [])
      .filter((index) => index.Projection?.ProjectionType === 'ALL' && index.IndexName !== undefined)
      .map((index) => index.IndexName as string),
  };
}

/** Where a run's rate came from, for the progress display and `--json`. */
export type CapacitySource =
  | 'flag'
  | 'provisioned'
  | 'on-demand-maximum'
  | 'warm-throughput'
  | 'on-demand-initial'
  | 'unlimited';

export interface CapacityTarget {
  /** Units per second the run may consume (`Infinity` when unlimited). */
  readonly unitsPerSecond: number;
  readonly source: CapacitySource;
  /** The capacity the percentage was taken of, or null when the rate was given outright. */
  readonly base: number | null;
}

/**
 * The rate a run may use of the table's read or write capacity:
 * - `maxUnitsPerSecond` when given (`--max-rcu` / `--max-wcu`; `Infinity` for no limit);
 * - else `percent` (default 50) of the provisioned capacity of a provisioned table;
 * - else of an on-demand table's maximum throughput, or its warm throughput, or
 *   `ON_DEMAND_INITIAL_UNITS`, the first of these that is known.
 * Throws `ScanError` (`BAD_CAPACITY_SETTING`) for a percentage outside (0, 100] or a provisioned
 * table with no capacity of that kind.
 */
export function capacityTarget(
  table: BackfillTable,
  kind: 'read' | 'write',
  options: { readonly percent?: number | undefined; readonly maxUnitsPerSecond?: number | undefined },
): CapacityTarget {
  if (options.maxUnitsPerSecond !== undefined) {
    if (!(options.maxUnitsPerSecond > 0)) {
      throw new ScanError(
        ScanErrorCode.badCapacity,
        `The maximum ${kind} rate must be a positive number of units per second, got ${options.maxUnitsPerSecond}.`,
      );
    }
    const unlimited = options.maxUnitsPerSecond === Number.POSITIVE_INFINITY;
    return {
      unitsPerSecond: options.maxUnitsPerSecond,
      source: unlimited ? 'unlimited' : 'flag',
      base: null,
    };
  }
  const percent = options.percent ?? DEFAULT_CAPACITY_PERCENT;
  if (!(percent > 0 && percent <= 100)) {
    throw new ScanError(
      ScanErrorCode.badCapacity,
      `The share of the table's ${kind} capacity must be more than 0 and at most 100 percent, got ${percent}.`,
    );
  }
  const [base, source] = capacityBase(table, kind);
  if (base <= 0) {
    throw new ScanError(
      ScanErrorCode.badCapacity,
      `The table ${table.name} is provisioned with no ${kind} capacity, so a share of it is nothing. Give the rate outright (${kind === 'read' ? '--max-rcu' : '--max-wcu'}).`,
    );
  }
  return { unitsPerSecond: Math.max(1, (base * percent) / 100), source, base };
}

function capacityBase(table: BackfillTable, kind: 'read' | 'write'): [number, CapacitySource] {
  if (table.billingMode === 'PROVISIONED') return [table.provisioned[kind], 'provisioned'];
  const maximum = table.onDemandMaximum[kind];
  if (maximum !== null) return [maximum, 'on-demand-maximum'];
  const warm = table.warm[kind];
  if (warm !== null) return [warm, 'warm-throughput'];
  return [ON_DEMAND_INITIAL_UNITS[kind], 'on-demand-initial'];
}

/**
 * The default number of Scan segments: one per 2 GB of table (`TableSizeBytes`), at least one per
 * CPU core, at most DynamoDB's 1,000,000.
 */
export function defaultSegments(table: BackfillTable, cores: number = availableParallelism()): number {
  const bySize = Math.ceil(table.sizeBytes / BYTES_PER_SEGMENT);
  return Math.min(MAX_SEGMENTS, Math.max(1, cores, bySize));
}
