/*
 * The Databricks bucket function against bucketOf: the CREATE FUNCTION text, and the Python body
 * run by python3 on generated key texts and every bucket count, one process for all of them.
 */

import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BUCKET_FUNCTION_NAME,
  BUCKET_PYTHON_SOURCE,
  bucketFunctionBody,
  bucketFunctionSql,
  readBucketPython,
} from '../../../src/databricks/bucket-function.ts';
import { DatabricksFunctionError, END_OF_BODY } from '../../../src/databricks/python-function.ts';
import type { Item } from '../../../src/dynamo/attribute-value.ts';
import { bucketOf, fnv1a32, keyText, MAX_BUCKETS, type TableKeys } from '../../../src/lake/key-identity.ts';
import { anyString, attributeName, numberModel } from '../../dynamo/arbitraries.ts';
import { type BucketAnswer, bucketInPython, pythonProblem, runPython3 } from './python3.ts';

const GENERATED = 5000;

/** Characters at the edges of the UTF-8 lengths, surrogates lone and paired, and U+FFFD itself. */
const TRICKY = [
  'a',
  '#',
  '"',
  '\u0000',
  '\u007f',
  '\u0080',
  'é',
  '\u07ff',
  '\u0800',
  '\u2028',
  '\ud7ff',
  '\ud800', // lone surrogates: TextEncoder writes U+FFFD for each
  '\udbff',
  '\udc00',
  '\udfff',
  '\ue000',
  '\ufffd',
  '\uffff',
  '\u{10000}',
  '\u{1f600}',
  '\u{10ffff}',
];

/** Any UTF-16 code unit: lone surrogates of both halves, now and then a pair. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));

const bytes = fc.uint8Array({ maxLength: 12 });

/** A key value as DynamoDB JSON: S, N or B. */
const keyValue = fc.oneof(
  fc.oneof(anyString, fc.string({ unit: fc.constantFrom(...TRICKY), maxLength: 6 })).map((s) => ({ S: s })),
  numberModel.map((n) => ({ N: n.text })),
  bytes.map((b) => ({ B: Buffer.from(b).toString('base64') })),
);

/** `_ddb_key` texts as keyText writes them, for simple and composite keys. */
const ddbKey: fc.Arbitrary<string> = fc
  .tuple(fc.uniqueArray(attributeName, { minLength: 1, maxLength: 2 }), keyValue, keyValue)
  .map(([names, partition, sort]) => {
    const keys: TableKeys =
      names[1] === undefined
        ? { partition: names[0] as string }
        : { partition: names[0] as string, sort: names[1] };
    const item: Item = {
      [keys.partition]: partition,
      ...(keys.sort === undefined ? {} : { [keys.sort]: sort }),
    };
    return keyText(item, keys);
  });

const keyTextArbitrary: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: ddbKey },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 2, arbitrary: fc.string({ unit: codeUnit, maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(...TRICKY), maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constant('') },
);

const bucketCount: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: 1, max: MAX_BUCKETS }),
  fc.integer({ min: 1, max: 16 }),
  fc.constantFrom(1, 2, 3, 7, 8, 31, 32, 64, 100, 127, 128, 256, 1000, 1024, 2048, 4095, 4096),
);

/** Keys that must always be there, whatever the generator draws. */
const FIXED_KEYS = [
  '',
  '{"pk":"customer#1","sk":"order#0001"}',
  '{"pk":"customer#1"}',
  '{"id":12345678901234567890123456789012345678}',
  '{"blob":"AAEC/w=="}',
  '{"pk":"\\ud800","sk":"\u{1f600}"}',
  '\ud800',
  '\udfff',
  '\ud800\ud800\udc00',
  '\udc00\ud800',
  'a\ud83d',
  '\u{10ffff}\uffff\u0800\u07ff\u0080\u007f',
  '\ufffd',
];

interface Disagreement {
  readonly key: string;
  readonly buckets: number;
  readonly typescript: number;
  readonly python: BucketAnswer | undefined;
}

