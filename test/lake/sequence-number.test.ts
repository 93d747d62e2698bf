import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SequenceNumberError } from '../../src/lake/model-errors.ts';
import {
  comparePaddedSeq,
  isPaddedSeq,
  paddedSeq,
  SNAPSHOT_SEQ,
  unpaddedSeq,
} from '../../src/lake/sequence-number.ts';

const digits = (min: number, max: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });

describe('paddedSeq', () => {
  it('pads to 40 digits', () => {
    expect(paddedSeq('123')).toBe(`${'0'.repeat(37)}123`);
    expect(paddedSeq('9'.repeat(40))).toBe('9'.repeat(40));
    expect(SNAPSHOT_SEQ).toBe('0'.repeat(40));
    expect(paddedSeq('0')).toBe(SNAPSHOT_SEQ);
  });

  it('is idempotent', () => {
    fc.assert(fc.property(digits(1, 40), (seq) => paddedSeq(paddedSeq(seq)) === paddedSeq(seq)));
  });

  it('refuses text that is not 1 to 40 digits', () => {
    for (const bad of ['', '1'.repeat(41), '12a', '-1', ' 1', '1.0', '١٢']) {
      expect(() => paddedSeq(bad)).toThrow(SequenceNumberError);
    }
  });

  it('orders padded text exactly as BigInt orders the numbers', () => {
    fc.assert(
      fc.property(digits(1, 40), digits(1, 40), (a, b) => {
        const byText = comparePaddedSeq(paddedSeq(a), paddedSeq(b));
        const x = BigInt(a);
        const y = BigInt(b);
        return byText === (x < y ? -1 : x > y ? 1 : 0);
      }),
      { numRuns: 2000 },
    );
  });

  it('puts the snapshot below every real stream sequence number', () => {
    fc.assert(
      fc.property(
        digits(21, 40).filter((s) => /[1-9]/.test(s)),
        (seq) => comparePaddedSeq(SNAPSHOT_SEQ, paddedSeq(seq)) < 0,
      ),
    );
  });

  it('round-trips through unpaddedSeq to the number without leading zeros', () => {
    fc.assert(fc.property(digits(1, 40), (seq) => unpaddedSeq(paddedSeq(seq)) === BigInt(seq).toString()));
    expect(unpaddedSeq(SNAPSHOT_SEQ)).toBe('0');
    expect(isPaddedSeq(paddedSeq('5'))).toBe(true);
    expect(isPaddedSeq('5')).toBe(false);
  });

  it('refuses to compare unpadded text', () => {
    expect(() => comparePaddedSeq('9', '10')).toThrow(/not padded to 40 digits/);
  });
});
