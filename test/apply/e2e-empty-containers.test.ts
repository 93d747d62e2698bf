import { DeleteItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { applyBatch, type LocalBatchResult } from '../../src/apply/apply-batch.ts';
import { scanExport } from '../../src/backfill/scan-export.ts';
import type { AttributeValue, Item } from '../../src/dynamo/attribute-value.ts';
import { toSdkItem } from '../../src/dynamo/sdk-interop.ts';
import { changeFilesPrefix, parseChangeFileKey } from '../../src/formats/change-file-key.ts';
import { readChangeFile } from '../../src/formats/change-file-reader.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import { checkHandoff } from '../../src/plan/handoff-check.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { verifyTable } from '../../src/verify/verify-table.ts';
import { newStreamsClient } from '../support/dynamodb-streams.ts';
import { createStreamTable, dynamoDbClient, dynamodbEndpoint } from '../support/local-stack.ts';
import { tempStore } from './run-support.ts';
import { BackgroundCapture } from './support/background-capture.ts';
import { readLakeItems } from './support/lake-items.ts';

/*
 * Empty maps and lists through the whole pipeline on the embedded stack: DynamoDB Local's stream,
 * the local poller and the capture handler, a Scan export, apply's batches, verify. DynamoDB sends
 * an empty map in a stream image as {"M": {}} and an empty list as {"L": []}; DynamoDB Local 3.x
 * sends the map as a bare {} (docs/DESIGN.md, pitfalls), which capture must refuse, so on such a
 * build the changes below are quarantined and this test fails at its first check, naming each
 * refused record and its reason. The handoff is waited for as the demo waits: DynamoDB Local
 * stamps stream records to the minute, so the margin is 60 s and the first captured change must be
 * stamped at least that long before the Scan starts (up to a minute of waiting).
 */

const MARGIN_MS = 60_000;
const M = (members: Record<string, AttributeValue> = {}): AttributeValue => ({ M: members });
const L = (...values: AttributeValue[]): AttributeValue => ({ L: values });

/** Empty containers at the top, in lists, in maps, and two levels down. */
const EMPTIES: Item = {
  pk: { S: 'empties' },
  m: M(),
  l: L(),
  nested: L(M(), L(), M({ x: L(), y: M() }), L(L(), M())),
  doc: M({ e: M(), f: L(), g: M({ h: M(), i: L(L()) }) }),
};

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.allSettled(cleanups.map((cleanup) => cleanup()));
});

async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list(prefix)) keys.push(info.key);
  return keys;
}

async function changeRecords(store: ObjectStore, table: string): Promise<ChangeRecord[]> {
  const records: ChangeRecord[] = [];
  for await (const object of store.list(changeFilesPrefix(table))) {
    if (parseChangeFileKey(object.key) === undefined) continue;
    for await (const { record } of readChangeFile(store, object.key)) records.push(record);
  }
  return records.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1));
}

/** What capture refused, one `key: path: reason` line per quarantined record. */
async function captureQuarantine(landing: ObjectStore, table: string): Promise<string[]> {
  const lines: string[] = [];
  for (const key of await keysUnder(landing, `_ddb_lake/quarantine/capture/${table}/`)) {
    const entry = JSON.parse(new TextDecoder().decode(await landing.getBytes(key)));
    lines.push(`${key}: ${entry.path}: ${entry.reason}`);
  }
  return lines;
}

function applied(result: LocalBatchResult): Extract<LocalBatchResult, { outcome: 'applied' }> {
  if (result.outcome !== 'applied')
    throw new Error(`expected the batch to be applied, got ${JSON.stringify(result)}`);
  return result;
}

