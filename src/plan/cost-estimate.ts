import { InvalidPlanOptionError } from './errors.ts';
import type { TableFacts } from './table-facts.ts';

/**
 * Prices in USD, as flags of `ddb-lake plan` can override them. The defaults are the list prices of
 * US East (N. Virginia) on aws.amazon.com/dynamodb/pricing (on-demand page), as published since
 * the on-demand price cut of 1 November 2024: other regions and the Standard-IA table class cost
 * more or less, so pass your region's prices for an estimate that matters.
 */
export interface Prices {
  /** Full export to S3, per GB of table size at the export time. */
  readonly exportPerGb: number;
  /** Incremental export, per GB of changed data processed (at least `INCREMENTAL_EXPORT_MINIMUM_BYTES`). */
  readonly incrementalExportPerGb: number;
  /** On-demand reads, per million read request units. */
  readonly readPerMillion: number;
  /** On-demand writes, per million write request units. */
  readonly writePerMillion: number;
  /** Point-in-time recovery (continuous backups), per GB-month of table size. */
  readonly pitrPerGbMonth: number;
}

export const DEFAULT_PRICES: Prices = {
  exportPerGb: 0.1,
  incrementalExportPerGb: 0.1,
  readPerMillion: 0.125,
  writePerMillion: 0.625,
  pitrPerGbMonth: 0.2,
};

/** An incremental export is billed for at least 10 MB, however little changed. */
export const INCREMENTAL_EXPORT_MINIMUM_BYTES = 10 * 1024 * 1024;

/** AWS bills a GB as 2^30 bytes. */
export const BYTES_PER_GB = 1024 ** 3;

/** A Scan reads 4 KB per read unit, consistent; an eventually consistent read costs half. */
const READ_UNIT_BYTES = 4096;
/** A write unit writes 1 KB of an item, rounded up per item. */
const WRITE_UNIT_BYTES = 1024;

/**
 * What a new on-demand table serves at once without throttling (12,000 read and 4,000 write units
 * per second): the throughput the share of `--read-percent` / `--write-percent` is taken of when
 * no `--max-rcu` / `--max-wcu` is given.
 */
export const ON_DEMAND_READ_UNITS_PER_SECOND = 12_000;
export const ON_DEMAND_WRITE_UNITS_PER_SECOND = 4_000;

/** Bytes the touch marker attribute (name and value) is assumed to add to each item. */
export const TOUCH_MARKER_BYTES = 64;

/**
 * AWS publishes no export rate. A full export takes minutes even for a tiny table and runs in
 * parallel over the table's partitions; the estimate is 10 minutes plus a minute per 5 GB, an
 * order of magnitude, nothing more.
 */
export const EXPORT_FIXED_MS = 10 * 60 * 1000;
export const EXPORT_BYTES_PER_MS = (5 * BYTES_PER_GB) / 60_000;

/** How fast Scan and touch may read and write, as their flags say. */
export interface RateAssumptions {
  /** Share of the provisioned (or, on demand, the assumed) read capacity used, 1–100; default 50. */
  readonly readPercent: number;
  /** Read units per second on an on-demand table; default `readPercent` of 12,000. */
  readonly maxRcu?: number | undefined;
  /** Share of write capacity touch uses, 1–100; default 50. */
  readonly writePercent: number;
  /** Write units per second on an on-demand table; default `writePercent` of 4,000. */
  readonly maxWcu?: number | undefined;
  /** Strongly consistent Scan reads (twice the read units). */
  readonly consistentRead: boolean;
}

export const DEFAULT_RATES: RateAssumptions = { readPercent: 50, writePercent: 50, consistentRead: false };

/** The estimate of one strategy. */
export interface StrategyEstimate {
  /** Estimated charge in USD (0 when it only uses capacity already provisioned). */
  readonly usd: number;
  /** Estimated wall time. */
  readonly durationMs: number;
  readonly readUnits: number;
  readonly writeUnits: number;
  /** How the figure was reached, in words. */
  readonly basis: string;
}

/** Every strategy's estimate, the prices and rates used, and what the figures rest on. */
export interface CostEstimate {
  readonly prices: Prices;
  readonly rates: RateAssumptions;
  /** Read units per second the Scan (and touch) are assumed to get. */
  readonly readUnitsPerSecond: number;
  readonly writeUnitsPerSecond: number;
  readonly export: StrategyEstimate;
  readonly scan: StrategyEstimate;
  readonly touch: StrategyEstimate;
  /** The least one incremental export (to recover a gap) costs. */
  readonly incrementalExportMinimumUsd: number;
  /** What point-in-time recovery would cost per month, if enabled. */
  readonly pitrMonthlyUsd: number;
  readonly notes: readonly string[];
}

/**
 * Estimates cost and time of each backfill strategy for a table from DescribeTable's figures, the
 * prices and the rate assumptions. Pure. Read units: a Scan reads the table's bytes once, 4 KB per
 * unit (half for eventually consistent reads). Write units: touch rewrites each item, 1 KB per
 * unit rounded up per item, the item's size taken as the average plus `TOUCH_MARKER_BYTES`. On a
 * provisioned table reads and writes use capacity already paid for, so they cost nothing more but
 * take longer. Throws `InvalidPlanOptionError` for a negative price or a rate outside its range.
 */
