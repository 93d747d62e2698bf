/*
 * The names of the files in `_delta_log/` (PROTOCOL.md, "Delta Log Entries", "Checkpoints",
 * "Last Checkpoint File"): versions zero-padded to 20 digits, multi-part numbers to 10.
 */

export const DELTA_LOG_DIR = '_delta_log/';
export const LAST_CHECKPOINT_KEY = `${DELTA_LOG_DIR}_last_checkpoint`;

/** The highest version the 20-digit names can hold that is still a safe JS integer. */
const MAX_VERSION = Number.MAX_SAFE_INTEGER;

export function paddedVersion(version: number): string {
  if (!Number.isSafeInteger(version) || version < 0 || version > MAX_VERSION) {
    throw new RangeError(`a Delta version is an integer from 0 to ${MAX_VERSION}, got ${version}`);
  }
  return String(version).padStart(20, '0');
}

/** `_delta_log/<version>.json`. */
export function commitFileKey(version: number): string {
  return `${DELTA_LOG_DIR}${paddedVersion(version)}.json`;
}

/** `_delta_log/<version>.checkpoint.parquet` (a classic checkpoint). */
export function checkpointFileKey(version: number): string {
  return `${DELTA_LOG_DIR}${paddedVersion(version)}.checkpoint.parquet`;
}

/** What a file name in `_delta_log/` is. */
export type LogFileName =
  | { readonly kind: 'commit'; readonly version: number }
  | { readonly kind: 'checkpoint'; readonly version: number }
  | {
      readonly kind: 'checkpoint-part';
      readonly version: number;
      readonly part: number;
      readonly parts: number;
    }
  | { readonly kind: 'uuid-checkpoint'; readonly version: number }
  | { readonly kind: 'other' };

const COMMIT = /^(\d{20})\.json$/;
const CHECKPOINT = /^(\d{20})\.checkpoint\.parquet$/;
const CHECKPOINT_PART = /^(\d{20})\.checkpoint\.(\d{10})\.(\d{10})\.parquet$/;
const UUID_CHECKPOINT = /^(\d{20})\.checkpoint\.[0-9a-fA-F-]{36}\.(json|parquet)$/;

/**
 * Classifies a key under `_delta_log/` (or a bare file name). Anything else (`_last_checkpoint`,
 * `.crc`, compacted logs, temp files, subfolders) is `other`. Pure.
 */
export function parseLogFileName(key: string): LogFileName {
  const name = key.startsWith(DELTA_LOG_DIR) ? key.slice(DELTA_LOG_DIR.length) : key;
  let match = COMMIT.exec(name);
  if (match) return { kind: 'commit', version: Number(match[1]) };
  match = CHECKPOINT.exec(name);
  if (match) return { kind: 'checkpoint', version: Number(match[1]) };
  match = CHECKPOINT_PART.exec(name);
  if (match) {
    return {
      kind: 'checkpoint-part',
      version: Number(match[1]),
      part: Number(match[2]),
      parts: Number(match[3]),
    };
  }
  match = UUID_CHECKPOINT.exec(name);
  if (match) return { kind: 'uuid-checkpoint', version: Number(match[1]) };
  return { kind: 'other' };
}
