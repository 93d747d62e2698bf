import { describe, expect, it } from 'vitest';
import type { Item } from '../../src/dynamo/attribute-value.ts';
import { LOCAL_DYNAMODB_CREDENTIALS, LOCAL_REGION } from '../../src/local/dynamodb-local.ts';
import { VerifyError } from '../../src/verify/verify-errors.ts';
import type { VerifyReport } from '../../src/verify/verify-report.ts';
import { type VerifyOptions, verifyTable } from '../../src/verify/verify-table.ts';
import { createStreamTable, dynamoDbClient, dynamodbEndpoint } from '../support/local-stack.ts';
import { runDdbLake } from '../support/run-cli.ts';
import { LakePair, order, orderKey } from './support/lake-pair.ts';

const AWS_ENV = {
  AWS_REGION: LOCAL_REGION,
  AWS_ACCESS_KEY_ID: LOCAL_DYNAMODB_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: LOCAL_DYNAMODB_CREDENTIALS.secretAccessKey,
  AWS_EC2_METADATA_DISABLED: 'true',
};

const ITEMS = Array.from({ length: 120 }, (_, n) => order(n));

function verify(pair: LakePair, options: Partial<VerifyOptions> = {}): Promise<VerifyReport> {
  return verifyTable({
    client: dynamoDbClient(),
    table: pair.table.tableName,
    delta: pair.delta,
    segments: 4,
    settleMs: 0,
    maxReadUnitsPerSecond: Number.POSITIVE_INFINITY,
    ...options,
  });
}

function differentKey(report: VerifyReport, key: string) {
  return report.different.keys.find((entry) => entry.key === key);
}

