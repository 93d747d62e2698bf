import type { Item } from '../dynamo/attribute-value.ts';
import { type InferredSchema, SchemaInference } from '../dynamo/schema-inference.ts';
import type { OnBadLine } from '../formats/bad-line.ts';
import { openExport } from '../formats/export-layout.ts';
import type { ManifestSummary } from '../formats/export-manifest.ts';
import { readExportChanges, readExportItems } from '../formats/export-reader.ts';
import type { ObjectStore } from '../storage/object-store.ts';

export interface ExportInspection {
  readonly exportId: string;
  readonly summary: ManifestSummary;
  readonly dataFiles: number;
  /** Lines read and accepted: items of a full export, change records of an incremental one. */
  readonly records: number;
  /** Incremental exports only: records with no new image (deletions). */
  readonly deletions: number;
  /** The lake schema the items (or new images) call for. */
  readonly schema: InferredSchema;
  readonly elapsedMs: number;
}

export interface InspectExportOptions {
  /** Collect bad lines instead of stopping at the first (see `BadLineOptions`). */
  readonly onBadLine?: OnBadLine;
  /** Called every `progressEvery` records and at the end. */
  readonly onProgress?: (progress: { readonly records: number; readonly file: string }) => void;
  readonly progressEvery?: number;
}

/**
 * Reads a whole export (full or incremental) once: checks both manifests, every data file's MD5 and
 * item count, validates every line with the value model and infers the lake schema of its items.
 * Streams: memory does not grow with the export. Throws what the export readers throw
 * (`BadManifestError`, `ChecksumMismatchError`, `ItemCountMismatchError`, `CorruptGzipError`,
 * `BadInputError` unless `onBadLine` collects).
 */
export async function inspectExport(
  store: ObjectStore,
  exportDir: string,
  options: InspectExportOptions = {},
): Promise<ExportInspection> {
  const started = performance.now();
  const opened = await openExport(store, exportDir);
  const inference = new SchemaInference();
  const every = options.progressEvery ?? 10_000;
  let records = 0;
  let deletions = 0;
  const counted = (item: Item | undefined, file: string) => {
    if (item === undefined) deletions++;
    else inference.observe(item);
    records++;
    if (records % every === 0) options.onProgress?.({ records, file });
  };
  const readerOptions = options.onBadLine === undefined ? {} : { onBadLine: options.onBadLine };
  if (opened.summary.exportType === 'INCREMENTAL_EXPORT') {
    for await (const change of readExportChanges(store, opened, readerOptions))
      counted(change.newImage, change.file);
  } else {
    for await (const entry of readExportItems(store, opened, readerOptions)) counted(entry.item, entry.file);
  }
  options.onProgress?.({ records, file: '' });
  return {
    exportId: opened.exportId,
    summary: opened.summary,
    dataFiles: opened.files.length,
    records,
    deletions,
    schema: inference.result(),
    elapsedMs: performance.now() - started,
  };
}
