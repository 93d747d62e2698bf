import { BadInputError } from './errors.ts';

/** The facts a change file's object key is made of. */
export interface ChangeFileKeyParts {
  /** The table name (an ARN is reduced to its name by `changeFileKey`). */
  readonly table: string;
  readonly shard: string;
  /** SequenceNumber of the file's first record. */
  readonly firstSeq: string;
  /** SequenceNumber of the file's last record. */
  readonly lastSeq: string;
  /** `ts` (epoch ms) of the file's first record: its UTC date names the `dt=` partition. */
  readonly firstTs: number;
}

/** What `parseChangeFileKey` reads back from a key. */
export interface ParsedChangeFileKey {
  readonly table: string;
  /** The `dt=` partition, `yyyy-mm-dd`. */
  readonly date: string;
  readonly shard: string;
  readonly firstSeq: string;
  readonly lastSeq: string;
}

/** The folder, relative to the landing area, that holds every change file. */
export const CHANGES_FOLDER = 'changes/';

const TABLE_NAME = /^[A-Za-z0-9_.-]{1,255}$/;
/** A table ARN, or the ARN of one of its streams (what a Lambda event's eventSourceARN holds). */
const TABLE_ARN =
  /^arn:aws[A-Za-z-]*:dynamodb:[^:]*:[^:]*:table\/([A-Za-z0-9_.-]{1,255})(?:\/stream\/[^/]+)?$/;
const SHARD_ID = /^[A-Za-z0-9_.-]{1,128}$/;
const SEQUENCE_NUMBER = /^[0-9]{1,40}$/;
const KEY =
  /^changes\/([A-Za-z0-9_.-]+)\/dt=(\d{4}-\d{2}-\d{2})\/([A-Za-z0-9_.-]+)\/([0-9]{1,40})-([0-9]{1,40})\.jsonl\.gz$/;

/**
 * The table name of a table name, a table ARN or a stream ARN
 * (`arn:aws:dynamodb:us-east-1:111122223333:table/orders/stream/2026-…` → `orders`).
 * Throws `BadInputError` for anything else.
 */
export function tableNameOf(tableOrArn: string): string {
  const fromArn = TABLE_ARN.exec(tableOrArn);
  if (fromArn?.[1] !== undefined) return fromArn[1];
  if (TABLE_NAME.test(tableOrArn)) return tableOrArn;
  throw new BadInputError({
    path: 'table',
    reason: `${JSON.stringify(tableOrArn)} is neither a DynamoDB table name nor a table or stream ARN`,
  });
}

/**
 * The object key of a change file (DESIGN.md, Formats: Change file):
 * `changes/<table>/dt=<yyyy-mm-dd>/<shardId>/<firstSeq>-<lastSeq>.jsonl.gz`, the date being the
 * UTC date of the first record's `ts`. A pure function: the same batch always gets the same key,
 * so a retried Lambda batch overwrites its own file. Throws `BadInputError` for a table, shard,
 * sequence number or timestamp that cannot form a key.
 */
export function changeFileKey(parts: ChangeFileKeyParts): string {
  const table = tableNameOf(parts.table);
  if (!SHARD_ID.test(parts.shard)) {
    throw new BadInputError({ path: 'shard', reason: `${JSON.stringify(parts.shard)} is not a shard id` });
  }
  for (const [path, seq] of [
    ['firstSeq', parts.firstSeq],
    ['lastSeq', parts.lastSeq],
  ] as const) {
    if (!SEQUENCE_NUMBER.test(seq)) {
      throw new BadInputError({ path, reason: `${JSON.stringify(seq)} is not a sequence number` });
    }
  }
  if (!Number.isSafeInteger(parts.firstTs) || parts.firstTs < 0) {
    throw new BadInputError({
      path: 'ts',
      reason: `${parts.firstTs} is not a timestamp in epoch milliseconds`,
    });
  }
  const date = new Date(parts.firstTs).toISOString().slice(0, 10);
  return `${CHANGES_FOLDER}${table}/dt=${date}/${parts.shard}/${parts.firstSeq}-${parts.lastSeq}.jsonl.gz`;
}

/** The folder holding one table's change files (`changes/<table>/`), for listing. */
export function changeFilesPrefix(tableOrArn: string): string {
  return `${CHANGES_FOLDER}${tableNameOf(tableOrArn)}/`;
}

/**
 * Reads the parts back from a change file key (relative to the landing area), or `undefined` when
 * the key does not follow the layout (a stray object in the folder, a temporary upload).
 */
export function parseChangeFileKey(key: string): ParsedChangeFileKey | undefined {
  const match = KEY.exec(key);
  if (match === null) return undefined;
  const [, table, date, shard, firstSeq, lastSeq] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  return { table, date, shard, firstSeq, lastSeq };
}
