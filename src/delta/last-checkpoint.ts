import { ObjectNotFoundError } from '../storage/errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { LAST_CHECKPOINT_KEY } from './log-files.ts';

/*
 * `_delta_log/_last_checkpoint` (PROTOCOL.md, "Last Checkpoint File", "Last Checkpoint File
 * Schema"): a pointer near the end of the log so a reader need not list it whole. It is a hint,
 * written after the checkpoint and not atomically with it: it can be missing, stale (a newer
 * checkpoint exists when its update failed) or name a checkpoint that was never completed. Readers
 * list the log from it and trust what the listing shows (log-segment.ts).
 */

/** The fields of `_last_checkpoint` a reader uses. */
export interface LastCheckpointHint {
  /** The version of the checkpoint it points at. */
  readonly version: number;
  /** The number of actions in that checkpoint. */
  readonly size?: number;
  /** The number of parts of a multi-part checkpoint. */
  readonly parts?: number;
}

function optionalCount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/**
 * The hint in `text`, or undefined when it is not a JSON object with a non-negative integer
 * `version` (a torn or foreign file is ignored, never trusted). Pure.
 */
export function parseLastCheckpoint(text: string): LastCheckpointHint | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const fields = value as Record<string, unknown>;
  const version = optionalCount(fields.version);
  if (version === undefined) return undefined;
  const size = optionalCount(fields.size);
  const parts = optionalCount(fields.parts);
  return {
    version,
    ...(size === undefined ? {} : { size }),
    ...(parts === undefined ? {} : { parts }),
  };
}

/**
 * Reads `_delta_log/_last_checkpoint` of the table in `store`: the hint, or undefined when the file
 * is missing or unreadable as a hint. Storage failures other than a missing file propagate.
 */
export async function readLastCheckpoint(store: ObjectStore): Promise<LastCheckpointHint | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await store.getBytes(LAST_CHECKPOINT_KEY);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return undefined;
    throw error;
  }
  return parseLastCheckpoint(new TextDecoder().decode(bytes));
}
