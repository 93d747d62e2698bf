import { fileURLToPath } from 'node:url';
import { CAPTURE_QUARANTINE_FOLDER, CAPTURE_REPLAYED_FOLDER } from '../capture/capture-quarantine.ts';
import { captureStatePrefix } from '../capture/checkpoint.ts';
import { changeFilesPrefix, tableNameOf } from '../formats/change-file-key.ts';
import { EXPORTS_FOLDER } from '../formats/export-layout.ts';
import { InvalidPlanOptionError } from './errors.ts';

/** Where a landing area (or a Delta table) lives, as the policies need it. */
export type StoreLocation =
  | {
      readonly kind: 's3';
      readonly url: string;
      readonly bucket: string;
      /** The root prefix without a trailing `/`, or `''` for the bucket's root. */
      readonly prefix: string;
    }
  | { readonly kind: 'local'; readonly url: string; readonly path: string };

/**
 * The location of a store from its URL (`ObjectStore.url`: `s3://bucket/prefix` or `file:///…`).
 * Pure. Throws `InvalidPlanOptionError` for any other URL.
 */
export function storeLocationOf(url: string): StoreLocation {
  if (url.startsWith('s3://')) {
    const rest = url.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = slash < 0 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
    if (bucket === '') throw new InvalidPlanOptionError('landing', `"${url}" names no bucket`);
    return { kind: 's3', url, bucket, prefix };
  }
  if (url.startsWith('file:')) return { kind: 'local', url, path: fileURLToPath(url) };
  throw new InvalidPlanOptionError('landing', `"${url}" is neither an s3:// nor a file: URL`);
}

/** The key in the bucket of a key relative to an S3 store's root. */
export function bucketKeyOf(location: StoreLocation & { kind: 's3' }, key: string): string {
  return location.prefix === '' ? key : `${location.prefix}/${key}`;
}

/**
 * The folders of a landing area that each part of ddb-lake reads or writes for one table, relative
 * to the landing root and ending with `/`: the policies name exactly these. They follow DESIGN.md
 * (Folders) and the modules that write them; test/plan checks that they still agree.
 */
export interface LandingFolders {
  /** Change files (capture writes, apply and plan read). */
  readonly changes: string;
  /** Capture's shard checkpoints and gap records. */
  readonly captureState: string;
  /** Stream records capture could not turn into change-file lines. */
  readonly captureQuarantine: string;
  /** Where `ddb-lake quarantine replay` moves replayed objects (apply lists it). */
  readonly captureReplayed: string;
  /** Snapshots in the native export layout, for every table of the landing area. */
  readonly exports: string;
  /** The native export's request records (written, read, removed once watched). */
  readonly nativeExportState: string;
  /** The Scan export's run records and segment checkpoints. */
  readonly scanState: string;
  /** Touch's run records and segment checkpoints. */
  readonly touchState: string;
  /** Where plan writes its last report, which also proves the landing area takes writes. */
  readonly plan: string;
}

/** `_ddb_lake/` subfolders of the backfill strategies, as src/backfill writes them. */
export const NATIVE_EXPORT_STATE_FOLDER = '_ddb_lake/backfill/native-export/';
export const SCAN_STATE_FOLDER = '_ddb_lake/scan/';
export const TOUCH_STATE_FOLDER = '_ddb_lake/touch/';
export const PLAN_FOLDER = '_ddb_lake/plan/';

/** The landing folders for a table (name or ARN). Pure. */
export function landingFoldersOf(tableOrArn: string): LandingFolders {
  const table = tableNameOf(tableOrArn);
  return {
    changes: changeFilesPrefix(table),
    captureState: captureStatePrefix(table),
    captureQuarantine: `${CAPTURE_QUARANTINE_FOLDER}${table}/`,
    captureReplayed: `${CAPTURE_REPLAYED_FOLDER}${table}/`,
    exports: EXPORTS_FOLDER,
    nativeExportState: NATIVE_EXPORT_STATE_FOLDER,
    scanState: SCAN_STATE_FOLDER,
    touchState: TOUCH_STATE_FOLDER,
    plan: `${PLAN_FOLDER}${table}/`,
  };
}
