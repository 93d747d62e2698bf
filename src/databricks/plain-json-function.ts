import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DdbLakeError } from '../errors.ts';

/*
 * The Unity Catalog function that turns one DynamoDB JSON value into its canonical plain JSON text
 * on a Databricks SQL warehouse (what valueToPlainJson in src/dynamo/plain-json.ts gives), so that
 * M and L values and conflict columns hold the same text whichever engine wrote them.
 *
 * The Python lives in src/databricks/python/plain_json.py, a file Python can also run and import
 * on its own (the tests compare it with the TypeScript). Its lines above END_OF_BODY are the body;
 * this module appends the `return` Databricks needs and wraps it in CREATE FUNCTION (Databricks SQL
 * language reference, CREATE FUNCTION: `LANGUAGE PYTHON`, `[NOT] DETERMINISTIC`, `COMMENT`,
 * `AS dollar_quoted_string`; the body is a Python function body that sees the parameters by name
 * and returns the result, None being NULL).
 *
 * The file is read at run time, relative to this module: `../../src/databricks/python/` names the
 * same file from src/databricks/ (run from source) and from dist/databricks/ (the built package,
 * whose `files` in package.json include src/databricks/python for this reason).
 */

/** Where the Python source of the function is, found from this module in src/ or in dist/. */
export const PLAIN_JSON_PYTHON_SOURCE: URL = new URL(
  '../../src/databricks/python/plain_json.py',
  import.meta.url,
);

/** The function's default name in its schema. */
export const PLAIN_JSON_FUNCTION_NAME = 'ddb_lake_plain_json';

/** The line of plain_json.py below which the file is a test command, not the function body. */
export const END_OF_BODY = '# ---- END OF BODY ----';

/** The SQL parameter, as the body's return line names it. */
const PARAMETER = 'value';

// A SQL string literal: no quote, backslash or semicolon, so it needs no escaping anywhere.
const COMMENT =
  'ddb-lake: the canonical plain JSON text of one DynamoDB JSON value, ' +
  'numbers exact, map keys and sets sorted, NULL for NULL';

/** A three-part Unity Catalog name: catalog, schema, function. */
export interface FunctionName {
  readonly catalog: string;
  readonly schema: string;
  readonly function: string;
}

/** The function cannot be written as SQL: an empty name part, or a body Databricks cannot take. */
export class PlainJsonFunctionError extends DdbLakeError {
  constructor(message: string) {
    super('DATABRICKS_FUNCTION', message);
  }
}

/** The text of plain_json.py as this package ships it. Reads the file each call. */
export function readPlainJsonPython(): string {
  return readFileSync(fileURLToPath(PLAIN_JSON_PYTHON_SOURCE), 'utf8');
}

/**
 * The function body as Databricks runs it: the lines of `python` above END_OF_BODY, then
 * `return ddb_plain_json(value)`. Pure.
 * @throws PlainJsonFunctionError when END_OF_BODY is not a line of `python` exactly once, or the
 * body holds `$$`, which would end the dollar-quoted body early.
 */
export function plainJsonFunctionBody(python: string = readPlainJsonPython()): string {
  const lines = python.split('\n');
  const end = lines.indexOf(END_OF_BODY);
  if (end < 0 || lines.indexOf(END_OF_BODY, end + 1) >= 0) {
    throw new PlainJsonFunctionError(
      `The Python source of the plain JSON function must hold the line "${END_OF_BODY}" exactly once, ` +
        'to mark where the function body ends; the package is damaged or the file was edited. ' +
        'Reinstall ddb-lake or restore src/databricks/python/plain_json.py.',
    );
  }
  const body = `${lines.slice(0, end).join('\n').trimEnd()}\n\nreturn ddb_plain_json(${PARAMETER})\n`;
  const dollars = body.indexOf('$$');
  if (dollars >= 0) {
    const line = body.slice(0, dollars).split('\n').length;
    throw new PlainJsonFunctionError(
      `The Python body of the plain JSON function holds "$$" (line ${line}), which would end its ` +
        'dollar-quoted text in CREATE FUNCTION early; no function was created. Remove the "$$" from ' +
        'src/databricks/python/plain_json.py (split it, as "$" "$" or "\\x24\\x24").',
    );
  }
  return body;
}

/** A Databricks identifier in backticks, a backtick inside it doubled. */
function quoteIdentifier(part: string, what: string): string {
  if (part.length === 0) {
    throw new PlainJsonFunctionError(
      `The ${what} name of the plain JSON function is empty; give the ${what} the function goes in.`,
    );
  }
  return `\`${part.replaceAll('`', '``')}\``;
}

/** `catalog`.`schema`.`function`, each part quoted. */
export function quotedFunctionName(name: FunctionName): string {
  return [
    quoteIdentifier(name.catalog, 'catalog'),
    quoteIdentifier(name.schema, 'schema'),
    quoteIdentifier(name.function, 'function'),
  ].join('.');
}

/**
 * The `CREATE OR REPLACE FUNCTION` statement of the plain JSON function: one STRING parameter
 * `value` (a DynamoDB JSON value text), a STRING result (its canonical plain JSON text, NULL for
 * NULL), DETERMINISTIC; an invalid value fails the query with the attribute path in the message.
 * Idempotent to run. Pure apart from reading plain_json.py when `python` is not given.
 * @param python the text of plain_json.py; the shipped file by default.
 * @throws PlainJsonFunctionError when a name part is empty or the body cannot be dollar-quoted.
 */
export function plainJsonFunctionSql(name: FunctionName, python: string = readPlainJsonPython()): string {
  const body = plainJsonFunctionBody(python);
  return (
    `CREATE OR REPLACE FUNCTION ${quotedFunctionName(name)}(${PARAMETER} STRING)\n` +
    'RETURNS STRING\n' +
    'LANGUAGE PYTHON\n' +
    'DETERMINISTIC\n' +
    `COMMENT '${COMMENT}'\n` +
    `AS $$\n${body}$$`
  );
}
