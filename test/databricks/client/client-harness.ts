import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveDatabricksConfig } from '../../../src/databricks/databricks-config.ts';
import type { DatabricksEvent } from '../../../src/databricks/databricks-events.ts';
import {
  StatementExecutionClient,
  type StatementExecutionClientOptions,
} from '../../../src/databricks/statement-execution.ts';
import type { FakeStatementApi } from './fake-statement-api.ts';

/** A client of a loopback fake, with a clock that only the injected sleep moves. */
export interface Harness {
  readonly client: StatementExecutionClient;
  /** Every wait the client asked for, in order (polls and retries). */
  readonly waits: number[];
  readonly events: DatabricksEvent[];
  readonly clock: { now: number };
}

/** Environment variables that point a client at `fake` with its personal access token. */
export function patEnv(fake: FakeStatementApi): Record<string, string> {
  return { DATABRICKS_HOST: fake.url, DATABRICKS_TOKEN: 'dapi-fake-pat' };
}

/** Environment variables that point a client at `fake` as its service principal. */
export function oauthEnv(fake: FakeStatementApi, secret = 'fake-client-secret'): Record<string, string> {
  return {
    DATABRICKS_HOST: fake.url,
    DATABRICKS_CLIENT_ID: 'fake-client-id',
    DATABRICKS_CLIENT_SECRET: secret,
  };
}

/**
 * A client of `fake` configured from `env` (no config file is read). Sleeps return at once and
 * advance the clock by what was asked; `beforeSleep` runs first (to abort, say).
 */
export function harness(
  env: Record<string, string>,
  options: Partial<StatementExecutionClientOptions> & { beforeSleep?: (ms: number) => void } = {},
): Harness {
  const waits: number[] = [];
  const events: DatabricksEvent[] = [];
  const clock = { now: 1_700_000_000_000 };
  const config = resolveDatabricksConfig({ env, homeDir: join(tmpdir(), 'ddb-lake-no-such-home') });
  const client = new StatementExecutionClient({
    config,
    warehouseId: 'fake-warehouse',
    now: () => clock.now,
    sleep: async (ms) => {
      options.beforeSleep?.(ms);
      waits.push(ms);
      clock.now += ms;
    },
    random: () => 0.5,
    onEvent: (event) => events.push(event),
    ...options,
  });
  return { client, waits, events, clock };
}

/** The rejection of `promise`; fails the test when it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}
