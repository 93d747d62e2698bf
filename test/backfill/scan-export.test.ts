import {
  DescribeTableCommand,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
} from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { readRun, readSegmentCheckpoints } from '../../src/backfill/backfill-run.ts';
import {
  BadScanCheckpointError,
  CannotResumeError,
  TableNotFoundError,
} from '../../src/backfill/scan-errors.ts';
import { type ScanEvent, ScanEventCode } from '../../src/backfill/scan-events.ts';
import { scanExport } from '../../src/backfill/scan-export.ts';
import { withoutSdkLogging } from '../../src/backfill/sdk-logging.ts';
import { itemToPlainJson } from '../../src/dynamo/plain-json.ts';
import { listExports, openExport } from '../../src/formats/export-layout.ts';
import { LOCAL_DYNAMODB_CREDENTIALS, LOCAL_REGION } from '../../src/local/dynamodb-local.ts';
import { sampleOrders } from '../../src/local/sample-orders.ts';
import { FaultyStore } from '../capture/support-faulty-store.ts';
import type { StreamTable } from '../support/local-stack.ts';
import { dynamoDbClient, dynamodbEndpoint } from '../support/local-stack.ts';
import {
  exportedItems,
  faultyClient,
  keyOf,
  keysUnder,
  plainScan,
  tableWith,
  tempLanding,
} from './scan-support.ts';

const ITEMS = [...sampleOrders(600, 7)];
/** Small pages and files, so that every segment has several pages and checkpoints. */
const SMALL = { segments: 3, pageLimit: 40, maxFileBytes: 30_000 } as const;

let table: StreamTable;
let expected: Map<string, string>;

beforeAll(async () => {
  table = await tableWith(ITEMS, 'scan-export');
  expected = await plainScan(table.tableName);
});

/** The export holds every item of the table once, each equal to what a plain Scan returns. */
async function expectExactlyTheTable(store: Parameters<typeof exportedItems>[0], dir: string): Promise<void> {
  const items = await exportedItems(store, dir);
  expect(items.length).toBe(ITEMS.length);
  expect(new Set(items.map(([key]) => key)).size).toBe(ITEMS.length);
  expect(new Map(items)).toEqual(expected);
}

