import type { Command } from 'commander';
import { describeSchema } from '../../dynamo/schema-inference.ts';
import { UsageError } from '../../errors.ts';
import { type DemoEvent, runDemo } from '../../local/demo.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { count, duration, rate } from '../format.ts';
import { createOutput, type Output } from '../output.ts';
import { type CommandContext, withJsonOption } from '../program.ts';

interface DemoFlags {
  items: string;
  output: string;
  json: boolean;
}

/** `ddb-lake demo`: the pipeline on the embedded default (DynamoDB Local, a local landing folder). */
export function registerDemoCommand(program: Command, context: CommandContext): void {
  withJsonOption(
    program
      .command('demo')
      .summary('run the pipeline on the embedded default: DynamoDB Local and a local landing folder')
      .description(
        'Starts DynamoDB Local on loopback, creates an `orders` table with a stream, writes items of every DynamoDB type, exports the table with a parallel Scan into the native export layout under <output>/landing, reads the export back (manifests, checksums, every value validated, the lake schema inferred) and checks that every exported item equals the item written, exactly. Stops everything it started. Run it again at will: it replaces its previous output.',
      )
      .option('--items <n>', 'how many items to write', '50000')
      .option('--output <folder>', 'where the landing area goes', 'demo-output'),
  ).action(
    context.action(async (flags: DemoFlags) => {
      const items = Number(flags.items);
      if (!Number.isInteger(items) || items < 1) {
        throw new UsageError(`--items must be a whole number of at least 1, got "${flags.items}"`);
      }
      const output = createOutput({ json: flags.json });
      const result = await runDemo({
        items,
        outputDir: flags.output,
        onEvent: (event) => render(event, output),
      });
      const equal = result.mismatches.length === 0;
      output.resultJson({
        landing: result.landing,
        exportDir: result.exportDir,
        exportId: result.inspection.exportId,
        items: result.inspection.records,
        schema: result.inspection.schema,
        equal,
        mismatches: result.mismatches.slice(0, 100),
      });
      output.result('');
      output.result(`Landing area: ${result.landing}`);
      output.result(`Export:       ${result.exportDir}`);
      output.result(`Look at it:   ddb-lake inspect --landing ${result.landing}`);
      return equal ? EXIT_CODES.OK : EXIT_CODES.FAILED;
    }),
  );
}

function render(event: DemoEvent, output: Output): void {
  switch (event.type) {
    case 'stack-started':
      output.result(`✓ DynamoDB Local started at ${event.dynamodbEndpoint} (${duration(event.ms)})`);
      break;
    case 'table-created':
      output.result(
        `✓ table "${event.table}" created with a NEW_AND_OLD_IMAGES stream (${duration(event.ms)})`,
      );
      break;
    case 'write-progress':
      output.status(`  writing items… ${count(event.items)} / ${count(event.of)}`);
      break;
    case 'items-written':
      output.result(
        `✓ ${count(event.items)} items of every DynamoDB type written (${duration(event.ms)}, ${rate(event.items, event.ms, 'items')})`,
      );
      break;
    case 'export-progress':
      output.status(`  scanning… ${count(event.items)} items`);
      break;
    case 'exported':
      output.result(
        `✓ parallel Scan export ${event.exportId}: ${count(event.items)} items (${duration(event.ms)}, ${rate(event.items, event.ms, 'items')})`,
      );
      break;
    case 'inspected': {
      const inspection = event.inspection;
      output.result(
        `✓ export read back: ${count(inspection.records)} items in ${inspection.dataFiles} data file(s), checksums and item counts match (${duration(inspection.elapsedMs)}, ${rate(inspection.records, inspection.elapsedMs, 'items')})`,
      );
      output.result('  lake schema inferred from the export:');
      for (const line of describeSchema(inspection.schema)) output.result(`    ${line}`);
      break;
    }
    case 'compared':
      if (event.mismatches.length === 0) {
        output.result(
          `✓ every exported item equals the item written (${count(event.compared)} compared, exactly)`,
        );
      } else {
        output.warn(`✗ ${count(event.mismatches.length)} item(s) differ between DynamoDB and the export:`);
        for (const mismatch of event.mismatches.slice(0, 20)) output.warn(`    ${mismatch}`);
      }
      break;
    case 'stack-stopped':
      output.progress('✓ DynamoDB Local stopped');
      break;
  }
}
