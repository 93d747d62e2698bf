import type { Readable } from 'node:stream';
import { LAST_CHECKPOINT_KEY } from '../delta/log-files.ts';
import type { ObjectStore, PutBody } from '../storage/object-store.ts';

/*
 * Fault injection for the exactly-once tests (DESIGN.md rule 4): a run started with the
 * environment variable `DDB_LAKE_FAULT` naming one of these points kills its own process with
 * SIGKILL when it gets there, as a power cut would: no `finally`, no flush, no exit handler.
 * A rerun must then rebuild the same batch or skip it.
 */

/** The places an apply run can be killed, in the order a batch passes them. */
export const FAULT_POINTS = [
  /** The batch record (its list of inputs) is stored; nothing else of the batch is. */
  'after-batch-record',
  /** The batch's data files (and tombstones) are stored; the commit is not written. */
  'after-data-files',
  /** Right before the put-if-absent of the commit. */
  'before-commit',
  /** The commit is written; the checkpoint (when one is due) is not. */
  'after-commit',
  /** The checkpoint file is written; `_delta_log/_last_checkpoint` still points at the older one. */
  'mid-checkpoint',
] as const;

/** The places a re-plan (batch-replan.ts) can be killed, in order; a run that re-plans nothing passes none. */
export const REPLAN_FAULT_POINTS = [
  /** The old batch record is copied beside it (`….superseded-<k>.json`); it is still in force. */
  'replan-after-copy',
  /** The new batch record is in force; the batch's taken index is still the old plan's. */
  'replan-after-record',
] as const;

/** The places a `table optimize` (optimize-buckets.ts) can be killed, in order. */
export const OPTIMIZE_FAULT_POINTS = [
  /** The rewritten buckets' new data files are stored; the commit that swaps them in is not. */
  'optimize-after-data-files',
  /** Right before the put-if-absent of the optimize's commit. */
  'optimize-before-commit',
  /** The optimize's commit is written; the checkpoint (when one is due) is not. */
  'optimize-after-commit',
] as const;

export type FaultPoint =
  | (typeof FAULT_POINTS)[number]
  | (typeof REPLAN_FAULT_POINTS)[number]
  | (typeof OPTIMIZE_FAULT_POINTS)[number];

/** The environment variable that names the fault point. */
export const FAULT_ENV = 'DDB_LAKE_FAULT';

/**
 * Kills the process with SIGKILL when `DDB_LAKE_FAULT` names `point`; otherwise does nothing.
 * Never returns in the first case.
 */
export function faultPoint(point: FaultPoint, env: NodeJS.ProcessEnv = process.env): void {
  if (env[FAULT_ENV] !== point) return;
  process.kill(process.pid, 'SIGKILL');
  // SIGKILL to oneself is delivered before kill() returns on Linux; block in case it is not.
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
}

/**
 * `store` with the `mid-checkpoint` fault point in front of the put of `_delta_log/_last_checkpoint`,
 * so that `writeCheckpoint` (which writes the checkpoint file first) can be killed between its two
 * writes without changing src/delta.
 */
export function withCheckpointFaultPoint(
  store: ObjectStore,
  env: NodeJS.ProcessEnv = process.env,
): ObjectStore {
  if (env[FAULT_ENV] !== 'mid-checkpoint') return store;
  return {
    get url() {
      return store.url;
    },
    list: (prefix, options) => store.list(prefix, options),
    head: (key) => store.head(key),
    get: (key, range): Promise<Readable> => store.get(key, range),
    getBytes: (key) => store.getBytes(key),
    put: async (key: string, body: PutBody) => {
      if (key === LAST_CHECKPOINT_KEY) faultPoint('mid-checkpoint', env);
      await store.put(key, body);
    },
    putIfAbsent: (key, body) => store.putIfAbsent(key, body),
    delete: (key) => store.delete(key),
    close: () => store.close(),
  };
}
