/*
 * The Python body of the Databricks plain JSON function against valueToPlainJson: the same text
 * for every valid value, the same refusal (message and attribute path) for every invalid one.
 */

import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PLAIN_JSON_PYTHON_SOURCE } from '../../../src/databricks/plain-json-function.ts';
import type { AttributeValue } from '../../../src/dynamo/attribute-value.ts';
import { InvalidAttributeValueError } from '../../../src/dynamo/errors.ts';
import { valueToPlainJson } from '../../../src/dynamo/plain-json.ts';
import { attributeName, numberModel, valueModel } from '../../dynamo/arbitraries.ts';
import { toDynamoJson } from '../../dynamo/reference.ts';
import { plainJsonInPython, runPython3 } from './python3.ts';

const GENERATED = 3000;

/** Characters where JSON escaping or UTF-8 order is easy to get wrong. */
const TRICKY = [
  'a',
  'Z',
  '\u0000',
  '\u0008',
  '\u001f',
  '"',
  '\\',
  '/',
  '\u007f',
  '\u0080',
  'é',
  '\u2028',
  '\u2029',
  '\ud7ff',
  '\ud800', // lone surrogates: JSON.stringify escapes them, and they sort as UTF-16 units
  '\udbff',
  '\udc00',
  '\udfff',
  '\ue000',
  '\uff5e',
  '\ufeff',
  '\uffff',
  '\u{10000}',
  '\u{1f600}',
  '\u{10ffff}',
];
const trickyString = fc.string({ unit: fc.constantFrom(...TRICKY), maxLength: 6 });

const bytes = fc.uint8Array({ maxLength: 10 });
const base64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/** Base64 whose last character carries non-zero unused bits (`AB==`): valid, not canonical. */
const strayBitsBase64 = fc
  .tuple(fc.uint8Array({ minLength: 1, maxLength: 10 }), fc.integer({ min: 1, max: 15 }))
  .filter(([b]) => b.length % 3 !== 0)
  .map(([b, bits]) => {
    const text = base64(b);
    const padding = b.length % 3 === 1 ? 2 : 1;
    const end = text.length - padding;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const sextet = alphabet.indexOf(text[end - 1] as string) | (bits & (padding === 1 ? 0b11 : 0b1111));
    return text.slice(0, end - 1) + alphabet[sextet] + text.slice(end);
  });

const scalar: fc.Arbitrary<unknown> = fc.oneof(
  trickyString.map((s) => ({ S: s })),
  numberModel.map((n) => ({ N: n.text })),
  bytes.map((b) => ({ B: base64(b) })),
  strayBitsBase64.map((b) => ({ B: b })),
  fc.boolean().map((b) => ({ BOOL: b })),
  fc.constant({ NULL: true }),
);

/** Sets with unsorted, tricky and large content (more than 16 elements takes another path in parse.ts). */
const sets: fc.Arbitrary<unknown> = fc.oneof(
  fc.uniqueArray(trickyString, { minLength: 1, maxLength: 8 }).map((ss) => ({ SS: ss })),
  fc
    .uniqueArray(numberModel, { minLength: 1, maxLength: 40, selector: (n) => n.scaled })
    .map((ns) => ({ NS: ns.map((n) => n.text) })),
  fc
    .uniqueArray(bytes, { minLength: 1, maxLength: 20, selector: base64 })
    .map((bs) => ({ BS: bs.map(base64) })),
  fc
    .uniqueArray(strayBitsBase64, {
      minLength: 1,
      maxLength: 5,
      selector: (t) => base64(Buffer.from(t, 'base64')),
    })
    .map((bs) => ({ BS: bs })),
);

