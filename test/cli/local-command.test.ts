import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { ListBucketsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { processesMatching, waitForProcessExit } from '../support/processes.ts';

const ROOT = resolve(import.meta.dirname, '../..');

interface Endpoints {
  readonly region: string;
  readonly dynamodbEndpoint: string | null;
  readonly s3Endpoint: string | null;
}

interface RunningLocal {
  readonly child: ChildProcess;
  readonly endpoints: Endpoints;
  /** Ids of the Java processes serving DynamoDB Local's port (none with --no-dynamodb). */
  readonly javaPids: readonly number[];
  stderr(): string;
  /** Sends `signal` and resolves with the exit code and signal once the process has exited. */
  stop(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: ChildProcess[] = [];
afterEach(() => {
  // A failed test must not leave its stack running; the command stops Java on SIGKILL of ours too.
  for (const child of started.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/**
 * Starts `ddb-lake local --json <args>` as its own process and waits for its endpoints. `stdin`:
 * `closed` runs it with file descriptor 0 closed (a background job, some containers), `null` with
 * /dev/null (CI), `pipe` with a pipe that nobody writes to or closes.
 */
async function startLocal(args: readonly string[], stdin: 'closed' | 'null' | 'pipe'): Promise<RunningLocal> {
  const node = resolve(ROOT, 'node_modules/.bin/node');
  const command = [resolve(ROOT, 'src/cli/main.ts'), 'local', '--json', ...args];
  const options = { cwd: ROOT, env: { ...process.env, CI: '1' } };
  const child =
    stdin === 'closed'
      ? // `exec` so that the shell is replaced by Node: the signals below reach Node itself.
        spawn('sh', ['-c', 'exec "$@" <&-', 'sh', node, ...command], {
          ...options,
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      : spawn(node, command, { ...options, stdio: [stdin === 'null' ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  started.push(child);
  let stdout = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const deadline = Date.now() + 90_000;
  while (!stdout.includes('}')) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      throw new Error(
        `ddb-lake local printed no endpoints (exit ${child.exitCode ?? child.signalCode}); stderr:\n${stderr}`,
      );
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  const endpoints = JSON.parse(stdout) as Endpoints;
  const javaPids =
    endpoints.dynamodbEndpoint === null
      ? []
      : processesMatching(`-port ${new URL(endpoints.dynamodbEndpoint).port}`);
  return {
    child,
    endpoints,
    javaPids,
    stderr: () => stderr,
    async stop(signal) {
      child.kill(signal);
      const [code, endSignal] = await exited;
      return { code, signal: endSignal };
    },
  };
}

/** Runs `use`; when it fails because the command had ended, says so (exit code, stderr) instead. */
async function whileRunning(local: RunningLocal, use: () => Promise<void>): Promise<void> {
  try {
    await use();
  } catch (error) {
    await new Promise((done) => setTimeout(done, 500));
    stillRunning(local);
    throw error;
  }
  stillRunning(local);
}

function stillRunning(local: RunningLocal): void {
  expect(
    { exitCode: local.child.exitCode, signal: local.child.signalCode },
    `ddb-lake local ended on its own; stderr:\n${local.stderr()}`,
  ).toEqual({ exitCode: null, signal: null });
}

/** Talks to DynamoDB Local over a few seconds: a table, then a put and a get every 400 ms. */
async function useDynamoDb(local: RunningLocal): Promise<void> {
  const client = new DynamoDBClient({
    endpoint: local.endpoints.dynamodbEndpoint ?? '',
    region: local.endpoints.region,
    credentials: { accessKeyId: 'any', secretAccessKey: 'any' },
  });
  try {
    await whileRunning(local, async () => {
      expect((await client.send(new ListTablesCommand({}))).TableNames).toEqual([]);
      await client.send(
        new CreateTableCommand({
          TableName: 'kept-alive',
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      await waitUntilTableExists(
        { client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 },
        { TableName: 'kept-alive' },
      );
      for (let round = 0; round < 8; round++) {
        await new Promise((done) => setTimeout(done, 400));
        stillRunning(local);
        const pk = { S: `item-${round}` };
        await client.send(
          new PutItemCommand({ TableName: 'kept-alive', Item: { pk, round: { N: String(round) } } }),
        );
        const read = await client.send(new GetItemCommand({ TableName: 'kept-alive', Key: { pk } }));
        expect(read.Item).toEqual({ pk, round: { N: String(round) } });
      }
    });
  } finally {
    client.destroy();
  }
}

async function expectCleanExit(
  local: RunningLocal,
  exit: { code: number | null; signal: NodeJS.Signals | null },
): Promise<void> {
  expect(local.stderr()).not.toMatch(/unsettled top-level await|error/i);
  expect(exit).toEqual({ code: 0, signal: null });
  for (const pid of local.javaPids) expect(await waitForProcessExit(pid, 10_000)).toBe(true);
}

describe('ddb-lake local', () => {
  it('serves DynamoDB Local and an S3 server until SIGINT, then leaves no process behind', {
    timeout: 120_000,
  }, async () => {
    const local = await startLocal(['--bucket', 'lake'], 'null');
    const s3 = new S3Client({
      endpoint: local.endpoints.s3Endpoint ?? '',
      region: local.endpoints.region,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const dynamodb = new DynamoDBClient({
      endpoint: local.endpoints.dynamodbEndpoint ?? '',
      region: local.endpoints.region,
      credentials: { accessKeyId: 'any', secretAccessKey: 'any' },
    });
    try {
      expect((await dynamodb.send(new ListTablesCommand({}))).TableNames).toEqual([]);
      expect((await s3.send(new ListBucketsCommand({}))).Buckets?.map((bucket) => bucket.Name)).toEqual([
        'lake',
      ]);
    } finally {
      dynamodb.destroy();
      s3.destroy();
    }
    expect(local.javaPids.length).toBeGreaterThan(0);

    await expectCleanExit(local, await local.stop('SIGINT'));
  });

  it('with stdin closed and --no-s3 keeps DynamoDB Local up while it is used over several seconds, until SIGTERM; then exits 0 and leaves no Java process', {
    timeout: 120_000,
  }, async () => {
    const local = await startLocal(['--no-s3'], 'closed');
    expect(local.endpoints.s3Endpoint).toBeNull();
    expect(local.javaPids.length).toBeGreaterThan(0);

    await useDynamoDb(local);

    await expectCleanExit(local, await local.stop('SIGTERM'));
  });

  it('with stdin a pipe nobody writes and --no-s3 runs until SIGINT, then exits 0 and leaves no Java process', {
    timeout: 120_000,
  }, async () => {
    const local = await startLocal(['--no-s3'], 'pipe');
    expect(local.javaPids.length).toBeGreaterThan(0);

    await useDynamoDb(local);

    await expectCleanExit(local, await local.stop('SIGINT'));
  });

  it('with --no-dynamodb and stdin closed keeps the S3 server up over several seconds, until SIGTERM', {
    timeout: 120_000,
  }, async () => {
    const local = await startLocal(['--no-dynamodb', '--bucket', 'lake'], 'closed');
    expect(local.endpoints.dynamodbEndpoint).toBeNull();
    const s3 = new S3Client({
      endpoint: local.endpoints.s3Endpoint ?? '',
      region: local.endpoints.region,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    try {
      await whileRunning(local, async () => {
        for (let round = 0; round < 8; round++) {
          await new Promise((done) => setTimeout(done, 400));
          stillRunning(local);
          await s3.send(
            new PutObjectCommand({ Bucket: 'lake', Key: `object-${round}`, Body: `round ${round}` }),
          );
          const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'lake' }));
          expect(listed.KeyCount).toBe(round + 1);
        }
      });
    } finally {
      s3.destroy();
    }

    await expectCleanExit(local, await local.stop('SIGTERM'));
  });
});
