import { UsageError } from '../errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { openStore } from '../storage/open-store.ts';
import type { AwsFlags } from './program.ts';

/**
 * Opens the landing area named by `--landing`, or by `DDB_LAKE_LANDING` when the flag is absent,
 * with the AWS CLI flags applied to S3.
 */
export function openLanding(flags: AwsFlags & { landing?: string }, env = process.env): ObjectStore {
  const url = flags.landing ?? env['DDB_LAKE_LANDING'];
  if (url === undefined || url === '') {
    throw new UsageError(
      'no landing area: pass --landing s3://bucket/prefix (or a local folder), or set DDB_LAKE_LANDING',
    );
  }
  return openStore(url, {
    ...(flags.endpointUrl === undefined ? {} : { endpointUrl: flags.endpointUrl }),
    ...(flags.region === undefined ? {} : { region: flags.region }),
    ...(flags.profile === undefined ? {} : { profile: flags.profile }),
  });
}
