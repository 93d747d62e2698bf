import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openExport } from '../../src/formats/export-layout.ts';
import { LOCAL_DYNAMODB_CREDENTIALS, LOCAL_REGION } from '../../src/local/dynamodb-local.ts';
import { sampleOrders } from '../../src/local/sample-orders.ts';
import { exportedItems, keysUnder, plainScan, tableWith, tempLanding } from '../backfill/scan-support.ts';
import { dynamodbEndpoint, type StreamTable } from '../support/local-stack.ts';
import { runDdbLake, startDdbLake } from '../support/run-cli.ts';

const ROOT = resolve(import.meta.dirname, '../..');

/** What the SDK's default chain needs to reach DynamoDB Local, whatever the machine's AWS setup. */
const AWS_ENV = {
  AWS_REGION: LOCAL_REGION,
  AWS_ACCESS_KEY_ID: LOCAL_DYNAMODB_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: LOCAL_DYNAMODB_CREDENTIALS.secretAccessKey,
  AWS_EC2_METADATA_DISABLED: 'true',
};

const ITEMS = [...sampleOrders(600, 21)];
let table: StreamTable;
let expected: Map<string, string>;

beforeAll(async () => {
  table = await tableWith(ITEMS, 'cli-scan');
  expected = await plainScan(table.tableName);
});

function scanArgs(landing: string, ...more: string[]): string[] {
  return [
    'backfill',
    'scan',
    '--table',
    table.tableName,
    '--landing',
    landing,
    '--endpoint-url',
    dynamodbEndpoint(),
    ...more,
  ];
}

/** Resolves once some segment checkpoint of the landing folder lists a data file. */
async function firstCheckpointWithFile(landing: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const scans = await readdir(join(landing, '_ddb_lake', 'scan')).catch(() => []);
    for (const scan of scans) {
      const folder = join(landing, '_ddb_lake', 'scan', scan, 'segments');
      for (const name of await readdir(folder).catch(() => [])) {
        if (!name.endsWith('.json')) continue;
        const checkpoint = JSON.parse(await readFile(join(folder, name), 'utf8').catch(() => '{}'));
        if (Array.isArray(checkpoint.files) && checkpoint.files.length > 0) return;
      }
    }
    await new Promise((done) => setTimeout(done, 20));
  }
  throw new Error(`no checkpoint with a data file appeared in ${landing} within ${timeoutMs} ms`);
}

describe('ddb-lake backfill scan', () => {
  it('exports the table and prints one JSON document with --json; the export equals a plain Scan', async () => {
    const { folder, store } = await tempLanding();
    const run = await runDdbLake(scanArgs(folder, '--segments', '3', '--json'), AWS_ENV);
    expect(run.stderr).not.toContain('ddb-lake:');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({
      outcome: 'complete',
      resumed: false,
      summary: { exportType: 'FULL_EXPORT', itemCount: ITEMS.length, ddbLakeScan: { segments: 3 } },
    });
    const items = await exportedItems(store, result.dir);
    expect(items.length).toBe(ITEMS.length);
    expect(new Map(items)).toEqual(expected);
  });

  it('resumes a scan killed with SIGKILL midway when the same command runs again, each item exactly once', async () => {
    const { folder, store } = await tempLanding();
    const args = scanArgs(folder, '--segments', '2', '--max-rcu', '10', '--file-mb', '0.005', '--json');
    const child = spawn(
      resolve(ROOT, 'node_modules/.bin/node'),
      [resolve(ROOT, 'src/cli/main.ts'), ...args],
      {
        cwd: ROOT,
        env: { ...process.env, CI: '1', ...AWS_ENV },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<NodeJS.Signals | null>((done) =>
      child.on('exit', (_code, signal) => done(signal)),
    );
    try {
      await firstCheckpointWithFile(folder, 30_000);
    } finally {
      child.kill('SIGKILL');
    }
    expect(await exited).toBe('SIGKILL');
    expect(await keysUnder(store, 'AWSDynamoDB/')).not.toContainEqual(
      expect.stringMatching(/manifest-summary\.json$/),
    );

    const second = await runDdbLake(args, AWS_ENV);
    expect(second.stderr).not.toContain('ddb-lake:');
    expect(second.code).toBe(0);
    const result = JSON.parse(second.stdout);
    expect(result).toMatchObject({ outcome: 'complete', resumed: true });
    expect(result.progress.itemsThisRun).toBeLessThan(ITEMS.length);
    expect(result.progress.items).toBe(ITEMS.length);

    const items = await exportedItems(store, result.dir);
    expect(items.length).toBe(ITEMS.length);
    expect(new Set(items.map(([key]) => key)).size).toBe(ITEMS.length);
    expect(new Map(items)).toEqual(expected);
    const manifest = (await openExport(store, result.dir)).files.map((file) => file.key).sort();
    expect(await keysUnder(store, `${result.dir}data/`)).toEqual(manifest);
  });

  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${signal} midway stops at a page boundary with exit code ${code}, every segment checkpointed; the same command resumes it, each item exactly once`, async () => {
      const { folder, store } = await tempLanding();
      const args = scanArgs(folder, '--segments', '2', '--max-rcu', '10', '--file-mb', '0.005');
      const running = startDdbLake(args, AWS_ENV);
      await firstCheckpointWithFile(folder, 30_000);
      running.child.kill(signal);
      const stopped = await running.exited;

      expect(stopped.signal).toBeNull();
      expect(stopped.code).toBe(code);
      expect(stopped.stderr).toContain('Stopping at the next page');
      expect(stopped.stdout).toContain('every segment checkpointed');
      expect(stopped.stdout).toContain('Run the same command again to resume it.');
      expect(await keysUnder(store, 'AWSDynamoDB/')).not.toContainEqual(
        expect.stringMatching(/manifest-summary\.json$/),
      );

      const second = await runDdbLake([...args, '--json'], AWS_ENV);
      expect(second.code).toBe(0);
      const result = JSON.parse(second.stdout);
      expect(result).toMatchObject({ outcome: 'complete', resumed: true });
      const items = await exportedItems(store, result.dir);
      expect(items.length).toBe(ITEMS.length);
      expect(new Map(items)).toEqual(expected);
    });
  }

  it('refuses malformed flags with exit code 2, before touching the table', async () => {
    const { folder, store } = await tempLanding();
    for (const [flags, message] of [
      [['--read-percent', '0'], '--read-percent must be'],
      [['--max-rcu', '-5'], '--max-rcu must be'],
      [['--segments', '2.5'], '--segments must be'],
      [['--resume', '01795392000000-5a1c9e20', '--fresh'], 'exclude each other'],
    ] as const) {
      const run = await runDdbLake(scanArgs(folder, ...flags), AWS_ENV);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(message);
    }
    expect(await keysUnder(store, '')).toEqual([]);
  });

  it('names a missing table, and an unknown export to resume, with exit code 1', async () => {
    const { folder } = await tempLanding();
    const missing = await runDdbLake(
      [
        'backfill',
        'scan',
        '--table',
        'no-such-table',
        '--landing',
        folder,
        '--endpoint-url',
        dynamodbEndpoint(),
      ],
      AWS_ENV,
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('The table no-such-table was not found');
    const unknown = await runDdbLake(scanArgs(folder, '--resume', '01795392000000-00000000'), AWS_ENV);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('There is no Scan export 01795392000000-00000000');
  });
});
