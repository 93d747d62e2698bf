import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { applyBatch } from '../../src/apply/apply-batch.ts';
import { TooManyBadLinesError } from '../../src/apply/apply-errors.ts';
import { readQuarantine } from '../../src/apply/inputs/quarantine.ts';
import { changeRecordLine } from '../../src/formats/change-file-encoder.ts';
import { changeFileKey } from '../../src/formats/change-file-key.ts';
import type { ChangeRecord } from '../../src/formats/change-record.ts';
import {
  capture,
  change,
  coverageRecord,
  MINUTE,
  orderKey,
  readTable,
  SAMPLE_T,
  sampleClock,
  sampleLanding,
  seq,
  TABLE,
  tempStore,
} from './run-support.ts';

const AFTER = SAMPLE_T + 30 * MINUTE;
const SHARD = 'shardId-00000001795390000000-0000cccc';

/** A change file as a broken writer would leave it: a good line, a line that is not JSON, a record without the sort key. */
async function landBadChangeFile(landing: Awaited<ReturnType<typeof sampleLanding>>): Promise<string> {
  const good = change({
    op: 'INSERT',
    pk: 'customer#6',
    sk: 'order#0001',
    seq: seq(500),
    ts: AFTER,
    attributes: { n: { N: '6' } },
    shard: SHARD,
  });
  const keyless = {
    ...change({ op: 'INSERT', pk: 'customer#6', sk: 'x', seq: seq(502), ts: AFTER, shard: SHARD }),
    keys: { pk: { S: 'customer#6' } },
    new: { pk: { S: 'customer#6' } },
  };
  const lines = [changeRecordLine(good), '{"op":"INSERT", this is not json', changeRecordLine(keyless)];
  const key = changeFileKey({
    table: TABLE,
    shard: SHARD,
    firstSeq: good.seq,
    lastSeq: keyless.seq,
    firstTs: AFTER,
  });
  await landing.put(key, gzipSync(`${lines.join('\n')}\n`));
  return key;
}

