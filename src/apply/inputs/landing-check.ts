import type { ObjectStore } from '../../storage/object-store.ts';
import { ApplyErrorCode, ApplyRunError } from '../apply-errors.ts';

/*
 * A landing area that holds nothing is a wrong --landing (a typo, a folder that does not exist, an
 * S3 prefix nothing was written under), not an empty history: capture and backfill always leave
 * objects there. Apply checks it before it takes the table's lease, so such a run writes nothing
 * beside the table (no Delta folder, no lease) and says which landing area it looked at.
 */

/**
 * Resolves when the landing area holds at least one object (one listing request, its first page).
 * @throws ApplyRunError `APPLY_LANDING_EMPTY` naming the landing area and what to check; the store's
 *   errors (a bucket that does not exist, access denied).
 */
export async function assertLandingHasObjects(landing: ObjectStore, table: string): Promise<void> {
  for await (const _ of landing.list('')) return;
  throw new ApplyRunError(
    ApplyErrorCode.landingEmpty,
    `The landing area ${landing.url} holds nothing (a local folder that does not exist or is empty, or an S3 prefix with no object under it), so there is no export or change file of ${table} to apply. Nothing was written beside the Delta table. Check --landing (or DDB_LAKE_LANDING): capture writes change files under changes/${table}/ there, and backfill writes exports under AWSDynamoDB/.`,
  );
}
