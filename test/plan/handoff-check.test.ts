import { describe, expect, it } from 'vitest';
import { changeFilesPrefix } from '../../src/formats/change-file-key.ts';
import { readChangeFile } from '../../src/formats/change-file-reader.ts';
import { findCaptureStart } from '../../src/plan/capture-start.ts';
import { InvalidPlanOptionError } from '../../src/plan/errors.ts';
import {
  checkHandoff,
  DEFAULT_HANDOFF_MARGIN_MS,
  HandoffProblemCode,
  STREAM_RETENTION_MS,
  TRIM_HORIZON_SAFETY_MS,
} from '../../src/plan/handoff-check.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { captureFiles, HOUR, landIncrementalExport, MINUTE, recordGap, tempLanding } from './support.ts';

const TABLE = 'orders';
/** T of most tests: noon, so that every change of a test falls on one UTC day unless it means not to. */
const T = Date.UTC(2026, 5, 10, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

/** The earliest `ts` at or after `notBefore` over every record of every change file: the slow, sure way. */
async function earliestByReadingEverything(
  store: ObjectStore,
  notBefore: number,
): Promise<number | undefined> {
  let earliest: number | undefined;
  for await (const object of store.list(changeFilesPrefix(TABLE))) {
    for await (const { record } of readChangeFile(store, object.key)) {
      if (record.ts >= notBefore && (earliest === undefined || record.ts < earliest)) earliest = record.ts;
    }
  }
  return earliest;
}

describe('handoff check (DESIGN.md rule 2)', () => {
  it('is covered when captured changes start before T − margin, S being the earliest first record over all shards', async () => {
    const landing = await tempLanding();
    const files = await captureFiles(landing, TABLE, [
      { shard: 'shardId-a', times: [T - 2 * HOUR, T - 2 * HOUR + MINUTE] },
      { shard: 'shardId-a', times: [T - HOUR] },
      { shard: 'shardId-b', times: [T - 3 * HOUR, T - 90 * MINUTE] },
    ]);
    const check = await checkHandoff({ store: landing.store, table: TABLE, exportTime: new Date(T) });
    expect(check.ok).toBe(true);
    expect(check.problems).toEqual([]);
    expect(check.coveredFrom).toBe(iso(T - 3 * HOUR));
    expect(check.earliestChange?.key).toBe(files[2]?.key);
    expect(check.windowStart).toBe(iso(T - DEFAULT_HANDOFF_MARGIN_MS));
    expect(check.readyAt).toBe(iso(T - 3 * HOUR + DEFAULT_HANDOFF_MARGIN_MS));
    // One first record per shard of the one day: nothing else was read.
    expect(check.firstRecordsRead).toBe(2);
  });

  it('is not covered when capture started after T − margin, and says from when an export is covered', async () => {
    const landing = await tempLanding();
    await captureFiles(landing, TABLE, [{ shard: 'shardId-a', times: [T - 10 * MINUTE, T - 5 * MINUTE] }]);
    const check = await checkHandoff({ store: landing.store, table: TABLE, exportTime: new Date(T) });
    expect(check.ok).toBe(false);
    expect(check.problems).toEqual([
      expect.objectContaining({
        code: HandoffProblemCode.captureStartedLate,
        coveredFrom: iso(T - 10 * MINUTE),
        windowStart: iso(T - 15 * MINUTE),
        readyAt: iso(T + 5 * MINUTE),
      }),
    ]);
    const narrower = await checkHandoff({
      store: landing.store,
      table: TABLE,
      exportTime: new Date(T),
      marginMs: 5 * MINUTE,
    });
    expect(narrower.ok).toBe(true);
    const later = await checkHandoff({
      store: landing.store,
      table: TABLE,
      exportTime: new Date(T + 5 * MINUTE),
    });
    expect(later.ok).toBe(true);
  });

  it('is not covered without any change file, naming the table', async () => {
    const landing = await tempLanding();
    await captureFiles(landing, 'other-table', [{ shard: 'shardId-a', times: [T - 5 * HOUR] }]);
    const check = await checkHandoff({ store: landing.store, table: TABLE, exportTime: new Date(T) });
    expect(check.ok).toBe(false);
    expect(check.problems.map((p) => p.code)).toEqual([HandoffProblemCode.noCapture]);
    expect(check.problems[0]?.message).toContain(TABLE);
    expect(check.coveredFrom).toBeNull();
    expect(check.readyAt).toBeNull();
  });

  it('is broken by a gap recorded after S whose lost changes reach past T − margin', async () => {
    const landing = await tempLanding();
    await captureFiles(landing, TABLE, [
      { shard: 'shardId-a', times: [T - 3 * HOUR] },
      { shard: 'shardId-a', times: [T - 2 * MINUTE] },
    ]);
    const gap = await recordGap(landing.store, TABLE, { from: T - 20 * MINUTE, until: T - 10 * MINUTE });
    const check = await checkHandoff({ store: landing.store, table: TABLE, exportTime: new Date(T) });
    expect(check.ok).toBe(false);
    expect(check.problems).toEqual([
      expect.objectContaining({
        code: HandoffProblemCode.gap,
        lostFrom: iso(T - 20 * MINUTE),
        lostUntil: iso(T - 10 * MINUTE),
        windowStart: iso(T - 15 * MINUTE),
        gap: expect.objectContaining({ key: gap.key, shardId: gap.shardId }),
      }),
    ]);
    expect(check.gaps.map((g) => g.key)).toEqual([gap.key]);
  });

  it('counts a gap of unknown start as losing the 24 hours before its end', async () => {
    const landing = await tempLanding();
    await captureFiles(landing, TABLE, [{ shard: 'shardId-a', times: [T - 3 * HOUR, T - MINUTE] }]);
    await recordGap(landing.store, TABLE, { from: null, until: T - 5 * MINUTE });
    const check = await checkHandoff({ store: landing.store, table: TABLE, exportTime: new Date(T) });
    expect(check.problems).toEqual([
      expect.objectContaining({
        code: HandoffProblemCode.gap,
        lostFrom: iso(T - 5 * MINUTE - STREAM_RETENTION_MS),
      }),
    ]);
  });

  it('restarts coverage at the end of a gap that ended before T − margin', async () => {
    const landing = await tempLanding();
    await captureFiles(landing, TABLE, [
      { shard: 'shardId-a', times: [T - 3 * HOUR] },
      { shard: 'shardId-a', times: [T - 90 * MINUTE, T - 80 * MINUTE] },
      { shard: 'shardId-b', times: [T - 70 * MINUTE] },
    ]);
    await recordGap(landing.store, TABLE, { from: T - 150 * MINUTE, until: T - 2 * HOUR });
    const check = await checkHandoff({ store: landing.store, table: TABLE, exportTime: new Date(T) });
    expect(check.ok).toBe(true);
    expect(check.breakUntil).toBe(iso(T - 2 * HOUR));
    expect(check.coveredFrom).toBe(iso(T - 90 * MINUTE));
  });

  it('says nothing was captured since a gap when no change came after it', async () => {
    const landing = await tempLanding();
    await captureFiles(landing, TABLE, [{ shard: 'shardId-a', times: [T - 3 * HOUR] }]);
    await recordGap(landing.store, TABLE, { from: T - 150 * MINUTE, until: T - 2 * HOUR });
    const check = await checkHandoff({ store: landing.store, table: TABLE, exportTime: new Date(T) });
    expect(check.problems).toEqual([
      expect.objectContaining({
        code: HandoffProblemCode.nothingCapturedSinceBreak,
        since: iso(T - 2 * HOUR),
      }),
    ]);
  });

  it('counts a gap spanned by a complete incremental export of the table as recovered', async () => {
    const landing = await tempLanding();
    await captureFiles(landing, TABLE, [
      { shard: 'shardId-a', times: [T - 3 * HOUR] },
      { shard: 'shardId-a', times: [T - 2 * MINUTE] },
    ]);
    const gap = await recordGap(landing.store, TABLE, { from: T - 20 * MINUTE, until: T - 10 * MINUTE });
    await landIncrementalExport(landing.store, 'other-table', { from: T - HOUR, to: T });
    await landIncrementalExport(landing.store, TABLE, { from: T - 15 * MINUTE, to: T });
    const notSpanned = await checkHandoff({ store: landing.store, table: TABLE, exportTime: new Date(T) });
    expect(notSpanned.problems.map((p) => p.code)).toEqual([HandoffProblemCode.gap]);

    const exportId = await landIncrementalExport(landing.store, TABLE, {
      from: T - 30 * MINUTE,
      to: T - 5 * MINUTE,
    });
    const check = await checkHandoff({ store: landing.store, table: TABLE, exportTime: new Date(T) });
    expect(check.ok).toBe(true);
    expect(check.recoveredGaps).toEqual([{ gap: expect.objectContaining({ key: gap.key }), exportId }]);
    expect(check.coveredFrom).toBe(iso(T - 3 * HOUR));
  });

  it('restarts coverage when the current stream was enabled, and refuses one enabled after T − margin', async () => {
    const landing = await tempLanding();
    await captureFiles(landing, TABLE, [
      { shard: 'shardId-old', times: [T - 3 * HOUR] },
      { shard: 'shardId-new', times: [T - HOUR] },
    ]);
    const check = await checkHandoff({
      store: landing.store,
      table: TABLE,
      exportTime: new Date(T),
      streamEnabledAt: new Date(T - 2 * HOUR),
    });
    expect(check.ok).toBe(true);
    expect(check.coveredFrom).toBe(iso(T - HOUR));
    const late = await checkHandoff({
      store: landing.store,
      table: TABLE,
      exportTime: new Date(T),
      streamEnabledAt: new Date(T - 5 * MINUTE),
    });
    expect(late.problems).toEqual([
      expect.objectContaining({
        code: HandoffProblemCode.streamEnabledLate,
        streamEnabledAt: iso(T - 5 * MINUTE),
      }),
    ]);
  });

  it('counts the first records of a new stream, stamped in the minute it was enabled, as covered', async () => {
    const landing = await tempLanding();
    const enabledAt = T - HOUR + 40_000;
    await captureFiles(landing, TABLE, [{ shard: 'shardId-new', times: [T - HOUR, T - HOUR + MINUTE] }]);
    const check = await checkHandoff({
      store: landing.store,
      table: TABLE,
      exportTime: new Date(T),
      streamEnabledAt: new Date(enabledAt),
    });
    expect(check.ok).toBe(true);
    expect(check.coveredFrom).toBe(iso(T - HOUR));
  });

  it('counts changes read near the stream’s trim horizon only from 23 hours before capture wrote them', async () => {
    const landing = await tempLanding();
    await captureFiles(landing, TABLE, [
      { shard: 'shardId-a', times: [T - 30 * HOUR], writtenAt: T - 2 * HOUR },
    ]);
    const check = await checkHandoff({ store: landing.store, table: TABLE, exportTime: new Date(T) });
    expect(check.earliestChange?.ts).toBe(T - 30 * HOUR);
    expect(check.coveredFrom).toBe(iso(T - 2 * HOUR - STREAM_RETENTION_MS + TRIM_HORIZON_SAFETY_MS));
    const early = await checkHandoff({
      store: landing.store,
      table: TABLE,
      exportTime: new Date(T - 25 * HOUR),
    });
    expect(early.problems.map((p) => p.code)).toEqual([HandoffProblemCode.captureStartedLate]);
  });

  it('refuses a negative margin', async () => {
    const landing = await tempLanding();
    await expect(
      checkHandoff({ store: landing.store, table: TABLE, exportTime: new Date(T), marginMs: -1 }),
    ).rejects.toBeInstanceOf(InvalidPlanOptionError);
  });
});

describe('finding the earliest captured change', () => {
  it('orders a shard’s files by sequence numbers compared as integers, not as text', async () => {
    const landing = await tempLanding();
    // As text, "10000…" sorts before "9…": the file read first would be the later one.
    await captureFiles(landing, TABLE, [
      { shard: 'shardId-a', times: [T - 3 * HOUR], firstSeq: 900_000_000_000_000_000_000n },
      { shard: 'shardId-a', times: [T - HOUR], firstSeq: 1_000_000_000_000_000_000_000n },
    ]);
    const start = await findCaptureStart(landing.store, TABLE, undefined);
    expect(start.earliest?.ts).toBe(T - 3 * HOUR);
    expect(start.earliest?.seq).toBe('900000000000000000000');
    expect(start.firstRecordsRead).toBe(1);
  });

  it('agrees with reading every record while reading the first record of only a few files', async () => {
    const landing = await tempLanding();
    const day1 = Date.UTC(2026, 5, 9, 0, 30);
    const day2 = Date.UTC(2026, 5, 10, 0, 30);
    const specs = [];
    for (const [s, shard] of ['shardId-a', 'shardId-b', 'shardId-c'].entries()) {
      for (const day of [day1, day2]) {
        for (let i = 0; i < 20; i++) {
          const start = day + i * HOUR + s * 7 * MINUTE;
          specs.push({ shard, times: [start, start + MINUTE, start + 2 * MINUTE] });
        }
      }
    }
    // Lambda batches: each file carries its own label instead of a shard id.
    for (let i = 0; i < 4; i++)
      specs.push({ shard: `lambda-00000000000000a${i}`, times: [day2 + 3 * HOUR + i * 11 * MINUTE] });
    await captureFiles(landing, TABLE, specs);

    const all = await findCaptureStart(landing.store, TABLE, undefined);
    expect(all.earliest?.ts).toBe(await earliestByReadingEverything(landing.store, 0));
    expect(all.firstRecordsRead).toBe(3);

    for (const notBefore of [
      day1 + 5 * HOUR + 3 * MINUTE,
      day2 + 3 * HOUR + 12 * MINUTE,
      day2 + 19 * HOUR + 30 * MINUTE,
    ]) {
      const found = await findCaptureStart(landing.store, TABLE, notBefore);
      expect(found.earliest?.ts).toBe(await earliestByReadingEverything(landing.store, notBefore));
      // A binary search per shard, a read per Lambda file: far fewer than the 124 files.
      expect(found.firstRecordsRead).toBeLessThanOrEqual(3 * 6 + 4 + 3);
    }
    const none = await findCaptureStart(landing.store, TABLE, day2 + 23 * HOUR);
    expect(none.earliest).toBeUndefined();
    expect(none.anyChangeFiles).toBe(true);
  });
});
