import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient, _Record as SdkStreamRecord } from '@aws-sdk/client-dynamodb-streams';
import { afterAll, describe, expect, it } from 'vitest';
import { type AppliedBatch, applyBatch } from '../../src/apply/apply-batch.ts';
import { CaptureQuarantineBlockedError } from '../../src/apply/inputs/capture-quarantine-errors.ts';
import { listCaptureQuarantine } from '../../src/apply/inputs/capture-quarantine-gate.ts';
import { scanExport } from '../../src/backfill/scan-export.ts';
import { replayCaptureQuarantine } from '../../src/capture/capture-quarantine-replay.ts';
import { pollStream } from '../../src/capture/stream-poller.ts';
import { type StreamsApi, streamsApiOf } from '../../src/capture/stream-poller-api.ts';
import { checkHandoff } from '../../src/plan/handoff-check.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { verifyTable } from '../../src/verify/verify-table.ts';
import { newStreamsClient } from '../support/dynamodb-streams.ts';
import { createStreamTable, dynamoDbClient, dynamodbEndpoint } from '../support/local-stack.ts';
import { fixInPlace } from './support/stream-records.ts';

/*
 * The capture quarantine end to end on DynamoDB Local (DESIGN.md rule 7): a real table and its real
 * stream, captured by the stream poller; one record of the stream is handed to capture damaged (its
 * new image's number replaced by text, as a faulty emulator or a bad deploy could send it), so
 * capture quarantines it. Apply then commits nothing, verify finds the lake behind DynamoDB; the
 * record is fixed in place and replayed, and after the next batch verify finds the two equal.
 *
 * Apply and verify run with the real clock: the stream records are dated by it.
 */

/** DynamoDB Local stamps stream records to the whole minute: a minute of margin covers that (see e2e-workload). */
const MARGIN_MS = 60_000;

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.allSettled(cleanups.map((cleanup) => cleanup()));
});

async function tempStore(prefix: string): Promise<LocalFolderStore> {
  const folder = await mkdtemp(path.join(tmpdir(), prefix));
  cleanups.push(() => rm(folder, { recursive: true, force: true }));
  return new LocalFolderStore(folder);
}

/** The Streams API with every record `damage` picks handed over with its `amount` made unreadable. */
function damagingStreams(
  client: DynamoDBStreamsClient,
  damage: (record: SdkStreamRecord) => boolean,
): StreamsApi {
  const api = streamsApiOf(client);
  return {
    ...api,
    async getRecords(input) {
      const page = await api.getRecords(input);
      for (const record of page.Records ?? []) {
        const image = record.dynamodb?.NewImage;
        if (image !== undefined && damage(record)) image['amount'] = { N: 'twelve' };
      }
      return page;
    },
  };
}

describe('a record capture quarantined, end to end on DynamoDB Local', () => {
  it('holds apply while verify finds the lake behind; fixed and replayed, the next batch makes verify equal', {
    timeout: 180_000,
  }, async () => {
    const table = await createStreamTable({ prefix: 'quarantine-e2e' });
    cleanups.push(() => table.drop());
    const streams = newStreamsClient(dynamodbEndpoint());
    cleanups.push(async () => streams.destroy());
    const landing = await tempStore('ddb-lake-qe2e-landing-');
    const delta = await tempStore('ddb-lake-qe2e-delta-');
    const client = dynamoDbClient();
    const stream = { table: table.tableName, streamArn: table.streamArn };
    const putAmount = (pk: string, amount: string) =>
      client.send(
        new PutItemCommand({ TableName: table.tableName, Item: { pk: { S: pk }, amount: { N: amount } } }),
      );
    const capture = async (api: StreamsApi = streamsApiOf(streams)) =>
      pollStream({ stream, streams: api, store: landing, untilIdle: true, pollIntervalMs: 50 });
    const verify = () =>
      verifyTable({
        client,
        table: table.tableName,
        delta,
        segments: 2,
        settleMs: 0,
        maxReadUnitsPerSecond: Number.POSITIVE_INFINITY,
      });

    // Capture from the first write on, then a trickle of writes until the captured changes cover a
    // handoff at now; the Scan export; a few more writes; batch 1.
    await putAmount('item-0', '0');
    await capture();
    let n = 1;
    const started = Date.now();
    for (;;) {
      const check = await checkHandoff({
        store: landing,
        table: table.tableName,
        exportTime: new Date(),
        marginMs: MARGIN_MS,
      });
      if (check.ok) break;
      if (Date.now() - started > 120_000) throw new Error('the captured changes never covered the handoff');
      await putAmount(`item-${n++}`, String(n));
      await capture();
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const exported = await scanExport({
      client,
      table: table.tableName,
      landing,
      segments: 2,
      resume: 'none',
    });
    await putAmount('item-0', '100');
    await capture();
    const first = (await applyBatch({
      landing,
      delta,
      table: table.tableName,
      snapshot: exported.exportId,
      keys: { partition: 'pk' },
      marginMs: MARGIN_MS,
    })) as AppliedBatch;
    expect(first).toMatchObject({ outcome: 'applied', batch: 1 });
    expect((await verify()).equal).toBe(true);

    // Phase 2: an update whose stream record reaches capture damaged, among others that do not.
    await client.send(
      new UpdateItemCommand({
        TableName: table.tableName,
        Key: { pk: { S: 'item-0' } },
        UpdateExpression: 'SET amount = :a',
        ExpressionAttributeValues: { ':a': { N: '12' } },
      }),
    );
    await putAmount('item-new', '7');
    await client.send(new DeleteItemCommand({ TableName: table.tableName, Key: { pk: { S: 'item-1' } } }));
    const summary = await capture(
      damagingStreams(
        streams,
        (record) => record.eventName === 'MODIFY' && record.dynamodb?.NewImage?.['amount']?.N === '12',
      ),
    );
    expect(summary.quarantined).toBe(1);
    const [hole] = await listCaptureQuarantine(landing, table.tableName);
    expect(hole?.reason).toMatch(/twelve/);

    // Apply commits nothing past the hole; the lake is behind DynamoDB.
    const held = applyBatch({ landing, delta, table: table.tableName });
    await expect(held).rejects.toThrow(CaptureQuarantineBlockedError);
    await expect(held).rejects.toMatchObject({
      entries: [{ key: hole?.key, seq: hole?.seq, shard: hole?.shard }],
    });
    const behind = await verify();
    expect(behind.equal).toBe(false);
    expect(behind.deltaVersion).toBe(first.version);

    // The person fixes the record in place (the value DynamoDB holds) and replays it.
    await fixInPlace(landing, hole?.key as string, (record) => {
      (record.dynamodb as { NewImage: Record<string, unknown> }).NewImage['amount'] = { N: '12' };
    });
    const replay = await replayCaptureQuarantine({ landing, table: table.tableName });
    expect(replay.outcomes.map((outcome) => outcome.outcome)).toEqual(['replayed']);
    const second = (await applyBatch({ landing, delta, table: table.tableName })) as AppliedBatch;
    expect(second).toMatchObject({ outcome: 'applied', batch: 2, replayedCaptureRecords: 1 });
    const report = await verify();
    expect(report.missing.count + report.extra.count + report.different.count).toBe(0);
    expect(report.equal).toBe(true);
  });
});
