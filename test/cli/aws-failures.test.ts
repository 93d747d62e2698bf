import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_DYNAMODB_CREDENTIALS, LOCAL_REGION } from '../../src/local/dynamodb-local.ts';
import { S3_SERVER_CREDENTIALS, type S3Server, startS3Server } from '../../src/local/s3-server.ts';
import { sampleOrders } from '../../src/local/sample-orders.ts';
import { mapLimited } from '../../src/map-limited.ts';
import { tableWith } from '../backfill/scan-support.ts';
import { dynamodbEndpoint } from '../support/local-stack.ts';
import { type CliRun, runDdbLake, startDdbLake } from '../support/run-cli.ts';
import { refusedPort, type SilentServer, startSilentServer } from '../support/silent-server.ts';

/** Credentials that sign requests (DynamoDB Local takes any), and no other source of them. */
const AWS_ENV = {
  AWS_REGION: LOCAL_REGION,
  AWS_ACCESS_KEY_ID: LOCAL_DYNAMODB_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: LOCAL_DYNAMODB_CREDENTIALS.secretAccessKey,
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_ENDPOINT_URL: undefined,
  AWS_ENDPOINT_URL_S3: undefined,
  AWS_MAX_ATTEMPTS: undefined,
  DDB_LAKE_DEBUG: undefined,
};

/** A line of a JavaScript stack trace. */
const STACK_LINE = /^\s+at /m;
/** Short timeouts, so that each attempt against a silent endpoint ends in a second. */
const SHORT_TIMEOUTS = ['--cli-connect-timeout', '1', '--cli-read-timeout', '1'];

let scratch: string;
let silent: SilentServer;
let noCredentialsEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'ddb-lake-aws-failures-'));
  silent = await startSilentServer();
  const empty = join(scratch, 'empty-aws-file');
  await writeFile(empty, '');
  noCredentialsEnv = {
    ...AWS_ENV,
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_DEFAULT_PROFILE: undefined,
    AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
    AWS_SHARED_CREDENTIALS_FILE: empty,
    AWS_CONFIG_FILE: empty,
  };
});

afterAll(async () => {
  await silent?.close();
  await rm(scratch, { recursive: true, force: true });
});

/** A command line of each kind, with the service its `--endpoint-url` points at. */
interface CommandCase {
  readonly name: string;
  readonly service: 'DynamoDB' | 'S3';
  readonly args: (folder: string) => string[];
}

const COMMANDS: readonly CommandCase[] = [
  { name: 'verify', service: 'DynamoDB', args: (f) => ['verify', '--table', 'orders', '--delta', f] },
  { name: 'plan', service: 'DynamoDB', args: (f) => ['plan', '--table', 'orders', '--landing', f] },
  {
    name: 'capture --until-idle',
    service: 'DynamoDB',
    args: (f) => ['capture', '--table', 'orders', '--landing', f, '--until-idle'],
  },
  {
    name: 'backfill scan',
    service: 'DynamoDB',
    args: (f) => ['backfill', 'scan', '--table', 'orders', '--landing', f],
  },
  {
    name: 'backfill touch',
    service: 'DynamoDB',
    args: (f) => ['backfill', 'touch', '--table', 'orders', '--landing', f, '--yes'],
  },
  {
    name: 'backfill export',
    service: 'DynamoDB',
    args: () => ['backfill', 'export', '--table', 'orders', '--landing', 's3://ddb-lake-landing/orders'],
  },
  { name: 'inspect', service: 'S3', args: () => ['inspect', '--landing', 's3://ddb-lake-landing/orders'] },
  {
    name: 'table describe',
    service: 'S3',
    args: () => ['table', 'describe', '--delta', 's3://ddb-lake-lake/orders'],
  },
  {
    name: 'apply',
    service: 'S3',
    args: () => [
      'apply',
      '--table',
      'orders',
      '--landing',
      's3://ddb-lake-landing/orders',
      '--delta',
      's3://ddb-lake-lake/orders',
    ],
  },
];

