import type { Command } from 'commander';
import { describeCaptureQuarantineEntry } from '../../apply/inputs/capture-quarantine-errors.ts';
import { quarantineReport } from '../../apply/inputs/quarantine-report.ts';
import { CAPTURE_QUARANTINE_FOLDER } from '../../capture/capture-quarantine.ts';
import {
  CaptureQuarantineObjectUnknownError,
  type CaptureReplayOutcome,
  replayCaptureQuarantine,
} from '../../capture/capture-quarantine-replay.ts';
import { UsageError } from '../../errors.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { openStore } from '../../storage/open-store.ts';
import { storeOptionsOf } from '../aws-flags.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { count } from '../format.ts';
import { openLanding } from '../landing.ts';
import { createOutput } from '../output.ts';
import { type AwsFlags, type CommandContext, withAwsOptions, withJsonOption } from '../program.ts';

interface ListFlags extends AwsFlags {
  table?: string;
  landing?: string;
  delta?: string;
  json: boolean;
}

interface ReplayFlags extends AwsFlags {
  table?: string;
  landing?: string;
  key: string[];
  all: boolean;
  dryRun: boolean;
  json: boolean;
}

const DESCRIPTION = `What could not go into the lake, and the way back in. Capture keeps a stream record it cannot write as a change-file line (invalid DynamoDB JSON, a missing SequenceNumber, …) under ${CAPTURE_QUARANTINE_FOLDER}<table>/ in the landing area, one JSON object per record with its shard, the reason and the record as received. Each is a hole in its shard's changes: apply commits no batch while one is there that no batch accepted.

Two ways out: fix the record in place (the "record" member of its object) and replay it, which writes it as a change file with capture's own mapping, so the next batch takes it in sequence order (a record older than the row changes nothing, a newer one wins); or accept it as lost with apply --accept-capture-quarantine, which the batch records. Apply's own quarantine (lines a batch could not read, beside the Delta table) is shown by list --delta and replayed with apply --replay-quarantine <batch>.`;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function requireTable(table: string | undefined): string {
  if (table === undefined || table === '') throw new UsageError('no table: pass --table <name or ARN>');
  return table;
}

