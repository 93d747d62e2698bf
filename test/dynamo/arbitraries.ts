/*
 * fast-check generators for DynamoDB values: numbers anywhere in DynamoDB's range (38 digits,
 * 1E+125, -1E-130, …) written in every syntax DynamoDB accepts, sets without duplicates, nesting.
 */
import fc from 'fast-check';
import { type Model, type NumberModel, SCALE } from './reference.ts';

const MAX_LEADING = 125;
const MIN_LEADING = -130;

interface NumberSpec {
  readonly negative: boolean;
  /** Significant digits, no leading or trailing zero. */
  readonly digits: string;
  /** Power of ten of the last digit. */
  readonly exponent: number;
}

const significantDigits: fc.Arbitrary<string> = fc
  .oneof(fc.integer({ min: 1, max: 38 }), fc.constant(38), fc.constant(1))
  .chain((length) =>
    length === 1
      ? fc.integer({ min: 1, max: 9 }).map(String)
      : fc
          .tuple(
            fc.integer({ min: 1, max: 9 }),
            fc.array(fc.integer({ min: 0, max: 9 }), { minLength: length - 2, maxLength: length - 2 }),
            fc.integer({ min: 1, max: 9 }),
          )
          .map(([first, middle, last]) => `${first}${middle.join('')}${last}`),
  );

const leadingExponent: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: -40, max: 40 }),
  fc.integer({ min: MIN_LEADING, max: MAX_LEADING }),
  fc.constantFrom(MIN_LEADING, MAX_LEADING, MIN_LEADING + 1, MAX_LEADING - 1, 0, -1, 18, 19, 37, 38),
);

const numberSpec: fc.Arbitrary<NumberSpec> = fc
  .record({ negative: fc.boolean(), digits: significantDigits, leading: leadingExponent })
  .map(({ negative, digits, leading }) => ({ negative, digits, exponent: leading - digits.length + 1 }));

const specials: NumberSpec[] = [
  { negative: false, digits: '1', exponent: 125 },
  { negative: true, digits: '1', exponent: -130 },
  { negative: false, digits: '1', exponent: -130 },
  { negative: false, digits: '9'.repeat(38), exponent: 125 - 37 },
  { negative: true, digits: '12345678901234567890123456789012345678', exponent: 0 },
  { negative: false, digits: '1000000000000000000000000000000000001', exponent: -37 },
  { negative: false, digits: '9223372036854775807', exponent: 0 },
  { negative: true, digits: '9223372036854775808', exponent: 0 },
  { negative: false, digits: '9223372036854775808', exponent: 0 },
];

/** How to write a number: where the point goes, padding zeros, sign and exponent spelling. */
interface Spelling {
  readonly shift: number;
  readonly leadingZeros: number;
  readonly trailingZeros: number;
  readonly plus: boolean;
  readonly exponentMark: 'e' | 'E';
  readonly exponentPlus: boolean;
  readonly exponentZeros: number;
  readonly plain: boolean;
}

const spelling: fc.Arbitrary<Spelling> = fc.record({
  shift: fc.integer({ min: -3, max: 40 }),
  leadingZeros: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3 })),
  trailingZeros: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3 })),
  plus: fc.boolean(),
  exponentMark: fc.constantFrom('e' as const, 'E' as const),
  exponentPlus: fc.boolean(),
  exponentZeros: fc.integer({ min: 0, max: 2 }),
  plain: fc.boolean(),
});

