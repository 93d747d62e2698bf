import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidNumberError } from '../../src/dynamo/errors.ts';
import {
  checkNumber,
  compareNumbers,
  composeNumber,
  decomposeNumber,
  isCanonicalNumber,
  isValidNumber,
  normalizeNumber,
  numberShape,
  numberToBigInt,
  numberToUnscaled,
  sortNumbers,
} from '../../src/dynamo/number.ts';
import { numberModel } from './arbitraries.ts';
import { canonicalFromScaled, SCALE, scaledFromText } from './reference.ts';

const ONE_E_125 = `1${'0'.repeat(125)}`;
const ONE_E_MINUS_130 = `0.${'0'.repeat(129)}1`;

describe('number syntax', () => {
  // Each of these was accepted by DynamoDB Local 3.3.0 and answered with the canonical text shown.
  it.each([
    ['3', '3'],
    ['-7.1234', '-7.1234'],
    ['-17e5', '-1700000'],
    ['-17.4E37', `-174${'0'.repeat(36)}`],
    ['+3', '3'],
    ['.123', '0.123'],
    ['0001.23', '1.23'],
    ['1e+5', '100000'],
    ['1E+0', '1'],
    ['1.', '1'],
    ['-.5', '-0.5'],
    ['+.5', '0.5'],
    ['123.4500', '123.45'],
    ['-00.0100', '-0.01'],
    ['1e0000000000000000000005', '100000'],
    ['1E+125', ONE_E_125],
    ['-1E-130', `-${ONE_E_MINUS_130}`],
    ['10E-131', ONE_E_MINUS_130],
    ['0.1E-129', ONE_E_MINUS_130],
  ])('accepts %s and normalizes it to the text DynamoDB returns', (text, canonical) => {
    expect(normalizeNumber(text)).toBe(canonical);
    expect(isValidNumber(text)).toBe(true);
  });

  it.each(['0', '-0', '+0', '00', '0.000', '-0.0e5', '0e1000', '0.', '-.0', '0e2147483647', '0e-2147483647'])(
    'writes the zero %s as 0',
    (text) => {
      expect(normalizeNumber(text)).toBe('0');
    },
  );

  it.each([
    '',
    '-',
    '+',
    '.',
    'e5',
    '1e',
    '1e+',
    '1..2',
    '1.2.3',
    '1e5.5',
    ' 1',
    '1 ',
    'NaN',
    'Infinity',
    '-Infinity',
    '0x10',
    '1_0',
    '1d',
    '1f',
    '--1',
    '+-1',
    '1e--1',
    '1e++1',
    '١٢٣',
    '0e99999999999',
    '0.5e2147483648',
    '1e-2147483648',
    '0.0e-2147483647',
  ])('refuses %j as number syntax', (text) => {
    const result = checkNumber(text);
    expect(typeof result === 'string' ? result : result.kind).toBe('syntax');
    expect(() => normalizeNumber(text)).toThrow(InvalidNumberError);
  });

  it('returns the very same string when the text is already canonical', () => {
    const text = ['12', '3.5'].join('');
    expect(checkNumber(text)).toBe(text);
    expect(isCanonicalNumber('123.5')).toBe(true);
    expect(isCanonicalNumber('123.50')).toBe(false);
    expect(isCanonicalNumber('-0')).toBe(false);
    expect(isCanonicalNumber('0.5')).toBe(true);
    expect(isCanonicalNumber('.5')).toBe(false);
    expect(isCanonicalNumber('1e2')).toBe(false);
  });
});

