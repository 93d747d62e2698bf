import { describe, expect, it } from 'vitest';
import { acquireTableLease } from '../../src/apply/table-lease.ts';
import { checkpointKey } from '../../src/capture/checkpoint.ts';
import { seq, tempStore } from '../apply/run-support.ts';
import {
  clockReading,
  healthyPipeline,
  MINUTE,
  pollerCaptures,
  put,
  SHARD,
  TABLE,
} from '../status/support.ts';
import { runDdbLake } from '../support/run-cli.ts';

/*
 * `ddb-lake status` as a user runs it, in its own process: that process reads the real clock, so
 * the inputs are dated from a reading of the same clock taken just before (the ages it prints are
 * that much plus the seconds the run takes, far from any threshold used here).
 */

function status(...args: string[]) {
  return runDdbLake(['status', '--table', TABLE, ...args]);
}

describe('ddb-lake status', () => {
  it('--help teaches what each line means, what needs attention and exit code 5', async () => {
    const help = await runDdbLake(['status', '--help']);
    expect(help.code).toBe(0);
    const text = help.stdout.replace(/\s+/g, ' ');
    for (const taught of [
      '_ddb_lake/capture/<table>/shards/',
      'they show as one line, "lambda"',
      'a table that had no writes for a while shows a lag too',
      'CAPTURE_QUARANTINE',
      'SHARD_GAP',
      'NO_CAPTURE',
      'CAPTURE_BEHIND',
      'APPLY_BEHIND',
      'APPLY_QUARANTINE',
      'LEASE_EXPIRED',
      'A table not created yet is not a problem by itself',
      '--max-lag <duration>',
      '5 needs attention (status)',
    ]) {
      expect(text).toContain(taught);
    }
    expect((await runDdbLake(['--help'])).stdout).toMatch(/status \[options\]\s+what is behind or stuck/);
  });

  it('exits 0 on a caught-up pipeline, with the capture and apply lines and "Healthy"', async () => {
    const now = clockReading();
    const landing = await tempStore('status-cli-landing');
    const delta = await tempStore('status-cli-delta');
    await healthyPipeline(landing, delta, now);

    const run = await status('--landing', landing.rootDir, '--delta', delta.rootDir);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Capture (poller checkpoints)');
    expect(run.stdout).toMatch(new RegExp(`shard ${SHARD}: last record 5 min( \\d+ s)? ago`));
    expect(run.stdout).toContain(`sequence number ${seq(2)}`);
    expect(run.stdout).toMatch(/last batch {2}1 at version 1, committed \d+ s ago/);
    expect(run.stdout).toContain('unapplied   none');
    expect(run.stdout).toMatch(/lease {7}free \(last taken by process \d+/);
    expect(run.stdout.trim().split('\n').at(-1)).toBe('Healthy: nothing needs you.');
  });

  it('--json prints one document: the report, with healthy, problems, capture and apply', async () => {
    const now = clockReading();
    const landing = await tempStore('status-cli-landing');
    const delta = await tempStore('status-cli-delta');
    await healthyPipeline(landing, delta, now);

    const run = await status('--landing', landing.rootDir, '--delta', delta.rootDir, '--json');
    expect(run.code).toBe(0);
    const document = JSON.parse(run.stdout);
    expect(Object.keys(document)).toEqual([
      'table',
      'landing',
      'delta',
      'now',
      'maxLagMs',
      'healthy',
      'problems',
      'capture',
      'apply',
    ]);
    expect(document).toMatchObject({
      table: 'orders',
      landing: landing.url,
      delta: delta.url,
      maxLagMs: 15 * MINUTE,
      healthy: true,
      problems: [],
      capture: { source: 'checkpoints', shards: [{ shard: SHARD, lastSequenceNumber: String(seq(2)) }] },
      apply: { exists: true, lastBatch: { batch: 1, version: 1 }, unapplied: { changeFiles: 0 } },
    });
    expect(Date.parse(document.now)).toBeGreaterThanOrEqual(now);
  });

  it('exits 5 when something needs a person, each problem with what to run', async () => {
    const now = clockReading();
    const landing = await tempStore('status-cli-landing');
    const delta = await tempStore('status-cli-delta');
    await healthyPipeline(landing, delta, now);
    await pollerCaptures(landing, [put(20, now - 2 * MINUTE), put(21, now - MINUTE)], now, { damage: [1] });
    await acquireTableLease(delta, { now: () => now - 60 * MINUTE, ttlMs: 10 * MINUTE });

    const run = await status('--landing', landing.rootDir, '--delta', delta.rootDir);
    expect(run.code).toBe(5);
    expect(run.stdout).toContain('Needs attention (exit code 5): 2 problem(s)');
    expect(run.stdout).toContain(
      `[CAPTURE_QUARANTINE] capture quarantined 1 stream record(s) of table orders`,
    );
    expect(run.stdout).toContain(`--accept-capture-quarantine`);
    expect(run.stdout).toContain('[LEASE_EXPIRED]');
    expect(run.stdout).toContain(`→ If process ${process.pid} on`);
    expect(run.stdout).toMatch(/lease {7}EXPIRED/);

    const json = await status('--landing', landing.rootDir, '--delta', delta.rootDir, '--json');
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stdout).problems.map((problem: { code: string }) => problem.code)).toEqual([
      'CAPTURE_QUARANTINE',
      'LEASE_EXPIRED',
    ]);
  });

  it('without --delta reports capture only, the landing area from DDB_LAKE_LANDING; --max-lag moves the line', async () => {
    const now = clockReading();
    const landing = await tempStore('status-cli-landing');
    await pollerCaptures(landing, [put(1, now - 40 * MINUTE)], now);

    const behind = await runDdbLake(['status', '--table', TABLE], { DDB_LAKE_LANDING: landing.rootDir });
    expect(behind.code).toBe(5);
    expect(behind.stdout).toContain('not given (--delta): capture only');
    expect(behind.stdout).not.toContain('\nApply');
    expect(behind.stdout).toContain('[CAPTURE_BEHIND]');

    const allowed = await runDdbLake(['status', '--table', TABLE, '--max-lag', '1h'], {
      DDB_LAKE_LANDING: landing.rootDir,
    });
    expect(allowed.code).toBe(0);
  });

  it('exits 2 on a usage error and 1 when something cannot be read, naming it', async () => {
    const landing = await tempStore('status-cli-landing');
    expect((await runDdbLake(['status', '--landing', landing.rootDir])).code).toBe(2);
    const badLag = await status('--landing', landing.rootDir, '--max-lag', 'soon');
    expect(badLag.code).toBe(2);
    expect(badLag.stderr).toContain('--max-lag');

    const key = checkpointKey(TABLE, SHARD);
    await landing.put(key, '{"shardId": "cut off');
    const unreadable = await status('--landing', landing.rootDir);
    expect(unreadable.code).toBe(1);
    expect(unreadable.stderr).toContain(key);
  });
});