/** Runs every input through both and lists where they differ (Python must give bucketOf's number). */
async function disagreements(inputs: readonly (readonly [string, number])[]): Promise<Disagreement[]> {
  const answers = await bucketInPython(inputs);
  const found: Disagreement[] = [];
  inputs.forEach(([key, buckets], i) => {
    const typescript = bucketOf(key, buckets);
    const python = answers[i];
    if (python === undefined || !('bucket' in python) || python.bucket !== typescript) {
      found.push({ key, buckets, typescript, python });
    }
  });
  return found;
}

const isLoneSurrogateIn = (text: string): boolean => /\p{Cs}/u.test(text);
const hasAstral = (text: string): boolean =>
  [...text].some((char) => (char.codePointAt(0) as number) > 0xffff);

describe('the Databricks bucket function body, run by python3', () => {
  it(`gives bucketOf's bucket for ${GENERATED} generated key texts and for every bucket count from 1 to ${MAX_BUCKETS}`, async () => {
    const seed = Date.now() ^ (Math.random() * 0x7fffffff);
    const keys = [...FIXED_KEYS, ...fc.sample(keyTextArbitrary, { numRuns: GENERATED, seed })];
    const counts = fc.sample(bucketCount, { numRuns: keys.length, seed: seed + 1 });
    const inputs: (readonly [string, number])[] = keys.map((key, i) => [key, counts[i] as number]);
    // Every bucket count once more, each with one of the keys.
    for (let buckets = 1; buckets <= MAX_BUCKETS; buckets++)
      inputs.push([keys[buckets % keys.length] as string, buckets]);

    // What the inputs cover, so that a generator change cannot quietly thin them out.
    expect(keys.filter(isLoneSurrogateIn).length).toBeGreaterThan(50);
    expect(keys.filter(hasAstral).length).toBeGreaterThan(50);
    expect(keys.filter((key) => key.startsWith('{"')).length).toBeGreaterThan(GENERATED / 4);
    expect(new Set(inputs.map(([, buckets]) => buckets)).size).toBe(MAX_BUCKETS);
    expect(new Set(inputs.map(([key, buckets]) => bucketOf(key, buckets))).size).toBeGreaterThan(1000);

    const found = await disagreements(inputs);
    expect(
      found.slice(0, 5),
      `fast-check seed ${seed}: ${found.length} of ${inputs.length} inputs differ`,
    ).toEqual([]);
  });

  it('hashes with FNV-1a 32 (the published test vectors) over UTF-8, a lone surrogate as U+FFFD', async () => {
    const directory = dirname(fileURLToPath(BUCKET_PYTHON_SOURCE));
    const script =
      'import sys, json; sys.path.insert(0, sys.argv[1]); import key_bucket as k\n' +
      'print(json.dumps([k._fnv1a32_utf8(t) for t in json.loads(sys.stdin.read())]))';
    const texts = ['', 'a', 'foobar', '\u00e9', '\u{1f600}', '\ud800', '\ufffd', 'x\udc00y'];
    const hashes: unknown = JSON.parse(await runPython3(['-c', script, directory], JSON.stringify(texts)));
    const encoder = new TextEncoder();
    expect(hashes).toEqual(texts.map((text) => fnv1a32(encoder.encode(text))));
    expect((hashes as number[]).slice(0, 3)).toEqual([0x811c9dc5, 0xe40c292c, 0xbf9cf968]);
    expect((hashes as number[])[5]).toBe((hashes as number[])[6]);
  });

  it('reads surrogate code points that Python holds one by one as JavaScript reads them', async () => {
    // json.loads joins an escaped pair; built from chr, the str holds two code points, which
    // JavaScript would see as one character above U+FFFF.
    const directory = dirname(fileURLToPath(BUCKET_PYTHON_SOURCE));
    const script =
      'import sys, json; sys.path.insert(0, sys.argv[1]); import key_bucket as k\n' +
      'texts = ["a" + chr(0xd83d) + chr(0xde00), chr(0xdbff) + chr(0xdfff), chr(0xdc00) + chr(0xd800) + chr(0xdc00), chr(0xd800) + chr(0xd800)]\n' +
      'print(json.dumps([k.ddb_bucket(t, 4096) for t in texts]))';
    const buckets: unknown = JSON.parse(await runPython3(['-c', script, directory], ''));
    const same = ['a\u{1f600}', '\u{10ffff}', '\ufffd\u{10000}', '\ufffd\ufffd'];
    expect(buckets).toEqual(same.map((text) => bucketOf(text, 4096)));
  });

  it('gives NULL (None) for a NULL key', async () => {
    const answers = await bucketInPython([
      [null, 1],
      [null, 64],
      [null, MAX_BUCKETS],
    ]);
    expect(answers).toEqual([{ bucket: null }, { bucket: null }, { bucket: null }]);
  });

  it("refuses a bucket count that is NULL or not from 1 to 4096 with assertBucketCount's message, whatever the key", async () => {
    const counts = [0, -1, MAX_BUCKETS + 1, 65536, 2147483647, -2147483648, 1.5, null];
    const inputs: (readonly [string | null, number | null])[] = [];
    for (const buckets of counts)
      inputs.push(['{"pk":"customer#1"}', buckets], [null, buckets], ['', buckets]);
    const expected = inputs.map(([key, buckets]) => {
      let error: unknown;
      try {
        bucketOf(key ?? '', buckets as number);
      } catch (thrown) {
        error = thrown;
      }
      expect(error, String(buckets)).toBeInstanceOf(RangeError);
      // SQL says NULL where JavaScript says null.
      const message = (error as Error).message.replace(/got null$/, 'got NULL');
      return { error: message, type: 'ValueError' };
    });
    expect(expected.at(-1)).toEqual({
      error: 'a bucket count must be an integer from 1 to 4096, got NULL',
      type: 'ValueError',
    });
    expect(await bucketInPython(inputs)).toEqual(expected);
  });
});

