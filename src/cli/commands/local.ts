import { type Command, Option } from 'commander';
import { startLocalStack } from '../../local/stack.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { createOutput } from '../output.ts';
import { type CommandContext, withJsonOption } from '../program.ts';

interface LocalFlags {
  dataDir?: string;
  bucket: string[];
  s3: boolean;
  dynamodb: boolean;
  json: boolean;
}

/** `ddb-lake local`: runs the embedded stack in the foreground until SIGINT (Ctrl-C) or SIGTERM, whatever its stdin. */
export function registerLocalCommand(program: Command, context: CommandContext): void {
  withJsonOption(
    program
      .command('local')
      .summary('run DynamoDB Local and an S3-compatible server on loopback until Ctrl-C')
      .description(
        'Runs the embedded local stack that the demo and the tests use: DynamoDB Local (with Streams; needs Java 17+) and an S3-compatible server, each on a free 127.0.0.1 port. Point any ddb-lake command or AWS CLI at them with --endpoint-url. It runs until Ctrl-C (SIGINT) or SIGTERM, also in the background or without a terminal, then stops everything and exits 0.',
      )
      .option(
        '--data-dir <folder>',
        'keep tables and buckets in this folder across restarts (default: in memory)',
      )
      .addOption(
        new Option('--bucket <name>', 'create this bucket on the S3 server (repeatable)')
          .argParser(collect)
          .default([], 'none'),
      )
      .option('--no-s3', 'do not start the S3-compatible server')
      .option('--no-dynamodb', 'do not start DynamoDB Local'),
  )
    .addHelpText(
      'after',
      '\nExample:\n  ddb-lake local --bucket lake\n  aws dynamodb list-tables --endpoint-url <the DynamoDB endpoint printed>',
    )
    .action(
      context.action(async (flags: LocalFlags) => {
        const output = createOutput({ json: flags.json });
        output.progress('Starting the local stack…');
        const stack = await startLocalStack({
          dynamodb: flags.dynamodb,
          s3: flags.s3,
          ...(flags.dataDir === undefined ? {} : { dataDir: flags.dataDir }),
          buckets: flags.bucket,
        });
        const endpoints = {
          region: stack.region,
          dynamodbEndpoint: stack.dynamodb?.endpoint ?? null,
          s3Endpoint: stack.s3?.endpoint ?? null,
          credentials: 'any access key and secret (DynamoDB Local); S3RVER / S3RVER (S3 server)',
        };
        output.resultJson(endpoints);
        if (stack.dynamodb)
          output.result(`DynamoDB Local   ${stack.dynamodb.endpoint}  (region ${stack.region})`);
        if (stack.s3)
          output.result(`S3 server        ${stack.s3.endpoint}  (access key S3RVER, secret S3RVER)`);
        output.progress('Running; press Ctrl-C to stop.');
        // Our listeners stay registered until everything stopped: while they are, the stack's own
        // signal hooks stop their servers without re-raising the signal, and we exit 0.
        let onSignal = () => {};
        const signalled = new Promise<void>((resolve) => {
          onSignal = resolve;
        });
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        // The servers do not keep our process alive (DynamoDB Local's pipes are unref'd so that a
        // library user who forgets stop() can still exit), and a signal listener does not either:
        // without this timer, Node would end here with the top-level await unsettled (exit code
        // 13) as soon as nothing else holds the event loop, e.g. with --no-s3 or stdin closed.
        const keepAlive = setInterval(() => {}, 60 * 60 * 1000);
        try {
          await signalled;
          output.progress('Stopping…');
          await stack.stop();
        } finally {
          clearInterval(keepAlive);
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
        return EXIT_CODES.OK;
      }),
    );
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
