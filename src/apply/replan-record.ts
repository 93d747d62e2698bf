import { batchText } from './batch-number.ts';

/*
 * What a batch record says about its re-plans (batch-replan.ts): the change files a re-plan dropped
 * from the batch, and each re-plan with the record it superseded, which stays beside the new one
 * as `_ddb_lake/apply/batches/<20-digit batch>.superseded-<k>.json` so the history can be audited.
 *
 *   "dropped": [{"file": "changes/…jsonl.gz", "state": "missing"|"present", "replan": 1}, …]
 *   "replans": [{"at": "<ISO 8601>", "superseded": "_ddb_lake/apply/batches/….superseded-1.json",
 *                "dropped": ["changes/…jsonl.gz", …]}, …]
 *
 * A dropped file is like an accepted quarantine: its records are not in the batch, and the record
 * says so. `state` is what the re-plan found. A `present` file (damaged, or dropped on purpose) is
 * taken by the batch all the same (taken-index.ts), so that no later batch plans it again; a
 * `missing` one is not taken, so that a copy restored into the landing area is applied by a later
 * batch (with `apply --rescan` when its partition is settled): its records are then late, and late
 * records change only what they are newer than.
 */

/** A change file a re-plan dropped from its batch. */
export interface DroppedInput {
  /** Key of the change file in the landing area. */
  readonly file: string;
  /** `missing`: not in the landing area when re-planned; `present`: there, and dropped all the same. */
  readonly state: 'missing' | 'present';
  /** The re-plan that dropped it (1 for the first). */
  readonly replan: number;
}

/** One re-plan of a batch. */
export interface BatchReplan {
  /** When, ISO 8601 UTC. */
  readonly at: string;
  /** Key (beside the table) of the record this re-plan replaced, kept as it was. */
  readonly superseded: string;
  /** Change files this re-plan dropped. */
  readonly dropped: readonly string[];
}

/** The re-plan fields of a batch record. */
export interface ReplanFields {
  readonly dropped?: readonly DroppedInput[];
  readonly replans?: readonly BatchReplan[];
}

/** `_ddb_lake/apply/batches/<batch padded to 20 digits>.superseded-<k>.json`: the record the k-th re-plan replaced. */
export function supersededRecordKey(batch: number, replan: number): string {
  return `_ddb_lake/apply/batches/${batchText(batch)}.superseded-${replan}.json`;
}

/**
 * The change files a batch took: those it reads, and those a re-plan dropped while they were in
 * the landing area. Pure.
 */
export function changeFilesTaken(
  record: { readonly changeFiles: readonly string[] } & ReplanFields,
): string[] {
  const dropped = (record.dropped ?? [])
    .filter((input) => input.state === 'present')
    .map((input) => input.file);
  return dropped.length === 0 ? [...record.changeFiles] : [...record.changeFiles, ...dropped];
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

function isReplanNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

/**
 * The re-plan fields of a stored batch record's parsed JSON object, checked.
 * @throws what `corrupt` returns, naming the field that is wrong.
 */
export function parseReplanFields(
  fields: Record<string, unknown>,
  corrupt: (what: string) => Error,
): ReplanFields {
  const dropped = fields['dropped'];
  const replans = fields['replans'];
  const result: { dropped?: DroppedInput[]; replans?: BatchReplan[] } = {};
  if (dropped !== undefined) {
    if (!Array.isArray(dropped)) throw corrupt('dropped is not a list');
    result.dropped = dropped.map((entry: unknown) => {
      const e = entry as Record<string, unknown> | null;
      if (
        typeof e !== 'object' ||
        e === null ||
        !isText(e['file']) ||
        (e['state'] !== 'missing' && e['state'] !== 'present') ||
        !isReplanNumber(e['replan'])
      ) {
        throw corrupt('dropped holds an entry that is not {file, state: missing|present, replan}');
      }
      return { file: e['file'], state: e['state'], replan: e['replan'] };
    });
  }
  if (replans !== undefined) {
    if (!Array.isArray(replans)) throw corrupt('replans is not a list');
    result.replans = replans.map((entry: unknown) => {
      const e = entry as Record<string, unknown> | null;
      if (
        typeof e !== 'object' ||
        e === null ||
        typeof e['at'] !== 'string' ||
        Number.isNaN(Date.parse(e['at'])) ||
        !isText(e['superseded']) ||
        !Array.isArray(e['dropped']) ||
        !e['dropped'].every(isText)
      ) {
        throw corrupt('replans holds an entry that is not {at, superseded, dropped}');
      }
      return { at: e['at'], superseded: e['superseded'], dropped: e['dropped'] as string[] };
    });
  }
  return result;
}

/** The re-plan fields in their stored form: absent when empty, in a fixed order. Pure. */
export function serializeReplanFields(record: ReplanFields): ReplanFields {
  return {
    ...(record.dropped === undefined || record.dropped.length === 0
      ? {}
      : { dropped: record.dropped.map(({ file, state, replan }) => ({ file, state, replan })) }),
    ...(record.replans === undefined || record.replans.length === 0
      ? {}
      : { replans: record.replans.map(({ at, superseded, dropped }) => ({ at, superseded, dropped })) }),
  };
}
