import type { Item } from '../dynamo/attribute-value.ts';
import { bytesToBase64 } from '../dynamo/base64.ts';
import { parseItem } from '../dynamo/parse.ts';
import type { SdkItem } from '../dynamo/sdk-interop.ts';

/**
 * An item of a Scan page, as the SDK returned it, as a validated, normalized DynamoDB JSON item:
 * the result `fromSdkItem` gives, reached by rewriting the SDK's objects in place (B and BS become
 * base64 text, members the SDK left `undefined` are removed) and then validating with the value
 * model (`parseItem`), instead of copying the item first. The page is spent afterwards: its
 * objects belong to the result. This keeps the export's work per item small next to the SDK's
 * own, which is what lets a Scan export keep pace with a plain Scan.
 * @throws InvalidAttributeValueError naming the attribute path, as `parseItem` does (also for a B
 * that is not bytes).
 */
export function itemFromScanPage(item: SdkItem): Item {
  for (const name in item) toJsonShape(item[name]);
  return parseItem(item);
}

function toJsonShape(value: unknown): void {
  if (typeof value !== 'object' || value === null) return;
  const tagged = value as Record<string, unknown>;
  for (const tag in tagged) {
    const inner = tagged[tag];
    if (inner === undefined) {
      delete tagged[tag];
    } else if (tag === 'B') {
      if (inner instanceof Uint8Array) tagged[tag] = bytesToBase64(inner);
    } else if (tag === 'BS') {
      if (Array.isArray(inner)) {
        for (let i = 0; i < inner.length; i++) {
          const element: unknown = inner[i];
          if (element instanceof Uint8Array) inner[i] = bytesToBase64(element);
        }
      }
    } else if (tag === 'L') {
      if (Array.isArray(inner)) for (const element of inner) toJsonShape(element);
    } else if (tag === 'M') {
      if (typeof inner === 'object' && inner !== null) {
        const map = inner as Record<string, unknown>;
        for (const name in map) toJsonShape(map[name]);
      }
    }
  }
}