/** `ddb-lake quarantine list|replay`: the capture quarantine (and apply's), and its repair. */
export function registerQuarantineCommand(program: Command, context: CommandContext): void {
  const quarantine = program
    .command('quarantine')
    .summary('list what capture and apply quarantined; replay fixed stream records into change files')
    .description(DESCRIPTION);

  withJsonOption(
    withAwsOptions(
      quarantine
        .command('list')
        .summary("list the table's capture quarantine (accepted or not) and, with --delta, apply's")
        .option('--table <name|arn>', 'the DynamoDB table')
        .option(
          '--landing <url>',
          'the landing area: s3://bucket/prefix or a local folder (env DDB_LAKE_LANDING)',
        )
        .option(
          '--delta <url>',
          'the Delta table: whether a batch accepted each record, and its own quarantine',
        ),
    ),
  )
    .addHelpText(
      'after',
      '\nExample:\n  ddb-lake quarantine list --table orders --landing s3://lake/landing --delta s3://lake/tables/orders',
    )
    .action(
      context.action(async (flags: ListFlags) => {
        const table = requireTable(flags.table);
        const output = createOutput({ json: flags.json });
        const landing = openLanding(flags);
        let delta: ObjectStore | undefined;
        try {
          if (flags.delta !== undefined) delta = openStore(flags.delta, storeOptionsOf(flags));
          const report = await quarantineReport({
            landing,
            table,
            ...(delta === undefined ? {} : { delta }),
          });
          output.result(
            `Capture quarantine of table ${report.table} in ${report.landing}: ${count(report.capture.length)} record(s)${report.delta === null ? '' : `, ${count(report.notAccepted)} not accepted by any batch`}`,
          );
          for (const entry of report.capture) {
            const state = entry.accepted === null ? '' : entry.accepted ? 'accepted      ' : 'NOT ACCEPTED  ';
            output.result(`  ${state}${describeCaptureQuarantineEntry(entry)} [since ${entry.lastModified}]`);
          }
          if (report.replayed > 0) output.result(`  ${count(report.replayed)} record(s) replayed before`);
          if (report.apply !== null) {
            output.result(
              report.apply.length === 0
                ? `Apply quarantine beside ${report.delta}: none`
                : `Apply quarantine beside ${report.delta}: ${report.apply.map((batch) => `batch ${batch.batch} in ${batch.folder} (${count(batch.files.length)} file(s))`).join('; ')}`,
            );
          }
          if (report.notAccepted > 0) {
            output.result(
              `Fix each record in place and run ddb-lake quarantine replay --table ${report.table} --landing ${report.landing} --key <object> (or --all); or accept it as lost with ddb-lake apply … --accept-capture-quarantine <object>.`,
            );
          }
          output.resultJson(report);
          return EXIT_CODES.OK;
        } finally {
          await delta?.close();
          await landing.close();
        }
      }),
    );

  withJsonOption(
    withAwsOptions(
      quarantine
        .command('replay')
        .summary(
          'turn quarantined stream records (fixed in place, or valid as they are) back into change files',
        )
        .description(
          `Replays objects of the table's capture quarantine: each record is mapped by capture's own mapping and written as a change file of its own, dated by its time; the object then moves to _ddb_lake/quarantine/capture-replayed/<table>/, which names the change file it became, and no longer holds apply. The next apply batch takes these change files whatever their date, in sequence order per key. A record that is still invalid is reported with its object and reason and left in place (exit code 3). Safe to run again, also after a kill.`,
        )
        .option('--table <name|arn>', 'the DynamoDB table')
        .option(
          '--landing <url>',
          'the landing area: s3://bucket/prefix or a local folder (env DDB_LAKE_LANDING)',
        )
        .option(
          '--key <object>',
          "an object to replay: its key, or its name in the table's folder; repeatable",
          collect,
          [],
        )
        .option('--all', "replay every object in the table's capture quarantine", false)
        .option('--dry-run', 'check each record and say what would be written; write nothing', false),
    ),
  )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  ddb-lake quarantine replay --table orders --landing ./landing --all --dry-run\n' +
        '  ddb-lake quarantine replay --table orders --landing ./landing --key 4938000000000001234567.json',
    )
    .action(
      context.action(async (flags: ReplayFlags) => {
        const table = requireTable(flags.table);
        if (flags.all === flags.key.length > 0) {
          throw new UsageError('say what to replay: --key <object> (repeatable) or --all, not both');
        }
        const output = createOutput({ json: flags.json });
        const landing = openLanding(flags);
        try {
          const result = await replayCaptureQuarantine({
            landing,
            table,
            dryRun: flags.dryRun,
            ...(flags.all ? {} : { keys: flags.key }),
          });
          for (const outcome of result.outcomes) output.result(describeOutcome(outcome));
          const invalid = result.outcomes.filter((outcome) => outcome.outcome === 'invalid');
          const written = result.outcomes.filter((outcome) => outcome.outcome !== 'invalid').length;
          output.result(
            `${result.dryRun ? 'Dry run: would replay' : 'Replayed'} ${count(written)} record(s)${invalid.length === 0 ? '' : `; ${count(invalid.length)} still invalid, left in place: fix them (the "record" member of each object) and replay again, or accept them as lost with apply --accept-capture-quarantine`}.`,
          );
          if (!result.dryRun && written > 0) {
            output.result('Run ddb-lake apply: the next batch takes them in sequence order.');
          }
          output.resultJson({ landing: landing.url, ...result });
          return invalid.length > 0 ? EXIT_CODES.BAD_INPUT : EXIT_CODES.OK;
        } catch (error) {
          if (error instanceof CaptureQuarantineObjectUnknownError) {
            throw new UsageError(error.message, { cause: error });
          }
          throw error;
        } finally {
          await landing.close();
        }
      }),
    );
}

function describeOutcome(outcome: CaptureReplayOutcome): string {
  switch (outcome.outcome) {
    case 'replayed':
    case 'would-replay':
      return `  ${outcome.outcome === 'replayed' ? 'replayed      ' : 'would replay  '}shard ${outcome.shard}, sequence number ${outcome.seq} (${outcome.key}) → ${outcome.changeFile}`;
    case 'already-replayed':
      return `  replayed before  ${outcome.key}${outcome.changeFile === null ? '' : ` → ${outcome.changeFile}`}`;
    case 'invalid':
      return `  STILL INVALID ${describeCaptureQuarantineEntry(outcome)}${outcome.path === null ? '' : ` (at ${outcome.path})`}`;
  }
}
