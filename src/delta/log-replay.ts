import type {
  Action,
  AddFile,
  DeletionVectorDescriptor,
  DomainMetadata,
  Metadata,
  Protocol,
  RemoveFile,
  Txn,
} from './actions.ts';
import { DeltaLogCorruptError, DeltaUnsupportedFeatureError } from './errors.ts';

/*
 * Action reconciliation (PROTOCOL.md, "Action Reconciliation"): the state of a table after a
 * checkpoint's actions and then each commit's, in ascending version order.
 * - the latest `protocol` and `metaData` win;
 * - `txn`: the latest action per `appId` wins;
 * - `domainMetadata`: the latest per `domain` wins, and a `removed: true` one deletes the domain;
 * - file actions: a logical file is keyed by (path, deletion vector unique id); the newest `add` or
 *   `remove` of a key wins; `add`s are the active files, `remove`s the tombstones;
 * - `commitInfo`, `cdc` and unknown actions do not take part.
 * Paths are compared as written in the log (writers spell the same file the same way).
 */

/**
 * `deletionVector.uniqueId` (PROTOCOL.md, "Deletion Vectors", "Derived Fields"):
 * `<storageType><pathOrInlineDv>`, then `@<offset>` when an offset is present. Pure.
 */
export function deletionVectorUniqueId(descriptor: DeletionVectorDescriptor): string {
  const base = `${descriptor.storageType}${descriptor.pathOrInlineDv}`;
  return descriptor.offset === undefined || descriptor.offset === null
    ? base
    : `${base}@${descriptor.offset}`;
}

/**
 * The key of the logical file an `add` or `remove` names: its path and its deletion vector's unique
 * id (none without a deletion vector). Two actions name the same logical file exactly when their keys
 * are equal. Pure.
 */
export function logicalFileKey(file: {
  readonly path: string;
  readonly deletionVector?: DeletionVectorDescriptor | null;
}): string {
  const dv = file.deletionVector;
  return dv === undefined || dv === null
    ? `${file.path}\u0000`
    : `${file.path}\u0000${deletionVectorUniqueId(dv)}`;
}

/** The reconciled state (before the schema is parsed). Files and tombstones ascending by path. */
export interface ReconciledState {
  readonly protocol: Protocol;
  readonly metadata: Metadata;
  readonly files: readonly AddFile[];
  readonly tombstones: readonly RemoveFile[];
  readonly txns: ReadonlyMap<string, Txn>;
  readonly domainMetadata: ReadonlyMap<string, DomainMetadata>;
}

type FileEntry =
  | { readonly kind: 'add'; readonly add: AddFile }
  | { readonly kind: 'remove'; readonly remove: RemoveFile };

/** Actions that only V2 checkpoints hold; a reader without the v2Checkpoint feature cannot follow them. */
const V2_CHECKPOINT_ACTIONS = new Set(['sidecar', 'checkpointMetadata']);

/** Ascending by path; one data file under several deletion vectors (tombstones) by the key. */
function byPath(a: AddFile | RemoveFile, b: AddFile | RemoveFile): number {
  if (a.path !== b.path) return a.path < b.path ? -1 : 1;
  const ka = logicalFileKey(a);
  const kb = logicalFileKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/**
 * Replays batches of actions in version order. Feed the checkpoint (if any) first with
 * `applyCheckpoint`, then every commit with `applyCommit`, then take `state`. Not reusable across
 * snapshots; each `apply` is O(actions).
 */
export class LogReplay {
  #protocol: Protocol | undefined;
  #metadata: Metadata | undefined;
  readonly #files = new Map<string, FileEntry>();
  readonly #txns = new Map<string, Txn>();
  readonly #domains = new Map<string, DomainMetadata>();

  /**
   * The actions of a checkpoint (all of its parts). A V2 checkpoint's `sidecar` or
   * `checkpointMetadata` row is refused: its files live elsewhere.
   * @throws DeltaUnsupportedFeatureError('read', 'v2Checkpoint') naming `file`.
   */
  applyCheckpoint(actions: readonly Action[], file: string): void {
    for (const action of actions) {
      if ('other' in action && V2_CHECKPOINT_ACTIONS.has(action.other.name)) {
        throw new DeltaUnsupportedFeatureError(
          'read',
          'v2Checkpoint',
          `The checkpoint ${file} is a V2 checkpoint (it holds a "${action.other.name}" action): reading it needs the reader feature "v2Checkpoint", which ddb-lake does not implement. Read the table with Spark or Databricks.`,
        );
      }
    }
    this.#apply(actions);
  }

  /**
   * The actions of one commit file. Its removes are applied before its adds: a valid commit names
   * a logical file at most once per kind, and when a commit both removes and re-adds one, the file
   * stays (a metadata-only recommit).
   */
  applyCommit(actions: readonly Action[]): void {
    this.#apply(actions);
  }

  #apply(actions: readonly Action[]): void {
    for (const action of actions) {
      if ('remove' in action)
        this.#files.set(logicalFileKey(action.remove), { kind: 'remove', remove: action.remove });
    }
    for (const action of actions) {
      if ('add' in action) this.#files.set(logicalFileKey(action.add), { kind: 'add', add: action.add });
      else if ('protocol' in action) this.#protocol = action.protocol;
      else if ('metaData' in action) this.#metadata = action.metaData;
      else if ('txn' in action) this.#txns.set(action.txn.appId, action.txn);
      else if ('domainMetadata' in action) {
        const domain = action.domainMetadata;
        if (domain.removed) this.#domains.delete(domain.domain);
        else this.#domains.set(domain.domain, domain);
      }
    }
  }

  /**
   * The reconciled state after everything applied so far.
   * @throws DeltaLogCorruptError naming `tableUrl` and `version` when no `protocol` or no `metaData`
   *   was seen (the first commit must hold both).
   */
  state(tableUrl: string, version: number): ReconciledState {
    const missing =
      this.#protocol === undefined ? 'protocol' : this.#metadata === undefined ? 'metaData' : null;
    if (missing !== null || this.#protocol === undefined || this.#metadata === undefined) {
      throw new DeltaLogCorruptError(
        `The log of ${tableUrl} up to version ${version} holds no ${missing} action; a table's first commit (or any checkpoint) must hold one. The log is damaged or not a Delta log.`,
      );
    }
    const files: AddFile[] = [];
    const tombstones: RemoveFile[] = [];
    for (const entry of this.#files.values()) {
      if (entry.kind === 'add') files.push(entry.add);
      else tombstones.push(entry.remove);
    }
    return {
      protocol: this.#protocol,
      metadata: this.#metadata,
      files: files.sort(byPath),
      tombstones: tombstones.sort(byPath),
      txns: new Map(this.#txns),
      domainMetadata: new Map(this.#domains),
    };
  }
}
