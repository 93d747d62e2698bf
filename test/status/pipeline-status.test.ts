import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTableLease } from '../../src/apply/table-lease.ts';
import { captureBatch } from '../../src/capture/capture-batch.ts';
import { replayCaptureQuarantine } from '../../src/capture/capture-quarantine-replay.ts';
import { recordShardGap } from '../../src/capture/shard-gap.ts';
import { changeRecordLine } from '../../src/formats/change-file-encoder.ts';
import { changeFileKey } from '../../src/formats/change-file-key.ts';
import { type S3Server, startS3Server } from '../../src/local/s3-server.ts';
import { pipelineStatus } from '../../src/status/pipeline-status.ts';
import type { StatusProblemCode, StatusReport } from '../../src/status/status-report.ts';
import { seq, tempStore } from '../apply/run-support.ts';
import { lambdaRecord, ORDERS_STREAM_ARN } from '../apply/support/stream-records.ts';
import { s3StoreOn } from '../support/s3-store.ts';
import {
  applyAt,
  clockReading,
  healthyPipeline,
  landBrokenChangeFile,
  MINUTE,
  pollerCaptures,
  put,
  SHARD,
  snapshotTime,
  TABLE,
  writeSnapshot,
} from './support.ts';

/** One clock reading for the file: every input is dated from it, and apply and status read it. */
const NOW = clockReading();

function codes(report: StatusReport): StatusProblemCode[] {
  return report.problems.map((problem) => problem.code);
}

function problem(report: StatusReport, code: StatusProblemCode) {
  const found = report.problems.find((entry) => entry.code === code);
  expect(found, `a ${code} problem in ${JSON.stringify(report.problems)}`).toBeDefined();
  return found as NonNullable<typeof found>;
}

