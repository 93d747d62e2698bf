export { checkRange, contentRangeMatches, httpRange } from './byte-range.ts';
export {
  InvalidKeyError,
  ObjectNotFoundError,
  StorageError,
  StoreAccessDeniedError,
  UnsupportedStoreUrlError,
} from './errors.ts';
export { LocalFolderStore } from './local-folder-store.ts';
export { assertValidKey, assertValidPrefix, compareKeys, TEMP_FILE_MARKER } from './object-key.ts';
export type { ByteRange, ObjectInfo, ObjectStore, PutBody, PutIfAbsentOutcome } from './object-store.ts';
export { openStore, type StoreOptions } from './open-store.ts';
export { type S3FailureContext, s3FailureOf, toStorageError } from './s3-errors.ts';
export { S3Store, type S3StoreOptions } from './s3-store.ts';
export { holdsTemporaryFiles, type TemporaryFileStore } from './temporary-files.ts';
