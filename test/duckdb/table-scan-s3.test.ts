import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readLakeRows } from '../../src/duckdb/lake-rows.ts';
import { DuckSession } from '../../src/duckdb/session.ts';
import { createSnapshotView, readSnapshotRows } from '../../src/duckdb/table-scan.ts';
import {
  S3_SERVER_CREDENTIALS,
  S3_SERVER_REGION,
  type S3Server,
  startS3Server,
} from '../../src/local/s3-server.ts';
import { S3Store } from '../../src/storage/s3-store.ts';
import { ORDER_ROWS, ORDERS, snapshotOf, tableHeader, writeCommit, writeRows } from './support.ts';

let session: DuckSession;

beforeAll(async () => {
  session = await DuckSession.open({ threads: 2 });
});

afterAll(async () => {
  await session.close();
});

describe('reading a snapshot on S3', () => {
  let server: S3Server;

  beforeAll(async () => {
    server = await startS3Server({ buckets: ['lake'] });
  });

  afterAll(async () => {
    await server.stop();
  });

  test('data files are downloaded to the scratch folder, read, and removed after readSnapshotRows', async () => {
    const store = new S3Store({
      bucket: 'lake',
      prefix: 'tables/orders',
      endpointUrl: server.endpoint,
      region: S3_SERVER_REGION,
      credentials: S3_SERVER_CREDENTIALS,
    });
    try {
      const eu = await writeRows(session, store, ORDERS, ORDER_ROWS.slice(0, 2), { region: 'eu' });
      const us = await writeRows(session, store, ORDERS, ORDER_ROWS.slice(2), { region: 'us' });
      await writeCommit(store, 0, [
        ...tableHeader(ORDERS, ['region']),
        ...[...eu, ...us].map((add) => ({ add })),
      ]);
      const snapshot = await snapshotOf(session, store);
      const rows = await readSnapshotRows(session, store, snapshot, { orderBy: ['pk'] });
      expect(rows).toEqual([
        { ...ORDER_ROWS[0], region: 'eu' },
        { ...ORDER_ROWS[1], region: 'eu' },
        { ...ORDER_ROWS[2], region: 'us' },
      ]);
      expect((await readdir(session.scratchDir)).filter((name) => name.startsWith('scan-'))).toEqual([]);

      await createSnapshotView(session, store, snapshot, 's3_view');
      const count = await readLakeRows(session, 'SELECT count(*) AS n FROM s3_view');
      expect(count).toEqual([{ n: 3n }]);
    } finally {
      await store.close();
    }
  });
});