describe('ddb-lake status, the report', () => {
  it('a pipeline that is caught up is healthy: position and age per shard, the last batch, nothing unapplied, the lease released', async () => {
    const landing = await tempStore('status-landing');
    const delta = await tempStore('status-delta');
    const exportId = await healthyPipeline(landing, delta, NOW);

    const report = await pipelineStatus({ landing, delta, table: TABLE, now: () => NOW });
    expect(report.problems).toEqual([]);
    expect(report.healthy).toBe(true);
    expect(report.now).toBe(new Date(NOW).toISOString());
    expect(report.capture).toMatchObject({
      source: 'checkpoints',
      lagMs: 5 * MINUTE,
      newestRecordTime: new Date(NOW - 5 * MINUTE).toISOString(),
      gaps: [],
      quarantine: [],
    });
    expect(report.capture.shards).toEqual([
      expect.objectContaining({
        shard: SHARD,
        source: 'checkpoint',
        lastSequenceNumber: String(seq(2)),
        lastRecordAgeMs: 5 * MINUTE,
        finished: false,
      }),
    ]);
    expect(report.apply).toMatchObject({
      exists: true,
      version: 1,
      appId: 'ddb-lake-apply',
      windowStart: new Date(snapshotTime(NOW) - 15 * MINUTE).toISOString(),
      lastBatch: {
        batch: 1,
        version: 1,
        committedAt: new Date(NOW).toISOString(),
        ageMs: 0,
        operation: 'WRITE',
        snapshot: { exportId },
        changeFiles: 1,
        incrementalExports: 0,
        replayedQuarantine: null,
      },
      pendingBatch: null,
      unapplied: { changeFiles: 0, incrementalExports: 0, oldest: null },
      quarantine: [],
      lease: { state: 'released', pid: process.pid },
    });
    // The three snapshot items and the change after T − margin (the one before it is in the snapshot).
    expect(report.apply?.lastBatch?.rowsWritten).toBe(4);
  });

  it('a table not created yet is not a problem by itself: every change file is waiting for the first batch', async () => {
    const landing = await tempStore('status-landing');
    const delta = await tempStore('status-delta');
    await writeSnapshot(landing, snapshotTime(NOW));
    await pollerCaptures(landing, [put(1, NOW - 50 * MINUTE), put(2, NOW - 5 * MINUTE)], NOW);

    const report = await pipelineStatus({ landing, delta, table: TABLE, now: () => NOW });
    expect(report.problems).toEqual([]);
    expect(report.apply).toMatchObject({
      exists: false,
      lastBatch: null,
      lease: null,
      unapplied: { changeFiles: 1, oldest: { ageMs: 50 * MINUTE } },
    });
  });

  it('changes older than --max-lag that no batch applied need attention, naming the oldest file; applying them clears it', async () => {
    const landing = await tempStore('status-landing');
    const delta = await tempStore('status-delta');
    await healthyPipeline(landing, delta, NOW);
    await pollerCaptures(landing, [put(10, NOW - 40 * MINUTE), put(11, NOW - 2 * MINUTE)], NOW);

    const behind = await pipelineStatus({ landing, delta, table: TABLE, now: () => NOW });
    expect(codes(behind)).toEqual(['APPLY_BEHIND']);
    expect(behind.apply?.unapplied).toMatchObject({ changeFiles: 1, oldest: { ageMs: 40 * MINUTE } });
    const found = problem(behind, 'APPLY_BEHIND');
    expect(found.message).toContain(behind.apply?.unapplied.oldest?.key as string);
    expect(found.message).toContain('40 min ago');
    expect(found.action).toContain(
      `ddb-lake apply --table orders --landing ${landing.url} --delta ${delta.url}`,
    );

    // A larger allowance accepts the same state.
    expect(
      (await pipelineStatus({ landing, delta, table: TABLE, now: () => NOW, maxLagMs: 60 * MINUTE })).healthy,
    ).toBe(true);
    await applyAt(landing, delta, NOW);
    const caughtUp = await pipelineStatus({ landing, delta, table: TABLE, now: () => NOW });
    expect(caughtUp.problems).toEqual([]);
    expect(caughtUp.apply?.lastBatch).toMatchObject({
      batch: 2,
      version: 2,
      operation: 'MERGE',
      changeFiles: 1,
    });
  });

  it('an unapplied change file whose first line is not a change record is aged by the first line that is', async () => {
    const landing = await tempStore('status-landing');
    const delta = await tempStore('status-delta');
    await healthyPipeline(landing, delta, NOW);
    const good = put(50, NOW - 30 * MINUTE);
    const key = changeFileKey({
      table: TABLE,
      shard: SHARD,
      firstSeq: good.seq,
      lastSeq: good.seq,
      firstTs: good.ts,
    });
    await landing.put(key, gzipSync(`{"op":"INSERT", cut off\n${changeRecordLine(good)}\n`));

    const report = await pipelineStatus({ landing, delta, table: TABLE, now: () => NOW });
    expect(report.apply?.unapplied.oldest).toEqual({
      key,
      firstRecordTime: new Date(NOW - 30 * MINUTE).toISOString(),
      ageMs: 30 * MINUTE,
    });
    expect(codes(report)).toEqual(['APPLY_BEHIND']);
  });

  it('a newest captured record older than --max-lag says capture is behind, or the table quiet', async () => {
    const landing = await tempStore('status-landing');
    await pollerCaptures(landing, [put(1, NOW - 90 * MINUTE)], NOW);

    const report = await pipelineStatus({ landing, table: TABLE, now: () => NOW });
    expect(report.apply).toBeNull();
    expect(codes(report)).toEqual(['CAPTURE_BEHIND']);
    const found = problem(report, 'CAPTURE_BEHIND');
    expect(found.message).toContain('1 h 30 min ago');
    expect(found.message).toContain(`shard ${SHARD}`);
    expect(found.action).toContain(`ddb-lake capture --table orders --landing ${landing.url}`);
    expect(found.action).toContain('without writes');
    expect(
      (await pipelineStatus({ landing, table: TABLE, now: () => NOW, maxLagMs: 2 * 60 * MINUTE })).healthy,
    ).toBe(true);
  });

  it('a landing area without any capture needs attention: nothing shows capture runs', async () => {
    const landing = await tempStore('status-landing');
    const report = await pipelineStatus({ landing, table: TABLE, now: () => NOW });
    expect(report.capture).toMatchObject({ source: 'none', shards: [], lagMs: null });
    expect(codes(report)).toEqual(['NO_CAPTURE']);
    expect(problem(report, 'NO_CAPTURE').action).toContain('ddb-lake capture --table orders');
  });

  it('a Lambda-written landing (no checkpoints): its batches show as one line, positioned by the newest file’s last record', async () => {
    const landing = await tempStore('status-landing');
    const older = [put(1, NOW - 9 * MINUTE), put(2, NOW - 8 * MINUTE)];
    const newer = [put(3, NOW - 4 * MINUTE), put(4, NOW - 3 * MINUTE)];
    // As Lambda calls it: no shard id, so each batch gets a label of its own.
    for (const batch of [older, newer]) {
      await captureBatch({ Records: batch.map((record) => lambdaRecord(record)) }, { store: landing });
    }

    const report = await pipelineStatus({ landing, table: TABLE, now: () => NOW });
    expect(report.problems).toEqual([]);
    expect(report.capture.source).toBe('change-files');
    expect(report.capture.shards).toEqual([
      expect.objectContaining({
        shard: 'lambda',
        source: 'change-file',
        files: 2,
        lastSequenceNumber: String(seq(4)),
        lastRecordAgeMs: 3 * MINUTE,
        file: expect.stringMatching(/^changes\/orders\/dt=\d{4}-\d\d-\d\d\/lambda-[0-9a-f]{16}\//),
      }),
    ]);
    expect(report.capture.lagMs).toBe(3 * MINUTE);
    expect(report.capture.listedFrom).toBe(new Date(NOW - 2 * 24 * 60 * MINUTE).toISOString().slice(0, 10));
  });

  it('a stream record capture quarantined needs attention, naming the object, shard, sequence number and reason', async () => {
    const landing = await tempStore('status-landing');
    const delta = await tempStore('status-delta');
    await healthyPipeline(landing, delta, NOW);
    await pollerCaptures(landing, [put(20, NOW - 2 * MINUTE), put(21, NOW - MINUTE)], NOW, { damage: [0] });

    const report = await pipelineStatus({ landing, delta, table: TABLE, now: () => NOW });
    expect(report.capture.quarantine).toEqual([
      expect.objectContaining({
        key: `_ddb_lake/quarantine/capture/orders/${seq(20)}.json`,
        shard: SHARD,
        seq: String(seq(20)),
        accepted: false,
      }),
    ]);
    expect(codes(report)).toContain('CAPTURE_QUARANTINE');
    const found = problem(report, 'CAPTURE_QUARANTINE');
    expect(found.message).toContain(
      `_ddb_lake/quarantine/capture/orders/${seq(20)}.json (shard ${SHARD}, sequence number ${seq(20)}`,
    );
    expect(found.message).toContain('twelve');
    expect(found.action).toContain(
      `ddb-lake quarantine replay --table orders --landing ${landing.url} --key <object>`,
    );
    expect(found.action).toContain(
      `ddb-lake apply --table orders --landing ${landing.url} --delta ${delta.url} --accept-capture-quarantine <object>`,
    );

    // Accepted as lost by the next batch: listed as accepted, no longer a problem.
    await applyAt(landing, delta, NOW, { acceptCaptureQuarantine: ['all'] });
    const accepted = await pipelineStatus({ landing, delta, table: TABLE, now: () => NOW });
    expect(accepted.problems).toEqual([]);
    expect(accepted.capture.quarantine).toEqual([
      expect.objectContaining({ seq: String(seq(20)), accepted: true }),
    ]);
    expect(accepted.apply?.lastBatch).toMatchObject({ batch: 2, changeFiles: 1 });
  });

  it('a quarantined record fixed and replayed leaves the quarantine and waits, as a change file, for the next batch', async () => {
    const landing = await tempStore('status-landing');
    const delta = await tempStore('status-delta');
    await healthyPipeline(landing, delta, NOW);
    await pollerCaptures(landing, [put(20, NOW - 2 * MINUTE), put(21, NOW - MINUTE)], NOW, { damage: [0] });
    const key = `_ddb_lake/quarantine/capture/orders/${seq(20)}.json`;
    const object = JSON.parse(Buffer.from(await landing.getBytes(key)).toString('utf8'));
    // The object names the attribute at fault (`dynamodb.NewImage.<name>`): repair its value.
    object.record.dynamodb.NewImage[object.path.split('.').at(-1)] = { N: '12' };
    await landing.put(key, JSON.stringify(object));
    const replay = await replayCaptureQuarantine({ landing, table: TABLE, now: () => NOW });
    expect(replay.outcomes).toEqual([expect.objectContaining({ outcome: 'replayed' })]);
    const changeFile = (replay.outcomes[0] as { changeFile: string }).changeFile;

    const waiting = await pipelineStatus({ landing, delta, table: TABLE, now: () => NOW });
    expect(waiting.problems).toEqual([]);
    expect(waiting.capture.quarantine).toEqual([]);
    expect(waiting.apply?.unapplied.changeFiles).toBe(2);
    expect(waiting.apply?.unapplied.oldest).toMatchObject({ ageMs: 2 * MINUTE });
    // Much later, the replayed change file waiting is behind like any other.
    const later = await pipelineStatus({
      landing,
      delta,
      table: TABLE,
      now: () => NOW + 60 * MINUTE,
      maxLagMs: 24 * 60 * MINUTE,
    });
    expect(later.problems).toEqual([]);
    expect(changeFile).toMatch(/^changes\/orders\//);

    await applyAt(landing, delta, NOW);
    const applied = await pipelineStatus({ landing, delta, table: TABLE, now: () => NOW });
    expect(applied.problems).toEqual([]);
    expect(applied.apply?.unapplied.changeFiles).toBe(0);
    expect(applied.apply?.lastBatch?.changeFiles).toBe(2);
  });

  it('a recorded gap needs attention unless it ended before the table’s T − margin', async () => {
    const landing = await tempStore('status-landing');
    const delta = await tempStore('status-delta');
    await healthyPipeline(landing, delta, NOW);
    const gap = (from: number, to: number) =>
      recordShardGap(landing, {
        table: TABLE,
        streamArn: ORDERS_STREAM_ARN,
        shardId: SHARD,
        reason: 'TRIMMED_DATA_ACCESS',
        afterSequenceNumber: String(seq(1)),
        beforeSequenceNumber: String(seq(2)),
        fromTime: new Date(from).toISOString(),
        toTime: new Date(to).toISOString(),
        detectedAt: new Date(to).toISOString(),
      });
    // Ended before T − margin: the snapshot holds those changes.
    await gap(snapshotTime(NOW) - 5 * 60 * MINUTE, snapshotTime(NOW) - 60 * MINUTE);
    const harmless = await pipelineStatus({ landing, delta, table: TABLE, now: () => NOW });
    expect(harmless.problems).toEqual([]);
    expect(harmless.capture.gaps).toEqual([
      expect.objectContaining({ beforeSnapshot: true, recoveredBy: null }),
    ]);

    const from = NOW - 12 * MINUTE;
    const to = NOW - 10 * MINUTE;
    await gap(from, to);
    const report = await pipelineStatus({ landing, delta, table: TABLE, now: () => NOW });
    expect(codes(report)).toEqual(['SHARD_GAP']);
    const found = problem(report, 'SHARD_GAP');
    expect(found.message).toContain(`shard ${SHARD}`);
    expect(found.action).toContain(
      `ddb-lake backfill export --table orders --landing ${landing.url} --incremental --from ${new Date(from).toISOString()} --to ${new Date(to).toISOString()}`,
    );
  });

  it('apply quarantine lines not replayed need attention; once replayed they do not', async () => {
    const landing = await tempStore('status-landing');
    const delta = await tempStore('status-delta');
    await healthyPipeline(landing, delta, NOW);
    await landBrokenChangeFile(landing, put(30, NOW - 2 * MINUTE));
    await applyAt(landing, delta, NOW, { maxBad: 1 });

    const report = await pipelineStatus({ landing, delta, table: TABLE, now: () => NOW });
    expect(report.apply?.quarantine).toEqual([
      {
        batch: 2,
        folder: '_ddb_lake/quarantine/apply/00000000000000000002/',
        files: 1,
        lines: 1,
        replayedBy: null,
      },
    ]);
    expect(codes(report)).toEqual(['APPLY_QUARANTINE']);
    expect(problem(report, 'APPLY_QUARANTINE').action).toContain('--replay-quarantine 2');

    // Fixed in place and replayed by batch 3.
    const file = '_ddb_lake/quarantine/apply/00000000000000000002/000001.jsonl';
    const stored = JSON.parse(Buffer.from(await delta.getBytes(file)).toString('utf8'));
    const fixed = put(31, NOW - 2 * MINUTE);
    await delta.put(file, `${JSON.stringify({ ...stored, text: changeRecordLine(fixed) })}\n`);
    await applyAt(landing, delta, NOW, { replayQuarantine: 2 });
    const replayed = await pipelineStatus({ landing, delta, table: TABLE, now: () => NOW });
    expect(replayed.problems).toEqual([]);
    expect(replayed.apply?.quarantine).toEqual([
      expect.objectContaining({ batch: 2, replayedBy: 3, lines: null }),
    ]);
    expect(replayed.apply?.lastBatch).toMatchObject({ batch: 3, replayedQuarantine: 2 });
  });

  it('a lease never released and past its expiry (a killed apply) needs attention; one held and live does not', async () => {
    const landing = await tempStore('status-landing');
    const delta = await tempStore('status-delta');
    await healthyPipeline(landing, delta, NOW);
    // An apply that took the lease an hour ago and was killed: never renewed, never released.
    await acquireTableLease(delta, { now: () => NOW - 60 * MINUTE, ttlMs: 10 * MINUTE });

    const report = await pipelineStatus({ landing, delta, table: TABLE, now: () => NOW });
    expect(report.apply?.lease).toMatchObject({
      state: 'expired',
      pid: process.pid,
      expiresAt: new Date(NOW - 50 * MINUTE).toISOString(),
    });
    expect(codes(report)).toEqual(['LEASE_EXPIRED']);
    expect(problem(report, 'LEASE_EXPIRED').action).toContain(`process ${process.pid}`);

    const live = await pipelineStatus({ landing, delta, table: TABLE, now: () => NOW - 55 * MINUTE });
    expect(live.apply?.lease?.state).toBe('held');
    expect(codes(live)).not.toContain('LEASE_EXPIRED');
  });

  describe('on S3', () => {
    let server: S3Server;
    beforeAll(async () => {
      server = await startS3Server({ buckets: ['lake'] });
    });
    afterAll(async () => {
      await server.stop();
    });

    it('reports the same as for folders, from a landing area and a table on S3', async () => {
      const store = (prefix: string) => s3StoreOn(server, 'lake', prefix);
      const landing = store('landing');
      const delta = store('tables/orders');
      try {
        await healthyPipeline(landing, delta, NOW);
        await pollerCaptures(landing, [put(40, NOW - 30 * MINUTE), put(41, NOW - MINUTE)], NOW, {
          damage: [1],
        });
        const report = await pipelineStatus({ landing, delta, table: TABLE, now: () => NOW });
        expect(report.landing).toBe('s3://lake/landing');
        expect(codes(report)).toEqual(['CAPTURE_QUARANTINE', 'APPLY_BEHIND']);
        expect(report.capture.quarantine.map((entry) => entry.seq)).toEqual([String(seq(41))]);
        expect(report.apply).toMatchObject({
          lastBatch: { batch: 1, version: 1 },
          unapplied: { changeFiles: 1, oldest: { ageMs: 30 * MINUTE } },
        });
      } finally {
        await landing.close();
        await delta.close();
      }
    });
  });
});