describe('number limits', () => {
  it('accepts 38 significant digits and refuses 39, counting neither leading nor trailing zeros', () => {
    expect(normalizeNumber('12345678901234567890123456789012345678')).toBe(
      '12345678901234567890123456789012345678',
    );
    expect(normalizeNumber(`1${'0'.repeat(39)}`)).toBe(`1${'0'.repeat(39)}`);
    expect(normalizeNumber(`1.${'0'.repeat(45)}`)).toBe('1');
    expect(normalizeNumber(`0.${'0'.repeat(50)}1`)).toBe(`0.${'0'.repeat(50)}1`);
    const result = checkNumber('123456789012345678901234567890123456789');
    expect(typeof result === 'string' ? result : result.kind).toBe('precision');
  });

  it('accepts magnitudes from 1E-130 to 9.9999999999999999999999999999999999999E+125 and refuses beyond', () => {
    const kind = (text: string) => {
      const result = checkNumber(text);
      return typeof result === 'string' ? 'ok' : result.kind;
    };
    expect(kind('9.9999999999999999999999999999999999999E+125')).toBe('ok');
    expect(kind('-9.9999999999999999999999999999999999999E+125')).toBe('ok');
    expect(kind('1E126')).toBe('overflow');
    expect(kind('-10E125')).toBe('overflow');
    expect(kind('99999999999999999999999999999999999999E+89')).toBe('overflow');
    expect(kind('1E-130')).toBe('ok');
    expect(kind('1E-131')).toBe('underflow');
    expect(kind('-0.9E-130')).toBe('underflow');
    expect(kind('1e2147483647')).toBe('overflow');
  });

  it('checks precision before magnitude, as DynamoDB does', () => {
    const result = checkNumber('123456789012345678901234567890123456789E200');
    expect(typeof result === 'string' ? result : result.kind).toBe('precision');
  });

  it('names the text and the reason in the error', () => {
    expect(() => normalizeNumber('1E126')).toThrow(/"1E126" is not a DynamoDB number: magnitude larger/);
    try {
      normalizeNumber('abc');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidNumberError);
      expect((error as InvalidNumberError).code).toBe('INVALID_NUMBER');
      expect((error as InvalidNumberError).text).toBe('abc');
    }
  });
});

describe('number decomposition and shape', () => {
  it('splits a number into sign, significant digits and exponent', () => {
    expect(decomposeNumber('-12.50')).toEqual({ negative: true, digits: '125', exponent: -1 });
    expect(decomposeNumber('1200')).toEqual({ negative: false, digits: '12', exponent: 2 });
    expect(decomposeNumber('-0.0')).toEqual({ negative: false, digits: '0', exponent: 0 });
    expect(decomposeNumber('1E+125')).toEqual({ negative: false, digits: '1', exponent: 125 });
    expect(composeNumber({ negative: true, digits: '00125', exponent: -3 })).toBe('-0.125');
    expect(() => composeNumber({ negative: false, digits: '1.5', exponent: 0 })).toThrow(InvalidNumberError);
  });

  it('gives precision, scale, integer digits and the int64 fit', () => {
    expect(numberShape('129.95')).toMatchObject({
      precision: 5,
      scale: 2,
      integerDigits: 3,
      isInteger: false,
    });
    expect(numberShape('0.001')).toMatchObject({
      precision: 3,
      scale: 3,
      integerDigits: 0,
      significantDigits: 1,
    });
    expect(numberShape('0')).toMatchObject({ precision: 1, scale: 0, isInteger: true, fitsInt64: true });
    expect(numberShape('1E+125')).toMatchObject({
      precision: 126,
      scale: 0,
      integerDigits: 126,
      fitsInt64: false,
    });
    expect(numberShape('-1E-130')).toMatchObject({ precision: 130, scale: 130, isInteger: false });
    expect(numberShape('9223372036854775807').fitsInt64).toBe(true);
    expect(numberShape('-9223372036854775808').fitsInt64).toBe(true);
    expect(numberShape('9223372036854775808').fitsInt64).toBe(false);
    expect(numberShape('-9223372036854775809').fitsInt64).toBe(false);
    expect(numberShape('1.5').fitsInt64).toBe(false);
  });

  it('converts to exact BigInts and unscaled decimals, refusing to round', () => {
    expect(numberToBigInt('1E+30')).toBe(10n ** 30n);
    expect(numberToBigInt('-42.000')).toBe(-42n);
    expect(() => numberToBigInt('0.5')).toThrow(/would be rounded/);
    expect(numberToUnscaled('-129.95', 4)).toBe(-1299500n);
    expect(() => numberToUnscaled('1.005', 2)).toThrow(InvalidNumberError);
  });

  it('orders numbers by value whatever their spelling', () => {
    expect(compareNumbers('1', '1.0')).toBe(0);
    expect(compareNumbers('-0', '0e5')).toBe(0);
    expect(compareNumbers('12', '125')).toBe(-1);
    expect(compareNumbers('-12', '-125')).toBe(1);
    expect(compareNumbers('13', '125')).toBe(-1);
    expect(compareNumbers('-1E-130', '0')).toBe(-1);
    expect(compareNumbers('1E+125', '9.9999999999999999999999999999999999999E+124')).toBe(1);
    expect(() => compareNumbers('1', 'x')).toThrow(InvalidNumberError);
  });
});

