import { createHash } from 'node:crypto';
import type { ObjectStore } from '../storage/object-store.ts';
import { BadManifestError, ChecksumMismatchError } from './errors.ts';
import {
  type ManifestFileEntry,
  type ManifestSummary,
  parseManifestFiles,
  parseManifestSummary,
} from './export-manifest.ts';

/** The folder of the native export layout, relative to the landing area (DESIGN.md, Formats). */
export const EXPORTS_FOLDER = 'AWSDynamoDB/';
export const MANIFEST_SUMMARY = 'manifest-summary.json';
export const MANIFEST_FILES = 'manifest-files.json';

/** One data file of an opened export, with its key in the store the export was opened from. */
export interface ExportDataFile extends ManifestFileEntry {
  /** The data file's key relative to the store (mapped from the bucket-relative `dataFileS3Key`). */
  readonly key: string;
}

/** An export whose manifests have been read and checked: what the data readers need. */
export interface OpenedExport {
  readonly exportId: string;
  /** The export's folder in the store, ending with `/` (`AWSDynamoDB/<exportId>/`). */
  readonly dir: string;
  readonly summary: ManifestSummary;
  /** The data files in manifest order. */
  readonly files: readonly ExportDataFile[];
}

/** A complete export found in a landing area. */
export interface ExportListing {
  readonly exportId: string;
  readonly dir: string;
  readonly summary: ManifestSummary;
}

const SUMMARY_KEY = /^((?:.*\/)?AWSDynamoDB\/([^/]+)\/)manifest-summary\.json$/;

/**
 * Every complete export under `AWSDynamoDB/` in a landing area, in key order (export ids start
 * with the export's epoch milliseconds, so this is time order). An export counts only once its
 * manifest-summary.json exists: DynamoDB and `ExportWriter` write it last. Each summary is read and
 * checked against its `.md5`; a bad one throws (`BadManifestError`, `ChecksumMismatchError`).
 */
export async function listExports(
  store: ObjectStore,
  options: { readonly under?: string } = {},
): Promise<ExportListing[]> {
  const listings: ExportListing[] = [];
  for await (const object of store.list(`${options.under ?? ''}${EXPORTS_FOLDER}`)) {
    const match = SUMMARY_KEY.exec(object.key);
    if (match === null) continue;
    const dir = match[1] as string;
    listings.push({ exportId: match[2] as string, dir, summary: await readManifestSummary(store, dir) });
  }
  return listings;
}

/**
 * Reads an export's manifests from `dir` (`AWSDynamoDB/<exportId>/`, with or without the slash),
 * checks each against its `.md5` file when there is one, and maps the data file keys to keys of
 * `store`. Throws `BadManifestError` when the export is incomplete (no manifest-summary.json yet),
 * a manifest is malformed, or the files' item counts do not add up to the summary's;
 * `ChecksumMismatchError` when a manifest does not match its `.md5`.
 */
export async function openExport(store: ObjectStore, dir: string): Promise<OpenedExport> {
  const exportDir = dir.endsWith('/') ? dir : `${dir}/`;
  const summary = await readManifestSummary(store, exportDir);
  const filesKey = `${exportDir}${MANIFEST_FILES}`;
  const entries = parseManifestFiles(await readCheckedManifest(store, filesKey), filesKey);
  const total = entries.reduce((sum, entry) => sum + entry.itemCount, 0);
  if (total !== summary.itemCount) {
    throw new BadManifestError(
      filesKey,
      `the data files hold ${total} items but ${MANIFEST_SUMMARY} says ${summary.itemCount}: the export is inconsistent; export again`,
    );
  }
  const toStoreKey = storeKeyMapping(exportDir, summary);
  const files = entries.map((entry) => ({ ...entry, key: toStoreKey(entry.dataFileS3Key, filesKey) }));
  const segments = exportDir.split('/');
  return { exportId: segments[segments.length - 2] ?? '', dir: exportDir, summary, files };
}

/** Reads and checks manifest-summary.json of the export in `dir` (ending with `/`). */
export async function readManifestSummary(store: ObjectStore, dir: string): Promise<ManifestSummary> {
  const key = `${dir}${MANIFEST_SUMMARY}`;
  if ((await store.head(key)) === undefined) {
    throw new BadManifestError(
      key,
      'the export is not complete (DynamoDB writes manifest-summary.json last) or the folder is wrong: ' +
        'wait for the export to finish, or list the complete ones with listExports',
    );
  }
  return parseManifestSummary(await readCheckedManifest(store, key), key);
}

/**
 * The bytes of a manifest, checked against `<name>.md5` (base64 MD5, as DynamoDB writes it; hex is
 * accepted too) when that file exists. Throws `ChecksumMismatchError` on a mismatch.
 */
export async function readCheckedManifest(store: ObjectStore, key: string): Promise<Uint8Array> {
  const bytes = await store.getBytes(key);
  const md5Key = key.replace(/\.json$/, '.md5');
  if (md5Key !== key && (await store.head(md5Key)) !== undefined) {
    const expected = Buffer.from(await store.getBytes(md5Key))
      .toString('utf8')
      .trim();
    const digest = createHash('md5').update(bytes).digest();
    const actual = /^[0-9a-fA-F]{32}$/.test(expected) ? digest.toString('hex') : digest.toString('base64');
    if (actual.toLowerCase() !== expected.toLowerCase() || expected === '') {
      throw new ChecksumMismatchError(key, expected, actual);
    }
  }
  return bytes;
}

/**
 * Maps bucket-relative keys of the manifest to keys of the store. The store may be opened at
 * `s3://bucket/<s3Prefix>`, at the bucket root, or be a local folder holding the same tree: the
 * part of `manifestFilesS3Key` before `AWSDynamoDB/<exportId>/` is the bucket folder that
 * corresponds to the part of `dir` before it. When the manifest key does not end that way, the
 * store is taken to be opened at `s3Prefix`.
 */
function storeKeyMapping(
  dir: string,
  summary: ManifestSummary,
): (bucketKey: string, where: string) => string {
  const segments = dir.split('/');
  const exportRelative = `${segments.slice(-3, -1).join('/')}/`;
  const manifestTail = `${exportRelative}${MANIFEST_FILES}`;
  let bucketBase: string;
  let storeBase: string;
  if (summary.manifestFilesS3Key.endsWith(manifestTail)) {
    bucketBase = summary.manifestFilesS3Key.slice(0, -manifestTail.length);
    storeBase = dir.slice(0, -exportRelative.length);
  } else {
    const prefix = summary.s3Prefix ?? '';
    bucketBase = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    storeBase = '';
  }
  return (bucketKey, where) => {
    if (!bucketKey.startsWith(bucketBase)) {
      throw new BadManifestError(
        where,
        `the data file ${bucketKey} lies outside the export's prefix ${JSON.stringify(bucketBase)}; ` +
          'open the store at the folder the export was written to',
      );
    }
    return `${storeBase}${bucketKey.slice(bucketBase.length)}`;
  };
}
