import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AwsRequestSettings } from '../aws/request-settings.ts';
import { UnsupportedStoreUrlError } from './errors.ts';
import { LocalFolderStore } from './local-folder-store.ts';
import type { ObjectStore } from './object-store.ts';
import { S3Store } from './s3-store.ts';

/** How to reach S3; the fields mean what the AWS CLI's flags of the same names mean. Local folders ignore them. */
export interface StoreOptions {
  /**
   * An S3-compatible endpoint (`--endpoint-url`); requests then use path-style addressing. When
   * absent, the SDK's own variables `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`, are taken the same
   * way: commands whose `--endpoint-url` is DynamoDB's reach an S3-compatible landing area through them.
   */
  endpointUrl?: string;
  region?: string;
  /** A profile of the shared AWS config and credentials files (`--profile`). */
  profile?: string;
  /** Explicit credentials; otherwise the SDK's default chain (environment, profile, SSO, role) applies. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Timeouts and attempts of every S3 request (`--cli-connect-timeout`, `--cli-read-timeout`); default `DEFAULT_REQUEST_SETTINGS`. */
  requestSettings?: AwsRequestSettings;
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

/**
 * Opens the store a `--landing` or `--delta` URL names:
 * - `s3://bucket` or `s3://bucket/prefix` → `S3Store` rooted at that prefix (treated as a folder:
 *   `s3://b/landing` holds `landing/…`, never `landing-old/…`);
 * - `file:///abs/path`, an absolute path, or a path relative to the current folder →
 *   `LocalFolderStore` (folders are created as objects are written).
 * Throws `UnsupportedStoreUrlError` for any other scheme, a missing bucket, or a prefix with empty,
 * `.` or `..` segments. Opening does no I/O.
 */
export function openStore(
  url: string,
  options: StoreOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ObjectStore {
  if (url.trim() === '') throw new UnsupportedStoreUrlError(url, 'it is empty');
  if (/^file:/i.test(url)) return new LocalFolderStore(fileUrlToFolder(url));
  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return new LocalFolderStore(path.resolve(url));
  if (scheme === 's3') return openS3(url, options, env);
  const hint = scheme === 's3a' || scheme === 's3n' ? ` (write ${scheme}://… as s3://…)` : '';
  throw new UnsupportedStoreUrlError(url, `the scheme "${scheme}://" is not supported${hint}`);
}

function fileUrlToFolder(url: string): string {
  try {
    return fileURLToPath(url);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UnsupportedStoreUrlError(url, `it is not a local file URL (${reason})`);
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function openS3(url: string, options: StoreOptions, env: NodeJS.ProcessEnv): S3Store {
  const rest = url.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = slash < 0 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
  if (bucket === '') throw new UnsupportedStoreUrlError(url, 'it names no bucket');
  if (/[?#]/.test(rest)) throw new UnsupportedStoreUrlError(url, 'S3 store URLs take no query or fragment');
  const segments = prefix === '' ? [] : prefix.split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw new UnsupportedStoreUrlError(url, 'its prefix has an empty, "." or ".." segment');
  }
  const endpointUrl =
    options.endpointUrl ?? nonEmpty(env['AWS_ENDPOINT_URL_S3']) ?? nonEmpty(env['AWS_ENDPOINT_URL']);
  return new S3Store({ ...options, ...(endpointUrl === undefined ? {} : { endpointUrl }), bucket, prefix });
}
