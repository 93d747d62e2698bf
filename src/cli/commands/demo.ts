import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { type DemoBatch, type DemoEvent, type DemoResult, runDemo } from '../../local/demo.ts';
import { EXIT_CODES } from '../exit-codes.ts';
import { count, duration, rate } from '../format.ts';
import { createOutput, type Output } from '../output.ts';
import { type CommandContext, withJsonOption } from '../program.ts';

interface DemoFlags {
  items: string;
  output: string;
  changesPerSecond?: string;
  json: boolean;
}

/** `ddb-lake demo` (`npm run demo`): the main job end to end on the embedded default. */
export function registerDemoCommand(program: Command, context: CommandContext): void {
  withJsonOption(
    program
      .command('demo')
      .summary('run the main job end to end on the embedded default: DynamoDB Local, local folders')
      .description(
        'On loopback only: starts DynamoDB Local, creates an `orders` table with a stream and captures it into <output>/landing, writes orders of every DynamoDB type, keeps updates, deletes and new orders going, waits until the captured changes cover the handoff (DynamoDB Local stamps changes to the minute, so up to a minute), takes a parallel Scan export while the writes go on, applies it with the captured changes to the Delta table <output>/delta/orders, applies again as more changes arrive, then stops the writes, applies the rest and verifies the Delta table against the DynamoDB table. Stops everything it started. Run it again at will: it replaces its previous output. Exit code 0 only when verify finds the two equal.',
      )
      .option('--items <n>', 'how many orders to write before the backfill', '50000')
      .option(
        '--changes-per-second <n>',
        'the rate of the background updates, deletes and new orders (default: items / 50, 20 to 200)',
      )
      .option('--output <folder>', 'where the landing area and the Delta table go', 'demo-output'),
  ).action(
    context.action(async (flags: DemoFlags) => {
      const items = wholeNumber('--items', flags.items);
      const changesPerSecond =
        flags.changesPerSecond === undefined
          ? undefined
          : wholeNumber('--changes-per-second', flags.changesPerSecond);
      const output = createOutput({ json: flags.json });
      const result = await runDemo({
        items,
        outputDir: flags.output,
        ...(changesPerSecond === undefined ? {} : { changesPerSecond }),
        onEvent: (event) => render(event, output),
      });
      output.resultJson({ equal: result.verify.equal, ...result });
      renderSummary(result, output);
      return result.verify.equal ? EXIT_CODES.OK : EXIT_CODES.FAILED;
    }),
  );
}

function wholeNumber(flag: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < 1) {
    throw new UsageError(`${flag} must be a whole number of at least 1, got "${text}"`);
  }
  return value;
}

function renderSummary(result: DemoResult, output: Output): void {
  const verify = result.verify;
  output.result('');
  output.result(
    verify.equal
      ? `The Delta table equals the DynamoDB table: ${count(verify.tableItems)} items, every one exact.`
      : `The Delta table differs from the DynamoDB table: ${count(verify.missing)} missing, ${count(verify.extra)} extra, ${count(verify.different)} different.`,
  );
  output.result(`Delta table:  ${result.delta}`);
  output.result(`Landing area: ${result.landing}`);
  output.result('Query it with the DuckDB CLI:');
  output.result(
    `  duckdb -c "INSTALL delta; LOAD delta; SELECT count(*) FROM delta_scan('${result.delta}')"`,
  );
  output.result('Describe it (schema, versions, files):');
  output.result(`  npm run ddb-lake -- table describe --delta ${result.delta}`);
}

