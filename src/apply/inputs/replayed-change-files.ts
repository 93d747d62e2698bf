import { captureReplayedFolder, readMarker } from '../../capture/capture-quarantine-replay.ts';
import { parseChangeFileKey } from '../../formats/change-file-key.ts';
import { mapLimited } from '../../map-limited.ts';
import type { ObjectStore } from '../../storage/object-store.ts';

/*
 * The change files `ddb-lake quarantine replay` wrote (capture-quarantine-replay.ts), found through
 * their markers rather than through the change-file listing: a replayed record's change file is
 * dated by the record's time, so it may land in a partition the taken index calls settled, which
 * later batches do not list (taken-index.ts). The markers are listed in full (replays are rare),
 * and only markers no earlier batch took are read.
 */

/** A replayed record's change file, with the marker that names it. */
export interface ReplayedChangeFile {
  readonly marker: string;
  readonly changeFile: string;
}

/**
 * The replayed change files of `table` (a name) that no earlier batch took: the markers under
 * `_ddb_lake/quarantine/capture-replayed/<table>/` not in `taken`, each read for its change file,
 * kept when that file exists (a marker whose file is not written yet belongs to a replay still under
 * way, whose quarantine object is still live and holds the batch). In listing order.
 * @throws the store's errors.
 */
export async function findReplayedChangeFiles(
  landing: ObjectStore,
  table: string,
  taken: ReadonlySet<string>,
): Promise<ReplayedChangeFile[]> {
  const folder = captureReplayedFolder(table);
  const markers: string[] = [];
  for await (const object of landing.list(folder)) {
    if (!taken.has(object.key) && !object.key.slice(folder.length).includes('/')) markers.push(object.key);
  }
  const found = await mapLimited(markers, 16, async (marker) => {
    const read = await readMarker(landing, marker);
    if (read === undefined || parseChangeFileKey(read.changeFile)?.table !== table) return undefined;
    if ((await landing.head(read.changeFile)) === undefined) return undefined;
    return { marker, changeFile: read.changeFile };
  });
  return found.filter((entry) => entry !== undefined);
}