/** A fresh folder for one command's landing area or Delta table. */
async function folder(name: string): Promise<string> {
  return mkdtemp(join(scratch, `${name.replace(/\W+/g, '-')}-`));
}

/** What every failure of an AWS request prints: one `ddb-lake:` message, no stack trace, exit 1. */
function expectOneMessage(run: CliRun, command: string): void {
  expect(run.code, `${command}: ${run.stderr}`).toBe(1);
  expect(run.stderr, command).toMatch(/^ddb-lake: /m);
  expect(run.stderr, command).not.toMatch(STACK_LINE);
  expect(run.stderr, command).not.toContain('unexpected error');
}

describe('an endpoint that accepts connections and never answers', () => {
  const cases = [
    ...COMMANDS.filter((command) =>
      ['verify', 'plan', 'capture --until-idle', 'backfill scan'].includes(command.name),
    ),
    {
      name: 'inspect --landing s3://…',
      service: 'S3',
      args: () => ['inspect', '--landing', 's3://ddb-lake-landing/orders'],
    },
  ] as const;

  for (const command of cases) {
    it(`${command.name} ends with exit code 1 within a bound, naming the ${command.service} endpoint that did not answer`, async () => {
      const started = Date.now();
      const run = await startDdbLake(
        [...command.args(await folder(command.name)), '--endpoint-url', silent.endpoint, ...SHORT_TIMEOUTS],
        AWS_ENV,
      ).exited;

      expect(run.endedAt - started).toBeLessThan(45_000);
      expectOneMessage(run, command.name);
      expect(run.stderr).toContain(`${command.service} `);
      expect(run.stderr).toContain(`at ${silent.endpoint}`);
      expect(run.stderr).toContain('did not answer in time');
      expect(run.stderr).toContain('--cli-read-timeout');
    }, 180_000);
  }

  for (const command of COMMANDS.filter((c) => ['capture --until-idle', 'backfill scan'].includes(c.name))) {
    it(`${command.name} stops within seconds of a SIGTERM, with exit code 143, the request in flight cancelled`, async () => {
      const before = silent.connections();
      // Default timeouts: without the stop, the request would wait 30 s per attempt.
      const running = startDdbLake(
        [...command.args(await folder(command.name)), '--endpoint-url', silent.endpoint],
        AWS_ENV,
      );
      await silent.connected(before + 1);
      const signalled = Date.now();
      running.child.kill('SIGTERM');
      const run = await running.exited;

      expect(run.endedAt - signalled).toBeLessThan(10_000);
      expect(run.signal).toBeNull();
      expect(run.code).toBe(143);
      expect(run.stderr).toContain('Stopping');
      expect(run.stderr).not.toMatch(STACK_LINE);
      expect(run.stderr).not.toContain('ddb-lake:');
    });
  }

  it('a second SIGTERM ends backfill scan at once while the first waits on a silent S3 landing area', async () => {
    const table = await tableWith([...sampleOrders(10, 3)], 'aws-second-signal');
    const before = silent.connections();
    const running = startDdbLake(
      [
        'backfill',
        'scan',
        '--table',
        table.tableName,
        '--landing',
        's3://ddb-lake-landing/orders',
        '--endpoint-url',
        dynamodbEndpoint(),
      ],
      { ...AWS_ENV, AWS_ENDPOINT_URL_S3: silent.endpoint },
    );
    await silent.connected(before + 1);
    running.child.kill('SIGTERM');
    const deadline = Date.now() + 10_000;
    while (!running.output().stderr.includes('Stopping') && Date.now() < deadline) {
      await new Promise((done) => setTimeout(done, 20));
    }
    expect(running.output().stderr).toContain('Stopping');
    const signalled = Date.now();
    running.child.kill('SIGTERM');
    const run = await running.exited;

    // Ended by the signal itself (a clean stop would exit with code 143), and at once.
    expect(run.signal).toBe('SIGTERM');
    expect(run.endedAt - signalled).toBeLessThan(5_000);
  });
});

