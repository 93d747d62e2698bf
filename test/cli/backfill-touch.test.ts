import { describe, expect, it } from 'vitest';
import { TOUCH_MARKER_ATTRIBUTE } from '../../src/backfill/touch-marker.ts';
import type { SdkItem } from '../../src/dynamo/sdk-interop.ts';
import { fromSdkItem } from '../../src/dynamo/sdk-interop.ts';
import { LOCAL_DYNAMODB_CREDENTIALS, LOCAL_REGION } from '../../src/local/dynamodb-local.ts';
import { sampleOrders } from '../../src/local/sample-orders.ts';
import { keyOf, keysUnder, tableWith, tempLanding } from '../backfill/scan-support.ts';
import { readShards } from '../capture/support-stream.ts';
import { dynamodbEndpoint } from '../support/local-stack.ts';
import { runDdbLake } from '../support/run-cli.ts';

const AWS_ENV = {
  AWS_REGION: LOCAL_REGION,
  AWS_ACCESS_KEY_ID: LOCAL_DYNAMODB_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: LOCAL_DYNAMODB_CREDENTIALS.secretAccessKey,
  AWS_EC2_METADATA_DISABLED: 'true',
};

async function streamEvents(streamArn: string): Promise<string[]> {
  return (await readShards(streamArn)).flatMap((shard) =>
    shard.records.map((record) => record.eventName ?? ''),
  );
}

describe('ddb-lake backfill touch', () => {
  it('without a terminal and without --yes shows the estimate, refuses with exit code 2 and writes nothing', async () => {
    const items = [...sampleOrders(30, 31)];
    const table = await tableWith(items, 'cli-touch-refused');
    const { folder, store } = await tempLanding();
    const run = await runDdbLake(
      [
        'backfill',
        'touch',
        '--table',
        table.tableName,
        '--landing',
        folder,
        '--endpoint-url',
        dynamodbEndpoint(),
      ],
      AWS_ENV,
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`Touching ~30 items of ${table.tableName}`);
    expect(run.stderr).toMatch(/Estimated: [\d,]+ write units/);
    expect(run.stderr).toContain('no terminal to ask on. Nothing was written.');
    expect(run.stderr).toContain('--yes');
    expect(run.stdout).toBe('');
    expect(await streamEvents(table.streamArn)).toEqual(items.map(() => 'INSERT'));
    expect(await keysUnder(store, '')).toEqual([]);
  });

  it('with --yes --json touches every item once and prints the counts as one JSON document', async () => {
    const items = [...sampleOrders(40, 32)];
    const table = await tableWith(items, 'cli-touch');
    const { folder } = await tempLanding();
    const run = await runDdbLake(
      [
        'backfill',
        'touch',
        '--table',
        table.tableName,
        '--landing',
        folder,
        '--endpoint-url',
        dynamodbEndpoint(),
        '--segments',
        '2',
        '--price-wru',
        '1.25',
        '--yes',
        '--json',
      ],
      AWS_ENV,
    );
    expect(run.stderr).not.toContain('ddb-lake:');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({
      outcome: 'complete',
      markerAttribute: TOUCH_MARKER_ATTRIBUTE,
      touched: items.length,
      skipped: 0,
      estimate: { items: items.length, pricePerMillionWriteUnits: 1.25 },
    });
    const records = (await readShards(table.streamArn)).flatMap((shard) => shard.records);
    const modifies = records.filter((record) => record.eventName === 'MODIFY');
    expect(modifies.length).toBe(items.length);
    expect(new Set(modifies.map((record) => keyOf(fromSdkItem(record.dynamodb?.Keys as SdkItem)))).size).toBe(
      items.length,
    );
    for (const record of modifies) {
      expect(record.dynamodb?.NewImage?.[TOUCH_MARKER_ATTRIBUTE]).toEqual({ S: result.marker });
    }
  });
});
