import type { Action, AddFile, DeletionVectorDescriptor, Metadata, Txn } from './actions.ts';
import { commitInfoAction, operationMetricsOf } from './commit-info.ts';
import { deletionVectorUpdate, removeOf } from './deletion-vector-update.ts';
import { DeltaInvalidWriteError } from './errors.ts';
import { type StructType, serializeSchema } from './schema.ts';
import { assertSchemaEvolution } from './schema-change.ts';
import type { ReadSnapshot } from './snapshot.ts';
import { assertTablePropertiesWritable, deletionVectorsEnabled } from './table-properties.ts';

/*
 * A transaction (PROTOCOL.md, "Actions", "Transaction Identifiers", "Delta Log Entries"): what one
 * commit will change, planned on top of the snapshot it read. Immutable: every staging method
 * returns a new transaction and checks its input at once, so a plan that would break the log's
 * rules fails before any byte is written. `commit` (commit.ts) writes it.
 */

/** Which files the transaction's outcome depends on, for the conflict rules (conflicts.ts). */
export type ReadSet =
  | { readonly kind: 'nothing' }
  | { readonly kind: 'table' }
  | { readonly kind: 'files'; readonly paths: ReadonlySet<string> };

export interface TransactionOptions {
  /** Spark's operation name for `commitInfo` (default `WRITE`). */
  readonly operation?: string;
  readonly operationParameters?: Readonly<Record<string, string>>;
}

export interface RemoveOptions {
  /** `remove.deletionTimestamp`, milliseconds since the epoch; default: the commit's time. */
  readonly deletionTimestamp?: number;
  /** Default true; false when the removed rows are added again by this commit (a rewrite). */
  readonly dataChange?: boolean;
}

interface StagedRemove {
  readonly file: AddFile;
  readonly deletionTimestamp: number | undefined;
  readonly dataChange: boolean;
}

/** A data file of the snapshot and the new deletion vector it gets. */
export interface DeletionVectorChange {
  /** The active file (its `add`, or its path). */
  readonly file: AddFile | string;
  /** The new vector: the old one's rows and the newly deleted ones (writeDeletionVector). */
  readonly deletionVector: DeletionVectorDescriptor;
}

interface StagedDeletionVector {
  readonly file: AddFile;
  readonly deletionVector: DeletionVectorDescriptor;
}

interface TransactionState {
  readonly snapshot: ReadSnapshot;
  readonly operation: string;
  readonly operationParameters: Readonly<Record<string, string>>;
  readonly adds: readonly AddFile[];
  readonly removes: readonly StagedRemove[];
  readonly deletionVectors: readonly StagedDeletionVector[];
  readonly txn: { readonly appId: string; readonly version: number } | undefined;
  readonly schema: StructType | undefined;
  readonly configuration: Readonly<Record<string, string>> | undefined;
  readonly reads: ReadSet;
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join('\u0000') === [...b].sort().join('\u0000');
}

/** One planned commit on top of `snapshot`. Create with `startTransaction`. */
export class Transaction {
  readonly #state: TransactionState;

  private constructor(state: TransactionState) {
    this.#state = state;
  }

  /** @internal Use `startTransaction`. */
  static start(snapshot: ReadSnapshot, options: TransactionOptions = {}): Transaction {
    return new Transaction({
      snapshot,
      operation: options.operation ?? 'WRITE',
      operationParameters: options.operationParameters ?? {},
      adds: [],
      removes: [],
      deletionVectors: [],
      txn: undefined,
      schema: undefined,
      configuration: undefined,
      reads: { kind: 'nothing' },
    });
  }

