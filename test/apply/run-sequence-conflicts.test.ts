import { describe, expect, it } from 'vitest';
import { applyBatch } from '../../src/apply/apply-batch.ts';
import { TooManyBadLinesError } from '../../src/apply/apply-errors.ts';
import { readQuarantine } from '../../src/apply/inputs/quarantine.ts';
import { changeRecordLine } from '../../src/formats/change-file-encoder.ts';
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
} from './run-support.ts';

/*
 * Two stream records of one key with the same sequence number and different content are corrupt
 * input (DESIGN.md rule 1): every copy is quarantined naming the others, the batch fails unless
 * --max-bad lets it through, and the key is changed by no copy. The clock is injected and later
 * change files are dated from it, so the settled-partition rule never hides them.
 */

const NOW = Date.now();
const SHARD = 'shardId-00000001795390000000-0000aaaa';

/** A first batch on the sample export, committed with the test's clock. */
async function tableAfterBatch1() {
  const landing = await sampleLanding();
  await capture(landing, [coverageRecord()]);
  const delta = await tempStore('delta');
  expect(await applyBatch({ landing, delta, table: TABLE, now: () => NOW })).toMatchObject({
    outcome: 'applied',
    batch: 1,
  });
  return { landing, delta, before: await readTable(delta) };
}

function modify(pk: string, sk: string, n: number, value: string) {
  return change({
    op: 'MODIFY',
    pk,
    sk,
    seq: seq(n),
    ts: NOW - 5 * MINUTE,
    attributes: { note: { S: value } },
    shard: SHARD,
  });
}

describe('one (key, sequence number) with different content', () => {
  it('quarantines every copy naming the others, fails the batch, and with --max-bad leaves the key as it was while the rest applies', async () => {
    const { landing, delta, before } = await tableAfterBatch1();
    const older = modify('customer#4', 'order#0001', 40, 'older');
    const right = modify('customer#4', 'order#0001', 41, 'right');
    const wrong = modify('customer#4', 'order#0001', 41, 'tampered');
    const other = modify('customer#2', 'profile', 42, 'other key');
    // Two files of one shard that overlap at seq 41, as a re-cut capture batch would, but whose
    // copies of it differ.
    const first = await capture(landing, [older, right]);
    const second = await capture(landing, [wrong, other]);

    const failed = await applyBatch({ landing, delta, table: TABLE, now: () => NOW }).catch(
      (error: unknown) => error,
    );
    expect(failed).toBeInstanceOf(TooManyBadLinesError);
    expect((failed as TooManyBadLinesError).count).toBe(2);
    expect((await readTable(delta)).snapshot.version).toBe(before.snapshot.version);
    const quarantined = [];
    for await (const line of readQuarantine(delta, 2)) quarantined.push(line);
    expect(quarantined.map((line) => [line.file, line.line, line.path])).toEqual([
      [first.key, 2, 'seq'],
      [second.key, 1, 'seq'],
    ]);
    expect(quarantined[0]?.reason).toContain(`is also in ${second.key} line 1 with different content`);
    expect(quarantined[1]?.reason).toContain(`is also in ${first.key} line 2 with different content`);
    expect(quarantined[0]?.reason).toContain(seq(41).toString());
    expect(quarantined.map((line) => line.text)).toEqual([changeRecordLine(right), changeRecordLine(wrong)]);

    const tolerated = await applyBatch({ landing, delta, table: TABLE, maxBad: 2, now: () => NOW });
    expect(tolerated).toMatchObject({ outcome: 'applied', batch: 2, quarantined: 2, updated: 1 });
    const after = await readTable(delta);
    // Neither copy of seq 41 applied, nor the older record 40 that seq 41 supersedes.
    expect(after.items.get(orderKey('customer#4', 'order#0001'))).toBe(
      before.items.get(orderKey('customer#4', 'order#0001')),
    );
    expect(after.items.get(orderKey('customer#2', 'profile'))).toContain('"note":"other key"');

    // The wrong copy deleted from the quarantine, the replay applies the right one.
    const file = '_ddb_lake/quarantine/apply/00000000000000000002/000001.jsonl';
    const lines = Buffer.from(await delta.getBytes(file))
      .toString('utf8')
      .trim()
      .split('\n');
    await delta.put(file, `${lines[0]}\n`);
    expect(
      await applyBatch({ landing, delta, table: TABLE, replayQuarantine: 2, now: () => NOW }),
    ).toMatchObject({ outcome: 'applied', batch: 3, quarantined: 0, updated: 1 });
    expect((await readTable(delta)).items.get(orderKey('customer#4', 'order#0001'))).toContain(
      '"note":"right"',
    );
  });

  it('equal copies in overlapping files are one record: nothing quarantined, applied once', async () => {
    const { landing, delta } = await tableAfterBatch1();
    const a = modify('customer#4', 'order#0001', 40, 'first');
    const b = modify('customer#4', 'order#0001', 41, 'second');
    await capture(landing, [a, b]);
    await capture(landing, [b]);
    const applied = await applyBatch({ landing, delta, table: TABLE, now: () => NOW });
    expect(applied).toMatchObject({ outcome: 'applied', batch: 2, quarantined: 0, updated: 1 });
    expect(applied.outcome === 'applied' && applied.skipped.duplicates).toBe(2);
    expect((await readTable(delta)).items.get(orderKey('customer#4', 'order#0001'))).toContain(
      '"note":"second"',
    );
  });
});
