import { stat } from 'node:fs/promises';
import { DdbLakeError, UsageError } from '../errors.ts';
import { LocalFolderStore } from '../storage/local-folder-store.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { openStore } from '../storage/open-store.ts';
import { storeOptionsBesideDynamoDb, storeOptionsOf } from './aws-flags.ts';
import type { AwsFlags } from './program.ts';

/**
 * Opens the landing area named by `--landing`, or by `DDB_LAKE_LANDING` when the flag is absent,
 * with the AWS CLI flags applied to S3 (`--endpoint-url` included).
 */
export function openLanding(flags: AwsFlags & { landing?: string }, env = process.env): ObjectStore {
  return openStore(landingUrlOf(flags, env), storeOptionsOf(flags));
}

/** The landing area of a command whose `--endpoint-url` is DynamoDB's (see `storeOptionsBesideDynamoDb`). */
export function openLandingBesideDynamoDb(
  flags: AwsFlags & { landing?: string },
  env = process.env,
): ObjectStore {
  return openStore(landingUrlOf(flags, env), storeOptionsBesideDynamoDb(flags));
}

function landingUrlOf(flags: { landing?: string }, env: NodeJS.ProcessEnv): string {
  const url = flags.landing ?? env['DDB_LAKE_LANDING'];
  if (url === undefined || url === '') {
    throw new UsageError(
      'no landing area: pass --landing s3://bucket/prefix (or a local folder), or set DDB_LAKE_LANDING',
    );
  }
  return url;
}

/** `--landing` names a folder that does not exist, or a path that is not a folder. */
export class LandingNotFoundError extends DdbLakeError {
  readonly landing: string;

  constructor(landing: string, reason: string) {
    super(
      'LANDING_NOT_FOUND',
      `The landing area ${landing} does not exist: ${reason}. Check --landing (or DDB_LAKE_LANDING): capture, ` +
        'backfill scan and backfill export create it when they first write.',
    );
    this.landing = landing;
  }
}

/**
 * Checks that a landing area a command only reads exists: a local folder must be there and be a
 * folder (`LandingNotFoundError`); an S3 landing area's bucket must exist, which its first
 * listing tells (`StorageError` `BUCKET_NOT_FOUND`, naming the bucket). An empty prefix in an
 * existing bucket is an empty landing area: S3 has no folders to be missing.
 */
export async function assertLandingExists(landing: ObjectStore): Promise<void> {
  if (landing instanceof LocalFolderStore) {
    const found = await stat(landing.rootDir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (found === undefined)
      throw new LandingNotFoundError(landing.url, `there is no folder ${landing.rootDir}`);
    if (!found.isDirectory())
      throw new LandingNotFoundError(landing.url, `${landing.rootDir} is not a folder`);
    return;
  }
  for await (const _ of landing.list('')) break;
}
