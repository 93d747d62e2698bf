import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { afterAll, describe, it } from 'vitest';
import { type ApplyOptions, applyBatch, type LocalBatchResult } from '../../src/apply/apply-batch.ts';
import { scanExport } from '../../src/backfill/scan-export.ts';
import { DuckSession } from '../../src/duckdb/session.ts';
import { checkHandoff } from '../../src/plan/handoff-check.ts';
import { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import { newStreamsClient } from '../support/dynamodb-streams.ts';
import {
  createStreamTable,
  dynamoDbClient,
  dynamodbEndpoint,
  type StreamTable,
} from '../support/local-stack.ts';
import { BackgroundCapture } from './support/background-capture.ts';
import { readLakeItems } from './support/lake-items.ts';
import { StatementPlanCheck } from './support/statement-plan-check.ts';
import { assertSameItems, scanPlainItems, type TableKeys } from './support/table-comparison.ts';
import { Workload, type WorkloadKeySchema } from './support/workload.ts';

/*
 * The end-to-end property of apply (issue 6, DESIGN.md rules 1–4): a random workload runs against
 * DynamoDB Local while capture runs beside it; a Scan export is taken midway while the writes go on;
 * after capture has drained, apply loads the Scan export and every captured change, and the Delta
 * table equals a fresh Scan of the DynamoDB table, item for item, as canonical plain JSON per key.
 * Then more workload, more batches, the same equality after each.
 *
 * The margin. DynamoDB Local stamps stream records' ApproximateCreationDateTime to the whole minute,
 * rounded down (DESIGN.md, pitfalls). Apply skips records with ts < T − margin as already in the
 * snapshot, so the margin must cover that rounding: a record written at t ≥ T carries
 * floor(t to the minute) > t − 60 s ≥ T − 60 s, so with a 60-second margin no change made after
 * the Scan started is skipped, whatever second of the minute it happened in. The handoff then
 * needs the first captured record's stamp S ≤ T − 60 s: the workload trickles on until
 * `checkHandoff` (the check apply makes) says the captured changes cover the window, and only then
 * the Scan starts. That wait — up to a minute, until the minute of the first write has passed — is
 * shared by the seeds, which run concurrently.
 */

const MARGIN_MS = 60_000;

interface Case {
  readonly seed: number;
  readonly keySchema: WorkloadKeySchema;
  readonly deletes: 'hard' | 'soft';
  /** Key-hash buckets of the lake table: one bucket rewrites everything, more rewrite a share. */
  readonly buckets: number;
  readonly title: string;
}

const CASES: readonly Case[] = [
  {
    seed: 11,
    title: 'pk S + sk N, hard deletes',
    keySchema: { partition: { name: 'pk', type: 'S' }, sort: { name: 'sk', type: 'N' } },
    deletes: 'hard',
    buckets: 16,
  },
  {
    seed: 23,
    title: 'id S only, soft deletes',
    keySchema: { partition: { name: 'id', type: 'S' } },
    deletes: 'soft',
    buckets: 4,
  },
  {
    seed: 37,
    title: 'pk N + sk B, hard deletes',
    keySchema: { partition: { name: 'pk', type: 'N' }, sort: { name: 'sk', type: 'B' } },
    deletes: 'hard',
    buckets: 1,
  },
];

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.allSettled(cleanups.map((cleanup) => cleanup()));
});

async function tempStore(prefix: string): Promise<LocalFolderStore> {
  const folder = await mkdtemp(path.join(tmpdir(), prefix));
  const store = new LocalFolderStore(folder);
  cleanups.push(async () => {
    await store.close();
    await rm(folder, { recursive: true, force: true });
  });
  return store;
}

function tableKeys(schema: WorkloadKeySchema): TableKeys {
  return schema.sort === undefined
    ? { partition: schema.partition.name }
    : { partition: schema.partition.name, sort: schema.sort.name };
}

function applied(result: LocalBatchResult): Extract<LocalBatchResult, { outcome: 'applied' }> {
  if (result.outcome !== 'applied')
    throw new Error(`expected the batch to be applied, got ${JSON.stringify(result)}`);
  return result;
}