describe('the tests of the Databricks Python functions without python3', () => {
  it('fail, saying to install python3, rather than skip', () => {
    const problem = pythonProblem('ddb-lake-no-such-python3');
    expect(problem).toMatch(/^ddb-lake-no-such-python3 did not run \(/);
    expect(problem).toContain('cannot be skipped: install Python 3.8 or later');
    expect(pythonProblem()).toBe('');
  });
});

const NAME = { catalog: 'main', schema: 'ddb', function: BUCKET_FUNCTION_NAME };

/** The text between `AS $$` and the closing `$$`. */
function bodyOf(sql: string): string {
  const start = sql.indexOf('AS $$\n');
  expect(start).toBeGreaterThan(0);
  expect(sql.endsWith('$$')).toBe(true);
  return sql.slice(start + 'AS $$\n'.length, -2);
}

// Runs a body the way Databricks does: as the body of a Python function of `key` and `buckets`.
const DRIVER = `
import json, sys, textwrap
request = json.load(sys.stdin)
scope = {}
exec("def udf(key, buckets):\\n" + textwrap.indent(request["body"], "    "), scope)
answers = []
for key, buckets in request["inputs"]:
    try:
        answers.append({"bucket": scope["udf"](key, buckets)})
    except ValueError as error:
        answers.append({"error": str(error)})
print(json.dumps(answers))
`;

describe('the CREATE FUNCTION statement of the bucket function', () => {
  it('creates a deterministic Python function of a STRING and an INT, returning INT, named in backticks', () => {
    const sql = bucketFunctionSql(NAME);
    expect(BUCKET_FUNCTION_NAME).toBe('ddb_lake_bucket');
    expect(sql.split('\n').slice(0, 6)).toEqual([
      'CREATE OR REPLACE FUNCTION `main`.`ddb`.`ddb_lake_bucket`(key STRING, buckets INT)',
      'RETURNS INT',
      'LANGUAGE PYTHON',
      'DETERMINISTIC',
      expect.stringMatching(/^COMMENT '[^'\\;]+'$/),
      'AS $$',
    ]);
    expect(sql.split('$$')).toHaveLength(3);
  });

  it('holds key_bucket.py down to its END OF BODY line, then the return of the bucket', () => {
    const python = readBucketPython();
    const body = bodyOf(bucketFunctionSql(NAME));
    const above = python.slice(0, python.indexOf(`\n${END_OF_BODY}\n`)).trimEnd();
    expect(body).toBe(`${above}\n\nreturn ddb_bucket(key, buckets)\n`);
    expect(body).toContain('def ddb_bucket(key, buckets):');
    expect(body).not.toContain('__main__');
    expect(body).not.toContain('import');
    expect(body).not.toContain(END_OF_BODY);
  });

  it('quotes each name part in backticks, doubling a backtick inside, and refuses an empty one', () => {
    expect(bucketFunctionSql({ catalog: 'my`cat', schema: 'a.b', function: 'f n`' })).toMatch(
      /^CREATE OR REPLACE FUNCTION `my``cat`\.`a\.b`\.`f n```\(key STRING, buckets INT\)\n/,
    );
    expect(() => bucketFunctionSql({ ...NAME, function: '' })).toThrow(DatabricksFunctionError);
    expect(() => bucketFunctionSql({ ...NAME, catalog: '' })).toThrow(
      'The catalog name of the bucket function is empty',
    );
  });

  it('refuses a body that holds $$, naming its line and file, but not $$ below the body', () => {
    const python = readBucketPython();
    const withDollars = python.replace('_MAX_BUCKETS = 4096\n', () => '_MAX_BUCKETS = 4096\nPRICE = "$$"\n');
    expect(withDollars).not.toBe(python);
    const line = withDollars.slice(0, withDollars.indexOf('$$')).split('\n').length;
    expect(() => bucketFunctionSql(NAME, withDollars)).toThrow(DatabricksFunctionError);
    expect(() => bucketFunctionSql(NAME, withDollars)).toThrow(`(line ${line})`);
    expect(() => bucketFunctionSql(NAME, withDollars)).toThrow('src/databricks/python/key_bucket.py');
    expect(bucketFunctionBody(`x = 1\n${END_OF_BODY}\nprint("$$")\n`)).toBe(
      'x = 1\n\nreturn ddb_bucket(key, buckets)\n',
    );
  });

  it('refuses a source without exactly one END OF BODY line', () => {
    expect(() => bucketFunctionBody('x = 1\n')).toThrow(DatabricksFunctionError);
    expect(() => bucketFunctionBody(`x = 1\n${END_OF_BODY}\n${END_OF_BODY}\n`)).toThrow(/exactly once/);
    expect(() => bucketFunctionBody('x = 1\n')).toThrow('the bucket function');
  });

  it('has a body that python3 runs as a function body: NULL key to None, key text to its bucket, bad counts raised', async () => {
    const inputs: (readonly [string | null, number | null])[] = [
      [null, 7],
      ['{"pk":"customer#1","sk":"order#0001"}', 64],
      ['{"pk":"customer#1","sk":"order#0001"}', MAX_BUCKETS],
      ['', 1],
      ['\ud800\u{1f600}', 1000],
      ['k', 0],
      ['k', null],
    ];
    const body = bodyOf(bucketFunctionSql(NAME));
    const answers: unknown = JSON.parse(await runPython3(['-c', DRIVER], JSON.stringify({ body, inputs })));
    const expected = inputs.map(([key, buckets]) => {
      if (buckets === null) return { error: 'a bucket count must be an integer from 1 to 4096, got NULL' };
      if (key === null) return { bucket: null };
      try {
        return { bucket: bucketOf(key, buckets) };
      } catch (error) {
        return { error: (error as Error).message };
      }
    });
    expect(expected[5]).toEqual({ error: 'a bucket count must be an integer from 1 to 4096, got 0' });
    expect(answers).toEqual(expected);
  });
});
