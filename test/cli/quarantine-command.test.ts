import { describe, expect, it } from 'vitest';
import { applyBatch } from '../../src/apply/apply-batch.ts';
import { readBatchRecord } from '../../src/apply/batch-record.ts';
import {
  capture,
  coverageRecord,
  MINUTE,
  orderKey,
  readTable,
  SAMPLE_T,
  sampleLanding,
  seq,
  TABLE,
  tempStore,
} from '../apply/run-support.ts';
import {
  amountChange,
  CHANGES_WRITTEN_AT,
  captureThrough,
  fixInPlace,
  quarantineObjectKey,
  setAmount,
} from '../apply/support/stream-records.ts';
import { runDdbLake } from '../support/run-cli.ts';

/*
 * `ddb-lake apply` held by the capture quarantine, `--accept-capture-quarantine`, and
 * `ddb-lake quarantine list|replay`, run as a user runs them. Only first batches and batches that
 * only record an acceptance run through the command line: those list every change-file partition,
 * whatever the day the test runs on; later batches with inputs run through applyBatch with its clock.
 */

const SHARD = 'shardId-00000001795390000000-0000aaaa';
const _WRITTEN = CHANGES_WRITTEN_AT;

function apply(landing: string, delta: string, ...args: string[]) {
  return runDdbLake(['apply', '--landing', landing, '--delta', delta, '--table', TABLE, ...args]);
}

function quarantine(command: 'list' | 'replay', landing: string, ...args: string[]) {
  return runDdbLake(['quarantine', command, '--table', TABLE, '--landing', landing, ...args]);
}

/** A landing area with the sample export, a covering change, and one capture batch of `customer#7`. */
async function landingWithHole(damage: readonly number[]) {
  const landing = await sampleLanding();
  await capture(landing, [coverageRecord()]);
  await captureThrough(landing, [amountChange('customer#7', 20, '1'), amountChange('customer#7', 21, '2')], {
    damage,
  });
  return landing;
}

describe('ddb-lake apply and the capture quarantine', () => {
  it('exits 3 naming each object (shard, sequence number, reason) and creates no table; --json carries them', async () => {
    const landing = await landingWithHole([1]);
    const delta = await tempStore('delta');

    const held = await apply(landing.rootDir, delta.rootDir);
    expect(held.code).toBe(3);
    expect(held.stdout).toBe('');
    expect(held.stderr).toContain(`shard ${SHARD}, sequence number ${seq(21)} (${quarantineObjectKey(21)})`);
    expect(held.stderr).toMatch(/twelve/);
    expect(held.stderr).toContain('The table is unchanged');
    expect(held.stderr).toContain('ddb-lake quarantine replay');
    expect(await delta.head('_delta_log/00000000000000000000.json')).toBeUndefined();

    const json = await apply(landing.rootDir, delta.rootDir, '--json');
    expect(json.code).toBe(3);
    const document = JSON.parse(json.stdout);
    expect(document.error).toMatchObject({ code: 'APPLY_CAPTURE_QUARANTINE', batch: 1, table: TABLE });
    expect(document.error.captureQuarantine).toEqual([
      expect.objectContaining({
        key: quarantineObjectKey(21),
        shard: SHARD,
        seq: String(seq(21)),
        damaged: false,
      }),
    ]);
  });

  it('--accept-capture-quarantine records the object in the batch and reports it; unknown objects are a usage error', async () => {
    const landing = await landingWithHole([1]);
    const delta = await tempStore('delta');

    const unknown = await apply(landing.rootDir, delta.rootDir, '--accept-capture-quarantine', 'nope.json');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`_ddb_lake/quarantine/capture/${TABLE}/nope.json`);
    const every = await apply(
      landing.rootDir,
      delta.rootDir,
      '--every',
      '5m',
      '--accept-capture-quarantine',
      'all',
    );
    expect(every.code).toBe(2);

    const accepted = await apply(
      landing.rootDir,
      delta.rootDir,
      '--accept-capture-quarantine',
      `${seq(21)}`,
      '--json',
    );
    expect(accepted.stderr).toBe('');
    expect(accepted.code).toBe(0);
    const batch = JSON.parse(accepted.stdout).batches[0];
    expect(batch).toMatchObject({ outcome: 'applied', batch: 1 });
    expect(batch.acceptedCaptureQuarantine).toEqual([
      {
        key: quarantineObjectKey(21),
        shard: SHARD,
        seq: String(seq(21)),
        reason: expect.stringMatching(/twelve/),
      },
    ]);
    expect((await readBatchRecord(delta, 1))?.acceptedCaptureQuarantine).toEqual(
      batch.acceptedCaptureQuarantine,
    );
    // The record before the hole landed; the hole itself is dropped knowingly.
    const item = (await readTable(delta)).items.get(orderKey('customer#7', 'order#1'));
    expect(JSON.parse(item as string).amount).toBe(1);

    // A new hole, accepted in a text run: a batch with no other input commits the acceptance.
    await captureThrough(landing, [amountChange('customer#8', 22, '3')], { damage: [0] });
    const text = await apply(landing.rootDir, delta.rootDir, '--accept-capture-quarantine', 'all');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('Batch 2 committed as version 2');
    expect(text.stdout).toContain(
      `accepted    as lost: shard ${SHARD}, sequence number ${seq(22)} (${quarantineObjectKey(22)})`,
    );
    expect((await readBatchRecord(delta, 2))?.changeFiles).toEqual([]);

    const list = await quarantine('list', landing.rootDir, '--delta', delta.rootDir, '--json');
    expect(list.code).toBe(0);
    const report = JSON.parse(list.stdout);
    expect(report).toMatchObject({ notAccepted: 0, throughBatch: 2, apply: [] });
    expect(
      report.capture.map((entry: { key: string; accepted: boolean }) => [entry.key, entry.accepted]),
    ).toEqual([
      [quarantineObjectKey(21), true],
      [quarantineObjectKey(22), true],
    ]);
  });

  it('a batch recorded before a run was killed is held too, and an acceptance then is added to its record', async () => {
    const landing = await sampleLanding();
    await capture(landing, [coverageRecord()]);
    await captureThrough(landing, [amountChange('customer#7', 20, '1')]);
    const delta = await tempStore('delta');
    const killed = await runDdbLake(
      ['apply', '--landing', landing.rootDir, '--delta', delta.rootDir, '--table', TABLE],
      { DDB_LAKE_FAULT: 'after-batch-record' },
    );
    expect(killed.code).not.toBe(0);
    const planned = await readBatchRecord(delta, 1);
    expect(planned?.changeFiles).toHaveLength(2);

    await captureThrough(landing, [amountChange('customer#8', 21, '2')], { damage: [0] });
    const now = () => SAMPLE_T + 2 * 60 * MINUTE;
    await expect(applyBatch({ landing, delta, table: TABLE, now })).rejects.toMatchObject({
      code: 'APPLY_CAPTURE_QUARANTINE',
      batch: 1,
    });
    const result = await applyBatch({ landing, delta, table: TABLE, now, acceptCaptureQuarantine: ['all'] });
    expect(result).toMatchObject({ outcome: 'applied', batch: 1, rebuilt: true });
    const amended = await readBatchRecord(delta, 1);
    expect(amended?.changeFiles).toEqual(planned?.changeFiles);
    expect(amended?.acceptedCaptureQuarantine?.map((entry) => entry.key)).toEqual([quarantineObjectKey(21)]);
  });
});

