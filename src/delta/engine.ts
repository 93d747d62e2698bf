import type { Action, AddFile, DomainMetadata, Metadata, Protocol, RemoveFile, Txn } from './actions.ts';

/*
 * What the Delta log needs from a data plane, and nothing more: checkpoints are Parquet, and
 * src/delta never touches Parquet itself (it decides actions and file lists; src/duckdb moves
 * the bytes). One small interface, as delta-kernel-rs separates deciding what to read from reading.
 */

/** The state a V1 checkpoint holds (PROTOCOL.md, "Checkpoints"): no commitInfo, no cdc. */
export interface CheckpointContent {
  readonly protocol: Protocol;
  readonly metadata: Metadata;
  readonly txns: readonly Txn[];
  readonly domainMetadata: readonly DomainMetadata[];
  /** Active files. */
  readonly files: readonly AddFile[];
  /** Unexpired tombstones. */
  readonly tombstones: readonly RemoveFile[];
}

/** What a checkpoint decode may leave out. */
export interface CheckpointDecodeOptions {
  /**
   * Whether the `remove` rows (tombstones) come back; default true. A reader of the table's rows
   * needs none of them (a checkpoint's adds are already reconciled against its removes), and after
   * many merge-on-read batches they are most of the checkpoint.
   */
  readonly removes?: boolean;
}

/** Reads and writes checkpoint Parquet files. */
export interface CheckpointCodec {
  /**
   * The actions of one checkpoint file (a classic checkpoint or one part of a multi-part one), as
   * any writer lays them out (Spark, delta-rs, ddb-lake): one action per row, the other action
   * columns null. `partitionValues` and `configuration` maps come back as plain objects; `stats`
   * as its JSON text. Columns that are no action (stats_parsed, partitionValues_parsed) are
   * ignored; action columns this code does not know (sidecar, checkpointMetadata) come back as
   * `other` actions, so that replay refuses a V2 checkpoint rather than lose its files. With
   * `options.removes` false the `remove` rows are left out.
   * @throws DeltaLogCorruptError naming `file` when the bytes are not a readable checkpoint.
   */
  decode(bytes: Uint8Array, file: string, options?: CheckpointDecodeOptions): Promise<Action[]>;

  /**
   * A classic V1 checkpoint (PROTOCOL.md, "Checkpoint Schema"): struct columns `txn`, `add`,
   * `remove`, `metaData`, `protocol`, `domainMetadata`; maps as Parquet maps; `add.stats` as a
   * string; `remove` without stats and tags. Deterministic for the same content.
   */
  encode(content: CheckpointContent): Promise<Uint8Array>;
}

/** The data plane a Delta table operation runs with. */
export interface DeltaEngine {
  readonly checkpoints: CheckpointCodec;
}
