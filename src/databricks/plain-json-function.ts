import {
  type FunctionName,
  type PythonFunction,
  pythonFunctionBody,
  pythonFunctionSql,
  pythonSource,
  readPythonSource,
} from './python-function.ts';

/*
 * The Unity Catalog function that turns one DynamoDB JSON value into its canonical plain JSON text
 * on a Databricks SQL warehouse (what valueToPlainJson in src/dynamo/plain-json.ts gives), so that
 * M and L values and conflict columns hold the same text whichever engine wrote them.
 *
 * The Python lives in src/databricks/python/plain_json.py, a file Python can also run and import
 * on its own (the tests compare it with the TypeScript). Its lines above END_OF_BODY are the body;
 * python-function.ts appends `return ddb_plain_json(value)` and wraps it in CREATE FUNCTION.
 */

export {
  DatabricksFunctionError as PlainJsonFunctionError,
  END_OF_BODY,
  type FunctionName,
  quotedFunctionName,
} from './python-function.ts';

const FILE = 'plain_json.py';

/** Where the Python source of the function is, found from this module in src/ or in dist/. */
export const PLAIN_JSON_PYTHON_SOURCE: URL = pythonSource(FILE);

/** The function's default name in its schema. */
export const PLAIN_JSON_FUNCTION_NAME = 'ddb_lake_plain_json';

const PLAIN_JSON: PythonFunction = {
  title: 'plain JSON',
  file: FILE,
  parameters: 'value STRING',
  returns: 'STRING',
  call: 'ddb_plain_json(value)',
  comment:
    'ddb-lake: the canonical plain JSON text of one DynamoDB JSON value, ' +
    'numbers exact, map keys and sets sorted, NULL for NULL',
};

/** The text of plain_json.py as this package ships it. Reads the file each call. */
export function readPlainJsonPython(): string {
  return readPythonSource(FILE);
}

/**
 * The function body as Databricks runs it: the lines of `python` above END_OF_BODY, then
 * `return ddb_plain_json(value)`. Pure.
 * @throws PlainJsonFunctionError when END_OF_BODY is not a line of `python` exactly once, or the
 * body holds `$$`, which would end the dollar-quoted body early.
 */
export function plainJsonFunctionBody(python: string = readPlainJsonPython()): string {
  return pythonFunctionBody(PLAIN_JSON, python);
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
  return pythonFunctionSql(PLAIN_JSON, name, python);
}
