import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyBatch } from '../../src/apply/apply-batch.ts';
import {
  S3_SERVER_CREDENTIALS,
  S3_SERVER_REGION,
  type S3Server,
  startS3Server,
} from '../../src/local/s3-server.ts';
import { S3Store } from '../../src/storage/s3-store.ts';
import {
  capture,
  change,
  coverageRecord,
  MINUTE,
  readTable,
  SAMPLE_T,
  sampleClock,
  sampleLanding,
  seq,
  TABLE,
  tempStore,
} from './run-support.ts';

const AFTER = SAMPLE_T + 30 * MINUTE;

describe('a Delta table on S3', () => {
  let server: S3Server;
  beforeAll(async () => {
    server = await startS3Server({ buckets: ['lake'] });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('gets the same rows as a table in a folder, batch after batch', async () => {
    const landing = await sampleLanding();
    await capture(landing, [coverageRecord()]);
    const s3 = new S3Store({
      bucket: 'lake',
      prefix: 'tables/orders',
      endpointUrl: server.endpoint,
      region: S3_SERVER_REGION,
      credentials: S3_SERVER_CREDENTIALS,
    });
    const folder = await tempStore('delta');
    try {
      for (const delta of [s3, folder]) {
        expect(await applyBatch({ landing, delta, table: TABLE, now: sampleClock })).toMatchObject({
          outcome: 'applied',
          batch: 1,
        });
      }
      await capture(landing, [
        change({
          op: 'MODIFY',
          pk: 'customer#2',
          sk: 'profile',
          seq: seq(10),
          ts: AFTER,
          attributes: { vip: { BOOL: true } },
        }),
        change({ op: 'REMOVE', pk: 'customer#3', sk: 'order#0001', seq: seq(11), ts: AFTER }),
      ]);
      for (const delta of [s3, folder]) {
        expect(await applyBatch({ landing, delta, table: TABLE, now: sampleClock })).toMatchObject({
          outcome: 'applied',
          batch: 2,
          updated: 1,
          deleted: 1,
        });
      }
      const onS3 = await readTable(s3);
      const inFolder = await readTable(folder);
      expect(onS3.snapshot.version).toBe(2);
      expect(new Map(onS3.items)).toEqual(new Map(inFolder.items));
      expect(new Map(onS3.system)).toEqual(new Map(inFolder.system));
      expect(await s3.head('_ddb_lake/apply/batches/00000000000000000002.json')).toBeDefined();
      expect(await s3.head('_ddb_lake/apply/tombstones/00000000000000000002.jsonl.gz')).toBeDefined();
    } finally {
      await s3.close();
    }
  });
});
