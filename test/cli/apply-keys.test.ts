import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { applyBatch } from '../../src/apply/apply-batch.ts';
import { ApplyErrorCode, ApplyRunError } from '../../src/apply/apply-errors.ts';
import { parseBatchRecord, readBatchRecord } from '../../src/apply/batch-record.ts';
import { findSnapshot } from '../../src/apply/inputs/input-discovery.ts';
import { supersededRecordKey } from '../../src/apply/replan-record.ts';
import { firstBatchKeys } from '../../src/apply/snapshot/first-batch-keys.ts';
import type { Item } from '../../src/dynamo/attribute-value.ts';
import { changeRecordLine } from '../../src/formats/change-file-encoder.ts';
import { changeFileKey } from '../../src/formats/change-file-key.ts';
import { writeChangeFile } from '../../src/formats/change-file-writer.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import { ExportWriter } from '../../src/formats/export-writer.ts';
import { LOCAL_DYNAMODB_CREDENTIALS, LOCAL_REGION } from '../../src/local/dynamodb-local.ts';
import type { LocalFolderStore } from '../../src/storage/local-folder-store.ts';
import {
  capture,
  change,
  coverageRecord,
  MINUTE,
  readTable,
  SAMPLE_EXPORT_ID,
  sampleLanding,
  seq,
  TABLE,
  tempStore,
} from '../apply/run-support.ts';
import { createStreamTable, dynamodbEndpoint, type StreamTable } from '../support/local-stack.ts';
import { runApply } from './apply-process.ts';

/*
 * The first run's key and settings (DESIGN.md rule 4), through the CLI: a --keys that the change
 * records, the snapshot or DescribeTable (DynamoDB Local) contradict is refused before anything is
 * written; flags that differ from what batch 1 recorded are refused, and --replan re-plans with
 * them; bad lines are printed as the first few and a count. Inputs of later batches are dated from
 * the clock, as the child processes read it.
 */

const NOW = Date.now();

async function written(delta: LocalFolderStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of delta.list(prefix)) keys.push(object.key);
  return keys;
}

const tables: StreamTable[] = [];
afterAll(async () => {
  for (const table of tables) await table.drop();
});

