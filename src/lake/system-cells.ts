import { formatTimestampMicros } from '../duckdb/lake-text.ts';
import type { LakeValue } from '../duckdb/lake-value.ts';
import type { ChangeOrder } from './change-order.ts';
import { type DeletesMode, SYSTEM_COLUMN } from './table-layout.ts';

/*
 * The system cells of a row (table-layout.ts, SYSTEM_COLUMN) from the version it holds: the same
 * values every writer of the table uses, so a row rebuilt from the same change is the same row.
 */

/** What the system cells are made of: a winner of change-reduction.ts has all of it. */
export interface SystemCellSource {
  readonly key: string;
  readonly bucket: number;
  readonly order: ChangeOrder;
  readonly op: 'put' | 'delete';
  readonly ttl: boolean;
}

/** The last `_ddb_ts` text made: a batch's records mostly share their second (DynamoDB's stream times). */
let lastTs: { micros: bigint; text: string } = { micros: 0n, text: formatTimestampMicros(0n, true) };

function tsText(micros: bigint): string {
  if (micros !== lastTs.micros) lastTs = { micros, text: formatTimestampMicros(micros, true) };
  return lastTs.text;
}

/**
 * `_ddb_key`, `_ddb_bucket` (a JS number, Delta integer), `_ddb_seq` (40 digits), `_ddb_ts` (ISO-8601
 * UTC with microseconds), `_ddb_source`, and in soft mode `_ddb_deleted` / `_ddb_ttl_expired`. A
 * delete in hard mode has no row; asking for its cells is a caller mistake. Pure.
 * @throws RangeError for a delete in hard mode.
 */
export function systemCells(source: SystemCellSource, deletes: DeletesMode): Record<string, LakeValue> {
  if (source.op === 'delete' && deletes === 'hard') {
    throw new RangeError(`a hard delete of ${source.key} has no row and so no system cells`);
  }
  const cells: Record<string, LakeValue> = {
    [SYSTEM_COLUMN.key]: source.key,
    [SYSTEM_COLUMN.bucket]: source.bucket,
    [SYSTEM_COLUMN.seq]: source.order.seq,
    [SYSTEM_COLUMN.ts]: tsText(source.order.tsMicros),
    [SYSTEM_COLUMN.source]: source.order.source,
  };
  if (deletes === 'soft') {
    cells[SYSTEM_COLUMN.deleted] = source.op === 'delete';
    cells[SYSTEM_COLUMN.ttlExpired] = source.op === 'delete' && source.ttl;
  }
  return cells;
}
