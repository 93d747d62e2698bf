import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Item } from '../../src/dynamo/attribute-value.ts';
import { itemToPlainJson } from '../../src/dynamo/plain-json.ts';
import { bucketOf, fnv1a32, keyText } from '../../src/lake/key-identity.ts';
import { KeyAttributeError } from '../../src/lake/model-errors.ts';
import { anyString, attributeName, numberModel } from '../dynamo/arbitraries.ts';

const keys = { partition: 'pk', sort: 'sk' };
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('keyText', () => {
  it('is the canonical plain JSON of the key attributes only', () => {
    const item: Item = {
      sk: { S: 'order#0001' },
      total: { N: '129.95' },
      pk: { S: 'customer#1' },
    };
    expect(keyText(item, keys)).toBe('{"pk":"customer#1","sk":"order#0001"}');
  });

  it('gives one text for numbers DynamoDB treats as equal', () => {
    expect(keyText({ id: { N: '1.0' } }, { partition: 'id' })).toBe(
      keyText({ id: { N: '+1e0' } }, { partition: 'id' }),
    );
    expect(keyText({ id: { N: '00120.50' } }, { partition: 'id' })).toBe('{"id":120.5}');
  });

  it('orders the key attributes by UTF-8 bytes, whichever is the partition key', () => {
    expect(keyText({ b: { S: 'x' }, a: { B: 'AAE=' } }, { partition: 'b', sort: 'a' })).toBe(
      '{"a":"AAE=","b":"x"}',
    );
  });

  it('refuses an item without the sort key, naming the attribute', () => {
    const error = (() => {
      try {
        keyText({ pk: { S: 'a' } }, keys);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(KeyAttributeError);
    expect((error as KeyAttributeError).attribute).toBe('sk');
    expect((error as Error).message).toContain('"sk" is missing');
  });

  it('refuses a key attribute of a type other than S, N or B', () => {
    expect(() => keyText({ pk: { BOOL: true } }, { partition: 'pk' })).toThrow(
      /"pk" has the type BOOL; key attributes are S, N or B/,
    );
    expect(() => keyText({ pk: { SS: ['a'] } }, { partition: 'pk' })).toThrow(KeyAttributeError);
  });

  it('equals itemToPlainJson of the key attributes for any key values', () => {
    const keyValue = fc.oneof(
      anyString.map((S) => ({ S })),
      numberModel.map((n) => ({ N: n.text })),
      fc.uint8Array({ maxLength: 8 }).map((b) => ({ B: Buffer.from(b).toString('base64') })),
    );
    fc.assert(
      fc.property(attributeName, attributeName, keyValue, keyValue, (partition, sort, p, s) => {
        fc.pre(partition !== sort && partition !== 'other' && sort !== 'other');
        const item: Item = { [partition]: p, [sort]: s, other: { S: 'ignored' } };
        expect(keyText(item, { partition, sort })).toBe(itemToPlainJson({ [partition]: p, [sort]: s }));
        expect(keyText(item, { partition })).toBe(itemToPlainJson({ [partition]: p }));
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses an invalid key number with the attribute path', () => {
    expect(() => keyText({ pk: { N: '1e999' } }, { partition: 'pk' })).toThrow(
      /key attribute "pk" is not a valid DynamoDB value: magnitude larger/,
    );
  });
});

describe('bucketOf', () => {
  // Values computed with an independent FNV-1a implementation (Python); "a" and "foobar" are the
  // published FNV-1a 32 test vectors 0xe40c292c and 0xbf9cf968.
  it('hashes with FNV-1a 32 over UTF-8 bytes', () => {
    expect(fnv1a32(utf8(''))).toBe(2166136261);
    expect(fnv1a32(utf8('a'))).toBe(0xe40c292c);
    expect(fnv1a32(utf8('foobar'))).toBe(0xbf9cf968);
    expect(fnv1a32(utf8('{"pk":"é😀"}'))).toBe(1304297625);
  });

  it('places keys in fixed buckets, forever', () => {
    expect(bucketOf('{"pk":"customer#1","sk":"order#0001"}', 16)).toBe(14);
    expect(bucketOf('{"pk":"customer#1","sk":"order#0001"}', 4096)).toBe(2814);
    expect(bucketOf('{"pk":"é😀"}', 16)).toBe(9);
    expect(bucketOf('{"id":12345678901234567890123456789012345678}', 16)).toBe(3);
    expect(bucketOf('{"id":12345678901234567890123456789012345678}', 7)).toBe(5);
    expect(bucketOf('anything', 1)).toBe(0);
  });

  it('refuses bucket counts outside 1 to 4096', () => {
    for (const buckets of [0, -1, 1.5, 4097, Number.NaN])
      expect(() => bucketOf('k', buckets)).toThrow(RangeError);
  });

  it('hashes the UTF-8 bytes TextEncoder gives, lone surrogates included', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' })),
        (text) => {
          expect(bucketOf(text, 4096)).toBe(fnv1a32(utf8(text)) % 4096);
        },
      ),
      { numRuns: 2000 },
    );
    expect(bucketOf('\ud800x', 4096)).toBe(fnv1a32(utf8('\ufffdx')) % 4096);
  });

  it('is always within range and spreads keys over every bucket', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 4096 }), (key, buckets) => {
        const bucket = bucketOf(key, buckets);
        return Number.isInteger(bucket) && bucket >= 0 && bucket < buckets;
      }),
    );
    const counts = new Array(16).fill(0);
    for (let i = 0; i < 16_000; i++)
      counts[bucketOf(keyText({ pk: { S: `customer#${i}` } }, { partition: 'pk' }), 16)]++;
    for (const count of counts) expect(count).toBeGreaterThan(800);
  });
});