describe('Scan export against DynamoDB Local', () => {
  it('writes the native layout whose items equal a plain Scan, item for item, and says in the summary it was a scan', async () => {
    const { store } = await tempLanding();
    const events: ScanEvent[] = [];
    const before = Date.now();
    const result = await scanExport({
      client: dynamoDbClient(),
      table: table.tableName,
      landing: store,
      ...SMALL,
      onEvent: (event) => events.push(event),
    });
    const after = Date.now();

    expect(result.outcome).toBe('complete');
    const [listing] = await listExports(store);
    expect(listing?.exportId).toBe(result.exportId);
    expect(result.summary).toMatchObject({
      exportType: 'FULL_EXPORT',
      itemCount: ITEMS.length,
      tableArn: table.tableArn,
    });
    const exportTime = Date.parse(result.summary.exportTime);
    expect(exportTime).toBeGreaterThanOrEqual(before);
    expect(exportTime).toBeLessThanOrEqual(after);
    const written = JSON.parse(
      Buffer.from(await store.getBytes(`${result.dir}manifest-summary.json`)).toString('utf8'),
    );
    expect(written.ddbLakeScan).toEqual({
      startTime: result.summary.exportTime,
      endTime: result.summary.endTime,
      segments: 3,
      consistentRead: false,
    });
    expect(Date.parse(written.ddbLakeScan.endTime)).toBeGreaterThanOrEqual(exportTime);
    expect(Date.parse(written.ddbLakeScan.endTime)).toBeLessThanOrEqual(Date.now());

    await expectExactlyTheTable(store, result.dir);
    // DynamoDB Local kept every value exactly: the export equals what was written, too.
    expect(new Map(await exportedItems(store, result.dir))).toEqual(
      new Map(ITEMS.map((item) => [keyOf(item), itemToPlainJson(item)])),
    );

    // The checkpoints list exactly the data files of the manifest, and the run is marked finished.
    const checkpoints = await readSegmentCheckpoints(store, 'scan', result.exportId, 3);
    expect([...checkpoints.values()].every((checkpoint) => checkpoint.done)).toBe(true);
    const checkpointed = [...checkpoints.values()].flatMap((checkpoint) =>
      checkpoint.files.map((file) => file.key),
    );
    const manifest = (await openExport(store, result.dir)).files.map((file) => file.key);
    expect(checkpointed.sort()).toEqual([...manifest].sort());
    expect(manifest.length).toBeGreaterThan(3);
    expect((await readRun(store, 'scan', result.exportId))?.finishedAt).toBe(result.summary.endTime);

    expect(events[0]).toMatchObject({ code: ScanEventCode.started, resumed: false, segments: 3 });
    expect(events.filter((event) => event.code === ScanEventCode.checkpoint).length).toBe(manifest.length);
    expect(events.filter((event) => event.code === ScanEventCode.segmentFinished).length).toBe(3);
    expect(events.at(-1)).toMatchObject({ code: ScanEventCode.finished, progress: { items: ITEMS.length } });
    expect(result.progress.readUnits).toBeGreaterThan(0);

    // Asking for that export again returns it without reading the table.
    const again = await scanExport({
      client: faultyClient((command) => (command === 'ScanCommand' ? new Error('must not scan') : undefined)),
      table: table.tableName,
      landing: store,
      resume: { runId: result.exportId },
    });
    expect(again).toMatchObject({ outcome: 'complete', resumed: true, exportId: result.exportId });
    expect(again.summary).toEqual(result.summary);
    expect((await listExports(store)).length).toBe(1);
  });

  it('resumes a scan whose checkpoint write failed from the checkpoints, each item exactly once, without the orphaned data files', async () => {
    const { store } = await tempLanding();
    const faulty = new FaultyStore(store, {
      failPut: (key) =>
        key.includes('/segments/') &&
        faulty.attemptedWrites.filter((k) => k.includes('/segments/')).length === 5,
    });
    await expect(
      scanExport({ client: dynamoDbClient(), table: table.tableName, landing: faulty, ...SMALL }),
    ).rejects.toMatchObject({ code: 'INJECTED_FAULT' });
    expect(await listExports(store)).toEqual([]);

    const events: ScanEvent[] = [];
    const result = await scanExport({
      client: dynamoDbClient(),
      table: table.tableName,
      landing: store,
      ...SMALL,
      onEvent: (event) => events.push(event),
    });
    expect(result).toMatchObject({ outcome: 'complete', resumed: true });
    const started = events.find((event) => event.code === ScanEventCode.started);
    expect(started).toMatchObject({ resumed: true, exportId: result.exportId });
    const orphans = events.find((event) => event.code === ScanEventCode.orphansRemoved);
    expect(orphans?.code === ScanEventCode.orphansRemoved && orphans.keys.length).toBeGreaterThanOrEqual(1);
    expect(result.progress.itemsThisRun).toBeLessThan(ITEMS.length);
    expect(result.progress.items).toBe(ITEMS.length);

    await expectExactlyTheTable(store, result.dir);
    const manifest = (await openExport(store, result.dir)).files.map((file) => file.key).sort();
    expect(await keysUnder(store, `${result.dir}data/`)).toEqual(manifest);
  });

  it('resumes where each segment stopped after DynamoDB failed a Scan midway', async () => {
    const { store } = await tempLanding();
    const failing = faultyClient((command, n) =>
      command === 'ScanCommand' && n === 9
        ? Object.assign(new Error('injected: internal server error'), { name: 'InternalServerError' })
        : undefined,
    );
    await expect(
      scanExport({ client: failing, table: table.tableName, landing: store, ...SMALL }),
    ).rejects.toMatchObject({ name: 'InternalServerError' });

    const result = await scanExport({
      client: dynamoDbClient(),
      table: table.tableName,
      landing: store,
      ...SMALL,
    });
    expect(result).toMatchObject({ outcome: 'complete', resumed: true });
    expect(result.progress.itemsThisRun).toBeLessThan(ITEMS.length);
    await expectExactlyTheTable(store, result.dir);
  });

  it('stops on its signal with every segment checkpointed, and the next run completes the same export', async () => {
    const { store } = await tempLanding();
    const stop = new AbortController();
    const first = await scanExport({
      client: dynamoDbClient(),
      table: table.tableName,
      landing: store,
      ...SMALL,
      signal: stop.signal,
      onEvent: (event) => {
        if (event.code === ScanEventCode.checkpoint) stop.abort();
      },
    });
    expect(first.outcome).toBe('stopped');
    expect(first.progress.items).toBeLessThan(ITEMS.length);
    const checkpoints = await readSegmentCheckpoints(store, 'scan', first.exportId, 3);
    const saved = [...checkpoints.values()].reduce((sum, checkpoint) => sum + checkpoint.items, 0);
    // Every item read before the stop is in a checkpointed file: nothing is read twice.
    expect(saved).toBe(first.progress.items);

    const second = await scanExport({
      client: dynamoDbClient(),
      table: table.tableName,
      landing: store,
      ...SMALL,
    });
    expect(second).toMatchObject({ outcome: 'complete', resumed: true, exportId: first.exportId });
    expect(second.progress.itemsThisRun).toBe(ITEMS.length - saved);
    await expectExactlyTheTable(store, second.dir);
  });

  it('refuses to resume from a damaged checkpoint or one whose data file is gone, reading nothing', async () => {
    const { store } = await tempLanding();
    const failing = faultyClient((command, n) =>
      command === 'ScanCommand' && n === 9
        ? Object.assign(new Error('injected'), { name: 'InternalServerError' })
        : undefined,
    );
    await expect(
      scanExport({ client: failing, table: table.tableName, landing: store, ...SMALL }),
    ).rejects.toMatchObject({ name: 'InternalServerError' });
    const [exportId] = (await keysUnder(store, '_ddb_lake/scan/'))
      .filter((key) => key.endsWith('/run.json'))
      .map((key) => key.split('/')[2]);
    const checkpoints = await readSegmentCheckpoints(store, 'scan', exportId!, 3);
    const withFile = [...checkpoints.values()].find((checkpoint) => checkpoint.files.length > 0)!;
    const noScan = faultyClient((command) =>
      command === 'ScanCommand' ? new Error('must not scan') : undefined,
    );

    await store.delete(withFile.files[0]!.key);
    const missing = scanExport({ client: noScan, table: table.tableName, landing: store, ...SMALL });
    await expect(missing).rejects.toBeInstanceOf(BadScanCheckpointError);
    await expect(missing).rejects.toMatchObject({ message: expect.stringContaining(withFile.files[0]!.key) });

    const key = `_ddb_lake/scan/${exportId}/segments/${String(withFile.segment).padStart(7, '0')}.json`;
    await store.put(key, '{"segment": 0, "done": tru');
    const damaged = scanExport({ client: noScan, table: table.tableName, landing: store, ...SMALL });
    await expect(damaged).rejects.toMatchObject({
      code: 'BAD_SCAN_CHECKPOINT',
      message: expect.stringContaining(key),
    });
  });

  it('refuses to resume a scan with another segment count, naming both, and starts anew when told to', async () => {
    const { store } = await tempLanding();
    const failing = faultyClient((command, n) =>
      command === 'ScanCommand' && n === 6
        ? Object.assign(new Error('injected'), { name: 'InternalServerError' })
        : undefined,
    );
    await expect(
      scanExport({ client: failing, table: table.tableName, landing: store, ...SMALL }),
    ).rejects.toMatchObject({ name: 'InternalServerError' });
    const refused = scanExport({
      client: dynamoDbClient(),
      table: table.tableName,
      landing: store,
      ...SMALL,
      segments: 4,
    });
    await expect(refused).rejects.toBeInstanceOf(CannotResumeError);
    await expect(refused).rejects.toMatchObject({
      message: expect.stringContaining('started with 3 segments'),
    });

    const fresh = await scanExport({
      client: dynamoDbClient(),
      table: table.tableName,
      landing: store,
      ...SMALL,
      segments: 4,
      resume: 'none',
    });
    expect(fresh).toMatchObject({ outcome: 'complete', resumed: false });
    expect(fresh.summary.ddbLakeScan?.segments).toBe(4);
    await expectExactlyTheTable(store, fresh.dir);
  });

  it('retries throttled Scans at a lowered rate and still exports the table exactly', async () => {
    const { store } = await tempLanding();
    const throttling = faultyClient((command, n) =>
      command === 'ScanCommand' && n % 4 === 0
        ? new ProvisionedThroughputExceededException({ message: 'injected: rate exceeded', $metadata: {} })
        : undefined,
    );
    const events: ScanEvent[] = [];
    const result = await scanExport({
      client: throttling,
      table: table.tableName,
      landing: store,
      ...SMALL,
      maxReadUnitsPerSecond: 100_000,
      retry: { attempts: 5, baseDelayMs: 1, maxDelayMs: 4 },
      onEvent: (event) => events.push(event),
    });
    const throttles = events.filter((event) => event.code === ScanEventCode.throttled);
    expect(throttles.length).toBeGreaterThan(0);
    expect(throttles[0]).toMatchObject({ level: 'warn', attempt: 1 });
    expect(
      throttles.every((event) => event.code === ScanEventCode.throttled && event.unitsPerSecond < 100_000),
    ).toBe(true);
    await expectExactlyTheTable(store, result.dir);
  });

  it('exports the same with a client stripped of the SDK logger middleware, which then no longer copies responses for its logger', async () => {
    const logged: unknown[] = [];
    const logger = { debug() {}, info: (entry: unknown) => logged.push(entry), warn() {}, error() {} };
    const client = new DynamoDBClient({
      endpoint: dynamodbEndpoint(),
      region: LOCAL_REGION,
      credentials: { ...LOCAL_DYNAMODB_CREDENTIALS },
      logger,
    });
    await client.send(new DescribeTableCommand({ TableName: table.tableName }));
    expect(logged.length).toBe(1);
    withoutSdkLogging(client);
    const { store } = await tempLanding();
    const result = await scanExport({ client, table: table.tableName, landing: store, ...SMALL });
    expect(logged.length).toBe(1);
    await expectExactlyTheTable(store, result.dir);
    client.destroy();
  });

  it('names a table that does not exist', async () => {
    const { store } = await tempLanding();
    const missing = scanExport({ client: dynamoDbClient(), table: 'no-such-table-here', landing: store });
    await expect(missing).rejects.toBeInstanceOf(TableNotFoundError);
    await expect(missing).rejects.toMatchObject({
      code: 'TABLE_NOT_FOUND',
      message: expect.stringContaining('no-such-table-here'),
    });
    expect(await keysUnder(store, '')).toEqual([]);
  });
});
