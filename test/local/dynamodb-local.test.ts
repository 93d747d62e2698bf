import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand, ListTablesCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { type DynamoDbLocal, startDynamoDbLocal } from '../../src/local/dynamodb-local.ts';
import { DynamoDbLocalStartError, JavaRuntimeError } from '../../src/local/errors.ts';
import { createStreamTable, newDynamoDbClient } from '../support/local-stack.ts';
import { commandLineOf, isProcessRunning, processesMatching } from '../support/processes.ts';

const started: DynamoDbLocal[] = [];
const folders: string[] = [];

async function start(options?: Parameters<typeof startDynamoDbLocal>[0]): Promise<DynamoDbLocal> {
  const dynamodb = await startDynamoDbLocal(options);
  started.push(dynamodb);
  return dynamodb;
}

async function temporaryFolder(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'ddb-lake-local-'));
  folders.push(folder);
  return folder;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((dynamodb) => dynamodb.stop()));
  await Promise.all(folders.splice(0).map((folder) => rm(folder, { recursive: true, force: true })));
});

describe('startDynamoDbLocal', () => {
  it('answers on a loopback endpoint, shares its tables across regions and keys, and stop() leaves no process', async () => {
    const dynamodb = await start();
    expect(dynamodb.endpoint).toBe(`http://127.0.0.1:${dynamodb.port}`);
    expect(commandLineOf(dynamodb.pid)).toMatch(/DynamoDBLocal\.jar .*-sharedDb.*-inMemory/);
    expect(isProcessRunning(dynamodb.wrapperPid)).toBe(true);

    const table = await createStreamTable({ client: newDynamoDbClient(dynamodb.endpoint) });
    const otherClient = new DynamoDBClient({
      endpoint: dynamodb.endpoint,
      region: 'eu-west-3',
      credentials: { accessKeyId: 'someoneelse', secretAccessKey: 'whatever' },
    });
    const listed = await otherClient.send(new ListTablesCommand({}));
    otherClient.destroy();
    expect(listed.TableNames).toContain(table.tableName);

    await dynamodb.stop();
    expect(isProcessRunning(dynamodb.pid)).toBe(false);
    expect(isProcessRunning(dynamodb.wrapperPid)).toBe(false);
    expect(() => process.kill(dynamodb.pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    await expect(dynamodb.stop()).resolves.toBeUndefined();
  });

  it('runs two instances at once on different ports, each with its own tables', async () => {
    const [first, second] = await Promise.all([start(), start()]);
    expect(first.port).not.toBe(second.port);
    const firstClient = newDynamoDbClient(first.endpoint);
    const secondClient = newDynamoDbClient(second.endpoint);
    const table = await createStreamTable({ client: firstClient });
    expect((await firstClient.send(new ListTablesCommand({}))).TableNames).toEqual([table.tableName]);
    expect((await secondClient.send(new ListTablesCommand({}))).TableNames).toEqual([]);
    firstClient.destroy();
    secondClient.destroy();
  });

  it('keeps tables and items in a data folder across a restart on the same port', async () => {
    const dataDir = join(await temporaryFolder(), 'nested', 'db');
    const first = await start({ dataDir });
    expect(first.dataDir).toBe(dataDir);
    const client = newDynamoDbClient(first.endpoint);
    const table = await createStreamTable({ client });
    const item = { pk: { S: 'k1' }, amount: { N: '12345678901234567890123456789012345678' } };
    await client.send(new PutItemCommand({ TableName: table.tableName, Item: item }));
    client.destroy();
    await first.stop();

    const second = await start({ dataDir, port: first.port });
    expect(second.port).toBe(first.port);
    const again = newDynamoDbClient(second.endpoint);
    const read = await again.send(
      new GetItemCommand({ TableName: table.tableName, Key: { pk: { S: 'k1' } }, ConsistentRead: true }),
    );
    again.destroy();
    expect(read.Item).toEqual(item);
  });

  it('refuses a port that is taken, showing what Java said, and leaves no process', async () => {
    const blocker: Server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => blocker.listen({ port: 0, host: '127.0.0.1' }, resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const failure = await startDynamoDbLocal({ port }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(DynamoDbLocalStartError);
      expect(failure).toMatchObject({ code: 'LOCAL_DYNAMODB_EXITED' });
      expect((failure as Error).message).toContain(`port ${port}`);
      expect((failure as Error).message).toContain('Address already in use');
      expect(processesMatching(`DynamoDBLocal.jar -port ${port} `)).toEqual([]);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});

describe('the Java check', () => {
  async function withJavaHome<T>(javaHome: string, run: () => Promise<T>): Promise<T> {
    const previous = process.env['JAVA_HOME'];
    process.env['JAVA_HOME'] = javaHome;
    try {
      return await run();
    } finally {
      if (previous === undefined) delete process.env['JAVA_HOME'];
      else process.env['JAVA_HOME'] = previous;
    }
  }

  it('reports a missing java with the package to install', async () => {
    const javaHome = await temporaryFolder();
    const failure = await withJavaHome(javaHome, () => startDynamoDbLocal().catch((error: unknown) => error));
    expect(failure).toBeInstanceOf(JavaRuntimeError);
    expect(failure).toMatchObject({ code: 'LOCAL_JAVA_MISSING' });
    expect((failure as Error).message).toContain(join(javaHome, 'bin', 'java'));
    expect((failure as Error).message).toContain('openjdk-17-jre-headless');
  });

  it('reports a java older than 17 with its version and the package to install', async () => {
    const javaHome = await temporaryFolder();
    await mkdir(join(javaHome, 'bin'));
    const java = join(javaHome, 'bin', 'java');
    await writeFile(java, '#!/bin/sh\necho \'openjdk version "11.0.22" 2024-01-16\' >&2\n');
    await chmod(java, 0o755);
    const failure = await withJavaHome(javaHome, () => startDynamoDbLocal().catch((error: unknown) => error));
    expect(failure).toBeInstanceOf(JavaRuntimeError);
    expect(failure).toMatchObject({ code: 'LOCAL_JAVA_TOO_OLD' });
    expect((failure as Error).message).toContain('Java 11');
    expect((failure as Error).message).toContain('openjdk-17-jre-headless');
  });

  it('reads the major version of a Java 8 style version string', async () => {
    const javaHome = await temporaryFolder();
    await mkdir(join(javaHome, 'bin'));
    const java = join(javaHome, 'bin', 'java');
    await writeFile(java, '#!/bin/sh\necho \'java version "1.8.0_392"\' >&2\n');
    await chmod(java, 0o755);
    const failure = await withJavaHome(javaHome, () => startDynamoDbLocal().catch((error: unknown) => error));
    expect(failure).toMatchObject({ code: 'LOCAL_JAVA_TOO_OLD' });
    expect((failure as Error).message).toContain('Java 8');
  });
});
