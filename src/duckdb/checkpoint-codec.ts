import type { CheckpointCodec } from '../delta/engine.ts';
import { decodeCheckpoint } from './checkpoint-decode.ts';
import { encodeCheckpoint } from './checkpoint-encode.ts';
import type { DuckSession } from './session.ts';

/**
 * The checkpoint codec over one DuckDB session: `decode` is checkpoint-decode.ts, `encode`
 * checkpoint-encode.ts. Valid until the session closes.
 */
export function duckdbCheckpointCodec(session: DuckSession): CheckpointCodec {
  return {
    decode: (bytes, file, options) => decodeCheckpoint(session, bytes, file, options),
    encode: (content) => encodeCheckpoint(session, content),
  };
}
