/*
 * Binary values (B, BS) as DynamoDB JSON carries them: standard base64 (RFC 4648 section 4, `+` and `/`),
 * padded with `=` to a multiple of four characters; the empty string is zero bytes.
 *
 * DynamoDB refuses unpadded text and the URL-safe alphabet. It accepts a final character whose unused
 * low bits are not zero (`AB==`) and stores the bytes, answering with the canonical text (`AA==`); we
 * do the same, so equal bytes always have equal text. DynamoDB Local also skips line breaks inside
 * the text; we refuse them, since DynamoDB never writes them and a reader meeting one is not reading
 * DynamoDB output.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const SEXTET = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) SEXTET[ALPHABET.charCodeAt(i)] = i;

/**
 * Validates base64 text and returns its canonical form: the same string when it already is (the
 * common case, no allocation), the re-encoded text when the last character carries non-zero unused
 * bits, or `null` when it is not padded standard base64. Never throws.
 */
export function checkBase64(text: string): string | null {
  const length = text.length;
  if (length === 0) return text;
  if ((length & 3) !== 0) return null;
  let padding = 0;
  if (text.charCodeAt(length - 1) === 61) padding = text.charCodeAt(length - 2) === 61 ? 2 : 1;
  const end = length - padding;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c > 127 || (SEXTET[c] as number) < 0) return null;
  }
  if (padding === 0) return text;
  const lastSextet = SEXTET[text.charCodeAt(end - 1)] as number;
  const unusedBits = padding === 1 ? lastSextet & 0b11 : lastSextet & 0b1111;
  if (unusedBits === 0) return text;
  return Buffer.from(text, 'base64').toString('base64');
}

/** The bytes of (valid) base64 text, as a view on a fresh buffer. */
export function base64ToBytes(text: string): Uint8Array {
  const buffer = Buffer.from(text, 'base64');
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Canonical padded standard base64 of `bytes`. */
export function bytesToBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * Orders two base64 texts by the bytes they encode (unsigned, lexicographic, a prefix first), without
 * decoding: sextets compare as the bits they carry, and a shorter text's zero padding bits can only
 * tie with the longer text's bits, so ties fall to length. Both texts must be valid base64.
 */
export function compareBase64Bytes(a: string, b: string): -1 | 0 | 1 {
  const aEnd = a.length - (a.endsWith('==') ? 2 : a.endsWith('=') ? 1 : 0);
  const bEnd = b.length - (b.endsWith('==') ? 2 : b.endsWith('=') ? 1 : 0);
  const shared = Math.min(aEnd, bEnd);
  for (let i = 0; i < shared; i++) {
    const x = SEXTET[a.charCodeAt(i)] as number;
    const y = SEXTET[b.charCodeAt(i)] as number;
    if (x !== y) return x < y ? -1 : 1;
  }
  const aBytes = (aEnd * 6) >> 3;
  const bBytes = (bEnd * 6) >> 3;
  return aBytes === bBytes ? 0 : aBytes < bBytes ? -1 : 1;
}
