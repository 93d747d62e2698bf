import * as duckdbErrors from '../../duckdb/errors.ts';
import * as dynamoErrors from '../../dynamo/errors.ts';
import * as baseErrors from '../../errors.ts';
import * as formatErrors from '../../formats/errors.ts';
import * as modelErrors from '../../lake/model-errors.ts';
import * as storageErrors from '../../storage/errors.ts';
import * as applyErrors from '../apply-errors.ts';

/*
 * Errors across the thread boundary of the snapshot load. Structured cloning keeps an Error's
 * message but not its class, code or fields, so a worker sends an error as plain data and the main
 * thread rebuilds an object of the same class (by name, among the error classes the load's code
 * can throw) with the same message, code, fields, stack and cause: callers and the CLI see the
 * error they would have seen without threads.
 */

/** An error as plain data. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  /** The error's own fields with primitive values (`code`, `file`, `line`, …). */
  readonly fields: Readonly<Record<string, string | number | boolean | bigint | null | undefined>>;
  readonly cause: SerializedError | undefined;
}

type ErrorClass = abstract new (...args: never[]) => Error;

const CLASSES: ReadonlyMap<string, ErrorClass> = (() => {
  const classes = new Map<string, ErrorClass>();
  for (const module of [
    baseErrors,
    formatErrors,
    dynamoErrors,
    storageErrors,
    duckdbErrors,
    modelErrors,
    applyErrors,
  ] as readonly Record<string, unknown>[]) {
    for (const [name, value] of Object.entries(module)) {
      if (typeof value === 'function' && value.prototype instanceof Error) {
        classes.set(name, value as ErrorClass);
      }
    }
  }
  for (const type of [Error, RangeError, TypeError, SyntaxError]) classes.set(type.name, type);
  return classes;
})();

const MAX_CAUSES = 8;

/** `error` as plain data (anything thrown that is not an Error becomes one with its text). Pure. */
export function serializeError(error: unknown, depth = 0): SerializedError {
  if (!(error instanceof Error)) {
    return { name: 'Error', message: String(error), stack: undefined, fields: {}, cause: undefined };
  }
  const fields: Record<string, string | number | boolean | bigint | null | undefined> = {};
  for (const [key, value] of Object.entries(error)) {
    if (value === null || ['string', 'number', 'boolean', 'bigint', 'undefined'].includes(typeof value)) {
      fields[key] = value as string | number | boolean | bigint | null | undefined;
    }
  }
  const cause =
    error.cause === undefined || depth >= MAX_CAUSES ? undefined : serializeError(error.cause, depth + 1);
  return { name: error.constructor.name, message: error.message, stack: error.stack, fields, cause };
}

/**
 * An Error of the serialized error's class (when it is one of the load's error classes, else
 * DdbLakeError when it has a code, else Error) with its message, fields, stack and cause; `resolve`
 * may answer an error of the main thread's own instead (a store's error, kept by reference). Pure.
 */
export function rebuildError(
  serialized: SerializedError,
  resolve: (serialized: SerializedError) => Error | undefined = () => undefined,
): Error {
  const own = resolve(serialized);
  if (own !== undefined) return own;
  const type =
    CLASSES.get(serialized.name) ??
    (typeof serialized.fields['code'] === 'string' ? baseErrors.DdbLakeError : Error);
  const error = Object.create(type.prototype) as Error;
  Object.defineProperty(error, 'message', {
    value: serialized.message,
    writable: true,
    configurable: true,
  });
  Object.assign(error, serialized.fields);
  Object.defineProperty(error, 'stack', {
    value: serialized.stack ?? `${serialized.name}: ${serialized.message}`,
    writable: true,
    configurable: true,
  });
  if (serialized.cause !== undefined) {
    Object.defineProperty(error, 'cause', {
      value: rebuildError(serialized.cause, resolve),
      writable: true,
      configurable: true,
    });
  }
  return error;
}
