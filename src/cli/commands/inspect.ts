import type { Command } from 'commander';
import { type ExportInspection, inspectExport } from '../../backfill/inspect-export.ts';
import { describeSchema } from '../../dynamo/schema-inference.ts';
import { UsageError } from '../../errors.ts';
import type { BadLine } from '../../formats/bad-line.ts';
import { CHANGES_FOLDER, parseChangeFileKey } from '../../formats/change-file-key.ts';
import { listExports } from '../../formats/export-layout.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { count, duration, rate } from '../format.ts';
import { assertLandingExists, openLanding } from '../landing.ts';
import { createOutput } from '../output.ts';
import { type AwsFlags, type CommandContext, withAwsOptions, withJsonOption } from '../program.ts';

interface InspectFlags extends AwsFlags {
  landing?: string;
  export?: string;
  maxBad: string;
  json: boolean;
}

const BAD_LINES_SHOWN = 20;

/** `ddb-lake inspect`: what a landing area holds, every export read and checked. */
export function registerInspectCommand(program: Command, context: CommandContext): void {
  withJsonOption(
    withAwsOptions(
      program
        .command('inspect')
        .summary('read and check what a landing area holds: exports, change files, the lake schema')
        .description(
          "Lists the complete exports (native or Scan) and the change files in a landing area, then reads each export whole: checks both manifests and every data file's MD5 and item count, validates every value (numbers, base64, sets) and infers the lake schema its items call for. Bad lines are reported with file, line and attribute path; nothing is skipped silently.",
        )
        .option(
          '--landing <url>',
          'the landing area: s3://bucket/prefix or a local folder (env DDB_LAKE_LANDING)',
        )
        .option('--export <id>', 'read only this export (default: every complete export)')
        .option('--max-bad <n>', 'bad lines tolerated before the exit code says bad input', '0'),
    ),
  )
    .addHelpText('after', '\nExample:\n  ddb-lake inspect --landing ./demo-output/landing')
    .action(
      context.action(async (flags: InspectFlags) => {
        const maxBad = Number(flags.maxBad);
        if (!Number.isInteger(maxBad) || maxBad < 0) {
          throw new UsageError(`--max-bad must be a whole number of at least 0, got "${flags.maxBad}"`);
        }
        const output = createOutput({ json: flags.json });
        const landing = openLanding(flags);
        try {
          await assertLandingExists(landing);
          const listed = await listExports(landing);
          const chosen =
            flags.export === undefined ? listed : listed.filter((e) => e.exportId === flags.export);
          if (flags.export !== undefined && chosen.length === 0) {
            throw new UsageError(
              `no complete export "${flags.export}" in ${landing.url} (complete exports: ${listed.map((e) => e.exportId).join(', ') || 'none'})`,
            );
          }
          const changeFiles = await countChangeFiles(landing);
          output.result(`Landing area ${landing.url}`);
          output.result(
            `  ${listed.length} complete export(s); change files: ${
              changeFiles.size === 0
                ? 'none'
                : [...changeFiles].map(([table, files]) => `${count(files)} for table ${table}`).join(', ')
            }`,
          );

          const badLines: BadLine[] = [];
          const inspections: ExportInspection[] = [];
          for (const listing of chosen) {
            const inspection = await inspectExport(landing, listing.dir, {
              onBadLine: (bad) => {
                badLines.push(bad);
              },
              onProgress: ({ records }) =>
                output.status(`  reading ${listing.exportId}… ${count(records)} records`),
            });
            inspections.push(inspection);
            const summary = inspection.summary;
            output.result('');
            output.result(
              `Export ${inspection.exportId} (${summary.exportType === 'INCREMENTAL_EXPORT' ? `incremental ${summary.exportFromTime} → ${summary.exportToTime}` : `full, as of ${summary.exportTime}`})`,
            );
            output.result(`  table ${summary.tableArn}`);
            output.result(
              `  ${count(inspection.records)} ${summary.exportType === 'INCREMENTAL_EXPORT' ? `change records (${count(inspection.deletions)} deletions)` : 'items'} in ${inspection.dataFiles} data file(s), checksums match; read in ${duration(inspection.elapsedMs)} (${rate(inspection.records, inspection.elapsedMs, 'records')})`,
            );
            output.result('  lake schema:');
            for (const line of describeSchema(inspection.schema)) output.result(`    ${line}`);
          }

          for (const bad of badLines.slice(0, BAD_LINES_SHOWN)) {
            output.warn(
              `bad line ${bad.file}:${bad.line}${bad.path ? ` at ${bad.path}` : ''}: ${bad.reason}`,
            );
          }
          if (badLines.length > BAD_LINES_SHOWN)
            output.warn(`… and ${count(badLines.length - BAD_LINES_SHOWN)} more bad lines`);
          output.resultJson({
            landing: landing.url,
            exports: listed.map((e) => ({ exportId: e.exportId, summary: e.summary })),
            changeFiles: Object.fromEntries(changeFiles),
            inspected: inspections,
            badLines,
          });
          return badLines.length > maxBad ? EXIT_CODES.BAD_INPUT : EXIT_CODES.OK;
        } finally {
          await landing.close();
        }
      }),
    );
}

async function countChangeFiles(landing: ReturnType<typeof openLanding>): Promise<Map<string, number>> {
  const perTable = new Map<string, number>();
  for await (const object of landing.list(CHANGES_FOLDER)) {
    const parsed = parseChangeFileKey(object.key);
    if (parsed !== undefined) perTable.set(parsed.table, (perTable.get(parsed.table) ?? 0) + 1);
  }
  return perTable;
}
