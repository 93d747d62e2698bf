/*
 * The Delta Lake transaction log (PROTOCOL.md of delta-io/delta): actions and schema, reading a
 * snapshot (log segment, checkpoints, replay, reader features), and writing (create, transactions,
 * commits with conflict checks, writer features, checkpoints, vacuum, history, describe).
 * src/delta never touches Parquet: checkpoints and data files go through a DeltaEngine.
 */

export * from './actions.ts';
export * from './column-names.ts';
export * from './commit.ts';
export * from './commit-info.ts';
export * from './conflicts.ts';
export * from './create-table.ts';
export * from './data-path.ts';
export * from './deletion-vector.ts';
export * from './deletion-vector-update.ts';
export * from './deletion-vector-write.ts';
export * from './describe.ts';
export * from './engine.ts';
export * from './errors.ts';
export * from './history.ts';
export * from './last-checkpoint.ts';
export * from './load-snapshot.ts';
export * from './log-files.ts';
export * from './log-replay.ts';
export * from './log-segment.ts';
export * from './reader-features.ts';
export * from './roaring-bitmap.ts';
export * from './schema.ts';
export * from './schema-change.ts';
export * from './snapshot.ts';
export * from './table-properties.ts';
export * from './transaction.ts';
export * from './vacuum.ts';
export * from './write-checkpoint.ts';
export * from './writer-features.ts';
export * from './z85.ts';