function render(event: DemoEvent, output: Output): void {
  switch (event.type) {
    case 'stack-started':
      output.progress(`✓ DynamoDB Local started at ${event.dynamodbEndpoint} (${duration(event.ms)})`);
      break;
    case 'table-created':
      output.progress(
        `✓ table "${event.table}" created with a NEW_AND_OLD_IMAGES stream (${duration(event.ms)})`,
      );
      break;
    case 'capture-started':
      output.progress('✓ capture started: the stream poller writes change files into the landing area');
      break;
    case 'write-progress':
      output.status(`  writing orders… ${count(event.items)} / ${count(event.of)}`);
      break;
    case 'items-written':
      output.progress(
        `✓ ${count(event.items)} orders of every DynamoDB type written (${duration(event.ms)}, ${rate(event.items, event.ms, 'items')})`,
      );
      break;
    case 'workload-started':
      output.progress(
        `✓ updates, deletes and new orders keep coming, ${count(event.changesPerSecond)} a second`,
      );
      break;
    case 'handoff-waiting':
      output.progress(`  waiting for the handoff: ${handoffReason(event)}`);
      break;
    case 'handoff-ready':
      output.progress(
        `✓ the captured changes cover the handoff (first change stamped ${event.coveredFrom ?? '?'}; waited ${duration(event.waitedMs)})`,
      );
      break;
    case 'export-progress':
      output.status(`  scanning… ${count(event.items)} items`);
      break;
    case 'exported':
      output.progress(
        `✓ backfill: parallel Scan export ${event.exportId}, ${count(event.items)} items (${duration(event.ms)}, ${rate(event.items, event.ms, 'items')}), ${count(event.changesMeanwhile)} changes made meanwhile`,
      );
      break;
    case 'applied':
      output.progress(`✓ ${describeBatch(event.batch)}`);
      break;
    case 'workload-stopped':
      output.progress(
        `✓ writes stopped: ${count(event.stats.changes)} changes (${count(event.stats.updated)} updates, ${count(event.stats.inserted)} new orders, ${count(event.stats.deleted)} deletes)`,
      );
      break;
    case 'capture-drained':
      output.progress(
        `✓ capture drained: ${count(event.records)} stream records in ${count(event.files)} change files (${duration(event.ms)})`,
      );
      break;
    case 'verified': {
      const verify = event.verify;
      const counts = `${count(verify.tableItems)} items in DynamoDB, ${count(verify.lakeRows)} rows in the Delta table`;
      if (verify.equal)
        output.progress(`✓ verify: equal, key by key and value by value (${counts}; ${duration(verify.ms)})`);
      else {
        output.warn(
          `✗ verify: NOT equal (${counts}): ${count(verify.missing)} missing, ${count(verify.extra)} extra, ${count(verify.different)} different`,
        );
        for (const line of verify.firstDifferences) output.warn(`    ${line}`);
      }
      break;
    }
    case 'stack-stopped':
      output.progress('✓ DynamoDB Local stopped');
      break;
  }
}

function handoffReason(event: Extract<DemoEvent, { type: 'handoff-waiting' }>): string {
  const margin = `${Math.round(event.marginMs / 1000)} s`;
  if (event.coveredFrom !== null && event.readyAt !== null) {
    return `DynamoDB Local stamps stream records to the minute, so the handoff margin is ${margin} and the first captured change (stamped ${event.coveredFrom}) must be at least ${margin} before the Scan starts: the Scan starts at ${event.readyAt}, the writes go on meanwhile`;
  }
  return `${event.message} (margin ${margin})`;
}

function describeBatch(batch: DemoBatch): string {
  const label =
    batch.round === 1
      ? 'apply batch 1 (the backfill and the changes since T − 60 s)'
      : `apply batch ${batch.batch}`;
  if (batch.outcome === 'nothing-new')
    return `${label}: nothing new to apply (Delta version ${batch.version})`;
  return `${label}: ${count(batch.inputRows)} input rows from ${count(batch.changeFiles)} change files → ${count(batch.inserted)} inserted, ${count(batch.updated)} updated, ${count(batch.deleted)} deleted (${duration(batch.ms)}, ${rate(batch.inputRows, batch.ms, 'rows')}), Delta version ${batch.version}`;
}
