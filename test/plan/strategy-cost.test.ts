import { describe, expect, it } from 'vitest';
import {
  BYTES_PER_GB,
  DEFAULT_PRICES,
  DEFAULT_RATES,
  estimateCosts,
  INCREMENTAL_EXPORT_MINIMUM_BYTES,
  ON_DEMAND_READ_UNITS_PER_SECOND,
  TOUCH_MARKER_BYTES,
} from '../../src/plan/cost-estimate.ts';
import { InvalidPlanOptionError } from '../../src/plan/errors.ts';
import { storeLocationOf } from '../../src/plan/landing-location.ts';
import { type BackfillStrategy, chooseStrategy, DEFAULT_SMALL_TABLE_BYTES } from '../../src/plan/strategy.ts';
import type { TableFacts } from '../../src/plan/table-facts.ts';

/** Facts of a table as DescribeTable would give them; `overrides` change what a test is about. */
function tableFacts(overrides: {
  sizeBytes?: number;
  itemCount?: number;
  pitr?: TableFacts['pitr']['status'];
  streamViewType?: string | null;
  provisioned?: { read: number; write: number };
}): TableFacts {
  const viewType = overrides.streamViewType === undefined ? 'NEW_AND_OLD_IMAGES' : overrides.streamViewType;
  return {
    name: 'orders',
    arn: 'arn:aws:dynamodb:us-east-1:111122223333:table/orders',
    partition: 'aws',
    region: 'us-east-1',
    account: '111122223333',
    status: 'ACTIVE',
    itemCount: overrides.itemCount ?? 1000,
    sizeBytes: overrides.sizeBytes ?? 1_000_000,
    billingMode: overrides.provisioned === undefined ? 'PAY_PER_REQUEST' : 'PROVISIONED',
    tableClass: 'STANDARD',
    readCapacityUnits: overrides.provisioned?.read ?? null,
    writeCapacityUnits: overrides.provisioned?.write ?? null,
    stream: {
      enabled: viewType !== null,
      viewType,
      arn:
        viewType === null
          ? null
          : 'arn:aws:dynamodb:us-east-1:111122223333:table/orders/stream/2026-01-01T00:00:00.000',
      enabledAt: viewType === null ? null : '2026-01-01T00:00:00.000Z',
    },
    pitr: {
      status: overrides.pitr ?? 'ENABLED',
      earliestRestorableTime: null,
      latestRestorableTime: null,
      recoveryPeriodInDays: null,
      note: null,
    },
  };
}

const S3 = storeLocationOf('s3://lake/landing');
const LOCAL = storeLocationOf('file:///tmp/landing');
const LARGE = 50 * BYTES_PER_GB;

function choose(
  facts: TableFacts,
  options: { landing?: typeof S3; preferStream?: boolean; requested?: BackfillStrategy | 'auto' } = {},
) {
  return chooseStrategy({
    facts,
    landing: options.landing ?? S3,
    costs: estimateCosts(facts),
    requested: options.requested ?? 'auto',
    preferStream: options.preferStream ?? false,
    smallTableBytes: DEFAULT_SMALL_TABLE_BYTES,
  });
}

describe('strategy recommendation', () => {
  it('recommends the native export for a large table with point-in-time recovery and an S3 landing area', () => {
    const choice = choose(tableFacts({ sizeBytes: LARGE, itemCount: 50_000_000 }));
    expect(choice.strategy).toBe('export');
    expect(choice.why.join(' ')).toContain('point-in-time recovery is on');
    expect(choice.others.map((o) => o.strategy)).toEqual(['scan', 'touch']);
  });

  it('recommends a Scan without point-in-time recovery, and says what enabling it would cost', () => {
    const facts = tableFacts({ sizeBytes: LARGE, pitr: 'DISABLED' });
    const choice = choose(facts);
    expect(choice.strategy).toBe('scan');
    const notExport = choice.others.find((o) => o.strategy === 'export')?.why ?? '';
    expect(notExport).toContain('point-in-time recovery is disabled');
    expect(notExport).toContain(((LARGE / BYTES_PER_GB) * DEFAULT_PRICES.pitrPerGbMonth).toFixed(2));
  });

  it('recommends a Scan for a small table even with point-in-time recovery, and for a local landing area', () => {
    expect(choose(tableFacts({ sizeBytes: 10_000_000 })).strategy).toBe('scan');
    const local = choose(tableFacts({ sizeBytes: LARGE }), { landing: LOCAL });
    expect(local.strategy).toBe('scan');
    expect(local.others.find((o) => o.strategy === 'export')?.why).toContain('only to S3');
  });

  it('recommends touch only for a small table whose stream carries new images, when the stream path is preferred', () => {
    expect(choose(tableFacts({ sizeBytes: 10_000_000 }), { preferStream: true }).strategy).toBe('touch');
    const large = choose(tableFacts({ sizeBytes: LARGE }), { preferStream: true });
    expect(large.strategy).toBe('export');
    expect(large.others.find((o) => o.strategy === 'touch')?.why).toContain('too large');
    const keysOnly = choose(tableFacts({ sizeBytes: 10_000_000, streamViewType: 'KEYS_ONLY' }), {
      preferStream: true,
    });
    expect(keysOnly.strategy).toBe('scan');
    expect(keysOnly.others.find((o) => o.strategy === 'touch')?.why).toContain('new images');
  });

  it('takes a strategy asked for as it is', () => {
    const choice = choose(tableFacts({ sizeBytes: LARGE, pitr: 'DISABLED' }), { requested: 'export' });
    expect(choice.strategy).toBe('export');
    expect(choice.requested).toBe('export');
  });
});

