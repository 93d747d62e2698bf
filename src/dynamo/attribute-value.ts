import { InvalidAttributeValueError } from './errors.ts';

/**
 * DynamoDB values as they appear in DynamoDB JSON (the wire format, Streams records and native
 * exports): exactly one type tag per value. Numbers stay decimal text and binary stays base64 text,
 * so a value round-trips without loss. Use `parseAttributeValue` / `parseItem` to turn untrusted
 * JSON into these types; the types alone promise nothing about validity.
 */
export type AttributeValue =
  | { readonly S: string }
  | { readonly N: string }
  | { readonly B: string }
  | { readonly BOOL: boolean }
  | { readonly NULL: true }
  | { readonly SS: readonly string[] }
  | { readonly NS: readonly string[] }
  | { readonly BS: readonly string[] }
  | { readonly L: readonly AttributeValue[] }
  | { readonly M: Item };

/** A DynamoDB item (or a nested map): attribute name → value. */
export type Item = { readonly [attribute: string]: AttributeValue };

/** The ten type tags of DynamoDB JSON, spelled as DynamoDB spells them. */
export const DYNAMO_TYPES = ['S', 'N', 'B', 'BOOL', 'NULL', 'SS', 'NS', 'BS', 'L', 'M'] as const;

export type DynamoType = (typeof DYNAMO_TYPES)[number];

/**
 * The type tag of a value (`{N: "1"}` → `'N'`). Expects a value with exactly one tag, as
 * `parseAttributeValue` guarantees; for anything else the answer is the first key.
 * @throws InvalidAttributeValueError when the value has no key at all.
 */
export function attributeType(value: AttributeValue): DynamoType {
  for (const tag in value) return tag as DynamoType;
  throw new InvalidAttributeValueError('', 'a value without a type tag');
}