export function estimateCosts(
  facts: TableFacts,
  prices: Prices = DEFAULT_PRICES,
  rates: RateAssumptions = DEFAULT_RATES,
): CostEstimate {
  for (const [name, value] of Object.entries(prices)) {
    if (!Number.isFinite(value) || value < 0)
      throw new InvalidPlanOptionError(name, `must be a price of 0 or more, not ${value}`);
  }
  for (const [name, value] of [
    ['readPercent', rates.readPercent],
    ['writePercent', rates.writePercent],
  ] as const) {
    if (!Number.isFinite(value) || value <= 0 || value > 100) {
      throw new InvalidPlanOptionError(name, `must be more than 0 and at most 100, not ${value}`);
    }
  }
  const onDemand = facts.billingMode === 'PAY_PER_REQUEST';
  const readUnitsPerSecond = onDemand
    ? (rates.maxRcu ?? (ON_DEMAND_READ_UNITS_PER_SECOND * rates.readPercent) / 100)
    : Math.max(1, ((facts.readCapacityUnits ?? 0) * rates.readPercent) / 100);
  const writeUnitsPerSecond = onDemand
    ? (rates.maxWcu ?? (ON_DEMAND_WRITE_UNITS_PER_SECOND * rates.writePercent) / 100)
    : Math.max(1, ((facts.writeCapacityUnits ?? 0) * rates.writePercent) / 100);
  if (!(readUnitsPerSecond > 0) || !(writeUnitsPerSecond > 0)) {
    throw new InvalidPlanOptionError('maxRcu/maxWcu', 'must be more than 0 units per second');
  }

  const gb = facts.sizeBytes / BYTES_PER_GB;
  const readUnits = Math.ceil((facts.sizeBytes / READ_UNIT_BYTES) * (rates.consistentRead ? 1 : 0.5));
  const averageItemBytes = facts.itemCount === 0 ? 0 : facts.sizeBytes / facts.itemCount;
  const writeUnits = facts.itemCount * Math.ceil((averageItemBytes + TOUCH_MARKER_BYTES) / WRITE_UNIT_BYTES);
  const readUsd = onDemand ? (readUnits / 1e6) * prices.readPerMillion : 0;
  const writeUsd = onDemand ? (writeUnits / 1e6) * prices.writePerMillion : 0;
  const readMs = (readUnits / readUnitsPerSecond) * 1000;
  const writeMs = (writeUnits / writeUnitsPerSecond) * 1000;
  const capacity = onDemand ? 'on-demand' : 'provisioned capacity (no charge beyond what is provisioned)';

  const notes = [
    'Item count and size come from DescribeTable, which DynamoDB refreshes about every six hours.',
    `Prices: export ${formatPrice(prices.exportPerGb)}/GB, incremental export ${formatPrice(prices.incrementalExportPerGb)}/GB ` +
      `(10 MB minimum), reads ${formatPrice(prices.readPerMillion)} and writes ${formatPrice(prices.writePerMillion)} per ` +
      'million request units: the defaults are US East (N. Virginia) list prices; pass your region’s.',
  ];
  if (facts.tableClass === 'STANDARD_INFREQUENT_ACCESS') {
    notes.push(
      'The table is Standard-IA, whose request prices are higher: pass them with --read-price and --write-price.',
    );
  }
  return {
    prices,
    rates,
    readUnitsPerSecond,
    writeUnitsPerSecond,
    export: {
      usd: gb * prices.exportPerGb,
      durationMs: EXPORT_FIXED_MS + facts.sizeBytes / EXPORT_BYTES_PER_MS,
      readUnits: 0,
      writeUnits: 0,
      basis: `${formatSize(facts.sizeBytes)} at ${formatPrice(prices.exportPerGb)}/GB; no read capacity used`,
    },
    scan: {
      usd: readUsd,
      durationMs: readMs,
      readUnits,
      writeUnits: 0,
      basis: `${units(readUnits, 'read')} (${rates.consistentRead ? 'consistent' : 'eventually consistent'}) from ${capacity} at ${Math.round(readUnitsPerSecond)}/s`,
    },
    touch: {
      usd: readUsd + writeUsd,
      durationMs: Math.max(readMs, writeMs),
      readUnits,
      writeUnits,
      basis: `${units(readUnits, 'read')} and ${units(writeUnits, 'write')} from ${capacity} at ${Math.round(readUnitsPerSecond)} reads/s and ${Math.round(writeUnitsPerSecond)} writes/s`,
    },
    incrementalExportMinimumUsd:
      (INCREMENTAL_EXPORT_MINIMUM_BYTES / BYTES_PER_GB) * prices.incrementalExportPerGb,
    pitrMonthlyUsd: gb * prices.pitrPerGbMonth,
    notes,
  };
}

/** `$0.10`, `$0.125`: at least two decimals, all that the price has. */
export function formatPrice(usd: number): string {
  const decimals = (String(usd).split('.')[1] ?? '').length;
  return `$${usd.toFixed(Math.min(Math.max(2, decimals), 10))}`;
}

function formatSize(bytes: number): string {
  if (bytes >= 0.1 * BYTES_PER_GB) return `${(bytes / BYTES_PER_GB).toFixed(2)} GB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${bytes} bytes`;
}

function units(count: number, kind: 'read' | 'write'): string {
  return `${count} ${kind} unit${count === 1 ? '' : 's'}`;
}
