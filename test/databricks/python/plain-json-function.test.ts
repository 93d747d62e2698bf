import { describe, expect, it } from 'vitest';
import {
  END_OF_BODY,
  PLAIN_JSON_FUNCTION_NAME,
  PlainJsonFunctionError,
  plainJsonFunctionBody,
  plainJsonFunctionSql,
  quotedFunctionName,
  readPlainJsonPython,
} from '../../../src/databricks/plain-json-function.ts';
import type { AttributeValue } from '../../../src/dynamo/attribute-value.ts';
import { valueToPlainJson } from '../../../src/dynamo/plain-json.ts';
import { runPython3 } from './python3.ts';

const NAME = { catalog: 'main', schema: 'ddb', function: PLAIN_JSON_FUNCTION_NAME };

/** The text between `AS $$` and the closing `$$`. */
function bodyOf(sql: string): string {
  const start = sql.indexOf('AS $$\n');
  expect(start).toBeGreaterThan(0);
  expect(sql.endsWith('$$')).toBe(true);
  return sql.slice(start + 'AS $$\n'.length, -2);
}

// Runs a body the way Databricks does: as the body of a Python function whose parameter is `value`.
const DRIVER = `
import json, sys, textwrap
request = json.load(sys.stdin)
scope = {}
exec("def udf(value):\\n" + textwrap.indent(request["body"], "    "), scope)
answers = []
for value in request["values"]:
    try:
        answers.append({"text": scope["udf"](value)})
    except ValueError as error:
        answers.append({"error": str(error)})
print(json.dumps(answers))
`;

describe('the CREATE FUNCTION statement of the plain JSON function', () => {
  it('creates a deterministic Python function of one STRING, returning STRING, named in backticks', () => {
    const sql = plainJsonFunctionSql(NAME);
    expect(sql.split('\n').slice(0, 6)).toEqual([
      'CREATE OR REPLACE FUNCTION `main`.`ddb`.`ddb_lake_plain_json`(value STRING)',
      'RETURNS STRING',
      'LANGUAGE PYTHON',
      'DETERMINISTIC',
      expect.stringMatching(/^COMMENT '[^'\\;]+'$/),
      'AS $$',
    ]);
    expect(sql.split('$$')).toHaveLength(3);
  });

  it("holds plain_json.py down to its END OF BODY line, then the return of the function's result", () => {
    const python = readPlainJsonPython();
    const body = bodyOf(plainJsonFunctionSql(NAME));
    const above = python.slice(0, python.indexOf(`\n${END_OF_BODY}\n`)).trimEnd();
    expect(body).toBe(`${above}\n\nreturn ddb_plain_json(value)\n`);
    expect(body).toContain('def ddb_plain_json(value):');
    expect(body).not.toContain('__main__');
    expect(body).not.toContain(END_OF_BODY);
  });

  it('quotes each name part in backticks, doubling a backtick inside', () => {
    expect(quotedFunctionName({ catalog: 'my`cat', schema: 'a.b', function: 'f n`' })).toBe(
      '`my``cat`.`a.b`.`f n```',
    );
    expect(plainJsonFunctionSql({ catalog: '`', schema: 's', function: 'f' })).toMatch(
      /^CREATE OR REPLACE FUNCTION ````.`s`.`f`\(value STRING\)\n/,
    );
  });

  it('refuses an empty name part', () => {
    expect(() => plainJsonFunctionSql({ ...NAME, schema: '' })).toThrow(PlainJsonFunctionError);
    expect(() => plainJsonFunctionSql({ ...NAME, schema: '' })).toThrow(/schema name .* is empty/);
  });

  it('refuses a body that holds $$, naming its line, but not $$ below the body', () => {
    const python = readPlainJsonPython();
    const withDollars = python.replace('import re\n', () => 'import re\nPRICE = "$$"\n');
    const line = withDollars.slice(0, withDollars.indexOf('$$')).split('\n').length;
    expect(() => plainJsonFunctionSql(NAME, withDollars)).toThrow(PlainJsonFunctionError);
    expect(() => plainJsonFunctionSql(NAME, withDollars)).toThrow(`(line ${line})`);
    expect(() => plainJsonFunctionBody('x = 1\n# $$\n' + `${END_OF_BODY}\n`)).toThrow(/line 2/);
    expect(plainJsonFunctionBody(`x = 1\n${END_OF_BODY}\nprint("$$")\n`)).toBe(
      'x = 1\n\nreturn ddb_plain_json(value)\n',
    );
  });

  it('refuses a source without exactly one END OF BODY line', () => {
    expect(() => plainJsonFunctionBody('x = 1\n')).toThrow(PlainJsonFunctionError);
    expect(() => plainJsonFunctionBody(`x = 1\n${END_OF_BODY}\n${END_OF_BODY}\n`)).toThrow(/exactly once/);
  });

  it('has a body that python3 runs as a function body: NULL to None, text to plain JSON, errors raised', async () => {
    const values: (string | null)[] = [
      null,
      '{"M":{"b":{"N":"1.50"},"a":{"SS":["y","x"]}}}',
      JSON.stringify({
        L: [{ NS: ['1E+2', '-0.5'] }, { BS: ['AB==', ''] }, { S: '\ud800\u2028"' }, { M: {} }],
      }),
      '{"L":[{"S":"x"},{"N":"one"}]}',
    ];
    const body = bodyOf(plainJsonFunctionSql(NAME));
    const answers: unknown = JSON.parse(await runPython3(['-c', DRIVER], JSON.stringify({ body, values })));
    const expected = values.map((value) => {
      if (value === null) return { text: null };
      try {
        return { text: valueToPlainJson(JSON.parse(value) as AttributeValue) };
      } catch (error) {
        return { error: (error as Error).message };
      }
    });
    expect(expected[3]).toEqual({ error: expect.stringContaining('Invalid DynamoDB value at [1]:') });
    expect(answers).toEqual(expected);
  });
});
