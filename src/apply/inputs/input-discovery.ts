import { changeFilesPrefix, parseChangeFileKey, tableNameOf } from '../../formats/change-file-key.ts';
import {
  EXPORTS_FOLDER,
  type ExportListing,
  listExports,
  MANIFEST_SUMMARY,
  type OpenedExport,
  openExport,
} from '../../formats/export-layout.ts';
import type { IncrementalExportSummary } from '../../formats/export-manifest.ts';
import type { RecoveredGap } from '../../plan/handoff-check.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { ApplyErrorCode, ApplyRunError } from '../apply-errors.ts';
import type { BatchSnapshot } from '../batch-record.ts';

/*
 * What a batch reads (DESIGN.md rules 2 and 4): the snapshot of the first batch, the incremental
 * exports to replay as changes, and the change files that no earlier batch took. Read-only.
 */

/** The snapshot export opened, with its kind and T. */
export interface FoundSnapshot extends BatchSnapshot {
  readonly opened: OpenedExport;
  /** T in epoch milliseconds. */
  readonly exportTimeMs: number;
}

/** The table name an export's `tableArn` names, or undefined for one that names none. */
function exportTable(tableArn: string): string | undefined {
  try {
    return tableNameOf(tableArn);
  } catch {
    return undefined;
  }
}

function exportDir(exportId: string): string {
  return `${EXPORTS_FOLDER}${exportId}/`;
}

/** `scan` when the export's manifest-summary.json carries `ddbLakeScan`, and the scan's start time. */
async function scanFacts(
  landing: ObjectStore,
  dir: string,
): Promise<{ kind: 'export' | 'scan'; startTime?: string }> {
  const raw = JSON.parse(
    Buffer.from(await landing.getBytes(`${dir}${MANIFEST_SUMMARY}`)).toString('utf8'),
  ) as {
    ddbLakeScan?: { startTime?: unknown };
  };
  const scan = raw.ddbLakeScan;
  if (scan === undefined || scan === null) return { kind: 'export' };
  return typeof scan.startTime === 'string' && !Number.isNaN(Date.parse(scan.startTime))
    ? { kind: 'scan', startTime: scan.startTime }
    : { kind: 'scan' };
}

/**
 * The snapshot of a first batch: the export `exportId` when given, else the newest complete full
 * export (native or Scan) of `table` in the landing area's `AWSDynamoDB/` (newest by export time,
 * then by id). T is the export time; for a Scan export (`ddbLakeScan` in its summary) the scan's
 * start time. The manifests are opened and checked.
 * @throws ApplyRunError `APPLY_NO_SNAPSHOT` when there is none, when the named export is
 *   incremental or of another table; the manifest readers' errors for a damaged export.
 */
export async function findSnapshot(
  landing: ObjectStore,
  table: string,
  exportId?: string,
): Promise<FoundSnapshot> {
  const name = tableNameOf(table);
  let dir: string;
  if (exportId !== undefined) {
    dir = exportDir(exportId);
    if ((await landing.head(`${dir}${MANIFEST_SUMMARY}`)) === undefined) {
      throw new ApplyRunError(
        ApplyErrorCode.noSnapshot,
        `The landing area ${landing.url} holds no complete export ${exportId} (no ${dir}${MANIFEST_SUMMARY}). Check the export id (ddb-lake backfill lists them), or wait until the export has finished.`,
      );
    }
  } else {
    const full = (await listExports(landing)).filter(
      (listing) =>
        listing.summary.exportType === 'FULL_EXPORT' && exportTable(listing.summary.tableArn) === name,
    );
    const newest = full.reduce<ExportListing | undefined>((best, listing) => {
      if (best === undefined) return listing;
      const a = Date.parse(snapshotTime(best));
      const b = Date.parse(snapshotTime(listing));
      return b >= a ? listing : best;
    }, undefined);
    if (newest === undefined) {
      throw new ApplyRunError(
        ApplyErrorCode.noSnapshot,
        `The landing area ${landing.url} holds no complete full export of table ${name} under ${EXPORTS_FOLDER}, so the first apply has no snapshot to start from. Take one with ddb-lake backfill export (or backfill scan), then run apply again; or name one with --snapshot <export id>.`,
      );
    }
    dir = newest.dir;
  }
  const opened = await openExport(landing, dir);
  const summary = opened.summary;
  if (summary.exportType !== 'FULL_EXPORT') {
    throw new ApplyRunError(
      ApplyErrorCode.noSnapshot,
      `The export ${opened.exportId} is an incremental export; a snapshot must be a full export (or a Scan export). Name a full export with --snapshot, or leave --snapshot out to take the newest one.`,
    );
  }
  const owner = exportTable(summary.tableArn);
  if (owner !== name) {
    throw new ApplyRunError(
      ApplyErrorCode.noSnapshot,
      `The export ${opened.exportId} is of table ${owner ?? summary.tableArn}, not ${name}. Name an export of ${name} with --snapshot.`,
    );
  }
  const scan = await scanFacts(landing, opened.dir);
  const exportTime = scan.startTime ?? summary.exportTime;
  const exportTimeMs = Date.parse(exportTime);
  return {
    exportId: opened.exportId,
    kind: scan.kind,
    exportTime: new Date(exportTimeMs).toISOString(),
    exportTimeMs,
    opened,
  };
}