describe('one error path for every command', () => {
  it('a refused connection: each command names the service and endpoint, says what to check, exit code 1, no stack trace', async () => {
    const endpoint = `http://127.0.0.1:${await refusedPort()}`;
    const runs = await mapLimited(COMMANDS, 3, async (command) =>
      runDdbLake([...command.args(await folder(command.name)), '--endpoint-url', endpoint], AWS_ENV),
    );
    COMMANDS.forEach((command, index) => {
      const run = runs[index] as CliRun;
      expectOneMessage(run, command.name);
      expect(run.stderr, command.name).toContain(`ddb-lake: ${command.service} `);
      expect(run.stderr, command.name).toContain(`at ${endpoint} could not be reached (connect ECONNREFUSED`);
      expect(run.stderr, command.name).toContain('Check --endpoint-url');
    });
  }, 180_000);

  it('no credentials anywhere: each command says where credentials come from, exit code 1, no stack trace', async () => {
    const endpoint = `http://127.0.0.1:${await refusedPort()}`;
    const runs = await mapLimited(COMMANDS, 3, async (command) =>
      runDdbLake([...command.args(await folder(command.name)), '--endpoint-url', endpoint], noCredentialsEnv),
    );
    COMMANDS.forEach((command, index) => {
      const run = runs[index] as CliRun;
      expectOneMessage(run, command.name);
      expect(run.stderr, command.name).toContain(
        `ddb-lake: No AWS credentials were found for ${command.service} `,
      );
      expect(run.stderr, command.name).toContain(endpoint);
      expect(run.stderr, command.name).toContain('AWS_ACCESS_KEY_ID');
    });
  }, 180_000);

  it('--json still puts one document with the error code on stdout', async () => {
    const endpoint = `http://127.0.0.1:${await refusedPort()}`;
    const run = await runDdbLake(
      ['verify', '--table', 'orders', '--delta', await folder('json'), '--endpoint-url', endpoint, '--json'],
      AWS_ENV,
    );
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: 'ENDPOINT_UNREACHABLE' } });
  });

  it('DDB_LAKE_DEBUG adds the stack of the underlying error', async () => {
    const endpoint = `http://127.0.0.1:${await refusedPort()}`;
    const run = await runDdbLake(
      ['verify', '--table', 'orders', '--delta', await folder('debug'), '--endpoint-url', endpoint],
      { ...AWS_ENV, DDB_LAKE_DEBUG: '1' },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(STACK_LINE);
  });

  it('a malformed timeout is a usage error, exit code 2', async () => {
    const run = await runDdbLake(
      ['verify', '--table', 'orders', '--delta', await folder('usage'), '--cli-read-timeout', 'soon'],
      AWS_ENV,
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--cli-read-timeout must be a number of seconds');
  });
});

describe('inspect of a landing area that does not exist', () => {
  let s3: S3Server;
  beforeAll(async () => {
    s3 = await startS3Server({ buckets: ['ddb-lake-landing'] });
  });
  afterAll(async () => {
    await s3?.stop();
  });

  it('a missing local folder is an error naming it, exit code 1', async () => {
    const missing = join(scratch, 'no-such-landing');
    const run = await runDdbLake(['inspect', '--landing', missing], AWS_ENV);
    expectOneMessage(run, 'inspect');
    expect(run.stderr).toContain(`there is no folder ${missing}`);
  });

  it('a missing S3 bucket is an error naming the bucket, exit code 1', async () => {
    const env = {
      ...AWS_ENV,
      AWS_ACCESS_KEY_ID: S3_SERVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3_SERVER_CREDENTIALS.secretAccessKey,
    };
    const run = await runDdbLake(
      ['inspect', '--landing', 's3://no-such-bucket/orders', '--endpoint-url', s3.endpoint],
      env,
    );
    expectOneMessage(run, 'inspect');
    expect(run.stderr).toContain('The bucket "no-such-bucket" of s3://no-such-bucket/orders does not exist');

    const present = await runDdbLake(
      ['inspect', '--landing', 's3://ddb-lake-landing/orders', '--endpoint-url', s3.endpoint],
      env,
    );
    expect(present.code).toBe(0);
    expect(present.stdout).toContain('0 complete export(s); change files: none');
  });
});
