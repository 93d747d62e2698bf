/**
 * The attribute `ddb-lake backfill touch` writes to every item so that the item passes through the
 * table's stream (DynamoDB writes a stream record only for a write that changes the item). Its
 * value is a string: the touch run's start time, ISO-8601 UTC (`2026-11-24T08:43:31.764Z`), the
 * same for every item of one run, so a resumed run rewriting an item it already touched changes
 * nothing and DynamoDB writes no second stream record for it.
 *
 * The name is fixed: it is part of the contract with apply, which leaves this attribute out of
 * the lake table (that filter is a later piece of work; until it lands, the lake table shows it as
 * a string column). The attribute stays on the items in DynamoDB; remove it with an UpdateItem
 * `REMOVE _ddb_lake_touched` if it must go, which sends every item through the stream once more.
 */
export const TOUCH_MARKER_ATTRIBUTE = '_ddb_lake_touched';
