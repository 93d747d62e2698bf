import type { TableKeys } from '../lake/key-identity.ts';
import type { TableLayout } from '../lake/table-layout.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { ApplyOptions } from './apply-batch.ts';
import { ApplyErrorCode, ApplyRunError } from './apply-errors.ts';
import { type BatchRecord, batchRecordKey, readBatchRecord } from './batch-record.ts';

/*
 * The first run's flags (--snapshot, --keys, --margin, --deletes, --buckets, --deletion-vectors) are fixed by the
 * record of batch 1 when it is planned, and by the table when batch 1 is committed, so that a rerun
 * after a crash builds the same table whatever flags it passes. A later run that passes one of them
 * with another value is told so, instead of having it silently ignored: before batch 1 is
 * committed it can re-plan the batch with them (`--replan`); after, they are the table's for good.
 */

/** The first-run settings a run's flags or a record or table fix; absent fields were not given. */
interface FirstRunSettings {
  readonly snapshot?: string;
  readonly keys?: TableKeys;
  readonly marginMs?: number;
  readonly deletes?: 'hard' | 'soft';
  readonly buckets?: number;
  readonly deletionVectors?: boolean;
}

function keysFlag(keys: TableKeys): string {
  return keys.sort === undefined ? keys.partition : `${keys.partition},${keys.sort}`;
}

function marginFlag(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`;
}

/** `--flag given (recorded: value)` for each flag given with another value than `fixed`. */
function differences(options: ApplyOptions, fixed: FirstRunSettings): string[] {
  const found: string[] = [];
  const differ = (flag: string, given: string | undefined, recorded: string | undefined) => {
    if (given !== undefined && recorded !== undefined && given !== recorded)
      found.push(`${flag} ${given} (recorded: ${recorded})`);
  };
  differ('--snapshot', options.snapshot, fixed.snapshot);
  differ(
    '--keys',
    options.keys === undefined ? undefined : keysFlag(options.keys),
    fixed.keys === undefined ? undefined : keysFlag(fixed.keys),
  );
  differ(
    '--margin',
    options.marginMs === undefined ? undefined : marginFlag(options.marginMs),
    fixed.marginMs === undefined ? undefined : marginFlag(fixed.marginMs),
  );
  differ('--deletes', options.deletes, fixed.deletes);
  differ('--buckets', options.buckets?.toString(), fixed.buckets?.toString());
  const onOff = (value: boolean | undefined) => (value === undefined ? undefined : value ? 'on' : 'off');
  differ('--deletion-vectors', onOff(options.deletionVectors), onOff(fixed.deletionVectors));
  return found;
}

function settingsOfRecord(record: BatchRecord): FirstRunSettings {
  return {
    ...(record.snapshot === undefined ? {} : { snapshot: record.snapshot.exportId }),
    ...(record.settings ?? {}),
  };
}

/**
 * Refuses first-run flags that differ from what batch 1 fixed: from its `pending` record (planned,
 * not committed) or, once the table exists, from its `layout` (and batch 1's record for
 * --snapshot). Flags not given, and flags equal to what is fixed, pass. Reads batch 1's record
 * only when --snapshot is given for an existing table.
 * @throws ApplyRunError `APPLY_SETTINGS_DIFFER` naming each flag and its recorded value, and what
 *   to do (`--replan` before batch 1 is committed; a new --delta after).
 */
export async function assertFirstRunFlags(
  options: ApplyOptions,
  delta: ObjectStore,
  state: {
    readonly pending?: BatchRecord;
    readonly layout?: TableLayout;
    /** Whether the existing table merges on read (it has deletion vectors enabled). */
    readonly deletionVectors?: boolean;
  },
): Promise<void> {
  const { pending, layout } = state;
  if (layout === undefined) {
    if (pending?.batch !== 1) return;
    const found = differences(options, settingsOfRecord(pending));
    if (found.length === 0) return;
    throw new ApplyRunError(
      ApplyErrorCode.settingsDiffer,
      `Batch 1 was planned by an earlier run that did not commit it, and its record ${batchRecordKey(1)} beside the table at ${delta.url} fixes other settings than this run's flags: ${found.join(', ')}. A planned batch keeps its settings, so that a rerun after a crash builds the same table; these flags are not used. Nothing was written. To plan batch 1 again with them, run apply again with --replan (the old record is kept beside the new one); to go on with the recorded settings, leave the flags out.`,
    );
  }
  const snapshot =
    options.snapshot === undefined ? undefined : (await readBatchRecord(delta, 1))?.snapshot?.exportId;
  const found = differences(options, {
    ...(snapshot === undefined ? {} : { snapshot }),
    keys: layout.keys,
    marginMs: layout.marginMs,
    deletes: layout.deletes,
    buckets: layout.buckets,
    ...(state.deletionVectors === undefined ? {} : { deletionVectors: state.deletionVectors }),
  });
  if (found.length === 0) return;
  throw new ApplyRunError(
    ApplyErrorCode.settingsDiffer,
    `The Delta table at ${delta.url} was created with other settings than this run's flags: ${found.join(', ')}. These flags are for the first run only, and its batch is committed: the table keeps its settings. Nothing was written. Leave the flags out (or give the recorded values); for other settings, start a new table at another --delta.`,
  );
}
