import { CreateTableCommand, DeleteTableCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  type BackfillTable,
  capacityTarget,
  defaultSegments,
  describeBackfillTable,
  MAX_SEGMENTS,
} from '../../src/backfill/backfill-table.ts';
import { itemSize, numberSize, pageReadUnits, valueSize, writeUnits } from '../../src/backfill/item-size.ts';
import { ScanError } from '../../src/backfill/scan-errors.ts';
import { estimateTouch } from '../../src/backfill/touch-estimate.ts';
import { dynamoDbClient, uniqueTableName } from '../support/local-stack.ts';

const ON_DEMAND: BackfillTable = {
  name: 'orders',
  arn: 'arn:aws:dynamodb:us-east-1:111122223333:table/orders',
  id: null,
  createdAt: null,
  partitionKey: 'pk',
  sortKey: 'sk',
  keyTypes: { pk: 'S', sk: 'S' },
  itemCount: 1000,
  sizeBytes: 1000 * 700,
  billingMode: 'PAY_PER_REQUEST',
  provisioned: { read: 0, write: 0 },
  onDemandMaximum: { read: null, write: null },
  warm: { read: null, write: null },
  stream: { enabled: true, viewType: 'NEW_AND_OLD_IMAGES', arn: null },
  indexesProjectingAll: [],
};
const PROVISIONED: BackfillTable = {
  ...ON_DEMAND,
  billingMode: 'PROVISIONED',
  provisioned: { read: 40, write: 0 },
};

describe('item sizes as DynamoDB bills them', () => {
  it('counts names and values: strings in UTF-8, numbers by significant digits, binary raw, containers with overhead', () => {
    expect(itemSize({ name: { S: 'abc' } })).toBe(4 + 3);
    expect(itemSize({ é: { S: '✓' } })).toBe(2 + 3);
    expect(numberSize('123.45')).toBe(4);
    expect(numberSize('-0.000100')).toBe(2);
    expect(numberSize('1E+125')).toBe(2);
    expect(numberSize('12345678901234567890123456789012345678')).toBe(20);
    expect(valueSize({ B: 'AAE=' })).toBe(2);
    expect(valueSize({ BS: ['AAE=', '/w=='] })).toBe(3);
    expect(valueSize({ BOOL: false })).toBe(1);
    expect(valueSize({ NULL: true })).toBe(1);
    expect(valueSize({ SS: ['a', 'bc'] })).toBe(3);
    expect(valueSize({ L: [{ S: 'a' }, { N: '1' }] })).toBe(3 + (1 + 1) + (1 + 2));
    expect(valueSize({ M: { x: { S: 'ab' } } })).toBe(3 + 1 + 1 + 2);
    expect(valueSize({ L: [] })).toBe(3);
  });

  it('rounds reads up to 4 KB per page (half for eventually consistent) and writes up to 1 KB per item', () => {
    expect(pageReadUnits(4097, true)).toBe(2);
    expect(pageReadUnits(4097, false)).toBe(1);
    expect(pageReadUnits(0, false)).toBe(0.5);
    expect(writeUnits(0)).toBe(1);
    expect(writeUnits(1024)).toBe(1);
    expect(writeUnits(1025)).toBe(2);
  });
});

