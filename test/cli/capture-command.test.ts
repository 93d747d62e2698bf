import { type ChildProcess, spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { readCheckpoints } from '../../src/capture/checkpoint.ts';
import type { AttributeValue, Item } from '../../src/dynamo/attribute-value.ts';
import { itemToPlainJson } from '../../src/dynamo/plain-json.ts';
import { toSdkItem } from '../../src/dynamo/sdk-interop.ts';
import { changeFilesPrefix, parseChangeFileKey } from '../../src/formats/change-file-key.ts';
import { readChangeFile } from '../../src/formats/change-file-reader.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import { LOCAL_DYNAMODB_CREDENTIALS, LOCAL_REGION } from '../../src/local/dynamodb-local.ts';
import { sampleOrders } from '../../src/local/sample-orders.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { type ExpectedChange, runScenario, typedItemText } from '../capture/support-scenario.ts';
import { readShards, tempLanding } from '../capture/support-stream.ts';
import {
  createStreamTable,
  dynamoDbClient,
  dynamodbEndpoint,
  type StreamTable,
} from '../support/local-stack.ts';
import { runDdbLake } from '../support/run-cli.ts';

const ROOT = resolve(import.meta.dirname, '../..');

/** What the SDK's default chain needs to reach DynamoDB Local, whatever the machine's AWS setup. */
const AWS_ENV = {
  AWS_REGION: LOCAL_REGION,
  AWS_ACCESS_KEY_ID: LOCAL_DYNAMODB_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: LOCAL_DYNAMODB_CREDENTIALS.secretAccessKey,
  AWS_EC2_METADATA_DISABLED: 'true',
};

const tables: StreamTable[] = [];
afterAll(async () => {
  await Promise.all(tables.map((table) => table.drop()));
});

function captureArgs(table: StreamTable, landing: string, ...more: string[]): string[] {
  return [
    'capture',
    '--table',
    table.tableName,
    '--landing',
    landing,
    '--endpoint-url',
    dynamodbEndpoint(),
    ...more,
  ];
}

/** Every record of every change file of the table, in listing order. */
async function changeRecords(landing: string, table: string): Promise<ChangeRecord[]> {
  const store = new LocalFolderStore(landing);
  const records: ChangeRecord[] = [];
  for await (const object of store.list(changeFilesPrefix(table))) {
    if (parseChangeFileKey(object.key) === undefined) continue;
    for await (const { record } of readChangeFile(store, object.key)) records.push(record);
  }
  return records;
}

function bySequence(a: ChangeRecord, b: ChangeRecord): number {
  const x = BigInt(a.seq);
  const y = BigInt(b.seq);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Per key, its changes in the given order, as text that keeps every type tag. */
function historyByKey(changes: readonly ExpectedChange[]): Map<string, string[]> {
  const byKey = new Map<string, string[]>();
  for (const change of changes) {
    const key = itemToPlainJson(change.keys);
    const text = `${change.op} new=${typedItemText(change.new)} old=${typedItemText(change.old)}`;
    byKey.set(key, [...(byKey.get(key) ?? []), text]);
  }
  return byKey;
}

/** Copies of one record (same seq) must be the same record: same keys, same images, same line. */
function collapseDuplicates(records: readonly ChangeRecord[]): {
  unique: ChangeRecord[];
  duplicates: number;
} {
  const bySeq = new Map<string, ChangeRecord>();
  let duplicates = 0;
  for (const record of records) {
    const first = bySeq.get(record.seq);
    if (first === undefined) {
      bySeq.set(record.seq, record);
      continue;
    }
    duplicates++;
    expect(itemToPlainJson(record.keys)).toBe(itemToPlainJson(first.keys));
    expect(record).toEqual(first);
  }
  return { unique: [...bySeq.values()].sort(bySequence), duplicates };
}

async function countChangeFiles(landing: string): Promise<number> {
  try {
    const entries = await readdir(resolve(landing, 'changes'), { recursive: true });
    return entries.filter((entry) => String(entry).endsWith('.jsonl.gz')).length;
  } catch {
    return 0;
  }
}

interface Running {
  readonly child: ChildProcess;
  readonly exited: Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>;
}

/** Starts `ddb-lake` as its own process, for tests that signal it while it runs. */
function startDdbLake(args: readonly string[]): Running {
  const child = spawn(resolve(ROOT, 'node_modules/.bin/node'), [resolve(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, CI: '1', ...AWS_ENV },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((done) => child.on('close', (code, signal) => done({ code, signal, stdout, stderr })));
  return { child, exited };
}

async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

/**
 * Puts (and every third time also updates) items of the table until `stop` says so, counting the
 * changes made in `progress.written`; resolves with that count.
 */
async function keepWriting(
  table: StreamTable,
  progress: { written: number },
  stop: () => boolean,
): Promise<number> {
  for (const item of sampleOrders(Number.POSITIVE_INFINITY, 23)) {
    if (stop() || progress.written >= 2000) break;
    await dynamoDbClient().send(new PutItemCommand({ TableName: table.tableName, Item: toSdkItem(item) }));
    const written = ++progress.written;
    if (written % 3 === 0) {
      await dynamoDbClient().send(
        new UpdateItemCommand({
          TableName: table.tableName,
          Key: toSdkItem({
            pk: item['pk'] as AttributeValue,
            sk: item['sk'] as AttributeValue,
          } satisfies Item),
          UpdateExpression: 'SET #qty = :qty',
          ExpressionAttributeNames: { '#qty': 'qty' },
          ExpressionAttributeValues: toSdkItem({ ':qty': { N: String(1000 + written) } }),
        }),
      );
      progress.written++;
    }
    await new Promise((done) => setTimeout(done, 5));
  }
  return progress.written;
}

describe('ddb-lake capture', () => {
  it('--help shows the flags of capture', async () => {
    const run = await runDdbLake(['capture', '--help']);
    expect(run.code).toBe(0);
    for (const flag of ['--table', '--landing', '--batch-size', '--until-idle', '--endpoint-url', '--json']) {
      expect(run.stdout).toContain(flag);
    }
    expect(run.stdout).toContain('Exit codes:');
  });

  it('without --table is a usage error with exit code 2', async () => {
    const run = await runDdbLake(['capture', '--landing', '/tmp/nowhere', '--until-idle']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--table');
  });

  it('--until-idle captures puts, updates and deletes: every record once, in sequence order per key, with exact images', async () => {
    const scenario = await runScenario();
    tables.push(scenario.table);
    const { folder } = await tempLanding();

    const run = await runDdbLake(
      captureArgs(scenario.table, folder, '--until-idle', '--batch-size', '4', '--json'),
      AWS_ENV,
    );

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({
      table: scenario.table.tableName,
      streamArn: scenario.table.streamArn,
      records: scenario.expected.length,
      files: Math.ceil(scenario.expected.length / 4),
      stoppedBecause: 'idle',
      gaps: [],
    });
    const records = await changeRecords(folder, scenario.table.tableName);
    expect(records).toHaveLength(scenario.expected.length);
    expect(new Set(records.map((record) => record.seq)).size).toBe(records.length);
    expect(historyByKey(records.sort(bySequence))).toEqual(historyByKey(scenario.expected));
  });

  it('refuses a KEYS_ONLY stream with the handler’s error naming NEW_AND_OLD_IMAGES, writing nothing', async () => {
    const scenario = await runScenario('KEYS_ONLY');
    tables.push(scenario.table);
    const { folder, store } = await tempLanding();

    const run = await runDdbLake(captureArgs(scenario.table, folder, '--until-idle'), AWS_ENV);

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('KEYS_ONLY');
    expect(run.stderr).toContain('NEW_AND_OLD_IMAGES');
    expect(await changeRecords(folder, scenario.table.tableName)).toEqual([]);
    expect(await readCheckpoints(store, scenario.table.tableName)).toEqual(new Map());
  });

  it('refuses a KEYS_ONLY stream before reading it, even when it holds no record yet', async () => {
    const table = await createStreamTable({ prefix: 'capture-keys-only', viewType: 'KEYS_ONLY' });
    tables.push(table);
    const { folder, store } = await tempLanding();

    const run = await runDdbLake(captureArgs(table, folder, '--until-idle'), AWS_ENV);

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('KEYS_ONLY');
    expect(run.stderr).toContain('NEW_AND_OLD_IMAGES');
    expect(await readCheckpoints(store, table.tableName)).toEqual(new Map());
  });

  it('a capture killed mid-stream and restarted misses no record, and any record written twice has the same keys and seq', async () => {
    const table = await createStreamTable({ prefix: 'capture-kill', sortKey: { name: 'sk', type: 'S' } });
    tables.push(table);
    const { folder } = await tempLanding();
    const capture = startDdbLake(captureArgs(table, folder, '--batch-size', '3'));
    const progress = { written: 0 };
    let writtenAtKill: number | undefined;
    // Writes go on while the poller runs, and for 30 more changes after it was killed.
    const writing = keepWriting(
      table,
      progress,
      () => writtenAtKill !== undefined && progress.written >= writtenAtKill + 30,
    );

    await waitFor(async () => (await countChangeFiles(folder)) >= 3, 'the first change files');
    capture.child.kill('SIGKILL');
    writtenAtKill = progress.written;
    const killed = await capture.exited;
    const written = await writing;
    expect(killed.signal).toBe('SIGKILL');
    expect(written).toBeGreaterThan(writtenAtKill);

    const restart = await runDdbLake(captureArgs(table, folder, '--until-idle', '--json'), AWS_ENV);

    expect(restart.code).toBe(0);
    const inStream = (await readShards(table.streamArn)).flatMap((shard) => shard.records);
    expect(inStream).toHaveLength(written);
    const { unique, duplicates } = collapseDuplicates(await changeRecords(folder, table.tableName));
    expect(unique.map((record) => record.seq)).toEqual(
      inStream.map((record) => record.dynamodb?.SequenceNumber),
    );
    // At most the batch in hand when the poller died comes twice.
    expect(duplicates).toBeLessThanOrEqual(3);
    expect(JSON.parse(restart.stdout).gaps).toEqual([]);
  });

  it('SIGTERM stops continuous capture after the batch in hand, checkpointed, and a restart adds no duplicate', async () => {
    const table = await createStreamTable({ prefix: 'capture-term', sortKey: { name: 'sk', type: 'S' } });
    tables.push(table);
    const { folder, store } = await tempLanding();
    const progress = { written: 0 };
    const writing = keepWriting(table, progress, () => progress.written >= 60);
    const capture = startDdbLake(captureArgs(table, folder, '--batch-size', '2'));

    await waitFor(async () => (await countChangeFiles(folder)) >= 4, 'the first change files');
    capture.child.kill('SIGTERM');
    const stopped = await capture.exited;
    const written = await writing;

    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toContain('stopped: on request');
    const captured = await changeRecords(folder, table.tableName);
    const [checkpoint] = (await readCheckpoints(store, table.tableName)).values();
    expect(checkpoint?.lastSequenceNumber).toBe(captured.sort(bySequence).at(-1)?.seq);

    const restart = await runDdbLake(captureArgs(table, folder, '--until-idle'), AWS_ENV);

    expect(restart.code).toBe(0);
    const { unique, duplicates } = collapseDuplicates(await changeRecords(folder, table.tableName));
    expect(duplicates).toBe(0);
    expect(unique).toHaveLength(written);
  });
});