describe('empty maps and lists on the embedded stack, from the stream to the Delta table', () => {
  it('are captured with their M and L tags (new and old images, nested, after an UpdateItem REMOVE of the last member), applied, and verify finds the tables equal with nothing quarantined', {
    timeout: 180_000,
  }, async () => {
    const table = await createStreamTable({ prefix: 'e2e-empties' });
    cleanups.push(() => table.drop());
    const client = dynamoDbClient();
    const streams = newStreamsClient(dynamodbEndpoint());
    cleanups.push(async () => streams.destroy());
    const landing = await tempStore('empties-landing');
    const delta = await tempStore('empties-delta');
    const capture = new BackgroundCapture({
      stream: { table: table.tableName, streamArn: table.streamArn },
      streams,
      landing,
    });
    cleanups.push(() => capture.stop());

    const put = (item: Item) =>
      client.send(new PutItemCommand({ TableName: table.tableName, Item: toSdkItem(item) }));
    const update = (
      pk: string,
      expression: string,
      values: Record<string, AttributeValue> = {},
      names: Record<string, string> = {},
    ) =>
      client.send(
        new UpdateItemCommand({
          TableName: table.tableName,
          Key: { pk: { S: pk } },
          UpdateExpression: expression,
          ...(Object.keys(values).length === 0 ? {} : { ExpressionAttributeValues: toSdkItem(values) }),
          ...(Object.keys(names).length === 0 ? {} : { ExpressionAttributeNames: names }),
        }),
      );
    const remove = (pk: string) =>
      client.send(new DeleteItemCommand({ TableName: table.tableName, Key: { pk: { S: pk } } }));
    const verify = async (when: string) => {
      const report = await verifyTable({
        client,
        table: table.tableName,
        delta,
        segments: 2,
        settleMs: 0,
        maxReadUnitsPerSecond: Number.POSITIVE_INFINITY,
      });
      expect(report, `${when}: ${JSON.stringify(report.different.keys)}`).toMatchObject({
        equal: true,
        missing: { count: 0 },
        extra: { count: 0 },
        different: { count: 0 },
      });
      return report;
    };

    // Before the Scan. Capture starts after the first write (a TRIM_HORIZON iterator on a still
    // empty shard of DynamoDB Local can be refused as trimmed, which capture records as a gap).
    await put({ pk: { S: 'counter' }, n: { N: '0' } });
    capture.start();
    await put(EMPTIES);
    await put({ pk: { S: 'one-member' }, prefs: M({ theme: { S: 'dark' } }) });
    await put({ pk: { S: 'snapshot-only' }, m: M(), l: L(M(), L()) });
    await put({ pk: { S: 'to-delete' }, m: M({ a: M() }), l: L(L()) });
    const waitingSince = Date.now();
    while (
      !(
        await checkHandoff({
          store: landing,
          table: table.tableName,
          exportTime: new Date(),
          marginMs: MARGIN_MS,
        })
      ).ok
    ) {
      capture.check();
      if (Date.now() - waitingSince > 100_000)
        throw new Error('the captured changes never covered the handoff');
      await update('counter', 'SET n = n + :one', { ':one': { N: '1' } });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const exported = await scanExport({ client, table: table.tableName, landing, resume: 'none' });

    // After the Scan: these reach the lake only through the stream.
    await update('one-member', 'REMOVE prefs.theme');
    await update('empties', 'SET m2 = :m, l2 = :l, nested = list_append(nested, :more)', {
      ':m': M(),
      ':l': L(),
      ':more': L(M(), L()),
    });
    await update('counter', 'SET settings = :m', { ':m': M() });
    await put({ pk: { S: 'inserted' }, only: L(M({ deep: L(M()) })) });
    await remove('to-delete');
    await capture.drain();
    // Checked first, as it names the cause when the emulator build is wrong.
    expect(
      await captureQuarantine(landing, table.tableName),
      'capture refused stream records: does this DynamoDB Local build send an empty map without its M tag? (docs/DESIGN.md, pitfalls)',
    ).toEqual([]);
    const first = applied(
      await applyBatch({
        landing,
        delta,
        table: table.tableName,
        snapshot: exported.exportId,
        keys: { partition: 'pk' },
        marginMs: MARGIN_MS,
      }),
    );
    expect(first.batch).toBe(1);
    await verify('after batch 1');

    // A later batch: a map emptied member by member, an item from the snapshot emptied, an empty
    // map nested two levels down, an item overwritten with nothing but empties.
    capture.start();
    await update('snapshot-only', 'SET m.k = :v', { ':v': { S: 'v' } });
    await update('snapshot-only', 'REMOVE m.k, l[0]');
    await update('empties', 'REMOVE doc.g.#h', {}, { '#h': 'h' });
    await update('one-member', 'SET prefs.a = :a, prefs.b = :b', { ':a': M(), ':b': L() });
    await update('one-member', 'REMOVE prefs.a, prefs.b');
    await put({ pk: { S: 'inserted' }, m: M(), l: L() });
    await capture.drain();
    const second = applied(await applyBatch({ landing, delta, table: table.tableName }));
    expect(second.batch).toBe(2);
    const report = await verify('after batch 2');
    expect(report.tableItems).toBe(5);

    // The change files hold the values exactly as written, tags included.
    const records = await changeRecords(landing, table.tableName);
    const ofKey = (pk: string) => records.filter((record) => (record.keys['pk'] as { S: string }).S === pk);
    expect(ofKey('empties')[0]).toMatchObject({ op: 'INSERT', new: EMPTIES, old: null });
    const emptied = ofKey('one-member')[1];
    expect(emptied).toMatchObject({
      op: 'MODIFY',
      new: { prefs: M() },
      old: { prefs: M({ theme: { S: 'dark' } }) },
    });
    expect(ofKey('to-delete').at(-1)).toMatchObject({
      op: 'REMOVE',
      new: null,
      old: { pk: { S: 'to-delete' }, m: M({ a: M() }), l: L(L()) },
    });
    expect(ofKey('one-member').at(-1)).toMatchObject({
      new: { prefs: M() },
      old: { prefs: M({ a: M(), b: L() }) },
    });

    // Nothing was refused on the way: no capture quarantine in the landing area, none beside the table.
    expect(await keysUnder(landing, '_ddb_lake/quarantine/')).toEqual([]);
    expect(await keysUnder(delta, '_ddb_lake/quarantine/')).toEqual([]);
    expect(first.quarantined + second.quarantined).toBe(0);

    // And the lake rows hold the empties as plain JSON {} and [].
    const lake = await readLakeItems(delta);
    const row = (pk: string) => JSON.parse(lake.items.get(JSON.stringify({ pk })) ?? 'null');
    expect(row('one-member')).toEqual({ pk: 'one-member', prefs: {} });
    expect(row('snapshot-only')).toEqual({ pk: 'snapshot-only', m: {}, l: [[]] });
    expect(row('empties')).toEqual({
      pk: 'empties',
      m: {},
      l: [],
      m2: {},
      l2: [],
      nested: [{}, [], { x: [], y: {} }, [[], {}], {}, []],
      doc: { e: {}, f: [], g: { i: [[]] } },
    });
    expect(row('counter')).toMatchObject({ settings: {} });
    expect(row('inserted')).toEqual({ pk: 'inserted', m: {}, l: [] });
    expect(row('to-delete')).toBeNull();
  });
});