/** Maps and lists nested 1 to 31 deep, as deep as DynamoDB allows under one attribute. */
const deep: fc.Arbitrary<unknown> = fc
  .tuple(
    fc.array(
      fc.oneof(
        trickyString.filter((s) => s !== ''),
        fc.constant(null),
      ),
      { minLength: 1, maxLength: 31 },
    ),
    scalar,
  )
  .map(([steps, leaf]) =>
    steps.reduce<unknown>((inner, step) => (step === null ? { L: [inner] } : { M: { [step]: inner } }), leaf),
  );

const trickyMap: fc.Arbitrary<unknown> = fc
  .uniqueArray(
    fc.tuple(
      fc.oneof(
        attributeName,
        trickyString.filter((s) => s !== ''),
      ),
      scalar,
    ),
    {
      maxLength: 6,
      selector: ([name]) => name,
    },
  )
  .map((entries) => {
    const map: Record<string, unknown> = {};
    for (const [name, value] of entries) {
      Object.defineProperty(map, name, { value, enumerable: true, writable: true, configurable: true });
    }
    return { M: map };
  });

const dynamoJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: valueModel.map(toDynamoJson) },
  { weight: 2, arbitrary: scalar },
  { weight: 2, arbitrary: sets },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: trickyMap },
  { weight: 1, arbitrary: fc.constantFrom({ M: {} }, { L: [] }, { S: '' }, { B: '' }, { BS: [''] }) },
);

interface Disagreement {
  readonly input: string;
  readonly typescript: string;
  readonly python: unknown;
}

/** Runs every text through both and lists where they differ (Python must give TypeScript's text). */
async function disagreements(texts: readonly string[]): Promise<Disagreement[]> {
  const answers = await plainJsonInPython(texts);
  const found: Disagreement[] = [];
  texts.forEach((input, i) => {
    const typescript = valueToPlainJson(JSON.parse(input) as AttributeValue);
    const python = answers[i];
    if (python === undefined || !('text' in python) || python.text !== typescript) {
      found.push({ input, typescript, python });
    }
  });
  return found;
}

describe('the Databricks plain JSON function body, run by python3', () => {
  it(`gives valueToPlainJson's text, byte for byte, for ${GENERATED} generated values of every type`, async () => {
    const seed = Date.now() ^ (Math.random() * 0x7fffffff);
    const values = fc.sample(dynamoJson, { numRuns: GENERATED, seed });
    const found = await disagreements(values.map((value) => JSON.stringify(value)));
    expect(found.slice(0, 5), `fast-check seed ${seed}: ${found.length} values differ`).toEqual([]);
  });

  it('writes numbers in canonical text, exact, whatever their spelling', async () => {
    const numbers = [
      '1E+125',
      '-1E-130',
      '1e-130',
      '0e5',
      '-0',
      '+0',
      '0.000',
      '-0.0e-7',
      '0e99999',
      '.5',
      '5.',
      '00.10',
      '+1.0e0',
      '0001.2300E+0002',
      '12345678901234567890123456789012345678',
      '-1.2345678901234567890123456789012345678E-93',
      '9.9999999999999999999999999999999999999E+125',
      '1000000000000000000000000000000000000000000000000000',
      '9223372036854775808',
      '0.1',
      '1E-0000000000000000000007',
    ];
    const texts = numbers.map((n) => JSON.stringify({ N: n }));
    texts.push(
      JSON.stringify({ NS: numbers.filter((n) => valueToPlainJson({ N: n }) !== '0').slice(0, 12) }),
    );
    expect(await disagreements(texts)).toEqual([]);
    const answers = await plainJsonInPython([JSON.stringify({ N: '1E+125' })]);
    expect(answers[0]).toEqual({ text: `1${'0'.repeat(125)}` });
  });

  it('sorts map keys and SS by UTF-8 bytes, NS by value, BS by bytes, and keeps the last of a doubled key', async () => {
    const texts = [
      '{"M":{"b":{"N":"1.50"},"a":{"SS":["y","x"]}}}',
      JSON.stringify({ SS: ['b', '\u{1F600}', 'a', '\uFF5E', '', '\ud800', '\ue000'] }),
      JSON.stringify({
        M: { '\u{1F600}': { N: '1' }, '\uFF5E': { N: '2' }, b: { N: '3' }, '1': { N: '4' } },
      }),
      JSON.stringify({ NS: ['10', '-1E-130', '9', '1E+2', '-3', '0'] }),
      JSON.stringify({ BS: ['/w==', 'Pg==', 'AAE=', 'AB==', ''] }),
      // A doubled key: JSON.parse and json.loads both keep the last value.
      '{"M":{"a":{"N":"x"},"b":{"S":"b"},"a":{"N":"1"}}}',
      '{"S":"first","S":"last"}',
    ];
    expect(await disagreements(texts)).toEqual([]);
    const answers = await plainJsonInPython(texts.slice(0, 1));
    expect(answers[0]).toEqual({ text: '{"a":["x","y"],"b":1.5}' });
  });

  it('gives NULL (None) for NULL', async () => {
    const directory = dirname(fileURLToPath(PLAIN_JSON_PYTHON_SOURCE));
    const script =
      'import sys; sys.path.insert(0, sys.argv[1]); import plain_json; print(repr(plain_json.ddb_plain_json(None)))';
    expect(await runPython3(['-c', script, directory], '')).toBe('None\n');
  });
});

