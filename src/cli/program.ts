import { Command, CommanderError, Option } from 'commander';
import { awsRequestError } from '../aws/aws-request-error.ts';
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
import { isAbortError, takeReceivedStop } from './stop-signals.ts';
import { VERSION } from './version.ts';

const VOCABULARY_HELP = `The same flag means the same thing in every command:
  --table <name|arn>   the DynamoDB table
  --landing <url>      the landing area: s3://bucket/prefix or a local folder (env DDB_LAKE_LANDING)
  --delta <url>        the Delta table: s3://bucket/prefix or a local folder
  --profile, --region, --endpoint-url   as in the AWS CLI (credentials: the default chain); in a
                       command that reads a table, --endpoint-url is DynamoDB's, and an S3-compatible
                       landing area takes its endpoint from AWS_ENDPOINT_URL_S3
  --cli-connect-timeout, --cli-read-timeout <seconds>   as in the AWS CLI: the longest wait for a
                       connection (default 10) and for the next byte of an answer (default 30); 0
                       waits forever. Each AWS call is tried AWS_MAX_ATTEMPTS times (SDK default 3-4)
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
  /** `--cli-connect-timeout <seconds>`, unparsed (see `requestSettingsOf`). */
  cliConnectTimeout?: string;
  /** `--cli-read-timeout <seconds>`, unparsed (see `requestSettingsOf`). */
  cliReadTimeout?: string;
}

/** Adds `--profile`, `--region`, `--endpoint-url`, `--cli-connect-timeout` and `--cli-read-timeout`. */
export function withAwsOptions(command: Command): Command {
  return command
    .addOption(new Option('--profile <name>', 'AWS named profile (default: the default credential chain)'))
    .addOption(new Option('--region <region>', 'AWS region (default: from the environment or profile)'))
    .addOption(
      new Option(
        '--endpoint-url <url>',
        'override the service endpoint (e.g. DynamoDB Local or an S3-compatible server)',
      ),
    )
    .addOption(
      new Option(
        '--cli-connect-timeout <seconds>',
        'longest wait for a connection to an AWS endpoint, 0 for no limit (default 10)',
      ),
    )
    .addOption(
      new Option(
        '--cli-read-timeout <seconds>',
        'longest wait for the next byte of an AWS answer, 0 for no limit (default 30)',
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
  takeReceivedStop();
  const context: CommandContext = {
    action(body) {
      return async (...args) => {
        const command = args[args.length - 1] as Command;
        const json = Boolean(command.opts()['json']);
        let failure: { readonly error: unknown } | undefined;
        try {
          exitCode = await body(...(args.slice(0, -1) as Parameters<typeof body>));
        } catch (error) {
          failure = { error };
        }
        const stop = takeReceivedStop();
        // A request or wait cut short by a stop signal is the stop itself, already announced.
        if (failure !== undefined && !(stop !== undefined && isAbortError(failure.error))) {
          exitCode = renderError(failure.error, json);
        } else if (failure !== undefined) {
          exitCode = EXIT_CODES.OK;
        }
        if (stop?.interrupted) exitCode = stop.exitCode;
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

/**
 * The one error path of every command: an error of ours by its message, an AWS SDK or network
 * error sorted into one that says which service and endpoint failed and what to check
 * (`awsRequestError`), anything else as unexpected. Stack traces only with `DDB_LAKE_DEBUG` set.
 */
function renderError(thrown: unknown, json: boolean): ExitCode {
  const output = createOutput({ json });
  const debug = Boolean(process.env['DDB_LAKE_DEBUG']);
  const error = awsRequestError(thrown);
  if (error instanceof DdbLakeError) {
    output.warn(`ddb-lake: ${error.message}`);
    if (debug && error.cause) output.warn(debugText(error.cause));
    output.resultJson({ error: { code: error.code, message: error.message } });
    if (error instanceof UsageError) return EXIT_CODES.USAGE;
    return BAD_INPUT_CODES.has(error.code) ? EXIT_CODES.BAD_INPUT : EXIT_CODES.FAILED;
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  output.warn(
    `ddb-lake: unexpected error: ${debug ? debugText(error) : `${message} (set DDB_LAKE_DEBUG=1 to see where it happened)`}`,
  );
  output.resultJson({ error: { code: 'UNEXPECTED', message } });
  return EXIT_CODES.FAILED;
}

function debugText(error: unknown): string {
  return error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
}
