import type { BackfillTable, CapacityTarget } from './backfill-table.ts';
import { READ_UNIT_BYTES, writeUnits } from './item-size.ts';
import { TOUCH_MARKER_ATTRIBUTE } from './touch-marker.ts';

/**
 * Default prices, in US dollars per million request units: on-demand, standard table class,
 * us-east-1 (AWS pricing page, as of 2025). Other regions and the Standard-IA class differ, and a
 * provisioned table pays for its capacity by the hour instead: pass the price that applies.
 */
export const DEFAULT_TOUCH_PRICES = {
  /** Per million write request units. */
  writePerMillion: 0.625,
  /** Per million read request units (eventually consistent reads cost half a unit per 4 KB). */
  readPerMillion: 0.125,
} as const;

/** What touching the table will cost, shown before anything is written. */
export interface TouchEstimate {
  readonly table: string;
  readonly billingMode: 'PROVISIONED' | 'PAY_PER_REQUEST';
  /** Items still to touch: DescribeTable's ItemCount less what a resumed run already did. */
  readonly items: number;
  /** DescribeTable's figures are refreshed about every six hours; false when it reports no items. */
  readonly itemCountKnown: boolean;
  /** TableSizeBytes / ItemCount (0 when unknown). */
  readonly averageItemBytes: number;
  /** Bytes the marker adds to an item (name and value). */
  readonly markerBytes: number;
  /** Write units of one touch of an average item, with the marker. */
  readonly writeUnitsPerItem: number;
  /** Global secondary indexes that project all attributes: each touch writes them too. */
  readonly indexesWritten: readonly string[];
  /** Write units in all (table and the indexes above). */
  readonly writeUnits: number;
  /** Read units of the Scan that finds the items (eventually consistent). */
  readonly readUnits: number;
  readonly pricePerMillionWriteUnits: number;
  readonly pricePerMillionReadUnits: number;
  /** Writes and reads at the prices above, in US dollars. */
  readonly costUsd: number;
  /** Write units per second the run may use, and time at that rate (null when unlimited). */
  readonly writeUnitsPerSecond: number;
  readonly durationMs: number | null;
  /** Set when an unfinished run is continued. */
  readonly resuming: { readonly runId: string; readonly itemsDone: number } | null;
}

/**
 * Estimates a touch run from DescribeTable's figures: every item is assumed to be of the average
 * size, so items much larger than the rest make the true cost higher (each write is billed per
 * started KB of the larger of the item before and after). Items of indexes that project all
 * attributes are counted as written once per such index. Pure.
 */
export function estimateTouch(
  table: BackfillTable,
  options: {
    readonly marker: string;
    readonly writeTarget: CapacityTarget;
    readonly pricePerMillionWriteUnits?: number | undefined;
    readonly pricePerMillionReadUnits?: number | undefined;
    readonly resuming?: { readonly runId: string; readonly itemsDone: number } | null | undefined;
  },
): TouchEstimate {
  const itemCountKnown = table.itemCount > 0;
  const averageItemBytes = itemCountKnown ? table.sizeBytes / table.itemCount : 0;
  const markerBytes = Buffer.byteLength(TOUCH_MARKER_ATTRIBUTE) + Buffer.byteLength(options.marker);
  const writeUnitsPerItem = writeUnits(averageItemBytes + markerBytes);
  const resuming = options.resuming ?? null;
  const items = Math.max(0, table.itemCount - (resuming?.itemsDone ?? 0));
  const share = table.itemCount > 0 ? items / table.itemCount : 0;
  const totalWriteUnits = items * writeUnitsPerItem * (1 + table.indexesProjectingAll.length);
  const readUnits = Math.ceil((table.sizeBytes * share) / READ_UNIT_BYTES) / 2;
  const writePrice = options.pricePerMillionWriteUnits ?? DEFAULT_TOUCH_PRICES.writePerMillion;
  const readPrice = options.pricePerMillionReadUnits ?? DEFAULT_TOUCH_PRICES.readPerMillion;
  const rate = options.writeTarget.unitsPerSecond;
  return {
    table: table.name,
    billingMode: table.billingMode,
    items,
    itemCountKnown,
    averageItemBytes,
    markerBytes,
    writeUnitsPerItem,
    indexesWritten: table.indexesProjectingAll,
    writeUnits: totalWriteUnits,
    readUnits,
    pricePerMillionWriteUnits: writePrice,
    pricePerMillionReadUnits: readPrice,
    costUsd: (totalWriteUnits / 1e6) * writePrice + (readUnits / 1e6) * readPrice,
    writeUnitsPerSecond: rate,
    durationMs: Number.isFinite(rate) ? (totalWriteUnits / rate) * 1000 : null,
    resuming,
  };
}
