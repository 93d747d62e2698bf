import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetItemCommand, ListTablesCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, HeadBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalStackError } from '../../src/local/errors.ts';
import { type LocalStack, startLocalStack } from '../../src/local/stack.ts';
import { readStreamRecords } from '../support/dynamodb-streams.ts';
import { createStreamTable } from '../support/local-stack.ts';
import { isProcessRunning } from '../support/processes.ts';

const stacks: LocalStack[] = [];
const folders: string[] = [];

async function start(options?: Parameters<typeof startLocalStack>[0]): Promise<LocalStack> {
  const stack = await startLocalStack(options);
  stacks.push(stack);
  return stack;
}

afterEach(async () => {
  await Promise.all(stacks.splice(0).map((stack) => stack.stop()));
  await Promise.all(folders.splice(0).map((folder) => rm(folder, { recursive: true, force: true })));
});

describe('startLocalStack', () => {
  it('serves DynamoDB with streams and S3 with the requested buckets, and stop() leaves no process', async () => {
    const stack = await start({ buckets: ['landing', 'lake'] });
    const dynamodb = stack.dynamodb!;
    expect(stack.s3?.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(dynamodb.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const client = stack.dynamoDbClient();
    const table = await createStreamTable({ client, viewType: 'NEW_AND_OLD_IMAGES' });
    const item = { pk: { S: 'user#7' }, balance: { N: '-0.000000000000000000000000000000000001' } };
    await client.send(new PutItemCommand({ TableName: table.tableName, Item: item }));
    const read = await client.send(
      new GetItemCommand({ TableName: table.tableName, Key: { pk: { S: 'user#7' } }, ConsistentRead: true }),
    );
    expect(read.Item).toEqual(item);
    const records = await readStreamRecords(dynamodb.endpoint, table.streamArn);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      eventName: 'INSERT',
      dynamodb: { NewImage: item, Keys: { pk: item.pk } },
    });

    const s3 = stack.s3Client();
    await s3.send(new HeadBucketCommand({ Bucket: 'lake' }));
    await s3.send(
      new PutObjectCommand({ Bucket: 'landing', Key: 'changes/a.jsonl', Body: '{"op":"INSERT"}\n' }),
    );
    const object = await s3.send(new GetObjectCommand({ Bucket: 'landing', Key: 'changes/a.jsonl' }));
    expect(await object.Body?.transformToString()).toBe('{"op":"INSERT"}\n');

    await stack.stop();
    expect(isProcessRunning(dynamodb.pid)).toBe(false);
    expect(isProcessRunning(dynamodb.wrapperPid)).toBe(false);
    await expect(fetch(stack.s3!.endpoint)).rejects.toThrow();
    await expect(stack.stop()).resolves.toBeUndefined();
  });

  it('keeps tables and objects in its data folder across a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ddb-lake-stack-'));
    folders.push(dataDir);
    const first = await start({ dataDir, buckets: ['landing'] });
    const table = await createStreamTable({ client: first.dynamoDbClient() });
    await first.s3Client().send(new PutObjectCommand({ Bucket: 'landing', Key: 'kept.txt', Body: 'kept' }));
    await first.stop();
    expect(existsSync(join(dataDir, 'dynamodb', 'shared-local-instance.db'))).toBe(true);

    const second = await start({ dataDir });
    const tables = await second.dynamoDbClient().send(new ListTablesCommand({}));
    expect(tables.TableNames).toEqual([table.tableName]);
    const object = await second.s3Client().send(new GetObjectCommand({ Bucket: 'landing', Key: 'kept.txt' }));
    expect(await object.Body?.transformToString()).toBe('kept');
  });

  it('starts only the servers asked for and names the missing one when a client for it is requested', async () => {
    const [dynamoDbOnly, s3Only] = await Promise.all([start({ s3: false }), start({ dynamodb: false })]);
    expect(dynamoDbOnly.s3).toBeUndefined();
    expect(s3Only.dynamodb).toBeUndefined();
    await expect(dynamoDbOnly.dynamoDbClient().send(new ListTablesCommand({}))).resolves.toHaveProperty(
      'TableNames',
    );
    expect(() => dynamoDbOnly.s3Client()).toThrow(LocalStackError);
    expect(() => s3Only.dynamoDbClient()).toThrow(/without DynamoDB Local \(dynamodb: false\)/);
  });

  it('runs two stacks at once on different ports', async () => {
    const [first, second] = await Promise.all([start(), start()]);
    expect(first.dynamodb?.port).not.toBe(second.dynamodb?.port);
    expect(first.s3?.endpoint).not.toBe(second.s3?.endpoint);
    await createStreamTable({ client: first.dynamoDbClient() });
    expect((await second.dynamoDbClient().send(new ListTablesCommand({}))).TableNames).toEqual([]);
  });
});
