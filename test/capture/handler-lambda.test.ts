import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildLambda, LAMBDA_FILE } from '../../deploy/build-lambda.ts';
import { captureBatch } from '../../src/capture/capture-batch.ts';
import { startSilentServer } from '../support/silent-server.ts';
import { runScenario, type Scenario } from './support-scenario.ts';
import { keysUnder, tempLanding } from './support-stream.ts';

type Handler = (event: DynamoDBStreamEvent, context?: Partial<Context>) => Promise<DynamoDBBatchResponse>;

describe('the Lambda entry point, bundled by build:lambda', () => {
  let scenario: Scenario;
  let keysOnly: Scenario;
  let bundleUrl: string;
  let imports = 0;
  const savedLanding = process.env['DDB_LAKE_LANDING'];

  /** A fresh instance of the bundle, as a new Lambda container would load it. */
  async function freshHandler(): Promise<Handler> {
    const module = (await import(`${bundleUrl}?container=${++imports}`)) as { handler: Handler };
    return module.handler;
  }

  /** What the handler printed on stdout while `run` ran, line by line. */
  async function stdoutOf<T>(run: () => Promise<T>): Promise<{ value: T; lines: string[] }> {
    const printed: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    });
    try {
      const value = await run();
      return {
        value,
        lines: printed
          .join('')
          .split('\n')
          .filter((line) => line !== ''),
      };
    } finally {
      spy.mockRestore();
    }
  }

  beforeAll(async () => {
    const { folder } = await tempLanding();
    const { file, bytes } = await buildLambda(folder);
    expect(path.basename(file)).toBe(LAMBDA_FILE);
    expect(bytes).toBeGreaterThan(10_000);
    bundleUrl = pathToFileURL(file).href;
    [scenario, keysOnly] = await Promise.all([runScenario('NEW_AND_OLD_IMAGES'), runScenario('KEYS_ONLY')]);
  });
  afterEach(() => {
    if (savedLanding === undefined) delete process.env['DDB_LAKE_LANDING'];
    else process.env['DDB_LAKE_LANDING'] = savedLanding;
  });
  afterAll(async () => {
    await Promise.all([scenario?.table.drop(), keysOnly?.table.drop()]);
  });

  it('writes the same change file as captureBatch, logs JSON lines, and answers with batchItemFailures', async () => {
    const lambda = await tempLanding();
    const library = await tempLanding();
    process.env['DDB_LAKE_LANDING'] = pathToFileURL(lambda.folder).href;
    const handler = await freshHandler();

    const { value, lines } = await stdoutOf(() => handler(scenario.event, { awsRequestId: 'request-1' }));
    expect(value).toEqual({ batchItemFailures: [] });

    const expected = await captureBatch(scenario.event, { store: library.store });
    const [key] = expected.files.map((file) => file.key);
    expect(await keysUnder(lambda.store, '')).toEqual([key]);
    expect(await readFile(path.join(lambda.folder, key!))).toEqual(
      await readFile(path.join(library.folder, key!)),
    );

    const entries = lines.map((line) => JSON.parse(line));
    expect(entries.map((entry) => entry.event)).toEqual(['change-file-written', 'batch-captured']);
    for (const entry of entries) {
      expect(entry).toMatchObject({
        requestId: 'request-1',
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
    }
    expect(entries[0]).toMatchObject({
      key,
      records: scenario.event.Records.length,
      bytes: expected.files[0]!.bytes,
    });
  });

  it('opens the landing area once per container and keeps writing there', async () => {
    const first = await tempLanding();
    const second = await tempLanding();
    process.env['DDB_LAKE_LANDING'] = first.folder;
    const handler = await freshHandler();
    await stdoutOf(() => handler({ Records: scenario.event.Records.slice(0, 2) }));
    process.env['DDB_LAKE_LANDING'] = second.folder;
    await stdoutOf(() => handler({ Records: scenario.event.Records.slice(2) }));
    expect(await keysUnder(first.store, '')).toHaveLength(2);
    expect(await keysUnder(second.store, '')).toEqual([]);
  });

  it('a landing area that never answers fails the batch as a write failure well within the function’s 60 s timeout', async () => {
    const silent = await startSilentServer();
    const saved = { ...process.env };
    Object.assign(process.env, {
      DDB_LAKE_LANDING: 's3://ddb-lake-landing/capture',
      AWS_ENDPOINT_URL_S3: silent.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'any',
      AWS_SECRET_ACCESS_KEY: 'any',
    });
    try {
      const handler = await freshHandler();
      const started = Date.now();
      const { value, lines } = await stdoutOf(() => handler(scenario.event));

      expect(Date.now() - started).toBeLessThan(50_000);
      expect(silent.connections()).toBeGreaterThan(0);
      expect(value).toEqual({
        batchItemFailures: [{ itemIdentifier: scenario.event.Records[0]?.dynamodb?.SequenceNumber }],
      });
      const failed = lines.map((line) => JSON.parse(line)).find((entry) => entry.event === 'write-failed');
      expect(failed?.error.message).toContain(`at ${silent.endpoint} did not answer in time`);
    } finally {
      for (const name of [
        'DDB_LAKE_LANDING',
        'AWS_ENDPOINT_URL_S3',
        'AWS_REGION',
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
      ]) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
      await silent.close();
    }
  }, 90_000);

  it('fails the invocation with LANDING_NOT_SET when DDB_LAKE_LANDING is missing', async () => {
    delete process.env['DDB_LAKE_LANDING'];
    const handler = await freshHandler();
    await expect(handler(scenario.event)).rejects.toMatchObject({
      code: 'LANDING_NOT_SET',
      message: expect.stringContaining('DDB_LAKE_LANDING'),
    });
  });

  it('fails the invocation of a KEYS_ONLY batch with the view-type refusal, logged as one JSON line', async () => {
    const { folder, store } = await tempLanding();
    process.env['DDB_LAKE_LANDING'] = folder;
    const handler = await freshHandler();
    const { lines } = await stdoutOf(async () => {
      await expect(handler(keysOnly.event)).rejects.toMatchObject({
        code: 'UNSUPPORTED_STREAM_VIEW_TYPE',
        message: expect.stringMatching(/KEYS_ONLY.*NEW_AND_OLD_IMAGES/s),
      });
    });
    expect(lines.map((line) => JSON.parse(line))).toMatchObject([
      { level: 'error', event: 'batch-failed', error: { code: 'UNSUPPORTED_STREAM_VIEW_TYPE' } },
    ]);
    expect(await keysUnder(store, '')).toEqual([]);
  });
});