describe('verify: a DynamoDB table against the lake table the pipeline built from it', () => {
  it('an equal pair is reported equal, and the command exits 0', { timeout: 60_000 }, async () => {
    const pair = await LakePair.build('verify-equal', ITEMS);
    const report = await verify(pair);
    expect(report).toMatchObject({
      equal: true,
      tableItems: ITEMS.length,
      lakeRows: ITEMS.length,
      matched: ITEMS.length,
      missing: { count: 0, keys: [] },
      extra: { count: 0, keys: [] },
      different: { count: 0, keys: [] },
      sample: null,
      settle: null,
    });
    expect(report.scan.readUnits).toBeGreaterThan(0);

    const run = await runDdbLake(
      [
        'verify',
        '--table',
        pair.table.tableName,
        '--delta',
        pair.delta.rootDir,
        '--endpoint-url',
        dynamodbEndpoint(),
        '--settle',
        '0',
        '--json',
      ],
      AWS_ENV,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      equal: true,
      tableItems: ITEMS.length,
      matched: ITEMS.length,
    });

    // A sample reads a share of the segments and says so; the same seed chooses the same segments.
    const sampled = await verify(pair, { sample: 0.5, sampleSeed: 7 });
    expect(sampled.equal).toBe(true);
    expect(sampled.sample).toMatchObject({ share: 0.5, seed: 7, totalSegments: 4 });
    expect(sampled.sample?.segments).toHaveLength(2);
    expect(sampled.sample?.lakeKeysChecked).toBeGreaterThan(0);
    expect(sampled.sample?.lakeKeysChecked).toBeLessThan(ITEMS.length);
    // Sampled lake keys the scanned segments did not hold were read with consistent GetItems.
    expect(sampled.sample?.lakeKeysRead).toBeGreaterThan(0);
    expect(sampled.tableItems).toBeLessThanOrEqual(ITEMS.length);
    expect(sampled.matched).toBe(sampled.tableItems);
    expect((await verify(pair, { sample: 0.5, sampleSeed: 7 })).sample?.segments).toEqual(
      sampled.sample?.segments,
    );
    const human = await runDdbLake(
      [
        'verify',
        '--table',
        pair.table.tableName,
        '--delta',
        pair.delta.rootDir,
        '--endpoint-url',
        dynamodbEndpoint(),
        '--segments',
        '4',
        '--sample',
        '50%',
        '--settle',
        '0',
      ],
      AWS_ENV,
    );
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^EQUAL: .*\(of the sample\)/);
    expect(human.stdout).toContain('sampled: 50% — 2 of 4 segments');
  });

  it('planted differences are each found, of the right kind, with the attribute named', {
    timeout: 60_000,
  }, async () => {
    const pair = await LakePair.build('verify-planted', ITEMS);
    const newItem = order(500);
    await pair.put(newItem); // missing from the lake
    await pair.delete(order(3)); // extra in the lake
    await pair.put({ ...order(4), status: { S: 'cancelled' } }); // one attribute off
    await pair.put({ ...order(1), total: { N: '1234567890123456789012345678901234567.9' } }); // the 38th digit
    await pair.put({ ...order(5), tags: { SS: ['a', 'tag-5'] } }); // a set element missing
    await pair.put({ ...order(6), weights: { NS: ['1.5', '60'] } }); // a number set element missing

    const report = await verify(pair);
    expect(report.equal).toBe(false);
    expect(report.missing).toEqual({ count: 1, keys: [orderKey(500)] });
    expect(report.extra).toEqual({ count: 1, keys: [orderKey(3)] });
    expect(report.different.count).toBe(4);
    expect(report.tableItems).toBe(ITEMS.length);
    expect(report.lakeRows).toBe(ITEMS.length);
    expect(report.matched).toBe(ITEMS.length - 1 - 4);
    expect(differentKey(report, orderKey(4))?.attributes).toEqual([
      { attribute: 'status', table: '"cancelled"', lake: '"open"' },
    ]);
    expect(differentKey(report, orderKey(1))?.attributes).toEqual([
      {
        attribute: 'total',
        table: '1234567890123456789012345678901234567.9',
        lake: '1234567890123456789012345678901234567.8',
      },
    ]);
    expect(differentKey(report, orderKey(5))?.attributes).toEqual([
      { attribute: 'tags', table: '["a","tag-5"]', lake: '["a","b","tag-5"]' },
    ]);
    expect(differentKey(report, orderKey(6))?.attributes).toEqual([
      { attribute: 'weights', table: '[1.5,60]', lake: '[1.5,2,60]' },
    ]);

    // The command says the same and exits 1.
    const run = await runDdbLake(
      [
        'verify',
        '--table',
        pair.table.tableName,
        '--delta',
        pair.delta.rootDir,
        '--endpoint-url',
        dynamodbEndpoint(),
        '--settle',
        '0',
        '--limit',
        '2',
      ],
      AWS_ENV,
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^DIFFERENT: /);
    expect(run.stdout).toContain(`missing   ${orderKey(500)}`);
    expect(run.stdout).toContain(`extra     ${orderKey(3)}`);
    expect(run.stdout).toContain('… and 2 more different');
  });

  it('a difference repaired during the settle wait is not reported; one left stays', {
    timeout: 60_000,
  }, async () => {
    const pair = await LakePair.build('verify-settle', ITEMS);
    const reverted = order(10);
    const appliedLater: Item = { ...order(11), status: { S: 'returned' } };
    await pair.put({ ...reverted, status: { S: 'in flight' } });
    await pair.put(appliedLater);
    await pair.put({ ...order(13), paid: { BOOL: true } }); // 13 is not paid in the lake

    let waited = 0;
    let latest: number | undefined;
    const report = await verify(pair, {
      settleMs: 30_000,
      sleep: async (ms) => {
        waited = ms;
        await pair.put(reverted); // the table goes back to what the lake holds
        await pair.captured([{ item: appliedLater }]); // the lake catches up with a new batch
        const batch = await pair.apply();
        expect(batch).toMatchObject({ outcome: 'applied', batch: 2 });
        // The batch's commit, or the optimize apply ran after it.
        if (batch.outcome === 'applied')
          latest =
            batch.optimize?.outcome === 'optimized'
              ? (batch.optimize.version ?? batch.version)
              : batch.version;
      },
    });
    expect(waited).toBe(30_000);
    expect(report.settle).toMatchObject({
      waitedMs: 30_000,
      rechecked: 3,
      settled: 2,
      capped: false,
    });
    // The re-check read the table as the batch left it, at a version after the one compared.
    expect(latest).toBeGreaterThan(report.deltaVersion);
    expect(report.settle?.deltaVersion).toBe(latest);
    expect(report.equal).toBe(false);
    expect(report.different.count).toBe(1);
    expect(report.different.keys).toEqual([
      { key: orderKey(13), attributes: [{ attribute: 'paid', table: 'true', lake: 'false' }] },
    ]);
    expect(report.missing.count + report.extra.count).toBe(0);
  });

  it('a lake table keyed otherwise than the DynamoDB table is refused, naming both keys', async () => {
    const pair = await LakePair.build('verify-keys', ITEMS.slice(0, 5));
    const other = await createStreamTable({
      prefix: 'verify-other-keys',
      partitionKey: { name: 'id', type: 'S' },
    });
    try {
      const error = await verifyTable({
        client: dynamoDbClient(),
        table: other.tableName,
        delta: pair.delta,
        settleMs: 0,
      }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(VerifyError);
      expect(error).toMatchObject({ code: 'VERIFY_KEY_MISMATCH' });
      expect((error as Error).message).toContain('keyed by "id"');
      expect((error as Error).message).toContain('"pk" and "sk"');
    } finally {
      await other.drop();
    }
  });
});