/** Writes digits × 10^exponent with the point placed `shift` digits from the right, plus exponent. */
function spell(spec: NumberSpec, how: Spelling): string {
  const sign = spec.negative ? '-' : how.plus ? '+' : '';
  if (how.plain && spec.exponent >= -170 && spec.exponent <= 130) {
    // Plain notation with padding zeros on both sides.
    const padded = spec.exponent >= 0 ? spec.digits + '0'.repeat(spec.exponent) : spec.digits;
    const scale = spec.exponent >= 0 ? 0 : -spec.exponent;
    const whole = padded.length > scale ? padded.slice(0, padded.length - scale) : '0';
    const fraction =
      padded.length > scale ? padded.slice(padded.length - scale) : padded.padStart(scale, '0');
    const zeros = '0'.repeat(how.trailingZeros);
    const body = fraction + zeros === '' ? whole : `${whole}.${fraction}${zeros}`;
    return sign + '0'.repeat(how.leadingZeros) + body;
  }
  const mantissaDigits = spec.digits + '0'.repeat(how.trailingZeros);
  const shift = Math.min(how.shift, mantissaDigits.length + 5);
  let mantissa: string;
  if (shift <= 0) mantissa = mantissaDigits + '0'.repeat(-shift);
  else if (shift >= mantissaDigits.length)
    mantissa = `.${'0'.repeat(shift - mantissaDigits.length)}${mantissaDigits}`;
  else
    mantissa = `${mantissaDigits.slice(0, mantissaDigits.length - shift)}.${mantissaDigits.slice(mantissaDigits.length - shift)}`;
  const exponent = spec.exponent - how.trailingZeros + Math.max(shift, 0) - Math.max(-shift, 0);
  const exponentSign = exponent < 0 ? '-' : how.exponentPlus ? '+' : '';
  return `${sign}${'0'.repeat(how.leadingZeros)}${mantissa}${how.exponentMark}${exponentSign}${'0'.repeat(how.exponentZeros)}${Math.abs(exponent)}`;
}

function scaledOf(spec: NumberSpec): bigint {
  const magnitude = BigInt(spec.digits) * 10n ** BigInt(spec.exponent + SCALE);
  return spec.negative ? -magnitude : magnitude;
}

const zeroTexts = ['0', '-0', '+0', '0.000', '-0.0e5', '00', '0e1000', '.0', '0.', '-.0E-7'];

/** A valid DynamoDB number, in any accepted spelling, with its exact value. */
export const numberModel: fc.Arbitrary<NumberModel> = fc
  .oneof(
    { weight: 8, arbitrary: fc.tuple(numberSpec, spelling) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...specials), spelling) },
    { weight: 1, arbitrary: fc.constantFrom(...zeroTexts).map((text) => [text] as const) },
  )
  .map((generated) => {
    if (generated.length === 1) return { text: generated[0], scaled: 0n };
    const [spec, how] = generated;
    return { text: spell(spec, how), scaled: scaledOf(spec) };
  });

/** Strings with any code point, and plain ASCII ones. */
export const anyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
);

/** Non-empty attribute names; `__proto__` is left to dedicated tests (the SDK's unmarshall mishandles it). */
export const attributeName: fc.Arbitrary<string> = fc
  .oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 4 }))
  .filter((name) => name !== '__proto__');

const bytes = fc.uint8Array({ maxLength: 12 });
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

const { value } = fc.letrec<{ value: Model }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 4, depthSize: 'small' },
    anyString.map((s): Model => ({ t: 'S', s })),
    numberModel.map((n): Model => ({ t: 'N', n })),
    bytes.map((b): Model => ({ t: 'B', b })),
    fc.boolean().map((bool): Model => ({ t: 'BOOL', bool })),
    fc.constant<Model>({ t: 'NULL' }),
    fc.uniqueArray(anyString, { minLength: 1, maxLength: 5 }).map((ss): Model => ({ t: 'SS', ss })),
    fc
      .uniqueArray(numberModel, { minLength: 1, maxLength: 5, selector: (n) => n.scaled })
      .map((ns): Model => ({ t: 'NS', ns })),
    fc
      .uniqueArray(bytes, { minLength: 1, maxLength: 5, selector: b64 })
      .map((bs): Model => ({ t: 'BS', bs })),
    fc.array(tie('value'), { maxLength: 4 }).map((l): Model => ({ t: 'L', l })),
    fc
      .uniqueArray(fc.tuple(attributeName, tie('value')), { maxLength: 4, selector: ([name]) => name })
      .map((m): Model => ({ t: 'M', m })),
  ),
}));

/** Any DynamoDB value, as a model the reference understands. */
export const valueModel: fc.Arbitrary<Model> = value;

/** An item: unique non-empty names → values. */
export const itemModel: fc.Arbitrary<readonly (readonly [string, Model])[]> = fc.uniqueArray(
  fc.tuple(attributeName, valueModel),
  { maxLength: 6, selector: ([name]) => name },
);
