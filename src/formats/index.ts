export { type BadLine, type BadLineOptions, type OnBadLine, problemOf, reportBadLine } from './bad-line.ts';
export { changeRecordLine, encodeChangeFile, normalizeChangeBatch } from './change-file-encoder.ts';
export {
  CHANGES_FOLDER,
  type ChangeFileKeyParts,
  changeFileKey,
  changeFilesPrefix,
  type ParsedChangeFileKey,
  parseChangeFileKey,
  tableNameOf,
} from './change-file-key.ts';
export { type ChangeFileRecord, readChangeFile } from './change-file-reader.ts';
export { type WrittenChangeFile, writeChangeFile } from './change-file-writer.ts';
export type { ChangeOp, ChangeRecord } from './change-record.ts';
export {
  BadInputError,
  BadManifestError,
  ChecksumMismatchError,
  CorruptGzipError,
  ItemCountMismatchError,
} from './errors.ts';
export {
  EXPORTS_FOLDER,
  type ExportDataFile,
  type ExportListing,
  listExports,
  MANIFEST_FILES,
  MANIFEST_SUMMARY,
  type OpenedExport,
  openExport,
  readCheckedManifest,
  readManifestSummary,
} from './export-layout.ts';
export {
  type IncrementalExportChange,
  parseExportItemLine,
  parseIncrementalExportLine,
} from './export-line.ts';
export {
  type ExportType,
  type FullExportSummary,
  type IncrementalExportSummary,
  type ManifestFileEntry,
  type ManifestSummary,
  parseManifestFiles,
  parseManifestSummary,
} from './export-manifest.ts';
export {
  type ExportChange,
  type ExportItem,
  readDataFileChanges,
  readDataFileItems,
  readExportChanges,
  readExportItems,
} from './export-reader.ts';
export { ExportPartWriter, ExportWriter, type ExportWriterOptions } from './export-writer.ts';
export {
  type GzipJsonLinesOptions,
  type JsonLine,
  type JsonLineBlock,
  readGzipJsonLineBlocks,
  readGzipJsonLines,
  SKIPPED_LINE,
} from './gzip-json-lines.ts';
export {
  CHANGE_RECORD_FIELDS,
  checkHoldsKeys,
  parseChangeRecord,
  parseItemAt,
  parseKeys,
} from './parse-change-record.ts';
