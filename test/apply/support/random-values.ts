import type { AttributeValue, DynamoType, Item } from '../../../src/dynamo/attribute-value.ts';
import { bytesToBase64 } from '../../../src/dynamo/base64.ts';
import { normalizeNumber } from '../../../src/dynamo/number.ts';
import type { SeededRandom } from './seeded-random.ts';

/*
 * Random DynamoDB values of every type, leaning on the cases that break lossy pipelines: numbers
 * with 38 significant digits, at both ends of DynamoDB's range (1E+125, -1E-130), just past int64,
 * with trailing zeros that DynamoDB drops; strings with quotes, escapes and characters above U+FFFF;
 * empty strings and binaries; sets whose elements are equal only after normalization are avoided
 * (DynamoDB refuses them); lists and maps nested a few levels deep.
 */

/** The ten types, each with the same weight. */
export const VALUE_TYPES: readonly DynamoType[] = ['S', 'N', 'B', 'BOOL', 'NULL', 'SS', 'NS', 'BS', 'L', 'M'];

const EXTREME_NUMBERS = [
  '1E+125',
  '-1E+125',
  '-1E-130',
  '1E-130',
  '9.9999999999999999999999999999999999999E+125',
  '-9.9999999999999999999999999999999999999E-120',
  '12345678901234567890123456789012345678',
  '-0.1000000000000000000000000000000000001',
  '9223372036854775807',
  '9223372036854775808',
  '-9223372036854775809',
  '0',
  '-0',
  '12.50',
  '1.0',
] as const;

const STRINGS = [
  '',
  'plain',
  'quote " and \\ backslash',
  'tab\tand\nnewline',
  'ünïcödé',
  'emoji 😀 above U+FFFF',
  'private use \uE000 next to 😀',
  '{"looks":"like json"}',
  '123',
  'null',
] as const;

/** A number DynamoDB accepts, often an awkward one. */
export function randomNumber(random: SeededRandom): string {
  switch (random.weighted({ small: 4, money: 3, wide: 2, extreme: 2, fraction: 1 })) {
    case 'small':
      return String(random.between(-1000, 1000));
    case 'money':
      return `${random.chance(0.2) ? '-' : ''}${random.int(100_000)}.${random.digits(2)}`;
    case 'wide':
      // 38 significant digits, as an integer or with the point somewhere inside.
      return insertPoint(`${random.chance(0.3) ? '-' : ''}${random.digits(38, true)}`, random);
    case 'fraction':
      return `0.${random.digits(random.between(1, 37))}1`;
    default:
      return random.pick(EXTREME_NUMBERS);
  }
}

function insertPoint(digits: string, random: SeededRandom): string {
  if (random.chance(0.5)) return digits;
  const sign = digits.startsWith('-') ? '-' : '';
  const body = digits.slice(sign.length);
  const at = random.between(1, body.length - 1);
  return `${sign}${body.slice(0, at)}.${body.slice(at)}`;
}

/** A string, sometimes empty, sometimes with escapes or astral characters. */
export function randomString(random: SeededRandom): string {
  return random.chance(0.5) ? random.pick(STRINGS) : `text-${random.digits(random.between(1, 6))}`;
}

/** Base64 of 0 to 12 random bytes (`minBytes` 1 for set elements, which must not be empty). */
export function randomBinary(random: SeededRandom, minBytes = 0): string {
  return bytesToBase64(random.bytes(random.between(minBytes, 12)));
}

function distinctBy(count: number, make: () => string, identity: (value: string) => string): string[] {
  const seen = new Map<string, string>();
  for (let attempt = 0; seen.size < count && attempt < count * 10; attempt++) {
    const value = make();
    if (!seen.has(identity(value))) seen.set(identity(value), value);
  }
  return [...seen.values()];
}

/**
 * A value of `type` (any type when omitted); lists and maps hold values of any type down to
 * `depth` more levels.
 */
export function randomValue(random: SeededRandom, type?: DynamoType, depth = 2): AttributeValue {
  const chosen =
    type ?? random.pick(depth > 0 ? VALUE_TYPES : VALUE_TYPES.filter((t) => t !== 'L' && t !== 'M'));
  switch (chosen) {
    case 'S':
      return { S: randomString(random) };
    case 'N':
      return { N: randomNumber(random) };
    case 'B':
      return { B: randomBinary(random) };
    case 'BOOL':
      return { BOOL: random.chance(0.5) };
    case 'NULL':
      return { NULL: true };
    case 'SS':
      return {
        SS: distinctBy(
          random.between(1, 4),
          () => randomString(random) || 'x',
          (s) => s,
        ),
      };
    case 'NS':
      return { NS: distinctBy(random.between(1, 4), () => randomNumber(random), normalizeNumber) };
    case 'BS':
      return {
        BS: distinctBy(
          random.between(1, 3),
          () => randomBinary(random, 1),
          (b) => b,
        ),
      };
    case 'L':
      return { L: Array.from({ length: random.int(4) }, () => randomValue(random, undefined, depth - 1)) };
    case 'M':
      return { M: randomMap(random, depth - 1) };
  }
}

/**
 * A map of 0 to 3 entries with names that need quoting in JSON now and then. Empty maps go through
 * the stream as `{"M":{}}` on DynamoDB and on the DynamoDB Local build the project runs (not on 3.x:
 * docs/DESIGN.md, pitfalls).
 */
export function randomMap(random: SeededRandom, depth: number): Item {
  const map: Record<string, AttributeValue> = {};
  const count = random.between(0, 3);
  for (let i = 0; i < count; i++) {
    const name = random.pick(['a', 'b', 'nested', 'ключ', 'with space', 'q"uote', '😀', `k${random.int(5)}`]);
    map[name] = randomValue(random, undefined, depth);
  }
  return map;
}