function snapshotTime(listing: ExportListing): string {
  return listing.summary.exportType === 'FULL_EXPORT' ? listing.summary.exportTime : listing.summary.endTime;
}

/** An incremental export to replay, with its window. */
export interface FoundIncrementalExport {
  readonly exportId: string;
  readonly dir: string;
  readonly summary: IncrementalExportSummary;
}

/**
 * The incremental exports a batch replays as changes, oldest window first (by `exportFromTime`,
 * then `exportToTime`, then id): every complete incremental export of `table` whose window ends
 * after `windowStartMs` (T − margin: an older window holds nothing the snapshot lacks), plus those
 * `recovered` names (they repair recorded gaps), minus those in `taken` (earlier batches').
 */
export async function findIncrementalExports(
  landing: ObjectStore,
  table: string,
  windowStartMs: number,
  taken: ReadonlySet<string>,
  recovered: readonly RecoveredGap[] = [],
): Promise<FoundIncrementalExport[]> {
  const name = tableNameOf(table);
  const repairs = new Set(recovered.map((entry) => entry.exportId));
  const found: FoundIncrementalExport[] = [];
  for (const listing of await listExports(landing)) {
    const summary = listing.summary;
    if (summary.exportType !== 'INCREMENTAL_EXPORT') continue;
    if (exportTable(summary.tableArn) !== name || taken.has(listing.exportId)) continue;
    if (Date.parse(summary.exportToTime) <= windowStartMs && !repairs.has(listing.exportId)) continue;
    found.push({ exportId: listing.exportId, dir: listing.dir, summary });
  }
  return found.sort(
    (a, b) =>
      Date.parse(a.summary.exportFromTime) - Date.parse(b.summary.exportFromTime) ||
      Date.parse(a.summary.exportToTime) - Date.parse(b.summary.exportToTime) ||
      (a.exportId < b.exportId ? -1 : a.exportId > b.exportId ? 1 : 0),
  );
}

/**
 * Orders change files as their records were written: by first sequence number, then last, as
 * integers (a child shard's numbers follow its parent's), then by shard id. Never by key text,
 * whose digits differ in length.
 */
export function compareChangeFiles(a: string, b: string): number {
  const x = parseChangeFileKey(a);
  const y = parseChangeFileKey(b);
  if (x === undefined || y === undefined) return a < b ? -1 : a > b ? 1 : 0;
  const first = BigInt(x.firstSeq) - BigInt(y.firstSeq);
  if (first !== 0n) return first < 0n ? -1 : 1;
  const last = BigInt(x.lastSeq) - BigInt(y.lastSeq);
  if (last !== 0n) return last < 0n ? -1 : 1;
  return x.shard < y.shard ? -1 : x.shard > y.shard ? 1 : 0;
}

/**
 * The change files of `table` under `changes/<table>/` that are not in `taken` (the files earlier
 * batches took), ordered by `compareChangeFiles`. With `settledBefore` (taken-index.ts), the
 * partitions dated before it are not listed at all: the listing starts after
 * `changes/<table>/dt=<settledBefore>`, which sorts after every earlier partition's keys. Objects
 * that do not follow the change-file layout (temporary uploads, strays) are left alone.
 */
export async function findNewChangeFiles(
  landing: ObjectStore,
  table: string,
  taken: ReadonlySet<string>,
  settledBefore: string | null = null,
): Promise<string[]> {
  const name = tableNameOf(table);
  const prefix = changeFilesPrefix(name);
  const keys: string[] = [];
  const listing =
    settledBefore === null
      ? landing.list(prefix)
      : landing.list(prefix, { startAfter: `${prefix}dt=${settledBefore}` });
  for await (const object of listing) {
    const parsed = parseChangeFileKey(object.key);
    if (parsed === undefined || parsed.table !== name || taken.has(object.key)) continue;
    if (settledBefore !== null && parsed.date < settledBefore) continue;
    keys.push(object.key);
  }
  return keys.sort(compareChangeFiles);
}

/** Opens an incremental export by id. @throws as `openExport`. */
export async function openIncrementalExport(landing: ObjectStore, exportId: string): Promise<OpenedExport> {
  return openExport(landing, exportDir(exportId));
}

/** Opens a snapshot named by a batch record again (a rebuilt first batch). @throws as `findSnapshot`. */
export async function reopenSnapshot(
  landing: ObjectStore,
  table: string,
  snapshot: BatchSnapshot,
): Promise<FoundSnapshot> {
  const found = await findSnapshot(landing, table, snapshot.exportId);
  return { ...found, exportTime: snapshot.exportTime, exportTimeMs: Date.parse(snapshot.exportTime) };
}
