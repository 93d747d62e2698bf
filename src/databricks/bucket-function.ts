import { MAX_BUCKETS } from '../lake/key-identity.ts';
import {
  type FunctionName,
  type PythonFunction,
  pythonFunctionBody,
  pythonFunctionSql,
  pythonSource,
  readPythonSource,
} from './python-function.ts';

/*
 * The Unity Catalog function that gives the bucket of a key text (`_ddb_bucket`) on a Databricks SQL
 * warehouse: what bucketOf(key, buckets) in src/lake/key-identity.ts gives, so that a key lands in
 * the same bucket whichever engine wrote it.
 *
 * The Python lives in src/databricks/python/key_bucket.py, a file Python can also run and import on
 * its own (the tests compare it with the TypeScript). Its lines above END_OF_BODY are the body;
 * python-function.ts appends `return ddb_bucket(key, buckets)` and wraps it in CREATE FUNCTION.
 */

const FILE = 'key_bucket.py';

/** Where the Python source of the function is, found from this module in src/ or in dist/. */
export const BUCKET_PYTHON_SOURCE: URL = pythonSource(FILE);

/** The function's default name in its schema. */
export const BUCKET_FUNCTION_NAME = 'ddb_lake_bucket';

const BUCKET: PythonFunction = {
  title: 'bucket',
  file: FILE,
  parameters: 'key STRING, buckets INT',
  returns: 'INT',
  call: 'ddb_bucket(key, buckets)',
  comment:
    'ddb-lake: the bucket of a _ddb_key text, FNV-1a 32 of its UTF-8 bytes modulo buckets ' +
    `(1 to ${MAX_BUCKETS}), NULL for a NULL key`,
};

/** The text of key_bucket.py as this package ships it. Reads the file each call. */
export function readBucketPython(): string {
  return readPythonSource(FILE);
}

/**
 * The function body as Databricks runs it: the lines of `python` above END_OF_BODY, then
 * `return ddb_bucket(key, buckets)`. Pure.
 * @throws DatabricksFunctionError when END_OF_BODY is not a line of `python` exactly once, or the
 * body holds `$$`, which would end the dollar-quoted body early.
 */
export function bucketFunctionBody(python: string = readBucketPython()): string {
  return pythonFunctionBody(BUCKET, python);
}

/**
 * The `CREATE OR REPLACE FUNCTION` statement of the bucket function: parameters `key STRING` (a
 * `_ddb_key` text) and `buckets INT` (the table's bucket count), an INT result (the key's bucket,
 * 0 to buckets − 1; NULL for a NULL key), DETERMINISTIC. A bucket count that is NULL or not from 1
 * to MAX_BUCKETS fails the query with assertBucketCount's message. Idempotent to run. Pure apart
 * from reading key_bucket.py when `python` is not given.
 * @param python the text of key_bucket.py; the shipped file by default.
 * @throws DatabricksFunctionError when a name part is empty or the body cannot be dollar-quoted.
 */
export function bucketFunctionSql(name: FunctionName, python: string = readBucketPython()): string {
  return pythonFunctionSql(BUCKET, name, python);
}
