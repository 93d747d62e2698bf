import type { DeltaType } from '../../delta/schema.ts';

/*
 * What differs between the engines that render a batch's statement plan (batch-statements.ts):
 * how files are read, how JSON is taken apart, the two functions ddb-lake installs (plain JSON of a
 * DynamoDB value, the bucket of a key), type names and quoting. Everything else, the rules, is
 * written once in the plan. Each method returns SQL text built only from its arguments, which are
 * SQL expressions or parameter references the plan made: no value is ever pasted in here.
 */

/** One engine's spelling of the statement plan. */
export interface SqlDialect {
  /** For messages and tests. */
  readonly name: 'duckdb' | 'databricks';
  /** A quoted identifier (a column or one part of a table name). */
  identifier(name: string): string;
  /** The reference to the named parameter `name` in statement text. */
  parameter(name: string): string;
  /** The engine's type of a Delta type (string, long, integer, boolean, binary, timestamp, decimal, array of those). */
  type(type: DeltaType): string;
  /**
   * A relation over the change files named by these parameters (each holds one file's location),
   * with the columns `op` (string), `keys`, `new`, `old` (the images' DynamoDB JSON text, NULL when
   * absent), `seq` (digits), `ts` (epoch ms, bigint), `ttl` (boolean).
   */
  changeLines(fileParameters: readonly string[]): string;
  /** A relation over tombstone files (tombstones.ts): the columns `key` and `seq` (padded). */
  tombstoneLines(fileParameters: readonly string[]): string;
  /** A relation over native-export data files (one `{"Item": …}` per line): the column `item` (DynamoDB JSON text). */
  exportLines(fileParameters: readonly string[]): string;
  /** An item's DynamoDB JSON text as a map from attribute name to the attribute's DynamoDB JSON text. */
  attributeMap(item: string): string;
  /** The DynamoDB JSON text of one attribute (its name an expression) of such a map, or NULL. */
  attribute(map: string, name: string): string;
  /** The names of such a map, as an array. */
  mapKeys(map: string): string;
  /**
   * One row per element of the array, the element as this expression's value: a generator in a
   * SELECT list (the other columns of the row repeated), no row for an empty array.
   */
  explode(array: string): string;
  /** The type tag (`S`, `N`, `M`, …) of a DynamoDB JSON value text. */
  typeTag(value: string): string;
  /** The member `tag` of a DynamoDB JSON value text as unescaped text (`S`, `N`, `B`; `BOOL` as `true`/`false`), or NULL. */
  member(value: string, tag: 'S' | 'N' | 'B' | 'BOOL'): string;
  /** The canonical plain JSON text of a DynamoDB JSON value text (ddb-lake's function; NULL for NULL). */
  plainJson(value: string): string;
  /** `_ddb_bucket` of a key text: FNV-1a 32 of its UTF-8 bytes modulo `buckets` (ddb-lake's function). */
  bucket(key: string, buckets: string): string;
  /** True when the text matches the regular expression (the pattern an expression). */
  matches(text: string, pattern: string): string;
  /** The timestamp of epoch milliseconds. */
  timestampFromMillis(millis: string): string;
  /** Bytes from standard base64 text. */
  fromBase64(text: string): string;
  /** A JSON array text of strings as an array of the (unescaped) strings. */
  stringArray(json: string): string;
  /** Text split at every occurrence of the separator (an expression). */
  split(text: string, separator: string): string;
  /** Each element of an array through `body`, in which `element` names the element. */
  transform(array: string, element: string, body: string): string;
  /** The array with `element` put before its first element. */
  prepend(element: string, array: string): string;
  /** The greatest element of an array (NULL for an empty one). */
  arrayMax(array: string): string;
  /** True when `body` holds for every element (and for an empty array). */
  everyElement(array: string, element: string, body: string): string;
  /** Left-pads text to `length` characters with zeros. */
  zeroPad(text: string, length: number): string;
}
