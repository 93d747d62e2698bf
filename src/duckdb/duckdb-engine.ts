import type { DeltaEngine } from '../delta/engine.ts';
import { duckdbCheckpointCodec } from './checkpoint-codec.ts';
import type { DuckSession } from './session.ts';

/** The Delta engine backed by one DuckDB session; valid until the session closes. */
export function duckdbEngine(session: DuckSession): DeltaEngine {
  return { checkpoints: duckdbCheckpointCodec(session) };
}