describe('ddb-lake quarantine', () => {
  it('list shows each object with shard, sequence number and reason, not accepted', async () => {
    const landing = await landingWithHole([1]);
    const list = await quarantine('list', landing.rootDir);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`Capture quarantine of table ${TABLE}`);
    expect(list.stdout).toContain(`shard ${SHARD}, sequence number ${seq(21)} (${quarantineObjectKey(21)})`);
    expect(list.stdout).toContain('ddb-lake quarantine replay');
  });

  it('replay leaves a record still invalid in place (exit 3), writes nothing in a dry run, and replays it once fixed', async () => {
    const landing = await landingWithHole([1]);
    const delta = await tempStore('delta');

    const still = await quarantine('replay', landing.rootDir, '--all');
    expect(still.code).toBe(3);
    expect(still.stdout).toContain(
      `STILL INVALID shard ${SHARD}, sequence number ${seq(21)} (${quarantineObjectKey(21)})`,
    );
    expect(still.stdout).toMatch(/twelve/);
    expect(await landing.head(quarantineObjectKey(21))).toBeDefined();

    expect((await quarantine('replay', landing.rootDir)).code).toBe(2);
    const unknown = await quarantine('replay', landing.rootDir, '--key', 'nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`_ddb_lake/quarantine/capture/${TABLE}/nope.json`);

    await fixInPlace(landing, quarantineObjectKey(21), setAmount('2'));
    const dry = await quarantine(
      'replay',
      landing.rootDir,
      '--key',
      quarantineObjectKey(21),
      '--dry-run',
      '--json',
    );
    expect(dry.code).toBe(0);
    const planned = JSON.parse(dry.stdout).outcomes[0];
    expect(planned).toMatchObject({
      outcome: 'would-replay',
      key: quarantineObjectKey(21),
      seq: String(seq(21)),
    });
    expect(await landing.head(planned.changeFile)).toBeUndefined();
    expect(await landing.head(quarantineObjectKey(21))).toBeDefined();

    const replayed = await quarantine('replay', landing.rootDir, '--key', `${seq(21)}.json`);
    expect(replayed.code).toBe(0);
    expect(replayed.stdout).toContain(`replayed      shard ${SHARD}, sequence number ${seq(21)}`);
    expect(replayed.stdout).toContain(planned.changeFile);
    expect(await landing.head(quarantineObjectKey(21))).toBeUndefined();
    // Run again: it was replayed before, nothing changes.
    const again = await quarantine('replay', landing.rootDir, '--key', `${seq(21)}.json`);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('replayed before');

    const applied = await apply(landing.rootDir, delta.rootDir);
    expect(applied.code).toBe(0);
    const item = (await readTable(delta)).items.get(orderKey('customer#7', 'order#1'));
    expect(JSON.parse(item as string).amount).toBe(2);
  });
});