describe('number properties', () => {
  it('normalizes every accepted spelling to the exact value, and normalizing is idempotent', () => {
    fc.assert(
      fc.property(numberModel, (n) => {
        const canonical = normalizeNumber(n.text);
        expect(canonical).toBe(canonicalFromScaled(n.scaled));
        expect(normalizeNumber(canonical)).toBe(canonical);
        expect(checkNumber(canonical)).toBe(canonical);
        expect(isCanonicalNumber(canonical)).toBe(true);
        expect(scaledFromText(canonical)).toBe(n.scaled);
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with an exact BigInt comparison of the scaled values', () => {
    fc.assert(
      fc.property(numberModel, numberModel, (a, b) => {
        const expected = a.scaled < b.scaled ? -1 : a.scaled > b.scaled ? 1 : 0;
        expect(compareNumbers(a.text, b.text)).toBe(expected);
        expect(compareNumbers(b.text, a.text)).toBe(-expected || 0);
      }),
      { numRuns: 2000 },
    );
  });

  it('sortNumbers orders numbers as an exact BigInt sort of their scaled values, leaving its input alone', () => {
    fc.assert(
      fc.property(fc.array(numberModel, { maxLength: 12 }), (numbers) => {
        const texts = numbers.map((n) => n.text);
        const before = texts.slice();
        const sorted = sortNumbers(texts);
        expect(texts).toEqual(before);
        const scaledOf = new Map(numbers.map((n) => [n.text, n.scaled]));
        const expected = numbers.map((n) => n.scaled).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        expect(sorted.map((text) => scaledOf.get(text))).toEqual(expected);
      }),
      { numRuns: 1000 },
    );
    expect(() => sortNumbers(['1', 'x'])).toThrow(InvalidNumberError);
  });

  it('decomposes and composes back to the same canonical text, with shape matching the digits', () => {
    fc.assert(
      fc.property(numberModel, (n) => {
        const parts = decomposeNumber(n.text);
        expect(composeNumber(parts)).toBe(normalizeNumber(n.text));
        const magnitude = BigInt(parts.digits) * 10n ** BigInt(parts.exponent + SCALE);
        expect(parts.negative ? -magnitude : magnitude).toBe(n.scaled);
        const shape = numberShape(n.text);
        const plain = normalizeNumber(n.text).replace('-', '');
        const [whole = '', fraction = ''] = plain.split('.');
        expect(shape.scale).toBe(fraction.length);
        expect(shape.integerDigits).toBe(whole === '0' ? 0 : whole.length);
        expect(shape.isInteger).toBe(fraction.length === 0);
        const int64 = shape.isInteger && n.scaled / 10n ** BigInt(SCALE);
        expect(shape.fitsInt64).toBe(
          shape.isInteger && (int64 as bigint) >= -(2n ** 63n) && (int64 as bigint) < 2n ** 63n,
        );
      }),
      { numRuns: 2000 },
    );
  });
});