/** [DynamoDB JSON text, the attribute path parse.ts names ('' for the value itself)]. */
const INVALID: readonly (readonly [string, string])[] = [
  ['{"X":"1"}', ''],
  ['{"S":"a","N":"1"}', ''],
  ['{"S":"a","7":"x","0":"y"}', ''],
  ['{}', ''],
  ['null', ''],
  ['[{"S":"a"}]', ''],
  ['"text"', ''],
  ['{"S":1}', ''],
  ['{"S":null}', ''],
  ['{"N":1}', ''],
  ['{"N":"one"}', ''],
  ['{"N":"1e"}', ''],
  ['{"N":" 1"}', ''],
  ['{"N":"1 "}', ''],
  ['{"N":""}', ''],
  ['{"N":"."}', ''],
  ['{"N":"1.2.3"}', ''],
  ['{"N":"0x10"}', ''],
  ['{"N":"NaN"}', ''],
  ['{"N":"Infinity"}', ''],
  ['{"N":"\u0661"}', ''],
  ['{"N":"1_000"}', ''],
  ['{"N":"1\\n"}', ''],
  [`{"N":"1${'0'.repeat(37)}1"}`, ''],
  [`{"N":"0.${'1'.repeat(39)}"}`, ''],
  ['{"N":"1E+126"}', ''],
  ['{"N":"10E+125"}', ''],
  ['{"N":"1E-131"}', ''],
  ['{"N":"0.1E-130"}', ''],
  ['{"N":"0e99999999999"}', ''],
  ['{"N":"1e2147483648"}', ''],
  ['{"N":"0.0e-2147483648"}', ''],
  [`{"N":"${'9'.repeat(59)}\u{1F600}9"}`, ''],
  ['{"B":"abc"}', ''],
  ['{"B":"ab-_"}', ''],
  ['{"B":"A==="}', ''],
  ['{"B":"AA=A"}', ''],
  ['{"B":"AA==\\n"}', ''],
  ['{"B":true}', ''],
  ['{"BOOL":"true"}', ''],
  ['{"BOOL":null}', ''],
  ['{"NULL":false}', ''],
  ['{"NULL":1e21}', ''],
  ['{"NULL":1e20}', ''],
  ['{"NULL":-12.5e-3}', ''],
  ['{"NULL":0.000001}', ''],
  ['{"NULL":1e-7}', ''],
  ['{"NULL":-0}', ''],
  ['{"NULL":123456789012345678901234}', ''],
  ['{"NULL":1e400}', ''],
  ['{"NULL":[]}', ''],
  ['{"NULL":{}}', ''],
  ['{"SS":[]}', ''],
  ['{"NS":[]}', ''],
  ['{"BS":[]}', ''],
  ['{"SS":"a"}', ''],
  ['{"SS":["a",1]}', ''],
  ['{"SS":["a","b","a"]}', ''],
  ['{"NS":["1.0","2","1"]}', ''],
  ['{"NS":["1",2]}', ''],
  ['{"NS":["1","x"]}', ''],
  ['{"BS":["AA==","AB=="]}', ''],
  ['{"BS":["AA==","A"]}', ''],
  ['{"BS":["AA==",null]}', ''],
  [JSON.stringify({ NS: [...Array.from({ length: 20 }, (_, i) => String(i)), '7.00'] }), ''],
  [JSON.stringify({ SS: [...Array.from({ length: 20 }, (_, i) => `s${i}`), 's3'] }), ''],
  ['{"L":{}}', ''],
  ['{"M":[]}', ''],
  ['{"L":[{"S":"x"},{"N":"one"}]}', '[1]'],
  ['{"M":{"a":{"M":{"b":{"L":[{"S":"x"},{"S":"y"},{"N":"x"}]}}}}}', 'a.b[2]'],
  ['{"M":{"unit price":{"N":"?"}}}', '["unit price"]'],
  ['{"M":{"a\\"b\\u2028\\ud800":{"N":"?"}}}', '["a\\"b\u2028\\ud800"]'],
  ['{"M":{"_x9":{"M":{"9x":{"BOOL":1}}}}}', '_x9["9x"]'],
  ['{"M":{"":{"S":"x"}}}', ''],
  ['{"M":{"a":{"M":{"":{"S":"x"}}}}}', 'a'],
  // JavaScript visits array-index keys first, in numeric order: the first failure is at "2".
  ['{"M":{"b":{"N":"x"},"10":{"N":"y"},"2":{"N":"z"}}}', '["2"]'],
  ['{"M":{"b":{"N":"x"},"4294967295":{"N":"y"}}}', 'b'],
  ['{"M":{"b":{"N":"x"},"4294967294":{"N":"y"}}}', '["4294967294"]'],
  ['{"M":{"b":{"N":"x"},"01":{"N":"y"}}}', 'b'],
  [`${'{"L":['.repeat(31)}{"L":[]}${']}'.repeat(31)}`, '[0]'.repeat(31)],
  [`${'{"M":{"m":'.repeat(32)}{"S":"x"}${'}}'.repeat(32)}`, Array(31).fill('m').join('.')],
];