describe.concurrent('apply end to end: a random workload, capture, a Scan export midway, batches', () => {
  it.for(CASES)(
    'seed $seed ($title): after every batch the lake equals a fresh Scan, item for item',
    { timeout: 180_000 },
    async ({ seed, keySchema, deletes, buckets }, { expect }) => {
      const keys = tableKeys(keySchema);
      const table: StreamTable = await createStreamTable({
        prefix: `e2e-${seed}`,
        partitionKey: keySchema.partition,
        ...(keySchema.sort === undefined ? {} : { sortKey: keySchema.sort }),
      });
      cleanups.push(() => table.drop());
      const streams: DynamoDBStreamsClient = newStreamsClient(dynamodbEndpoint());
      cleanups.push(async () => streams.destroy());
      const landing = await tempStore('ddb-lake-e2e-landing-');
      const delta = await tempStore('ddb-lake-e2e-delta-');
      const capture = new BackgroundCapture({
        stream: { table: table.tableName, streamArn: table.streamArn },
        streams,
        landing,
      });
      cleanups.push(() => capture.stop());
      const workload = new Workload({ client: dynamoDbClient(), table: table.tableName, seed, keySchema });
      const apply = (options: Partial<Omit<ApplyOptions, 'engine' | 'dryRun'>> = {}) =>
        applyBatch({ landing, delta, table: table.tableName, ...options });
      const expectLakeEqualsTable = async (when: string) => {
        const lake = await readLakeItems(delta);
        expect(lake.problems, when).toEqual([]);
        assertSameItems(await scanPlainItems(dynamoDbClient(), table.tableName, keys), lake.items, when);
        return lake;
      };

      // Before the Scan: items of every type, then a trickle of writes until the captured changes
      // reach back past T − margin for a T of now.
      // Capture starts after the first write: DynamoDB Local answers a TRIM_HORIZON iterator taken
      // on a still empty shard with TrimmedDataAccessException once other tables' writes have moved
      // its (instance-wide) sequence numbers on, which capture records as a gap (nothing is lost).
      await workload.run(1);
      capture.start();
      await workload.run(60);
      const waitingSince = Date.now();
      const handoffCovered = async (): Promise<boolean> => {
        capture.check();
        if (Date.now() - waitingSince > 90_000)
          throw new Error('the captured changes never covered the handoff');
        const check = await checkHandoff({
          store: landing,
          table: table.tableName,
          exportTime: new Date(),
          marginMs: MARGIN_MS,
        });
        return check.ok;
      };
      await workload.runUntil(handoffCovered, { pauseMs: 250 });

      // The Scan export, slowed down so that the writes going on overlap it.
      let scanning = true;
      const before = workload.stats.operations;
      const scan = scanExport({
        client: dynamoDbClient(),
        table: table.tableName,
        landing,
        segments: 3,
        pageLimit: 8,
        maxReadUnitsPerSecond: 20,
        resume: 'none',
      }).finally(() => {
        scanning = false;
      });
      await workload.runUntil(
        () => {
          capture.check();
          return !scanning;
        },
        { pauseMs: 5 },
      );
      const exported = await scan;
      const duringScan = workload.stats.operations - before;
      workload.nextPhase();
      await workload.run(40);
      await capture.drain();

      // The statement plan (the Databricks engine's rules) rendered for DuckDB runs beside every batch.
      const planSession = await DuckSession.open({ threads: 1 });
      cleanups.push(() => planSession.close());
      const plan = new StatementPlanCheck(planSession, landing, delta, expect);
      const first = applied(
        await apply({ snapshot: exported.exportId, keys, marginMs: MARGIN_MS, deletes, buckets }),
      );
      await plan.afterBatch(1);
      expect(first).toMatchObject({ batch: 1, snapshot: { exportId: exported.exportId, kind: 'scan' } });
      expect(first.changeFiles).toBeGreaterThan(0);
      await expectLakeEqualsTable('after batch 1 (the Scan export and the changes since T − margin)');

      // Later batches: each takes only the change files captured since the one before.
      const later: Extract<LocalBatchResult, { outcome: 'applied' }>[] = [];
      for (const [index, operations] of [150, 80].entries()) {
        capture.start();
        workload.nextPhase();
        await workload.run(operations);
        // Random deletes may all be re-inserted within the phase; these stay deleted into the batch.
        const deletedAtEnd = await workload.deleteRowsOfEarlierPhases(2);
        await capture.drain();
        const result = applied(await apply());
        await plan.afterBatch(result.batch);
        expect(result.deleted).toBeGreaterThanOrEqual(deletedAtEnd);
        expect(result.batch).toBe(index + 2);
        later.push(result);
        const lake = await expectLakeEqualsTable(`after batch ${result.batch}`);
        if (deletes === 'soft') {
          // Deleted rows stay, flagged, and only for keys the workload deleted and did not put back.
          // (Whether a batch deletes anything depends on how the workload's phases fall in time.)
          if (result.deleted > 0) expect(lake.softDeleted.size).toBeGreaterThan(0);
          expect([...lake.softDeleted.keys()].filter((key) => !workload.deletedKeys.has(key))).toEqual([]);
        }
      }
      expect(await apply()).toMatchObject({ outcome: 'nothing-new', batch: 3 });
      await expectLakeEqualsTable('after a run with nothing new');

      // The workload did what the property is about: writes during the Scan, type changes, deletes,
      // re-inserts of deleted keys, attributes first seen in a later batch.
      expect(duringScan).toBeGreaterThan(0);
      expect(workload.stats.deleted).toBeGreaterThan(10);
      expect(workload.stats.reinserted).toBeGreaterThan(5);
      expect(workload.stats.typeChanges).toBeGreaterThan(5);
      const batches = [first, ...later];
      expect(
        batches.reduce((sum, batch) => sum + batch.deleted, 0),
        `no batch deleted a row; per batch (inserted/updated/deleted/skipped as older): ${batches
          .map((batch) => `${batch.inserted}/${batch.updated}/${batch.deleted}/${batch.skipped.olderThanRow}`)
          .join(', ')}; the workload: ${JSON.stringify(workload.stats)}`,
      ).toBeGreaterThan(0);
      expect(batches.flatMap((batch) => batch.schemaChanges).some((change) => change.kind === 'column')).toBe(
        true,
      );
    },
  );
});
