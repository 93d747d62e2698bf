import type { ObjectStore } from '../storage/object-store.ts';
import { encodeChangeFile, normalizeChangeBatch } from './change-file-encoder.ts';
import { changeFileKey } from './change-file-key.ts';

/** What `writeChangeFile` wrote. */
export interface WrittenChangeFile {
  /** The object key, relative to the landing area. */
  readonly key: string;
  /** Size of the gzip object. */
  readonly bytes: number;
  readonly records: number;
}

/**
 * Writes one batch of change records from one shard, in stream order, as a change file at
 * `changeFileKey(...)` in the landing area (DESIGN.md, Formats: Change file). Idempotent: the key
 * and the bytes depend on the records alone, so a retried batch replaces the object with identical
 * bytes. Throws `BadInputError` for an empty or invalid batch (nothing is written); store errors
 * pass through.
 */
export async function writeChangeFile(
  store: ObjectStore,
  tableOrArn: string,
  records: readonly unknown[],
): Promise<WrittenChangeFile> {
  const normalized = normalizeChangeBatch(records);
  const first = normalized[0]!;
  const last = normalized[normalized.length - 1]!;
  const key = changeFileKey({
    table: tableOrArn,
    shard: first.shard,
    firstSeq: first.seq,
    lastSeq: last.seq,
    firstTs: first.ts,
  });
  const body = encodeChangeFile(normalized);
  await store.put(key, body);
  return { key, bytes: body.length, records: normalized.length };
}
