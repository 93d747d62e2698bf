import type { AttributeValue, Item } from '../dynamo/attribute-value.ts';
import { mulberry32 } from '../seeded-random.ts';

/**
 * A deterministic stream of `orders` items (keys `pk`, `sk`) that uses every DynamoDB type: S (also
 * empty), N (integers, money, 38-digit and extreme-exponent numbers), B, BOOL, NULL, SS, NS, BS, L,
 * and M nested three deep, empty maps and lists too (at the top and nested in both); one attribute
 * (`total`) sometimes holds a string, as real tables drift.
 * The same seed gives the same items, so runs and benchmarks are repeatable. `count` may be
 * `Infinity` for a stream that the caller cuts off.
 */
export function* sampleOrders(count: number, seed = 1): Generator<Item> {
  const random = mulberry32(seed);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
  const int = (below: number) => Math.floor(random() * below);
  for (let index = 0; index < count; index++) {
    const customer = 1 + int(Math.ceil(Math.min(count, 4_000_000) / 4));
    const cents = BigInt(int(10_000_000));
    const item: Record<string, AttributeValue> = {
      pk: { S: `customer#${customer}` },
      sk: { S: `order#${String(index).padStart(8, '0')}` },
      total: index % 97 === 13 ? { S: 'n/a' } : { N: money(cents) },
      qty: { N: String(1 + int(20)) },
      paid: { BOOL: random() < 0.7 },
      status: { S: pick(['new', 'paid', 'shipped', 'delivered', 'returned']) },
      tags: { SS: distinct(['gift', 'priority', 'fragile', 'bulk', 'promo'], 1 + int(3), random) },
      lines: {
        L: Array.from({ length: 1 + int(4) }, (_, line) => ({
          M: {
            sku: { S: `${pick(['A', 'B', 'C', 'D'])}-${line + 1}` },
            price: { N: money(BigInt(int(100_000))) },
            qty: { N: String(1 + int(5)) },
          },
        })),
      },
      note: { S: index % 11 === 0 ? '' : `deliver to door ${int(100)} ✓` },
      sig: { B: Buffer.from(Array.from({ length: 4 + int(12) }, () => int(256))).toString('base64') },
      scores: { NS: distinctNumbers(random) },
      meta: {
        M: {
          source: { S: pick(['web', 'app', 'api']) },
          nested: {
            M: {
              deep: {
                L: [
                  { N: '1E+125' },
                  { S: 'x' },
                  { BOOL: false },
                  ...(index % 2 === 0 ? [{ M: {} }, { L: [] }] : []),
                ],
              },
              ...(index % 2 === 1 ? { none: { M: {} }, empty: { L: [] } } : {}),
            },
          },
        },
      },
    };
    if (index % 5 === 0) item['refund'] = { NULL: true };
    if (index % 7 === 0) item['ledger'] = { N: '12345678901234567890123456789012345678' };
    if (index % 9 === 0)
      item['blobs'] = { BS: ['AAE=', '/w==', Buffer.from([2, index % 256]).toString('base64')] };
    if (index % 13 === 0) item['ratio'] = { N: '0.1000000000000000000000000000000000001' };
    if (index % 3 === 0) item['prefs'] = { M: {} };
    if (index % 4 === 0) item['history'] = { L: [] };
    yield item;
  }
}

function money(cents: bigint): string {
  const whole = cents / 100n;
  const fraction = cents % 100n;
  if (fraction === 0n) return String(whole);
  return `${whole}.${String(fraction).padStart(2, '0')}`.replace(/0$/, '');
}

function distinct<T>(values: readonly T[], count: number, random: () => number): T[] {
  const pool = [...values];
  const chosen: T[] = [];
  while (chosen.length < count && pool.length > 0)
    chosen.push(pool.splice(Math.floor(random() * pool.length), 1)[0] as T);
  return chosen;
}

function distinctNumbers(random: () => number): string[] {
  const values = new Set<string>(['-1E-130']);
  const size = 1 + Math.floor(random() * 3);
  while (values.size < size + 1) values.add(String(Math.floor(random() * 1000)));
  return [...values];
}
