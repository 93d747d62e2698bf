import { loadSnapshot } from '../../../src/delta/load-snapshot.ts';
import type { Snapshot } from '../../../src/delta/snapshot.ts';
import { duckdbEngine } from '../../../src/duckdb/duckdb-engine.ts';
import { DuckSession } from '../../../src/duckdb/session.ts';
import { readSnapshotRows } from '../../../src/duckdb/table-scan.ts';
import { compareUtf8 } from '../../../src/dynamo/plain-json.ts';
import { bucketOf } from '../../../src/lake/key-identity.ts';
import { rowToPlainItem } from '../../../src/lake/row-to-item.ts';
import { readTableLayout, SYSTEM_COLUMN, type TableLayout } from '../../../src/lake/table-layout.ts';
import type { ObjectStore } from '../../../src/storage/object-store.ts';
import { plainMembers } from '../../../src/verify/plain-members.ts';

/*
 * The lake side of the comparison: the Delta table's latest snapshot read back through DuckDB
 * (readSnapshotRows over its active files), each row turned into the canonical plain JSON of the
 * item it stands for (rowToPlainItem with the layout the table records), keyed by `_ddb_key`. The
 * system columns are checked on the way: a key held by two rows, a `_ddb_key` that is not the key
 * of the row's own attributes, or a row in the wrong bucket is a broken table whatever its values.
 */

export interface LakeItems {
  readonly snapshot: Snapshot;
  readonly layout: TableLayout;
  /** Live rows: `_ddb_key` → plain JSON of the item. */
  readonly items: Map<string, string>;
  /** Soft deletes only: keys whose row is kept with `_ddb_deleted = true`, and whether TTL removed them. */
  readonly softDeleted: Map<string, { readonly ttlExpired: boolean }>;
  /** What is wrong with the rows' system columns, one line each (empty for a sound table). */
  readonly problems: readonly string[];
}

/** Reads the Delta table at `delta` (latest version) as plain items per key; see the top of this file. */
export async function readLakeItems(delta: ObjectStore): Promise<LakeItems> {
  const session = await DuckSession.open();
  try {
    const snapshot = await loadSnapshot(delta, duckdbEngine(session));
    const layout = readTableLayout(snapshot.metadata.configuration);
    const rows = await readSnapshotRows(session, delta, snapshot);
    const items = new Map<string, string>();
    const softDeleted = new Map<string, { ttlExpired: boolean }>();
    const problems: string[] = [];
    for (const row of rows) {
      const key = row[SYSTEM_COLUMN.key];
      if (typeof key !== 'string') {
        problems.push(`a row has no _ddb_key: ${JSON.stringify(Object.keys(row))}`);
        continue;
      }
      if (items.has(key) || softDeleted.has(key)) problems.push(`two rows hold the key ${key}`);
      const bucket = row[SYSTEM_COLUMN.bucket];
      if (bucket !== bucketOf(key, layout.buckets)) {
        problems.push(
          `the row of ${key} is in bucket ${String(bucket)}, its key hashes to ${bucketOf(key, layout.buckets)}`,
        );
      }
      const seq = row[SYSTEM_COLUMN.seq];
      if (typeof seq !== 'string' || !/^[0-9]{40}$/.test(seq)) {
        problems.push(`the row of ${key} has _ddb_seq ${JSON.stringify(seq)}, not 40 digits`);
      }
      if (layout.deletes === 'soft' && row[SYSTEM_COLUMN.deleted] === true) {
        softDeleted.set(key, { ttlExpired: row[SYSTEM_COLUMN.ttlExpired] === true });
        continue;
      }
      const item = rowToPlainItem(row, layout, snapshot.schema);
      const ownKey = keyOfPlainItem(item, layout);
      if (ownKey !== key) problems.push(`the row of ${key} holds the key attributes ${ownKey}`);
      items.set(key, item);
    }
    return { snapshot, layout, items, softDeleted, problems };
  } finally {
    await session.close();
  }
}

/** `_ddb_key` as the row's own key attributes give it: their plain JSON, names in UTF-8 order. */
function keyOfPlainItem(item: string, layout: TableLayout): string {
  const members = plainMembers(item);
  const names = [layout.keys.partition, ...(layout.keys.sort === undefined ? [] : [layout.keys.sort])];
  const parts = names
    .sort(compareUtf8)
    .map((name) => `${JSON.stringify(name)}:${members.get(name) ?? '(missing)'}`);
  return `{${parts.join(',')}}`;
}