describe('the first run checks the key', () => {
  it('refuses --keys pk on a pk+sk table before anything is written, naming a change record that holds sk; without --keys it takes the records’ key', async () => {
    const landing = await sampleLanding();
    await capture(landing, [coverageRecord()]);
    const delta = await tempStore('delta');
    const where = { landing: landing.rootDir, delta: delta.rootDir, table: TABLE };
    const wrong = await runApply(where, ['--keys', 'pk', '--json']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(
      'The change records do not fit the key "pk" (partition key only) (--keys)',
    );
    expect(wrong.stderr).toMatch(/changes\/orders\/dt=[\d-]+\/shardId-[^ ]+ line 1 holds "pk", "sk"/);
    expect(JSON.parse(wrong.stdout).error.code).toBe(ApplyErrorCode.keysMismatch);
    expect(await written(delta, '_ddb_lake/apply/batches/')).toEqual([]);
    expect(await written(delta, '_delta_log/')).toEqual([]);

    const right = await runApply(where);
    expect(right.code).toBe(0);
    expect((await readBatchRecord(delta, 1))?.settings?.keys).toEqual({ partition: 'pk', sort: 'sk' });
  });

  it('refuses keys that the snapshot’s items do not fit: an item without the attribute, two items with one key', async () => {
    const landing = await sampleLanding();
    const snapshot = await findSnapshot(landing, TABLE, SAMPLE_EXPORT_ID);
    const inputs = { changeFiles: [], incrementalExports: [] };
    const check = (keys: { partition: string; sort?: string }) =>
      firstBatchKeys({ landing, table: TABLE, inputs, snapshot, given: keys }).catch(
        (error: unknown) => error,
      );
    const collide = await check({ partition: 'pk' });
    expect(collide).toBeInstanceOf(ApplyRunError);
    expect((collide as Error).message).toMatch(
      /its items at AWSDynamoDB\/01795392000000-5a1c9e20\/data\/\w+\.json\.gz line 1 and \S+ line 2 both have the key \{"pk":"customer#1"\}/,
    );
    const missing = await check({ partition: 'pk', sort: 'total' });
    expect((missing as Error).message).toContain('has no usable "total"');
    expect(await check({ partition: 'pk', sort: 'sk' })).toEqual({ partition: 'pk', sort: 'sk' });
  });

  it('with --describe-table, takes the key schema from DynamoDB (DynamoDB Local) and refuses a --keys that differs', async () => {
    const table = await createStreamTable({ prefix: 'keys', sortKey: { name: 'sk', type: 'S' } });
    tables.push(table);
    const landing = await tempStore('landing');
    const exportTime = NOW - 60 * MINUTE;
    const exporter = await ExportWriter.start(landing, {
      tableArn: table.tableArn,
      exportTime: new Date(exportTime),
    });
    const item = (pk: string, sk: string, n: string): Item => ({ pk: { S: pk }, sk: { S: sk }, n: { N: n } });
    await exporter.write(item('a', '1', '1'));
    await exporter.write(item('a', '2', '2'));
    await exporter.finish();
    const coverage: ChangeRecord = {
      ...change({ op: 'MODIFY', pk: 'a', sk: '1', seq: seq(1), ts: exportTime - 20 * MINUTE }),
      new: item('a', '1', '0'),
    };
    const file = await writeChangeFile(landing, table.tableName, [coverage]);
    const at = new Date(coverage.ts + 1000);
    await utimes(path.join(landing.rootDir, file.key), at, at);
    const delta = await tempStore('delta');
    const where = { landing: landing.rootDir, delta: delta.rootDir, table: table.tableName };
    const env = {
      AWS_ENDPOINT_URL_DYNAMODB: dynamodbEndpoint(),
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_DYNAMODB_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_DYNAMODB_CREDENTIALS.secretAccessKey,
    };

    const swapped = await runApply(where, ['--describe-table', '--keys', 'sk,pk'], { env });
    expect(swapped.code).toBe(2);
    expect(swapped.stderr).toContain(
      `--keys names the key "sk" (partition) and "pk" (sort), but DynamoDB describes the table ${table.tableName} with the key "pk" (partition) and "sk" (sort)`,
    );
    expect(await written(delta, '_ddb_lake/apply/batches/')).toEqual([]);

    const described = await runApply(where, ['--describe-table'], { env });
    expect(described.stderr).toBe('');
    expect(described.code).toBe(0);
    expect((await readBatchRecord(delta, 1))?.settings?.keys).toEqual({ partition: 'pk', sort: 'sk' });
    expect((await readTable(delta)).items.size).toBe(2);
  });
});

describe('first-run flags a later run passes', () => {
  it('differing from an uncommitted batch 1 are refused with the recorded values; --replan takes them and keeps the old record; once committed they are refused for good', async () => {
    const landing = await sampleLanding();
    await capture(landing, [coverageRecord()]);
    const delta = await tempStore('delta');
    const where = { landing: landing.rootDir, delta: delta.rootDir, table: TABLE };
    const killed = await runApply(where, ['--buckets', '4'], { fault: 'after-batch-record' });
    expect(killed.signal).toBe('SIGKILL');

    const differ = await runApply(where, ['--buckets', '8', '--keys', 'pk,sk']);
    expect(differ.code).toBe(2);
    expect(differ.stderr).toContain("fixes other settings than this run's flags: --buckets 8 (recorded: 4)");
    expect(differ.stderr).toContain('run apply again with --replan');

    const replanned = await runApply(where, ['--replan', '--buckets', '8', '--json']);
    expect(replanned.code).toBe(0);
    expect(JSON.parse(replanned.stdout).batches[0]).toMatchObject({
      outcome: 'applied',
      batch: 1,
      dropped: [],
      replans: [{ superseded: supersededRecordKey(1, 1), dropped: [] }],
    });
    const old = parseBatchRecord(await delta.getBytes(supersededRecordKey(1, 1)), 'old');
    expect(old.settings?.buckets).toBe(4);
    expect((await readBatchRecord(delta, 1))?.settings?.buckets).toBe(8);
    expect((await readTable(delta)).snapshot.metadata.configuration['ddb_lake.buckets']).toBe('8');

    const committed = await runApply(where, ['--buckets', '4']);
    expect(committed.code).toBe(2);
    expect(committed.stderr).toContain('was created with other settings than this run');
    expect(committed.stderr).toContain('--buckets 4 (recorded: 8)');
    expect((await runApply(where, ['--buckets', '8'])).code).toBe(0);
  });
});

describe('bad lines', () => {
  it('are printed as the first five and a count, not one line each', async () => {
    const landing = await sampleLanding();
    await capture(landing, [coverageRecord()]);
    const delta = await tempStore('delta');
    await applyBatch({ landing, delta, table: TABLE, now: () => NOW });
    const good = change({
      op: 'INSERT',
      pk: 'customer#8',
      sk: 'x',
      seq: seq(50),
      ts: NOW - MINUTE,
      shard: 'shardId-bad',
    });
    const key = changeFileKey({
      table: TABLE,
      shard: 'shardId-bad',
      firstSeq: good.seq,
      lastSeq: seq(60).toString(),
      firstTs: good.ts,
    });
    const lines = [changeRecordLine(good), ...Array.from({ length: 12 }, (_, i) => `not json ${i}`)];
    await landing.put(key, gzipSync(`${lines.join('\n')}\n`));
    const run = await runApply({ landing: landing.rootDir, delta: delta.rootDir, table: TABLE });
    expect(run.code).toBe(3);
    expect(run.stderr.match(/^ {2}quarantined /gm)).toHaveLength(5);
    expect(run.stderr).toContain(`quarantined ${key} line 2`);
    expect(run.stderr).not.toContain(`quarantined ${key} line 7`);
    expect(run.stderr).toContain('… more bad lines');
    expect(run.stderr).toContain('Batch 2 found 12 bad line(s)');
  });
});
