import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_EXPORT } from '../support/fixtures.ts';
import { runDdbLake } from '../support/run-cli.ts';

const FIXTURE = SAMPLE_EXPORT;
const FULL = '01795392000000-5a1c9e20';
const INCREMENTAL = '01795392900000-c07e5b19';

describe('ddb-lake command line', () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'ddb-lake-cli-'));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('--help lists every subcommand, the shared vocabulary and the exit codes', async () => {
    const run = await runDdbLake(['--help']);
    expect(run.code).toBe(0);
    for (const command of ['demo', 'local', 'inspect'])
      expect(run.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
    expect(run.stdout).toContain('--landing <url>');
    expect(run.stdout).toContain('Exit codes:');
    expect(run.stdout).toMatch(/^\s+130\s+interrupted by SIGINT/m);
    expect(run.stdout).toMatch(/^\s+143\s+terminated by SIGTERM/m);
    expect(run.stdout).toContain('A second signal ends it');
  });

  it('a subcommand --help shows the AWS CLI flags', async () => {
    const run = await runDdbLake(['inspect', '--help']);
    expect(run.code).toBe(0);
    for (const flag of [
      '--profile',
      '--region',
      '--endpoint-url',
      '--cli-connect-timeout',
      '--cli-read-timeout',
      '--json',
      '--landing',
    ])
      expect(run.stdout).toContain(flag);
  });

  it('an unknown flag is a usage error with exit code 2', async () => {
    const run = await runDdbLake(['inspect', '--no-such-flag']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--no-such-flag');
  });

  it('inspect without a landing area says how to name one, exit code 2', async () => {
    const run = await runDdbLake(['inspect'], { DDB_LAKE_LANDING: '' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--landing');
    expect(run.stderr).toContain('DDB_LAKE_LANDING');
  });

  it('inspect --json reads both sample exports and reports their items and lake schema', async () => {
    const run = await runDdbLake(['inspect', '--landing', FIXTURE, '--json']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.exports.map((e: { exportId: string }) => e.exportId)).toEqual([FULL, INCREMENTAL]);
    const [full, incremental] = report.inspected;
    expect(full.records).toBe(4);
    expect(incremental.records).toBe(3);
    expect(incremental.deletions).toBe(1);
    const total = full.schema.columns.find((c: { name: string }) => c.name === 'total');
    // One type per column: N, the type of most of its items; n/a goes to a column of its own.
    expect(total.valueType).toBe('N');
    expect(total.lakeType).toEqual({ kind: 'decimal', precision: 38, scale: 0 });
    expect(total.conflict.types).toEqual([
      { type: 'N', count: 2 },
      { type: 'S', count: 1 },
    ]);
    expect(report.badLines).toEqual([]);
  });

  it('inspect reads the landing area from DDB_LAKE_LANDING and prints a human report', async () => {
    const run = await runDdbLake(['inspect', '--export', FULL], { DDB_LAKE_LANDING: FIXTURE });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Export ${FULL} (full, as of 2026-11-23T00:00:00.000Z)`);
    expect(run.stdout).toMatch(/4 items in 3 data file\(s\), checksums match/);
    // Scale 37 is more than a number column takes (18): that value is kept as text beside a bigint.
    expect(run.stdout).toMatch(/^\s+qty: bigint \(1 value of 2 needs more than bigint holds .*\)$/m);
    expect(run.stdout).toMatch(/^\s+pk: string not null$/m);
  });

  it('inspect of a landing area with a bad line names file, line and path, and exits 3', async () => {
    const landing = join(scratch, 'bad-line');
    await cp(FIXTURE, landing, { recursive: true });
    // Damage one value and re-record the file's checksum, as if the export itself carried the bad value.
    const dataKey = `AWSDynamoDB/${FULL}/data/q9vw2ytb6hk5m3xzr7c4sdn8pa.json.gz`;
    const text = gunzipSync(await readFile(join(landing, dataKey))).toString('utf8');
    const damaged = gzipSync(text.replace('"N":"0.1000000000000000000000000000000000001"', '"N":"12abc"'));
    await writeFile(join(landing, dataKey), damaged);
    await rewriteManifestChecksum(landing, dataKey, damaged);

    const run = await runDdbLake(['inspect', '--landing', landing, '--export', FULL]);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`bad line ${dataKey}:1 at Item.qty`);

    const tolerated = await runDdbLake(['inspect', '--landing', landing, '--export', FULL, '--max-bad', '1']);
    expect(tolerated.code).toBe(0);
  });

  it('inspect of an export whose data file was altered fails naming the file, exit code 3', async () => {
    const landing = join(scratch, 'altered');
    await cp(FIXTURE, landing, { recursive: true });
    const dataKey = `AWSDynamoDB/${FULL}/data/a3kq7m2xw5v4pdz6nj8hbyrtce.json.gz`;
    const text = gunzipSync(await readFile(join(landing, dataKey))).toString('utf8');
    await writeFile(join(landing, dataKey), gzipSync(text.replace('129.95', '129.96')));

    const run = await runDdbLake(['inspect', '--landing', landing, '--json']);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(dataKey);
    expect(JSON.parse(run.stdout).error.code).toBe('CHECKSUM_MISMATCH');
  });
});

async function rewriteManifestChecksum(landing: string, dataKey: string, bytes: Uint8Array): Promise<void> {
  const { createHash } = await import('node:crypto');
  const manifestPath = join(landing, `AWSDynamoDB/${FULL}/manifest-files.json`);
  const lines = (await readFile(manifestPath, 'utf8')).split('\n').filter((line) => line !== '');
  const rewritten = lines.map((line) => {
    const entry = JSON.parse(line);
    if (entry.dataFileS3Key === dataKey) entry.md5Checksum = createHash('md5').update(bytes).digest('base64');
    return JSON.stringify(entry);
  });
  const body = `${rewritten.join('\n')}\n`;
  await writeFile(manifestPath, body);
  await writeFile(
    join(landing, `AWSDynamoDB/${FULL}/manifest-files.md5`),
    createHash('md5').update(body).digest('base64'),
  );
}