  #with(change: Partial<TransactionState>): Transaction {
    return new Transaction({ ...this.#state, ...change });
  }

  /** The snapshot this transaction read. */
  get snapshot(): ReadSnapshot {
    return this.#state.snapshot;
  }

  /** The version the transaction read (`snapshot.version`); it commits at a later one. */
  get readVersion(): number {
    return this.#state.snapshot.version;
  }

  get operation(): string {
    return this.#state.operation;
  }

  get adds(): readonly AddFile[] {
    return this.#state.adds;
  }

  /**
   * The files this transaction removes, as they are in the snapshot: those removed whole and those
   * that get a new deletion vector (their old logical file is removed).
   */
  get removedFiles(): readonly AddFile[] {
    return [
      ...this.#state.removes.map((remove) => remove.file),
      ...this.#state.deletionVectors.map((change) => change.file),
    ];
  }

  /** True when some removed file's rows leave the table (`dataChange: true`), or rows are marked deleted. */
  get removesData(): boolean {
    return this.#state.deletionVectors.length > 0 || this.#state.removes.some((remove) => remove.dataChange);
  }

  /** True when the commit gives files new deletion vectors. */
  get addsDeletionVectors(): boolean {
    return this.#state.deletionVectors.length > 0;
  }

  /** The staged deletion vector changes: each file as in the snapshot and its new vector. */
  get deletionVectorChanges(): readonly {
    readonly file: AddFile;
    readonly deletionVector: DeletionVectorDescriptor;
  }[] {
    return this.#state.deletionVectors;
  }

  get txn(): { readonly appId: string; readonly version: number } | undefined {
    return this.#state.txn;
  }

  get reads(): ReadSet {
    return this.#state.reads;
  }

  /** The schema after this transaction (the snapshot's, unless changed). */
  get schema(): StructType {
    return this.#state.schema ?? this.#state.snapshot.schema;
  }

  /** The configuration after this transaction (the snapshot's, unless changed). */
  get configuration(): Readonly<Record<string, string>> {
    return this.#state.configuration ?? this.#state.snapshot.metadata.configuration;
  }

  /** True when the commit writes a new `metaData` action. */
  get changesMetadata(): boolean {
    return this.#state.schema !== undefined || this.#state.configuration !== undefined;
  }

  /** The table metadata after this transaction. */
  get metadata(): Metadata {
    const current = this.#state.snapshot.metadata;
    if (!this.changesMetadata) return current;
    return {
      ...current,
      schemaString: serializeSchema(this.schema),
      configuration: { ...this.configuration },
    };
  }

  /** True when the commit only adds files and depends on no file: it never conflicts on files. */
  get isBlindAppend(): boolean {
    return (
      this.#state.removes.length === 0 &&
      this.#state.deletionVectors.length === 0 &&
      this.#state.reads.kind === 'nothing' &&
      this.#state.adds.every((add) => add.dataChange)
    );
  }

  /**
   * Stages `add` actions. Each file's `partitionValues` must name exactly the table's partition
   * columns; a path may be added once per commit and not also removed by it.
   * @throws DeltaInvalidWriteError naming the path.
   */
  addFiles(files: readonly AddFile[]): Transaction {
    const partitionColumns = this.#state.snapshot.partitionColumns;
    const adds = [...this.#state.adds];
    const added = new Set(adds.map((add) => add.path));
    const removed = new Set(this.#state.removes.map((remove) => remove.file.path));
    const marked = new Set(this.#state.deletionVectors.map((change) => change.file.path));
    for (const file of files) {
      if (file.path === '') throw new DeltaInvalidWriteError('An add action needs a path.');
      if (added.has(file.path)) {
        throw new DeltaInvalidWriteError(`The file ${file.path} is added twice in one commit.`);
      }
      if (removed.has(file.path)) {
        throw new DeltaInvalidWriteError(`The file ${file.path} is both added and removed in one commit.`);
      }
      if (marked.has(file.path)) {
        throw new DeltaInvalidWriteError(
          `The file ${file.path} is both added and given a new deletion vector in one commit.`,
        );
      }
      if (!sameKeys(Object.keys(file.partitionValues), partitionColumns)) {
        throw new DeltaInvalidWriteError(
          `The file ${file.path} has partition values for [${Object.keys(file.partitionValues).join(', ')}], but the table is partitioned by [${partitionColumns.join(', ')}].`,
        );
      }
      if (!Number.isSafeInteger(file.size) || file.size < 0) {
        throw new DeltaInvalidWriteError(`The file ${file.path} has an invalid size ${file.size}.`);
      }
      added.add(file.path);
      adds.push(file);
    }
    return this.#with({ adds });
  }

  /**
   * Stages `remove` actions for files of the snapshot (given as its `add` actions or their paths).
   * A removed file also counts as read: a concurrent commit that removed it conflicts.
   * @throws DeltaInvalidWriteError for a path that is not an active file of the snapshot, or one
   *   removed twice or also added.
   */
  removeFiles(files: readonly (AddFile | string)[], options: RemoveOptions = {}): Transaction {
    const active = new Map(this.#state.snapshot.files.map((file) => [file.path, file]));
    const removes = [...this.#state.removes];
    const removed = new Set(removes.map((remove) => remove.file.path));
    const added = new Set(this.#state.adds.map((add) => add.path));
    for (const given of files) {
      const path = typeof given === 'string' ? given : given.path;
      const file = active.get(path);
      if (file === undefined) {
        throw new DeltaInvalidWriteError(
          `The file ${path} is not in the table at version ${this.readVersion}, so it cannot be removed.`,
        );
      }
      if (removed.has(path))
        throw new DeltaInvalidWriteError(`The file ${path} is removed twice in one commit.`);
      if (added.has(path)) {
        throw new DeltaInvalidWriteError(`The file ${path} is both added and removed in one commit.`);
      }
      if (this.#state.deletionVectors.some((change) => change.file.path === path)) {
        throw new DeltaInvalidWriteError(
          `The file ${path} is both removed and given a new deletion vector in one commit.`,
        );
      }
      removed.add(path);
      removes.push({
        file,
        deletionTimestamp: options.deletionTimestamp,
        dataChange: options.dataChange ?? true,
      });
    }
    return this.#with({ removes });
  }

  /**
   * Stages new deletion vectors (PROTOCOL.md, "Deletion Vectors"): per file, the `remove` of the
   * logical file (path, old vector) and the `add` of (path, new vector), stats marked
   * `tightBounds: false` (deletion-vector-update.ts). The file counts as removed for the conflict
   * rules: a concurrent commit that removes it, or gives it a vector of its own, conflicts.
   * @throws DeltaInvalidWriteError when the table does not allow new deletion vectors (the
   *   `deletionVectors` feature and `delta.enableDeletionVectors` = true), for a path that is not an
   *   active file, one staged twice, also added or removed, or one `deletionVectorUpdate` refuses
   *   (no `numRecords` in its stats, a vector with fewer rows than the old one).
   */
  updateDeletionVectors(changes: readonly DeletionVectorChange[]): Transaction {
    const snapshot = this.#state.snapshot;
    if (changes.length > 0 && !deletionVectorsEnabled(snapshot.protocol, this.configuration)) {
      throw new DeltaInvalidWriteError(
        `The table at ${snapshot.tableUrl} does not allow new deletion vectors: it needs the deletionVectors table feature and delta.enableDeletionVectors = true. Rewrite the files instead.`,
      );
    }
    const active = new Map(snapshot.files.map((file) => [file.path, file]));
    const staged = [...this.#state.deletionVectors];
    const taken = new Set([
      ...staged.map((change) => change.file.path),
      ...this.#state.removes.map((remove) => remove.file.path),
      ...this.#state.adds.map((add) => add.path),
    ]);
    for (const change of changes) {
      const path = typeof change.file === 'string' ? change.file : change.file.path;
      const file = active.get(path);
      if (file === undefined) {
        throw new DeltaInvalidWriteError(
          `The file ${path} is not in the table at version ${this.readVersion}, so it cannot get a deletion vector.`,
        );
      }
      if (taken.has(path)) {
        throw new DeltaInvalidWriteError(
          `The file ${path} is already added, removed or given a deletion vector in this commit; a commit changes a file once.`,
        );
      }
      // Checks numRecords and the cardinalities now, so a bad plan fails before anything is written.
      deletionVectorUpdate(file, change.deletionVector, { deletionTimestamp: 0 });
      taken.add(path);
      staged.push({ file, deletionVector: change.deletionVector });
    }
    return this.#with({ deletionVectors: staged });
  }

  /**
   * Stages the `txn` action (PROTOCOL.md, "Transaction Identifiers") that makes this commit the
   * application's `version`: committed with the data it guards, skipped by `commit` when the table
   * already holds `version` or a later one for `appId`. One per commit.
   * @throws DeltaInvalidWriteError for a second txn, an empty appId or a version that is not a whole number.
   */
  setTxn(appId: string, version: number): Transaction {
    if (this.#state.txn !== undefined) {
      throw new DeltaInvalidWriteError(
        `This commit already carries the txn of ${this.#state.txn.appId}; a commit carries one txn.`,
      );
    }
    if (appId === '') throw new DeltaInvalidWriteError('A txn needs a non-empty appId.');
    if (!Number.isSafeInteger(version) || version < 0) {
      throw new DeltaInvalidWriteError(
        `The txn version of ${appId} must be a whole number ≥ 0, got ${version}.`,
      );
    }
    return this.#with({ txn: { appId, version } });
  }

  /**
   * Changes the schema by adding nullable columns after the existing ones (a new `metaData`
   * action); files already written read the new columns as null.
   * @throws DeltaInvalidWriteError when a column is dropped, retyped, moved or added not nullable,
   *   or a new column's name or type cannot be written.
   */
  updateSchema(schema: StructType): Transaction {
    assertSchemaEvolution(this.schema, schema);
    return this.#with({ schema });
  }

  /**
   * Replaces the table properties (a new `metaData` action). `delta.*` properties may only be
   * changed to values ddb-lake honours (table-properties.ts).
   * @throws DeltaInvalidWriteError naming the property.
   */
  updateConfiguration(configuration: Readonly<Record<string, string>>): Transaction {
    assertTablePropertiesWritable(this.configuration, configuration, this.#state.snapshot.protocol);
    return this.#with({ configuration: { ...configuration } });
  }

  /** Declares that the outcome depends on the whole table: any file a concurrent commit removes conflicts. */
  readWholeTable(): Transaction {
    return this.#with({ reads: { kind: 'table' } });
  }

  /** Declares files (log paths) the outcome depends on: a concurrent commit that removes one conflicts. */
  readFiles(paths: Iterable<string>): Transaction {
    const reads = this.#state.reads;
    if (reads.kind === 'table') return this;
    const all = new Set(reads.kind === 'files' ? reads.paths : []);
    for (const path of paths) all.add(path);
    return this.#with({ reads: { kind: 'files', paths: all } });
  }

  /**
   * The actions of the commit, in the order Spark writes them: `commitInfo`, `metaData`, `txn`,
   * `remove`s, `add`s. `now` stamps the commit, the txn and removes without a deletion timestamp.
   */
  actions(now: number): Action[] {
    const state = this.#state;
    const fileActions: Action[] = [
      ...state.removes.map(
        (remove): Action => ({
          remove: removeOf(remove.file, {
            deletionTimestamp: remove.deletionTimestamp ?? now,
            dataChange: remove.dataChange,
          }),
        }),
      ),
      ...state.adds.map((add): Action => ({ add })),
    ];
    const updates = state.deletionVectors.map((change) =>
      deletionVectorUpdate(change.file, change.deletionVector, { deletionTimestamp: now }),
    );
    const actions: Action[] = [
      commitInfoAction({
        operation: state.operation,
        operationParameters: state.operationParameters,
        timestamp: now,
        readVersion: state.snapshot.version,
        isBlindAppend: this.isBlindAppend,
        operationMetrics: {
          ...operationMetricsOf(fileActions),
          ...deletionVectorMetrics(state.deletionVectors),
        },
      }),
    ];
    if (this.changesMetadata) actions.push({ metaData: this.metadata });
    if (state.txn !== undefined) {
      const txn: Txn = { appId: state.txn.appId, version: state.txn.version, lastUpdated: now };
      actions.push({ txn });
    }
    actions.push(
      ...updates.map((update): Action => ({ remove: update.remove })),
      ...fileActions,
      ...updates.map((update): Action => ({ add: update.add })),
    );
    return actions;
  }
}

/** Spark's DELETE metrics of deletion vectors: vectors added and replaced, rows newly marked deleted. */
function deletionVectorMetrics(changes: readonly StagedDeletionVector[]): Record<string, string> {
  if (changes.length === 0) return {};
  const replaced = changes.filter(
    (change) => change.file.deletionVector !== undefined && change.file.deletionVector !== null,
  );
  const rows = changes.reduce(
    (sum, change) => sum + change.deletionVector.cardinality - (change.file.deletionVector?.cardinality ?? 0),
    0,
  );
  return {
    numDeletionVectorsAdded: String(changes.length),
    numDeletionVectorsRemoved: String(replaced.length),
    numDeletedRows: String(rows),
  };
}

/**
 * A transaction on top of `snapshot` (usually `loadSnapshot`'s, or `createTable`'s): stage files,
 * a txn, a schema change, then `commit` it. Pure.
 */
export function startTransaction(snapshot: ReadSnapshot, options: TransactionOptions = {}): Transaction {
  return Transaction.start(snapshot, options);
}
