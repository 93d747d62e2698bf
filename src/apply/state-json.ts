/*
 * The state files apply keeps beside the table (batch records, taken indexes) are JSON objects;
 * reading one starts the same way whatever the file, and a damaged one is reported in the words of
 * its own kind of file.
 */

/**
 * The fields of the JSON object in `bytes` (UTF-8).
 * @throws what `corrupt(what)` returns when the bytes are not JSON or not a JSON object.
 */
export function parseStateObject(
  bytes: Uint8Array,
  corrupt: (what: string) => Error,
): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw corrupt(`not JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw corrupt('not a JSON object');
  return json as Record<string, unknown>;
}
