/*
 * Run as a child process by statement-cancel.test.ts: submits a statement that runs until it is
 * canceled to the fake at FAKE_DATABRICKS_URL, prints its id once submitted, and on SIGINT aborts
 * it as the CLI does, exiting 130 once the client reports the interruption.
 */
import { resolveDatabricksConfig } from '../../../src/databricks/databricks-config.ts';
import { DatabricksStatementInterruptedError } from '../../../src/databricks/databricks-errors.ts';
import { StatementExecutionClient } from '../../../src/databricks/statement-execution.ts';

const controller = new AbortController();
process.once('SIGINT', () => controller.abort());

const config = resolveDatabricksConfig({
  env: { DATABRICKS_HOST: process.env['FAKE_DATABRICKS_URL'], DATABRICKS_TOKEN: 'dapi-fake-pat' },
  homeDir: '/nonexistent',
});
const client = new StatementExecutionClient({
  config,
  warehouseId: 'fake-warehouse',
  poll: { initialDelayMs: 20, maxDelayMs: 50 },
  onEvent: (event) => {
    if (event.code === 'statement-submitted') process.stdout.write(`submitted ${event.statementId}\n`);
  },
});

try {
  await client.execute('SELECT * FROM a_table_that_takes_forever', { signal: controller.signal });
  process.stderr.write('the statement finished, which it never should\n');
  process.exitCode = 1;
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = error instanceof DatabricksStatementInterruptedError ? 130 : 1;
}