describe('bad input', () => {
  it('bad lines go to the quarantine; past --max-bad the batch fails naming the count and where they are', async () => {
    const landing = await sampleLanding();
    await capture(landing, [coverageRecord()]);
    const delta = await tempStore('delta');
    await applyBatch({ landing, delta, table: TABLE, now: sampleClock });
    const key = await landBadChangeFile(landing);

    const error = await applyBatch({ landing, delta, table: TABLE, now: sampleClock, maxBad: 1 }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(TooManyBadLinesError);
    const tooMany = error as TooManyBadLinesError;
    expect(tooMany.count).toBe(2);
    expect(tooMany.batch).toBe(2);
    expect(tooMany.quarantine).toBe(`${delta.url}/_ddb_lake/quarantine/apply/00000000000000000002/`);
    expect(tooMany.message).toContain('2 bad line(s), more than --max-bad 1');
    expect(tooMany.message).toContain('run apply again');
    // Nothing of the batch is in the table.
    expect((await readTable(delta)).snapshot.version).toBe(1);

    const quarantined = [];
    for await (const line of readQuarantine(delta, 2)) quarantined.push(line);
    expect(quarantined.map((line) => [line.file, line.line])).toEqual([
      [key, 2],
      [key, 3],
    ]);
    expect(quarantined[0]?.text).toBe('{"op":"INSERT", this is not json');
    expect(quarantined[1]?.reason).toContain('sort key attribute "sk" is missing');
    expect(quarantined[1]?.path).toBe('keys.sk');

    // Told to tolerate them, the same batch is rebuilt from its record and commits the good line.
    const tolerated = await applyBatch({ landing, delta, table: TABLE, now: sampleClock, maxBad: 2 });
    expect(tolerated).toMatchObject({
      outcome: 'applied',
      batch: 2,
      rebuilt: true,
      quarantined: 2,
      inserted: 1,
    });
    const table = await readTable(delta);
    expect(table.items.get(orderKey('customer#6', 'order#0001'))).toBe(
      '{"n":6,"pk":"customer#6","sk":"order#0001"}',
    );

    // Fixed in place, the quarantined lines are replayed as a batch of their own.
    const quarantineFile = '_ddb_lake/quarantine/apply/00000000000000000002/000001.jsonl';
    const fixedLines = [
      change({
        op: 'INSERT',
        pk: 'customer#6',
        sk: 'order#0002',
        seq: seq(501),
        ts: AFTER,
        attributes: { n: { N: '7' } },
        shard: SHARD,
      }),
      change({ op: 'INSERT', pk: 'customer#6', sk: 'x', seq: seq(502), ts: AFTER, shard: SHARD }),
    ];
    const stored = Buffer.from(await delta.getBytes(quarantineFile))
      .toString('utf8')
      .trim()
      .split('\n');
    await delta.put(
      quarantineFile,
      stored
        .map((line, index) =>
          JSON.stringify({ ...JSON.parse(line), text: changeRecordLine(fixedLines[index] as ChangeRecord) }),
        )
        .join('\n'),
    );
    const replayed = await applyBatch({
      landing,
      delta,
      table: TABLE,
      now: sampleClock,
      replayQuarantine: 2,
    });
    expect(replayed).toMatchObject({
      outcome: 'applied',
      batch: 3,
      replayedQuarantine: 2,
      records: 2,
      inserted: 2,
      quarantined: 0,
    });
    const after = await readTable(delta);
    expect(after.items.get(orderKey('customer#6', 'order#0002'))).toBe(
      '{"n":7,"pk":"customer#6","sk":"order#0002"}',
    );
    expect(after.items.get(orderKey('customer#6', 'x'))).toBe('{"pk":"customer#6","sk":"x"}');
  });

  it('replaying a batch without a quarantine is refused, naming the batch', async () => {
    const landing = await sampleLanding();
    await capture(landing, [coverageRecord()]);
    const delta = await tempStore('delta');
    await applyBatch({ landing, delta, table: TABLE, now: sampleClock });
    const error = await applyBatch({
      landing,
      delta,
      table: TABLE,
      now: sampleClock,
      replayQuarantine: 1,
    }).catch((caught: unknown) => caught);
    expect((error as Error).message).toContain('Batch 1 has no quarantine');
  });

  it('a bad line in the snapshot export is quarantined too, and fails the first batch by default', async () => {
    const landing = await sampleLanding({ incremental: false });
    await capture(landing, [coverageRecord()]);
    const delta = await tempStore('delta');
    // Replace an export data file by one with a line that is not an item (the manifests then
    // disagree with it, so give the reader the checksum and count it expects).
    const dir = 'AWSDynamoDB/01795392000000-5a1c9e20/';
    const files = Buffer.from(await landing.getBytes(`${dir}manifest-files.json`)).toString('utf8');
    const target = 'AWSDynamoDB/01795392000000-5a1c9e20/data/q9vw2ytb6hk5m3xzr7c4sdn8pa.json.gz';
    const body = gzipSync('{"Item":{"pk":{"S":"customer#3"},"sk":{"S":"order#0001"},"total":{"X":"1"}}}\n');
    await landing.put(target, body);
    const md5 = createHash('md5').update(body).digest('base64');
    const fixed = files
      .split('\n')
      .map((line) =>
        line.includes('q9vw2ytb6hk5m3xzr7c4sdn8pa')
          ? JSON.stringify({ ...JSON.parse(line), md5Checksum: md5 })
          : line,
      )
      .join('\n');
    await landing.put(`${dir}manifest-files.json`, fixed);
    await landing.delete(`${dir}manifest-files.md5`);

    const error = await applyBatch({ landing, delta, table: TABLE, now: sampleClock }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(TooManyBadLinesError);
    expect((error as TooManyBadLinesError).count).toBe(1);
    const written: string[] = [];
    for await (const object of delta.list('_delta_log/')) written.push(object.key);
    expect(written).toEqual([]);
    const lines = [];
    for await (const line of readQuarantine(delta, 1)) lines.push(line);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ file: target, line: 1, path: 'Item.total' });
  });
});
