import { type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { AttributeValue, Item } from '../../../src/dynamo/attribute-value.ts';
import { itemToPlainJson } from '../../../src/dynamo/plain-json.ts';
import { fromSdkItem, type SdkItem } from '../../../src/dynamo/sdk-interop.ts';
import { type AttributeDifference, attributeDifferences } from '../../../src/verify/plain-members.ts';

/*
 * The yardstick of the end-to-end tests: a fresh, strongly consistent parallel Scan of the DynamoDB
 * table, item by item as canonical plain JSON (plain-json.ts: numbers by value, sets unordered),
 * keyed by the canonical text of the key attributes, which is what the lake's `_ddb_key` holds.
 * A difference is reported per key and per attribute, so a failure says which item and which value.
 */

/** Canonical plain JSON per key (`_ddb_key` text → item text). */
export type PlainItems = ReadonlyMap<string, string>;

/** The key attribute names of a table. */
export interface TableKeys {
  readonly partition: string;
  readonly sort?: string;
}

/** The canonical key text of an item: plain JSON of its key attributes only. */
export function keyTextOf(item: Item, keys: TableKeys): string {
  const key: Record<string, AttributeValue> = { [keys.partition]: item[keys.partition] as AttributeValue };
  if (keys.sort !== undefined) key[keys.sort] = item[keys.sort] as AttributeValue;
  return itemToPlainJson(key);
}

/**
 * Every item of the table now, read by a parallel Scan with consistent reads, as canonical plain
 * JSON per key. Throws when a key shows up twice (a Scan never returns an item twice).
 */
export async function scanPlainItems(
  client: DynamoDBClient,
  table: string,
  keys: TableKeys,
  segments = 4,
): Promise<Map<string, string>> {
  const items = new Map<string, string>();
  await Promise.all(
    Array.from({ length: segments }, async (_, segment) => {
      let startKey: SdkItem | undefined;
      do {
        const page = await client.send(
          new ScanCommand({
            TableName: table,
            Segment: segment,
            TotalSegments: segments,
            ConsistentRead: true,
            ExclusiveStartKey: startKey as never,
          }),
        );
        for (const raw of page.Items ?? []) {
          const item = fromSdkItem(raw as SdkItem);
          const key = keyTextOf(item, keys);
          if (items.has(key)) throw new Error(`the Scan of ${table} returned the key ${key} twice`);
          items.set(key, itemToPlainJson(item));
        }
        startKey = page.LastEvaluatedKey as SdkItem | undefined;
      } while (startKey !== undefined);
    }),
  );
  return items;
}

export interface TableDiff {
  readonly tableItems: number;
  readonly lakeItems: number;
  /** Keys in the DynamoDB table that the lake lacks. */
  readonly missing: readonly string[];
  /** Keys in the lake that the DynamoDB table lacks (deleted items that came back, or never existed). */
  readonly extra: readonly string[];
  readonly different: readonly {
    readonly key: string;
    readonly attributes: readonly AttributeDifference[];
  }[];
}

/** Compares the table's items with the lake's, key by key and, where they differ, attribute by attribute. */
export function diffPlainItems(table: PlainItems, lake: PlainItems): TableDiff {
  const missing: string[] = [];
  const different: { key: string; attributes: AttributeDifference[] }[] = [];
  for (const [key, text] of table) {
    const lakeText = lake.get(key);
    if (lakeText === undefined) missing.push(key);
    else if (lakeText !== text) different.push({ key, attributes: attributeDifferences(text, lakeText) });
  }
  const extra = [...lake.keys()].filter((key) => !table.has(key));
  return {
    tableItems: table.size,
    lakeItems: lake.size,
    missing: missing.sort(),
    extra: extra.sort(),
    different,
  };
}

/** True when the lake holds exactly the table's items. */
export function isSame(diff: TableDiff): boolean {
  return diff.missing.length === 0 && diff.extra.length === 0 && diff.different.length === 0;
}

/** A readable account of a difference, at most `limit` keys of each kind. */
export function describeDiff(diff: TableDiff, limit = 15): string {
  const lines = [
    `the lake differs from a fresh Scan: ${diff.missing.length} missing, ${diff.extra.length} extra, ` +
      `${diff.different.length} different (the table holds ${diff.tableItems} items, the lake ${diff.lakeItems})`,
  ];
  const more = (count: number) => (count > limit ? [`  … and ${count - limit} more`] : []);
  for (const key of diff.missing.slice(0, limit)) lines.push(`  missing ${key}`);
  lines.push(...more(diff.missing.length));
  for (const key of diff.extra.slice(0, limit)) lines.push(`  extra   ${key}`);
  lines.push(...more(diff.extra.length));
  for (const { key, attributes } of diff.different.slice(0, limit)) {
    lines.push(`  different ${key}`);
    for (const { attribute, table, lake } of attributes) {
      lines.push(`    ${attribute}: table ${table ?? '(absent)'} | lake ${lake ?? '(absent)'}`);
    }
  }
  lines.push(...more(diff.different.length));
  return lines.join('\n');
}

/** Throws an error holding `describeDiff` unless the lake equals the table item for item. */
export function assertSameItems(table: PlainItems, lake: PlainItems, context = ''): void {
  const diff = diffPlainItems(table, lake);
  if (!isSame(diff)) throw new Error(`${context ? `${context}: ` : ''}${describeDiff(diff)}`);
}
