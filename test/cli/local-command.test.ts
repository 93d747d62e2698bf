import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { processesMatching, waitForProcessExit } from '../support/processes.ts';

const ROOT = resolve(import.meta.dirname, '../..');

describe('ddb-lake local', () => {
  it('serves DynamoDB Local and an S3 server until SIGINT, then leaves no process behind', async () => {
    const child = spawn(
      resolve(ROOT, 'node_modules/.bin/node'),
      [resolve(ROOT, 'src/cli/main.ts'), 'local', '--bucket', 'lake', '--json'],
      { cwd: ROOT, env: { ...process.env, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const deadline = Date.now() + 60_000;
    while (!stdout.includes('}') && Date.now() < deadline && child.exitCode === null) {
      await new Promise((done) => setTimeout(done, 100));
    }
    const endpoints = JSON.parse(stdout);
    const port = new URL(endpoints.dynamodbEndpoint).port;

    const dynamodb = new DynamoDBClient({
      endpoint: endpoints.dynamodbEndpoint,
      region: endpoints.region,
      credentials: { accessKeyId: 'any', secretAccessKey: 'any' },
    });
    const s3 = new S3Client({
      endpoint: endpoints.s3Endpoint,
      region: endpoints.region,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
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
    const javaPids = processesMatching(`-port ${port}`);
    expect(javaPids.length).toBeGreaterThan(0);

    child.kill('SIGINT');
    const [code] = await once(child, 'exit');
    expect(stderr).not.toContain('error');
    expect(code).toBe(0);
    for (const pid of javaPids) expect(await waitForProcessExit(pid, 10_000)).toBe(true);
  });
});
