/*
 * Z85, the Base85 variant of ZeroMQ RFC 32, which Delta uses to put deletion vectors and their
 * file UUIDs into JSON (PROTOCOL.md, "Deletion Vector Descriptor Schema"): every 5 characters
 * encode 4 bytes, big-endian, as digits base 85 over the alphabet below.
 */

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

const DIGIT: ReadonlyMap<string, number> = new Map([...ALPHABET].map((char, index) => [char, index]));

/**
 * The bytes of a Z85 text: 4 bytes per 5 characters.
 * @throws RangeError (the caller names the log entry) for a length that is not a multiple of 5, a character outside the alphabet, or a
 *   group above 2^32 − 1.
 */
export function decodeZ85(text: string): Uint8Array {
  if (text.length % 5 !== 0)
    throw new RangeError(`a Z85 text has a multiple of 5 characters, this one has ${text.length}`);
  const bytes = new Uint8Array((text.length / 5) * 4);
  const view = new DataView(bytes.buffer);
  for (let group = 0; group < text.length / 5; group++) {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const char = text[group * 5 + i] as string;
      const digit = DIGIT.get(char);
      if (digit === undefined)
        throw new RangeError(`"${char}" at position ${group * 5 + i} is not a Z85 character`);
      value = value * 85 + digit;
    }
    if (value > 0xffff_ffff) throw new RangeError(`the group at position ${group * 5} exceeds 32 bits`);
    view.setUint32(group * 4, value, false);
  }
  return bytes;
}

/** The Z85 text of `bytes`, whose length must be a multiple of 4. */
export function encodeZ85(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new RangeError(`Z85 encodes a multiple of 4 bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let text = '';
  for (let offset = 0; offset < bytes.length; offset += 4) {
    let value = view.getUint32(offset, false);
    const group = new Array<string>(5);
    for (let i = 4; i >= 0; i--) {
      group[i] = ALPHABET[value % 85] as string;
      value = Math.floor(value / 85);
    }
    text += group.join('');
  }
  return text;
}
