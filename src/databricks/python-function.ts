import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DdbLakeError } from '../errors.ts';

/*
 * What the Unity Catalog Python functions of ddb-lake share: each lives in a file of
 * src/databricks/python/ that Python can also run and import on its own (the tests compare it with
 * the TypeScript it replaces). The file's lines above END_OF_BODY are the function body; this
 * module appends the `return` Databricks needs and wraps it in CREATE FUNCTION (Databricks SQL
 * language reference, CREATE FUNCTION: `LANGUAGE PYTHON`, `[NOT] DETERMINISTIC`, `COMMENT`,
 * `AS dollar_quoted_string`; the body is a Python function body that sees the parameters by name
 * and returns the result, None being NULL).
 *
 * The files are read at run time, relative to this module: `../../src/databricks/python/` names the
 * same folder from src/databricks/ (run from source) and from dist/databricks/ (the built package,
 * whose `files` in package.json include src/databricks/python for this reason).
 */

/** The line of a Python source below which the file is a test command, not the function body. */
export const END_OF_BODY = '# ---- END OF BODY ----';

/** A three-part Unity Catalog name: catalog, schema, function. */
export interface FunctionName {
  readonly catalog: string;
  readonly schema: string;
  readonly function: string;
}

/** A function cannot be written as SQL: an empty name part, or a body Databricks cannot take. */
export class DatabricksFunctionError extends DdbLakeError {
  constructor(message: string) {
    super('DATABRICKS_FUNCTION', message);
  }
}

/** One Python function of src/databricks/python, as CREATE FUNCTION declares it. */
export interface PythonFunction {
  /** What messages call it: `plain JSON` in "the plain JSON function". */
  readonly title: string;
  /** Its file name in src/databricks/python, e.g. `plain_json.py`. */
  readonly file: string;
  /** The SQL parameters, e.g. `value STRING`. */
  readonly parameters: string;
  /** The SQL result type, e.g. `STRING`. */
  readonly returns: string;
  /** The Python call whose result the function returns, e.g. `ddb_plain_json(value)`. */
  readonly call: string;
  /** The COMMENT text: no quote, backslash or semicolon, so it needs no escaping anywhere. */
  readonly comment: string;
}

/** Where the Python source named `file` is, found from this module in src/ or in dist/. */
export function pythonSource(file: string): URL {
  return new URL(`../../src/databricks/python/${file}`, import.meta.url);
}

/** The text of a Python source as this package ships it. Reads the file each call. */
export function readPythonSource(file: string): string {
  return readFileSync(fileURLToPath(pythonSource(file)), 'utf8');
}

/**
 * The function body as Databricks runs it: the lines of `python` above END_OF_BODY, then
 * `return <call>`. Pure.
 * @throws DatabricksFunctionError when END_OF_BODY is not a line of `python` exactly once, or the
 * body holds `$$`, which would end the dollar-quoted body early.
 */
export function pythonFunctionBody(fn: PythonFunction, python: string): string {
  const lines = python.split('\n');
  const end = lines.indexOf(END_OF_BODY);
  if (end < 0 || lines.indexOf(END_OF_BODY, end + 1) >= 0) {
    throw new DatabricksFunctionError(
      `The Python source of the ${fn.title} function must hold the line "${END_OF_BODY}" exactly once, ` +
        'to mark where the function body ends; the package is damaged or the file was edited. ' +
        `Reinstall ddb-lake or restore src/databricks/python/${fn.file}.`,
    );
  }
  const body = `${lines.slice(0, end).join('\n').trimEnd()}\n\nreturn ${fn.call}\n`;
  const dollars = body.indexOf('$$');
  if (dollars >= 0) {
    const line = body.slice(0, dollars).split('\n').length;
    throw new DatabricksFunctionError(
      `The Python body of the ${fn.title} function holds "$$" (line ${line}), which would end its ` +
        'dollar-quoted text in CREATE FUNCTION early; no function was created. Remove the "$$" from ' +
        `src/databricks/python/${fn.file} (split it, as "$" "$" or "\\x24\\x24").`,
    );
  }
  return body;
}

/** A Databricks identifier in backticks, a backtick inside it doubled. */
function quoteIdentifier(part: string, what: string, title: string): string {
  if (part.length === 0) {
    throw new DatabricksFunctionError(
      `The ${what} name of the ${title} function is empty; give the ${what} the function goes in.`,
    );
  }
  return `\`${part.replaceAll('`', '``')}\``;
}

/**
 * `catalog`.`schema`.`function`, each part quoted.
 * @param title what a message calls the function when a part is empty.
 * @throws DatabricksFunctionError when a name part is empty.
 */
export function quotedFunctionName(name: FunctionName, title = 'Databricks'): string {
  return [
    quoteIdentifier(name.catalog, 'catalog', title),
    quoteIdentifier(name.schema, 'schema', title),
    quoteIdentifier(name.function, 'function', title),
  ].join('.');
}

/**
 * The `CREATE OR REPLACE FUNCTION` statement of `fn` named `name`, DETERMINISTIC, its body from
 * `python` (the text of its source file). Idempotent to run. Pure.
 * @throws DatabricksFunctionError when a name part is empty or the body cannot be dollar-quoted.
 */
export function pythonFunctionSql(fn: PythonFunction, name: FunctionName, python: string): string {
  const body = pythonFunctionBody(fn, python);
  return (
    `CREATE OR REPLACE FUNCTION ${quotedFunctionName(name, fn.title)}(${fn.parameters})\n` +
    `RETURNS ${fn.returns}\n` +
    'LANGUAGE PYTHON\n' +
    'DETERMINISTIC\n' +
    `COMMENT '${fn.comment}'\n` +
    `AS $$\n${body}$$`
  );
}
