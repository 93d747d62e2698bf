import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  S3_SERVER_CREDENTIALS,
  S3_SERVER_REGION,
  type S3Server,
  startS3Server,
} from '../../src/local/s3-server.ts';
import { TABLE, tempStore } from '../apply/run-support.ts';
import { runDdbLake } from '../support/run-cli.ts';
import { s3StoreOn } from '../support/s3-store.ts';
import { runApply } from './apply-process.ts';

/*
 * What apply refuses before it does anything: an --every below its floor, a landing area that holds
 * nothing (a local folder that does not exist, an S3 prefix with no object under it), which
 * otherwise left a Delta folder and a lease behind.
 */

describe('apply --every', () => {
  it('refuses an interval below 10s with exit code 2, and --help says the floor', async () => {
    const landing = await tempStore('landing');
    const delta = await tempStore('delta');
    const where = { landing: landing.rootDir, delta: delta.rootDir, table: TABLE };
    for (const every of ['0', '5s']) {
      const run = await runApply(where, ['--every', every]);
      expect(run.code, every).toBe(2);
      expect(run.stderr).toContain(`--every must be at least 10s, got "${every}"`);
    }
    expect(existsSync(path.join(delta.rootDir, '_ddb_lake'))).toBe(false);
    const help = (await runDdbLake(['apply', '--help'])).stdout.replace(/\s+/g, ' ');
    expect(help).toContain('(at least 10s; Ctrl-C stops)');
    expect(help).toContain('two with different content are corrupt input');
  });
});

describe('apply on a landing area that holds nothing', () => {
  it('a local folder that does not exist: fails naming it, and creates nothing beside the table', async () => {
    const parent = await tempStore('missing');
    const landing = path.join(parent.rootDir, 'no-such-landing');
    const delta = path.join(parent.rootDir, 'orders-table');
    const run = await runApply({ landing, delta, table: TABLE }, ['--json']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`The landing area file://${landing} holds nothing`);
    expect(run.stderr).toContain('Nothing was written beside the Delta table');
    expect(JSON.parse(run.stdout).error.code).toBe('APPLY_LANDING_EMPTY');
    expect(existsSync(delta)).toBe(false);
    expect(existsSync(landing)).toBe(false);
  });

  describe('on S3', () => {
    let server: S3Server;
    beforeAll(async () => {
      server = await startS3Server({ buckets: ['lake'] });
    });
    afterAll(async () => {
      await server.stop();
    });

    it('a prefix with no object under it: fails naming it, and writes nothing under the table prefix', async () => {
      const run = await runApply(
        { landing: 's3://lake/landing-typo', delta: 's3://lake/tables/orders', table: TABLE },
        ['--endpoint-url', server.endpoint, '--region', S3_SERVER_REGION],
        {
          env: {
            AWS_ACCESS_KEY_ID: S3_SERVER_CREDENTIALS.accessKeyId,
            AWS_SECRET_ACCESS_KEY: S3_SERVER_CREDENTIALS.secretAccessKey,
          },
        },
      );
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('The landing area s3://lake/landing-typo holds nothing');
      const bucket = s3StoreOn(server, 'lake');
      try {
        const keys: string[] = [];
        for await (const object of bucket.list('')) keys.push(object.key);
        expect(keys).toEqual([]);
      } finally {
        await bucket.close();
      }
    });
  });
});
