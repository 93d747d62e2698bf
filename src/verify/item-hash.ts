import { createHash } from 'node:crypto';

/*
 * The canonical hash verify compares: SHA-256 of an item's canonical plain JSON (plain-json.ts for
 * a DynamoDB item, row-to-item.ts for a lake row — the same text for the same item), its first 16
 * bytes as 32 hex digits. Two items hash alike exactly when DynamoDB holds them equal (numbers by
 * value, sets unordered), barring a 128-bit collision.
 */

/** The hash of a canonical plain JSON item text: 32 lowercase hex digits. Pure. */
export function itemHash(plainJson: string): string {
  return createHash('sha256').update(plainJson, 'utf8').digest('hex').slice(0, 32);
}
