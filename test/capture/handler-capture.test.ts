import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureBatch } from '../../src/capture/capture-batch.ts';
import type { CaptureLogEntry } from '../../src/capture/capture-log.ts';
import { InvalidCaptureBatchError } from '../../src/capture/errors.ts';
import { parseChangeFileKey } from '../../src/formats/change-file-key.ts';
import { readChangeFile } from '../../src/formats/change-file-reader.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import { runScenario, type Scenario, typedItemText, UPDATED_TOTAL } from './support-scenario.ts';
import { alteredRecord, asTtlDeletion, keysUnder, tempLanding } from './support-stream.ts';

describe('captureBatch with the records of a real DynamoDB Local stream', () => {
  let scenario: Scenario;

  beforeAll(async () => {
    scenario = await runScenario('NEW_AND_OLD_IMAGES');
  });
  afterAll(async () => {
    await scenario?.table.drop();
  });

  async function readBack(store: Parameters<typeof readChangeFile>[0], key: string): Promise<ChangeRecord[]> {
    const records: ChangeRecord[] = [];
    for await (const { record } of readChangeFile(store, key)) records.push(record);
    return records;
  }

  it('writes the batch as one change file whose lines equal the stream records, image for image', async () => {
    const { store } = await tempLanding();
    const result = await captureBatch(scenario.event, { store });

    const sdkRecords = scenario.shard.records;
    expect(sdkRecords).toHaveLength(scenario.expected.length);
    expect(result.records).toBe(sdkRecords.length);
    expect(result.batchItemFailures).toEqual([]);
    expect(result.quarantined).toEqual([]);
    expect(await keysUnder(store, '')).toEqual(result.files.map((file) => file.key));
    const [file] = result.files;
    expect(result.files).toHaveLength(1);

    const first = sdkRecords[0]!;
    const last = sdkRecords[sdkRecords.length - 1]!;
    const label = `lambda-${createHash('sha256').update(first.eventID!).digest('hex').slice(0, 16)}`;
    const firstTs = first.dynamodb!.ApproximateCreationDateTime!.getTime();
    expect(parseChangeFileKey(file!.key)).toEqual({
      table: scenario.table.tableName,
      date: new Date(firstTs).toISOString().slice(0, 10),
      shard: label,
      firstSeq: first.dynamodb!.SequenceNumber,
      lastSeq: last.dynamodb!.SequenceNumber,
    });
    expect(file!.records).toBe(sdkRecords.length);
    expect(file!.bytes).toBe((await store.getBytes(file!.key)).length);

    const lines = await readBack(store, file!.key);
    expect(lines).toHaveLength(sdkRecords.length);
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const sdk = sdkRecords[i]!;
      const expected = scenario.expected[i]!;
      expect(line.op).toBe(expected.op);
      expect(line.op).toBe(sdk.eventName);
      expect(typedItemText(line.keys)).toBe(typedItemText(expected.keys));
      expect(typedItemText(line.new)).toBe(typedItemText(expected.new));
      expect(typedItemText(line.old)).toBe(typedItemText(expected.old));
      expect(line.seq).toBe(sdk.dynamodb!.SequenceNumber);
      expect(line.shard).toBe(label);
      expect(line.ts).toBe(sdk.dynamodb!.ApproximateCreationDateTime!.getTime());
      expect(line.ttl).toBe(false);
      expect(line.eventId).toBe(sdk.eventID);
    }
    // The 38-digit total of the updates came through as text, digit for digit.
    expect(
      lines.filter((line) => JSON.stringify(line.new?.['total']) === JSON.stringify({ N: UPDATED_TOTAL })),
    ).toHaveLength(3);
  });

  it('a retried batch rewrites the same key with the same bytes', async () => {
    const { store } = await tempLanding();
    const first = await captureBatch(scenario.event, { store });
    const bytes = await store.getBytes(first.files[0]!.key);
    const again = await captureBatch(structuredClone(scenario.event), { store });
    expect(again.files).toEqual(first.files);
    expect(Buffer.from(await store.getBytes(again.files[0]!.key)).equals(Buffer.from(bytes))).toBe(true);
    expect(await keysUnder(store, '')).toEqual([first.files[0]!.key]);
  });

  it('batches that start at different records get different labels, so their files never collide', async () => {
    const { store } = await tempLanding();
    const whole = await captureBatch(scenario.event, { store });
    const tail = await captureBatch({ Records: scenario.event.Records.slice(1) }, { store });
    const wholeKey = parseChangeFileKey(whole.files[0]!.key)!;
    const tailKey = parseChangeFileKey(tail.files[0]!.key)!;
    expect(tailKey.shard).not.toBe(wholeKey.shard);
    expect(tailKey.firstSeq).toBe(scenario.event.Records[1]!.dynamodb!.SequenceNumber);
    expect(await keysUnder(store, '')).toHaveLength(2);
  });

  it('with the shard id the poller passes, the key and every line name that shard', async () => {
    const { store } = await tempLanding();
    const result = await captureBatch(scenario.event, { store, shardId: scenario.shard.shardId });
    expect(parseChangeFileKey(result.files[0]!.key)?.shard).toBe(scenario.shard.shardId);
    const lines = await readBack(store, result.files[0]!.key);
    expect(new Set(lines.map((line) => line.shard))).toEqual(new Set([scenario.shard.shardId]));
  });

  it('logs records, bytes, object key and duration as JSON, and never an item value', async () => {
    const { store } = await tempLanding();
    const entries: CaptureLogEntry[] = [];
    const result = await captureBatch(scenario.event, { store, log: (entry) => entries.push(entry) });
    const written = entries.find((entry) => entry.event === 'change-file-written');
    expect(written).toMatchObject({
      level: 'info',
      key: result.files[0]!.key,
      records: scenario.event.Records.length,
      bytes: result.files[0]!.bytes,
      table: scenario.table.tableName,
    });
    expect(entries.at(-1)).toMatchObject({
      event: 'batch-captured',
      records: scenario.event.Records.length,
      captured: scenario.event.Records.length,
      quarantined: 0,
      retryFrom: undefined,
    });
    for (const entry of entries) expect(entry).toHaveProperty('durationMs', expect.any(Number));

    const logged = JSON.stringify(entries);
    const values = scenario.expected.flatMap((change) =>
      [change.new, change.old].flatMap((image) => (image === null ? [] : stringsIn(image))),
    );
    expect(values.length).toBeGreaterThan(50);
    for (const value of values) expect(logged).not.toContain(value);
  });

  it('a deletion by TTL is flagged ttl, and a delete by a user is not', async () => {
    const { store } = await tempLanding();
    const removes = scenario.event.Records.filter((record) => record.eventName === 'REMOVE');
    expect(removes).toHaveLength(2);
    const event: DynamoDBStreamEvent = { Records: [removes[0]!, asTtlDeletion(removes[1]!)] };
    const result = await captureBatch(event, { store });
    const lines = await readBack(store, result.files[0]!.key);
    expect(lines.map((line) => [line.op, line.ttl, line.eventId])).toEqual([
      ['REMOVE', false, removes[0]!.eventID],
      ['REMOVE', true, removes[1]!.eventID],
    ]);
  });

  it('takes ApproximateCreationDateTime as epoch seconds from Lambda and as a Date from the SDK', async () => {
    const { store } = await tempLanding();
    const [lambdaShaped] = scenario.event.Records;
    const seconds = 1_767_225_600; // 2026-01-01T00:00:00Z
    const fromLambda = alteredRecord(lambdaShaped!, (copy) => {
      copy.dynamodb!.ApproximateCreationDateTime = seconds;
    });
    const fromSdk = alteredRecord(scenario.event.Records[1]!, (copy) => {
      (copy.dynamodb as { ApproximateCreationDateTime: unknown }).ApproximateCreationDateTime = new Date(
        (seconds + 1) * 1000,
      );
    });
    const result = await captureBatch({ Records: [fromLambda, fromSdk] }, { store });
    expect(parseChangeFileKey(result.files[0]!.key)?.date).toBe('2026-01-01');
    const lines = await readBack(store, result.files[0]!.key);
    expect(lines.map((line) => line.ts)).toEqual([seconds * 1000, (seconds + 1) * 1000]);
  });

  it('records that cannot be mapped go to quarantine with their reason, and the rest is captured', async () => {
    const { folder, store } = await tempLanding();
    const records = scenario.event.Records;
    const noSequenceNumber = alteredRecord(records[2]!, (copy) => {
      delete copy.dynamodb!.SequenceNumber;
    });
    const badNumber = alteredRecord(records[4]!, (copy) => {
      copy.dynamodb!.NewImage!['qty'] = { N: 'twelve' };
    });
    const damaged = records.map((record, index) =>
      index === 2 ? noSequenceNumber : index === 4 ? badNumber : record,
    );
    const entries: CaptureLogEntry[] = [];
    const result = await captureBatch({ Records: damaged }, { store, log: (entry) => entries.push(entry) });

    const table = scenario.table.tableName;
    const byEventId = `_ddb_lake/quarantine/capture/${table}/${records[2]!.eventID}.json`;
    const bySeq = `_ddb_lake/quarantine/capture/${table}/${records[4]!.dynamodb!.SequenceNumber}.json`;
    expect(await keysUnder(store, '_ddb_lake/')).toEqual([bySeq, byEventId].sort());
    expect(result.batchItemFailures).toEqual([]);
    expect(result.quarantined.map((entry) => entry.key).sort()).toEqual([bySeq, byEventId].sort());

    const quarantinedSeq = JSON.parse(await readFile(path.join(folder, bySeq), 'utf8'));
    expect(quarantinedSeq).toMatchObject({
      path: 'dynamodb.NewImage.qty',
      table,
      streamArn: scenario.table.streamArn,
      record: badNumber,
    });
    expect(quarantinedSeq.reason).toMatch(/twelve/);
    const quarantinedId = JSON.parse(await readFile(path.join(folder, byEventId), 'utf8'));
    expect(quarantinedId).toMatchObject({
      reason: 'the record has no SequenceNumber',
      path: 'dynamodb.SequenceNumber',
      record: noSequenceNumber,
    });

    const lines = await readBack(store, result.files[0]!.key);
    expect(lines.map((line) => line.eventId)).toEqual(
      records.filter((_, index) => index !== 2 && index !== 4).map((record) => record.eventID),
    );

    const quarantineLogs = entries.filter((entry) => entry.event === 'record-quarantined');
    expect(quarantineLogs).toHaveLength(2);
    expect(quarantineLogs.find((entry) => entry.key === bySeq)).toMatchObject({
      level: 'warn',
      problem: 'invalid-record',
      field: 'dynamodb.NewImage',
      seq: records[4]!.dynamodb!.SequenceNumber,
    });
    // The reason quotes the bad value: it stays in the quarantine object, out of the log.
    expect(JSON.stringify(entries)).not.toContain('twelve');
  });

  it('a batch whose sequence numbers go backwards is refused by name, and nothing is written', async () => {
    const { store } = await tempLanding();
    const reversed: DynamoDBRecord[] = [...scenario.event.Records].reverse();
    const entries: CaptureLogEntry[] = [];
    const refusal = captureBatch({ Records: reversed }, { store, log: (entry) => entries.push(entry) });
    await expect(refusal).rejects.toThrow(InvalidCaptureBatchError);
    await expect(refusal).rejects.toMatchObject({ code: 'INVALID_CAPTURE_BATCH' });
    await expect(refusal).rejects.toThrow(/record 1 .* not greater than .* of record 0.*does not reorder/s);
    expect(await keysUnder(store, '')).toEqual([]);
    expect(entries).toMatchObject([{ event: 'batch-failed', error: { code: 'INVALID_CAPTURE_BATCH' } }]);
  });

  it('a batch with records of two streams is refused, and nothing is written', async () => {
    const { store } = await tempLanding();
    const records = scenario.event.Records;
    const other = alteredRecord(records[1]!, (copy) => {
      copy.eventSourceARN = copy.eventSourceARN!.replace(/table\/[^/]+/, 'table/another');
    });
    await expect(captureBatch({ Records: [records[0]!, other] }, { store })).rejects.toThrow(
      /record 1 comes from another stream/,
    );
    expect(await keysUnder(store, '')).toEqual([]);
  });

  it('an empty batch writes nothing and fails nothing', async () => {
    const { store } = await tempLanding();
    expect(await captureBatch({ Records: [] }, { store })).toEqual({
      batchItemFailures: [],
      files: [],
      records: 0,
      quarantined: [],
    });
    expect(await keysUnder(store, '')).toEqual([]);
  });
});

/** Every S and B value (and set element) of an item with 4 characters or more: what a log must not show. */
function stringsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([tag, inner]) => {
    if ((tag === 'S' || tag === 'B') && typeof inner === 'string') return inner.length >= 4 ? [inner] : [];
    if (tag === 'SS' || tag === 'BS') return (inner as string[]).filter((element) => element.length >= 4);
    return stringsIn(inner);
  });
}
