import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { changeRecordLine } from '../../src/formats/change-file-encoder.ts';
import { changeFileKey } from '../../src/formats/change-file-key.ts';
import {
  capture,
  change,
  coverageRecord,
  MINUTE,
  orderKey,
  readTable,
  sampleLanding,
  seq,
  TABLE,
  tempStore,
} from '../apply/run-support.ts';
import { runDdbLake } from '../support/run-cli.ts';

/**
 * T of the sample export, moved to two hours before the clock that the ddb-lake processes read:
 * apply dates its batches by that clock, so inputs dated on a fixed day would age into settled
 * partitions two days later.
 */
const T = Math.floor(Date.now() / MINUTE) * MINUTE - 120 * MINUTE;
const AFTER = T + 30 * MINUTE;

function apply(landing: string, delta: string, ...args: string[]) {
  return runDdbLake(['apply', '--landing', landing, '--delta', delta, '--table', TABLE, ...args]);
}

describe('ddb-lake apply', () => {
  it('--help teaches the handoff, exactly-once batches and the exit codes', async () => {
    const help = await runDdbLake(['apply', '--help']);
    expect(help.code).toBe(0);
    const text = help.stdout.replace(/\s+/g, ' ');
    expect(text).toContain('T − margin');
    expect(text).toContain('txn(appId, batch)');
    expect(text).toContain('_ddb_lake/apply/batches/');
    expect(text).toContain('--max-bad');
    expect(text).toContain('4 not ready');
  });

  it('applies the first batch, then says there is nothing new; --json prints one document', async () => {
    const landing = await sampleLanding({ exportTime: T });
    await capture(landing, [coverageRecord(1, T)]);
    const delta = await tempStore('delta');

    const first = await apply(landing.rootDir, delta.rootDir);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('Batch 1 committed as version 1');
    expect(first.stdout).toContain(
      `snapshot    01795392000000-5a1c9e20 (export, T = ${new Date(T).toISOString()}): 4 items`,
    );
    expect(first.stdout).toMatch(/rows\s+3 inserted, 1 updated, 1 deleted/);

    await capture(landing, [
      change({
        op: 'INSERT',
        pk: 'customer#5',
        sk: 'order#0001',
        seq: seq(10),
        ts: AFTER,
        attributes: { n: { N: '5' } },
      }),
    ]);
    const idle = await apply(landing.rootDir, delta.rootDir, '--until-idle', '--json');
    expect(idle.code).toBe(0);
    const document = JSON.parse(idle.stdout);
    expect(document.batches.map((batch: { outcome: string }) => batch.outcome)).toEqual([
      'applied',
      'nothing-new',
    ]);
    expect(document.batches[0]).toMatchObject({ batch: 2, version: 2, inserted: 1 });
    expect(document.batches[1]).toMatchObject({ batch: 2, version: 2 });
    expect((await readTable(delta)).items.get(orderKey('customer#5', 'order#0001'))).toBe(
      '{"n":5,"pk":"customer#5","sk":"order#0001"}',
    );
  });

  it('refuses an uncovered handoff with exit code 4, the problem and what to do', async () => {
    const landing = await sampleLanding({ exportTime: T });
    await capture(landing, [
      change({ op: 'MODIFY', pk: 'customer#9', sk: 'late', seq: seq(1), ts: T + MINUTE }),
    ]);
    const delta = await tempStore('delta');
    const refused = await apply(landing.rootDir, delta.rootDir, '--margin', '15m', '--json');
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain('CAPTURE_STARTED_LATE');
    expect(refused.stderr).toContain('Take a new export at a later T');
    const document = JSON.parse(refused.stdout);
    expect(document.error.code).toBe('APPLY_HANDOFF_REFUSED');
    expect(document.error.problems[0].code).toBe('CAPTURE_STARTED_LATE');
    // Capture started after T itself: no margin makes it cover the snapshot.
    const zero = await apply(landing.rootDir, delta.rootDir, '--margin', '0s');
    expect(zero.code).toBe(4);
    expect(zero.stderr).toContain(`T − margin = ${new Date(T).toISOString()}`);
  });

  it('fails with exit code 3 past --max-bad, naming the quarantine; a higher --max-bad lets the batch through', async () => {
    const landing = await sampleLanding({ exportTime: T });
    await capture(landing, [coverageRecord(1, T)]);
    const delta = await tempStore('delta');
    expect((await apply(landing.rootDir, delta.rootDir)).code).toBe(0);
    const good = change({
      op: 'INSERT',
      pk: 'customer#6',
      sk: 'x',
      seq: seq(20),
      ts: AFTER,
      shard: 'shardId-bad',
    });
    const key = changeFileKey({
      table: TABLE,
      shard: 'shardId-bad',
      firstSeq: good.seq,
      lastSeq: seq(21).toString(),
      firstTs: AFTER,
    });
    await landing.put(key, gzipSync(`${changeRecordLine(good)}\nnot json at all\n`));

    const failed = await apply(landing.rootDir, delta.rootDir);
    expect(failed.code).toBe(3);
    expect(failed.stderr).toContain('Batch 2 found 1 bad line(s), more than --max-bad 0 allows');
    expect(failed.stderr).toContain(`${delta.url}/_ddb_lake/quarantine/apply/00000000000000000002/`);

    const tolerated = await apply(landing.rootDir, delta.rootDir, '--max-bad', '1');
    expect(tolerated.code).toBe(0);
    expect(tolerated.stdout).toContain(
      'Batch 2 (rebuilt from its record after an interrupted run) committed as version 2',
    );
    expect(tolerated.stdout).toMatch(/quarantined 1 \(in /);
  });

  it('refuses contradictory or malformed flags with exit code 2', async () => {
    const landing = await tempStore('landing');
    const delta = await tempStore('delta');
    expect((await apply(landing.rootDir, delta.rootDir, '--until-idle', '--every', '5m')).code).toBe(2);
    expect((await apply(landing.rootDir, delta.rootDir, '--margin', 'soon')).code).toBe(2);
    expect((await apply(landing.rootDir, delta.rootDir, '--keys', 'a,b,c')).code).toBe(2);
    expect((await runDdbLake(['apply', '--landing', landing.rootDir, '--table', TABLE])).code).toBe(2);
  });
});

describe('ddb-lake apply --engine databricks', () => {
  it('--help teaches the engine, its flags and the dry run', async () => {
    const help = await runDdbLake(['apply', '--help']);
    const text = help.stdout.replace(/\s+/g, ' ');
    expect(text).toContain('--engine databricks runs each batch as SQL on a Databricks SQL warehouse');
    expect(text).toContain('_ddb_lake/apply/completed/');
    for (const flag of [
      '--warehouse <id>',
      '--catalog <name>',
      '--schema <name>',
      '--databricks-profile <name>',
      '--dry-run',
    ]) {
      expect(text).toContain(flag);
    }
  });

  it('refuses Databricks flags without the engine, and the engine without its catalog and schema (exit 2)', async () => {
    const landing = await sampleLanding({ exportTime: T });
    const delta = await tempStore('delta');
    const stray = await apply(landing.rootDir, delta.rootDir, '--warehouse', 'abc', '--dry-run');
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain('--warehouse, --dry-run are for --engine databricks');
    const bare = await apply(landing.rootDir, delta.rootDir, '--engine', 'databricks', '--warehouse', 'abc');
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('--engine databricks needs --catalog and --schema');
    const noWarehouse = await runDdbLake(
      [
        'apply',
        '--landing',
        landing.rootDir,
        '--delta',
        delta.rootDir,
        '--table',
        TABLE,
        '--engine',
        'databricks',
        '--catalog',
        'main',
        '--schema',
        'sales',
      ],
      { DATABRICKS_WAREHOUSE_ID: '' },
    );
    expect(noWarehouse.code).toBe(2);
    expect(noWarehouse.stderr).toContain('needs --warehouse <id>');
    const dotted = await runDdbLake([
      'apply',
      '--landing',
      landing.rootDir,
      '--delta',
      delta.rootDir,
      '--table',
      'orders.v2',
      ...['--engine', 'databricks', '--catalog', 'main', '--schema', 'sales', '--dry-run'],
    ]);
    expect(dotted.code).toBe(2);
    expect(dotted.stderr).toContain('the DynamoDB table name "orders.v2" is not a Unity Catalog table name');
  });

  it("--dry-run prints the first batch's statements with their parameters and writes nothing", async () => {
    const landing = await sampleLanding({ exportTime: T, incremental: false });
    await capture(landing, [coverageRecord(1, T)]);
    const delta = await tempStore('delta');
    const dryRun = ['--engine', 'databricks', '--catalog', 'main', '--schema', 'sales', '--dry-run'];
    const run = await apply(landing.rootDir, delta.rootDir, ...dryRun);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Batch 1 would run 8 statements on the warehouse');
    expect(run.stdout).toContain('-- 6. create-table');
    expect(run.stdout).toContain('CREATE TABLE IF NOT EXISTS `main`.`sales`.`orders`');
    expect(run.stdout).toMatch(/-- {3}:change_file_0 STRING = ".*\.jsonl\.gz"/);
    expect(run.stdout).toContain('MERGE INTO `main`.`sales`.`orders` AS t');
    const json = await apply(landing.rootDir, delta.rootDir, ...dryRun, '--json');
    const batch = (
      JSON.parse(json.stdout) as { batches: { outcome: string; statements: { purpose: string }[] }[] }
    ).batches[0];
    expect(batch?.outcome).toBe('dry-run');
    expect(batch?.statements.map((s) => s.purpose)).toContain('merge');
    const written: string[] = [];
    for await (const object of delta.list('')) written.push(object.key);
    expect(written).toEqual([]);
  });
});
