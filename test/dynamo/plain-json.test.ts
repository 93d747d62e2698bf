import { describe, expect, it } from 'vitest';
import type { AttributeValue, Item } from '../../src/dynamo/attribute-value.ts';
import { InvalidAttributeValueError } from '../../src/dynamo/errors.ts';
import { compareUtf8, itemToPlainJson, valueToPlainJson } from '../../src/dynamo/plain-json.ts';

describe('plain JSON', () => {
  it('writes every type without its tag, numbers as exact JSON number literals', () => {
    const item: Item = {
      s: { S: 'x "quoted"' },
      n: { N: '12345678901234567890123456789012345678' },
      tiny: { N: '-1E-130' },
      b: { B: '3q2+7w==' },
      t: { BOOL: true },
      z: { NULL: true },
      l: { L: [{ N: '1.50' }, { S: '' }, { L: [] }, { M: {} }] },
    };
    expect(itemToPlainJson(item)).toBe(
      '{"b":"3q2+7w==","l":[1.5,"",[],{}],"n":12345678901234567890123456789012345678,' +
        '"s":"x \\"quoted\\"","t":true,' +
        `"tiny":-0.${'0'.repeat(129)}1,"z":null}`,
    );
  });

  it('writes 1E+125 as its 126 digits, which JSON.parse reads as a number', () => {
    const text = valueToPlainJson({ N: '1E+125' });
    expect(text).toBe(`1${'0'.repeat(125)}`);
    expect(JSON.parse(text)).toBe(1e125);
  });

  it('sorts map keys by UTF-8 bytes, not by UTF-16 units', () => {
    // U+1F600 (surrogates D83D DE00) is above U+FF5E in code point and UTF-8 order, below in UTF-16.
    const item: Item = { '\u{1F600}': { N: '1' }, '\uFF5E': { N: '2' }, b: { N: '3' }, a: { N: '4' } };
    expect(itemToPlainJson(item)).toBe('{"a":4,"b":3,"\uFF5E":2,"\u{1F600}":1}');
  });

  it('sorts sets so that element order does not matter: SS by bytes, NS by value, BS by bytes', () => {
    expect(valueToPlainJson({ SS: ['b', '\u{1F600}', 'a', '\uFF5E', ''] })).toBe(
      '["","a","b","\uFF5E","\u{1F600}"]',
    );
    expect(valueToPlainJson({ NS: ['10', '-1E-130', '9', '1E+2', '-3'] })).toBe(
      `[-3,-0.${'0'.repeat(129)}1,9,10,100]`,
    );
    // Bytes 0x00 < 0x00 0x01 < 0x3e < 0xff; their base64 texts sort differently as strings.
    expect(valueToPlainJson({ BS: ['/w==', 'Pg==', 'AAE=', 'AA=='] })).toBe('["AA==","AAE=","Pg==","/w=="]');
  });

  it('gives equal text for equal values however they were written', () => {
    const a: Item = { m: { M: { y: { NS: ['1.0', '2'] }, x: { B: 'AB==' } } }, n: { N: '-0' } };
    const b: Item = { n: { N: '0e9' }, m: { M: { x: { B: 'AA==' }, y: { NS: ['2', '1'] } } } };
    expect(itemToPlainJson(a)).toBe(itemToPlainJson(b));
    expect(itemToPlainJson(a)).not.toBe(itemToPlainJson({ ...b, n: { N: '1' } }));
  });

  it('refuses an invalid value, naming its path', () => {
    const bad = { L: [{ S: 'x' }, { N: 'one' }] } as unknown as AttributeValue;
    expect(() => valueToPlainJson(bad, 'list')).toThrow(InvalidAttributeValueError);
    expect(() => valueToPlainJson(bad, 'list')).toThrow(/list\[1\]/);
  });

  it('orders strings by code point', () => {
    expect(compareUtf8('a', 'b')).toBe(-1);
    expect(compareUtf8('ab', 'a')).toBe(1);
    expect(compareUtf8('\u{10000}', '\uFFFF')).toBe(1);
    expect(compareUtf8('\uE000', '\uD7FF')).toBe(1);
    expect(compareUtf8('x', 'x')).toBe(0);
  });
});