describe('cost and time estimates', () => {
  it('prices a Scan by read units of 4 KB, half for eventually consistent reads, on demand', () => {
    const facts = tableFacts({ sizeBytes: 3 * BYTES_PER_GB, itemCount: 3_000_000 });
    const costs = estimateCosts(facts);
    const units = (3 * BYTES_PER_GB) / 4096 / 2;
    expect(costs.scan.readUnits).toBe(units);
    expect(costs.scan.usd).toBeCloseTo((units / 1e6) * DEFAULT_PRICES.readPerMillion, 10);
    expect(costs.scan.durationMs).toBeCloseTo(
      (units / ((ON_DEMAND_READ_UNITS_PER_SECOND * DEFAULT_RATES.readPercent) / 100)) * 1000,
      6,
    );
    const consistent = estimateCosts(facts, DEFAULT_PRICES, { ...DEFAULT_RATES, consistentRead: true });
    expect(consistent.scan.readUnits).toBe(2 * units);
    expect(costs.export.usd).toBeCloseTo(3 * DEFAULT_PRICES.exportPerGb, 10);
    expect(costs.pitrMonthlyUsd).toBeCloseTo(3 * DEFAULT_PRICES.pitrPerGbMonth, 10);
  });

  it('prices touch by a write unit per started KB of each item with its marker, plus the Scan', () => {
    const facts = tableFacts({ sizeBytes: 1500 * 2000, itemCount: 2000 });
    const costs = estimateCosts(facts);
    const perItem = Math.ceil((1500 + TOUCH_MARKER_BYTES) / 1024);
    expect(costs.touch.writeUnits).toBe(2000 * perItem);
    expect(costs.touch.usd).toBeCloseTo(
      costs.scan.usd + ((2000 * perItem) / 1e6) * DEFAULT_PRICES.writePerMillion,
      12,
    );
  });

  it('charges nothing extra on a provisioned table but takes the share of its capacity', () => {
    const facts = tableFacts({ sizeBytes: BYTES_PER_GB, provisioned: { read: 100, write: 10 } });
    const costs = estimateCosts(facts, DEFAULT_PRICES, { ...DEFAULT_RATES, readPercent: 40 });
    expect(costs.scan.usd).toBe(0);
    expect(costs.readUnitsPerSecond).toBe(40);
    expect(costs.scan.durationMs).toBeCloseTo((costs.scan.readUnits / 40) * 1000, 6);
  });

  it('follows the prices given and bills an incremental export at least 10 MB', () => {
    const facts = tableFacts({ sizeBytes: 2 * BYTES_PER_GB });
    const prices = { ...DEFAULT_PRICES, exportPerGb: 0.114, incrementalExportPerGb: 0.2 };
    const costs = estimateCosts(facts, prices);
    expect(costs.export.usd).toBeCloseTo(2 * 0.114, 10);
    expect(costs.incrementalExportMinimumUsd).toBeCloseTo(
      (INCREMENTAL_EXPORT_MINIMUM_BYTES / BYTES_PER_GB) * 0.2,
      12,
    );
    expect(() => estimateCosts(facts, { ...DEFAULT_PRICES, readPerMillion: -1 })).toThrow(
      InvalidPlanOptionError,
    );
  });
});
