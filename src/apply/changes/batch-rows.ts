import type { StructType } from '../../delta/schema.ts';
import type { LakeRow, LakeValue } from '../../duckdb/lake-value.ts';
import type { Item } from '../../dynamo/attribute-value.ts';
import { itemToRow } from '../../lake/item-to-row.ts';
import { systemCells } from '../../lake/system-cells.ts';
import type { TableLayout } from '../../lake/table-layout.ts';
import type { ReducedChange } from './change-reduction.ts';

/*
 * The lake rows a batch writes: the attribute and conflict cells of an item (item-to-row.ts) plus
 * the system cells of its version (system-cells.ts).
 */

/** The layout and schema rows are written with (after schema evolution). */
export interface RowShape {
  readonly layout: TableLayout;
  readonly schema: StructType;
}

/**
 * The row a winner of a batch leaves in the table: for a put its new item; for a delete with soft
 * deletes the row flagged deleted, with the attributes of `before` (the item as it was: the
 * snapshot item), else of the delete's old image, else its key attributes only. For a delete with
 * hard deletes: the key attributes and the version only, which tells the merge which key goes and
 * at which version (it is never written to the table).
 * @throws RowShapeError when the schema was not evolved for the item (see `winnerItem`).
 */
export function winnerRow(shape: RowShape, winner: ReducedChange, before?: Item): LakeRow {
  const deletes = shape.layout.deletes;
  const item =
    winner.op === 'delete' && deletes === 'soft' && before !== undefined
      ? before
      : winnerItem(winner, deletes);
  const { row } = itemToRow(item, shape.layout, shape.schema);
  return { ...row, ...winnerCells(winner, deletes) };
}

/** The system cells of a winner's row (see `winnerRow`: a hard delete's carry its version as a put's would). */
export function winnerCells(winner: ReducedChange, deletes: 'hard' | 'soft'): Record<string, LakeValue> {
  return systemCells(
    winner.op === 'delete' && deletes === 'hard' ? { ...winner, op: 'put' } : winner,
    deletes,
  );
}

/** The item whose attributes a winner's row holds, for schema evolution (see `winnerRow`). */
export function winnerItem(winner: ReducedChange, deletes: 'hard' | 'soft'): Item {
  if (winner.op === 'put') return winner.item as Item;
  if (deletes === 'soft' && winner.oldImage !== null) return winner.oldImage;
  return winner.keys;
}