describe('the rate a run may use', () => {
  it('takes the percentage of the provisioned capacity, or of what an on-demand table can serve', () => {
    expect(capacityTarget(PROVISIONED, 'read', {})).toEqual({
      unitsPerSecond: 20,
      source: 'provisioned',
      base: 40,
    });
    expect(capacityTarget(ON_DEMAND, 'read', { percent: 25 })).toEqual({
      unitsPerSecond: 3000,
      source: 'on-demand-initial',
      base: 12_000,
    });
    expect(capacityTarget(ON_DEMAND, 'write', {})).toMatchObject({ unitsPerSecond: 2000, base: 4000 });
    const warm = { ...ON_DEMAND, warm: { read: 30_000, write: 9_000 } };
    expect(capacityTarget(warm, 'read', {})).toMatchObject({
      unitsPerSecond: 15_000,
      source: 'warm-throughput',
    });
    const capped = { ...warm, onDemandMaximum: { read: 1000, write: null } };
    expect(capacityTarget(capped, 'read', {})).toMatchObject({
      unitsPerSecond: 500,
      source: 'on-demand-maximum',
    });
  });

  it('takes a rate given outright over any share, and Infinity as no limit', () => {
    expect(capacityTarget(PROVISIONED, 'read', { percent: 10, maxUnitsPerSecond: 123 })).toEqual({
      unitsPerSecond: 123,
      source: 'flag',
      base: null,
    });
    expect(capacityTarget(ON_DEMAND, 'read', { maxUnitsPerSecond: Number.POSITIVE_INFINITY })).toMatchObject({
      source: 'unlimited',
    });
  });

  it('refuses a share outside (0, 100], a rate that is not positive, and a share of no capacity', () => {
    for (const percent of [0, -5, 100.5, Number.NaN]) {
      expect(() => capacityTarget(ON_DEMAND, 'read', { percent })).toThrow(ScanError);
    }
    expect(() => capacityTarget(ON_DEMAND, 'read', { maxUnitsPerSecond: 0 })).toThrow(/positive number/);
    expect(() => capacityTarget(PROVISIONED, 'write', {})).toThrow(/--max-wcu/);
  });

  it('derives the segment count from the table size: one per 2 GB, at least one per core, at most 1,000,000', () => {
    expect(defaultSegments({ ...ON_DEMAND, sizeBytes: 0 }, 4)).toBe(4);
    expect(defaultSegments({ ...ON_DEMAND, sizeBytes: 10 * 1024 ** 3 }, 2)).toBe(5);
    expect(defaultSegments({ ...ON_DEMAND, sizeBytes: 10 * 1024 ** 3 }, 16)).toBe(16);
    expect(defaultSegments({ ...ON_DEMAND, sizeBytes: 2 ** 60 }, 2)).toBe(MAX_SEGMENTS);
  });
});

describe('the touch estimate', () => {
  it('counts write units per item from the average size plus the marker, for the table and each ALL index', () => {
    const table = {
      ...ON_DEMAND,
      itemCount: 1000,
      sizeBytes: 1000 * 1000,
      indexesProjectingAll: ['byStatus'],
    };
    const estimate = estimateTouch(table, {
      marker: '2026-11-24T08:43:31.764Z',
      writeTarget: { unitsPerSecond: 100, source: 'flag', base: null },
      pricePerMillionWriteUnits: 1,
      pricePerMillionReadUnits: 0,
    });
    // 1,000 bytes + 17 (name) + 24 (value) is over 1 KB: two units per item, twice (table and index).
    expect(estimate).toMatchObject({
      markerBytes: 41,
      writeUnitsPerItem: 2,
      writeUnits: 4000,
      durationMs: 40_000,
    });
    expect(estimate.costUsd).toBeCloseTo(0.004, 10);
    const resumed = estimateTouch(table, {
      marker: 'x',
      writeTarget: { unitsPerSecond: Number.POSITIVE_INFINITY, source: 'unlimited', base: null },
      resuming: { runId: 'r', itemsDone: 600 },
    });
    expect(resumed).toMatchObject({ items: 400, durationMs: null });
  });
});

describe('describeBackfillTable against DynamoDB Local', () => {
  it('reads keys, billing mode, provisioned capacity, stream and the indexes that project everything', async () => {
    const tableName = uniqueTableName('scan-describe');
    await dynamoDbClient().send(
      new CreateTableCommand({
        TableName: tableName,
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'status', AttributeType: 'S' },
        ],
        ProvisionedThroughput: { ReadCapacityUnits: 10, WriteCapacityUnits: 5 },
        GlobalSecondaryIndexes: [
          {
            IndexName: 'byStatus',
            KeySchema: [{ AttributeName: 'status', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'ALL' },
            ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 },
          },
          {
            IndexName: 'keysOnly',
            KeySchema: [{ AttributeName: 'status', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'KEYS_ONLY' },
            ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 },
          },
        ],
      }),
    );
    try {
      await waitUntilTableExists({ client: dynamoDbClient(), maxWaitTime: 30 }, { TableName: tableName });
      const table = await describeBackfillTable(dynamoDbClient(), tableName);
      expect(table).toMatchObject({
        name: tableName,
        partitionKey: 'pk',
        sortKey: 'sk',
        billingMode: 'PROVISIONED',
        provisioned: { read: 10, write: 5 },
        stream: { enabled: false },
        indexesProjectingAll: ['byStatus'],
      });
      expect(table.arn.endsWith(`:table/${tableName}`)).toBe(true);
      expect(capacityTarget(table, 'write', { percent: 40 })).toMatchObject({ unitsPerSecond: 2 });
    } finally {
      await dynamoDbClient().send(new DeleteTableCommand({ TableName: tableName }));
    }
  });
});
