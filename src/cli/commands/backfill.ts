import type { Command } from 'commander';
import type { CommandContext } from '../program.ts';
import { registerBackfillExportCommands } from './backfill-export.ts';
import { registerBackfillScanCommand } from './backfill-scan.ts';
import { registerBackfillTouchCommand } from './backfill-touch.ts';

/**
 * `ddb-lake backfill …`: the one-time copy of everything older than the stream, by DynamoDB's native
 * export (needs point-in-time recovery) or by a parallel Scan, and `touch` to send every item
 * through the stream instead. Each subcommand lives in its own file.
 */
export function registerBackfillCommand(program: Command, context: CommandContext): void {
  const backfill = program
    .command('backfill')
    .summary('copy what the stream never carried: native export, parallel Scan, or touch')
    .description(
      'The stream only carries changes made after it was switched on. A backfill copies everything older into the landing area, in the native export layout, so that apply can start from it and replay the captured changes on top (run `ddb-lake plan` first: it says which strategy fits).',
    );
  registerBackfillExportCommands(backfill, context);
  registerBackfillScanCommand(backfill, context);
  registerBackfillTouchCommand(backfill, context);
  void backfill;
  void context;
}
