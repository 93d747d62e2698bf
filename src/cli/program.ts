import { Command, CommanderError, Option } from 'commander';
import { DdbLakeError, UsageError } from '../errors.ts';
import { registerApplyCommand } from './commands/apply.ts';
import { registerBackfillCommand } from './commands/backfill.ts';
import { registerCaptureCommand } from './commands/capture.ts';
import { registerDemoCommand } from './commands/demo.ts';
import { registerInspectCommand } from './commands/inspect.ts';
import { registerLocalCommand } from './commands/local.ts';
import { registerPlanCommand } from './commands/plan.ts';
import { registerQuarantineCommand } from './commands/quarantine.ts';
import { registerStatusCommand } from './commands/status.ts';
import { registerTableCommand } from './commands/table.ts';
import { registerVerifyCommand } from './commands/verify.ts';
import { EXIT_CODES, EXIT_CODES_HELP, type ExitCode } from './exit-codes.ts';
import { createOutput } from './output.ts';
import { VERSION } from './version.ts';

const VOCABULARY_HELP = `The same flag means the same thing in every command:
  --table <name|arn>   the DynamoDB table
  --landing <url>      the landing area: s3://bucket/prefix or a local folder (env DDB_LAKE_LANDING)
  --delta <url>        the Delta table: s3://bucket/prefix or a local folder
  --profile, --region, --endpoint-url   as in the AWS CLI (credentials: the default chain); in a
                       command that reads a table, --endpoint-url is DynamoDB's, and an S3-compatible
                       landing area takes its endpoint from AWS_ENDPOINT_URL_S3
  --json               one JSON document on stdout; progress and errors stay on stderr`;

/** What every command registration gets: a way to run its action and report its exit code. */
export interface CommandContext {
  /** Wraps a command's action: runs it, renders errors, records the exit code. */
  action<A extends unknown[]>(
    body: (...args: A) => Promise<ExitCode>,
  ): (...args: [...A, Command]) => Promise<void>;
}

/** The AWS CLI's connection flags, with the AWS CLI's spellings. */
export interface AwsFlags {
  profile?: string;
  region?: string;
  endpointUrl?: string;
}

/** Adds `--profile`, `--region` and `--endpoint-url` to a command. */
export function withAwsOptions(command: Command): Command {
  return command
    .addOption(new Option('--profile <name>', 'AWS named profile (default: the default credential chain)'))
    .addOption(new Option('--region <region>', 'AWS region (default: from the environment or profile)'))
    .addOption(
      new Option(
        '--endpoint-url <url>',
        'override the service endpoint (e.g. DynamoDB Local or an S3-compatible server)',
      ),
    );
}

/** Adds `--json`: one JSON document on stdout and nothing else there. */
export function withJsonOption(command: Command): Command {
  return command.option(
    '--json',
    'machine-readable output on stdout (progress and errors stay on stderr)',
    false,
  );
}

/**
 * Runs the `ddb-lake` command line and returns its exit code. Never calls `process.exit`: the
 * entry point sets `process.exitCode`, so open handles close normally.
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  let exitCode: number = EXIT_CODES.OK;
  const context: CommandContext = {
    action(body) {
      return async (...args) => {
        const command = args[args.length - 1] as Command;
        const json = Boolean(command.opts()['json']);
        try {
          exitCode = await body(...(args.slice(0, -1) as Parameters<typeof body>));
        } catch (error) {
          exitCode = renderError(error, json);
        }
      };
    },
  };

  const program = new Command('ddb-lake')
    .description("Get a DynamoDB table's whole history into a Delta Lake table and keep it exact.")
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .addHelpText('after', `\n${VOCABULARY_HELP}\n\n${EXIT_CODES_HELP}\n`);

  registerDemoCommand(program, context);
  registerLocalCommand(program, context);
  registerInspectCommand(program, context);
  registerCaptureCommand(program, context);
  registerBackfillCommand(program, context);
  registerPlanCommand(program, context);
  registerApplyCommand(program, context);
  registerQuarantineCommand(program, context);
  registerTableCommand(program, context);
  registerVerifyCommand(program, context);
  registerStatusCommand(program, context);

  for (const command of program.commands) {
    command.exitOverride().showHelpAfterError('(run with --help for usage)');
    command.addHelpText('after', `\n${EXIT_CODES_HELP}\n`);
  }

  try {
    await program.parseAsync(argv as string[]);
  } catch (error) {
    if (error instanceof CommanderError) {
      const benign = ['commander.helpDisplayed', 'commander.help', 'commander.version'];
      return benign.includes(error.code) ? EXIT_CODES.OK : EXIT_CODES.USAGE;
    }
    return renderError(error, false);
  }
  return exitCode;
}

/** Error codes that mean the input data is bad (not the tool, the network or the flags). */
const BAD_INPUT_CODES: ReadonlySet<string> = new Set([
  'BAD_INPUT',
  'BAD_MANIFEST',
  'CHECKSUM_MISMATCH',
  'ITEM_COUNT_MISMATCH',
  'CORRUPT_GZIP',
  'INVALID_ATTRIBUTE_VALUE',
  'INVALID_NUMBER',
]);

function renderError(error: unknown, json: boolean): ExitCode {
  const output = createOutput({ json });
  if (error instanceof DdbLakeError) {
    output.warn(`ddb-lake: ${error.message}`);
    if (process.env['DDB_LAKE_DEBUG'] && error.cause) output.warn(String(error.cause));
    output.resultJson({ error: { code: error.code, message: error.message } });
    if (error instanceof UsageError) return EXIT_CODES.USAGE;
    return BAD_INPUT_CODES.has(error.code) ? EXIT_CODES.BAD_INPUT : EXIT_CODES.FAILED;
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  output.warn(`ddb-lake: unexpected error: ${message}`);
  output.resultJson({ error: { code: 'UNEXPECTED', message: String(error) } });
  return EXIT_CODES.FAILED;
}