describe('the Databricks plain JSON function body refuses what parse.ts refuses', () => {
  it('with the message of InvalidAttributeValueError, which names the attribute path', async () => {
    const expected = INVALID.map(([text, path]) => {
      let error: unknown;
      try {
        valueToPlainJson(JSON.parse(text) as AttributeValue);
      } catch (thrown) {
        error = thrown;
      }
      expect(error, text).toBeInstanceOf(InvalidAttributeValueError);
      expect((error as InvalidAttributeValueError).path, text).toBe(path);
      return { error: (error as Error).message, type: 'ValueError' };
    });
    const answers = await plainJsonInPython(INVALID.map(([text]) => text));
    answers.forEach((answer, i) => {
      expect(answer, INVALID[i]?.[0]).toEqual(expected[i]);
    });
  });

  it('refuses text that is not JSON, as JSON.parse does', async () => {
    const texts = ['{"S":', '{"S":"a"} x', "{'S':'a'}", '{"N":NaN}', '{"NULL":Infinity}', '', '{"S":"a\tb"}'];
    for (const text of texts) expect(() => JSON.parse(text), text).toThrow(SyntaxError);
    const answers = await plainJsonInPython(texts);
    answers.forEach((answer, i) => {
      expect(answer, texts[i]).toMatchObject({
        type: 'ValueError',
        error: expect.stringMatching(/^Not DynamoDB JSON: /),
      });
    });
  });
});
