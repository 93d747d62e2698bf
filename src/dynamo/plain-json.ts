import type { AttributeValue, Item } from './attribute-value.ts';
import { compareBase64Bytes } from './base64.ts';
import { sortNumbers } from './number.ts';
import { parseAttributeValue, parseItem } from './parse.ts';

/*
 * Plain JSON: a DynamoDB value without its type tags, as a lake column of M or L holds it and as
 * the canonical text that compares a source item with a lake row.
 *
 *   S → JSON string          N → the canonical number text as a JSON number literal (exact, any size)
 *   B → base64 JSON string   BOOL → true/false           NULL → null
 *   SS, NS, BS → JSON arrays L → array                   M → object
 *
 * The text is canonical: no whitespace, map keys and SS elements sorted by UTF-8 bytes, BS by their
 * bytes, NS by value, numbers and base64 in canonical form. So two values are equal as DynamoDB sees
 * them (sets unordered, "1.0" = "1") exactly when their plain JSON texts are equal. The mapping loses
 * the difference between S and B, between a set and a list, and between N and a same-looking S: it is
 * for comparing values of one attribute, not for reading DynamoDB JSON back.
 */

/**
 * Orders strings by their UTF-8 bytes (that is, by code point), not by UTF-16 code units as `<` does:
 * the two differ when a character above U+FFFF meets one in U+E000–U+FFFF.
 */
export function compareUtf8(a: string, b: string): -1 | 0 | 1 {
  const shared = Math.min(a.length, b.length);
  for (let i = 0; i < shared; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        // Surrogates stand for code points above U+FFFF: move them above U+E000–U+FFFF.
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x < y ? -1 : 1;
    }
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function stringArray(elements: readonly string[], compare: (a: string, b: string) => number): string {
  const sorted = elements.slice().sort(compare);
  let text = '[';
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0) text += ',';
    text += JSON.stringify(sorted[i]);
  }
  return `${text}]`;
}

function numberArray(elements: readonly string[]): string {
  return `[${sortNumbers(elements).join(',')}]`;
}

function mapText(map: Item): string {
  const names = Object.keys(map).sort(compareUtf8);
  let text = '{';
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    if (i > 0) text += ',';
    text += `${JSON.stringify(name)}:${valueText(map[name] as AttributeValue)}`;
  }
  return `${text}}`;
}

/** Serializes a value already validated and normalized by parse.ts. */
function valueText(value: AttributeValue): string {
  if ('S' in value) return JSON.stringify(value.S);
  if ('N' in value) return value.N;
  if ('BOOL' in value) return value.BOOL ? 'true' : 'false';
  if ('NULL' in value) return 'null';
  if ('M' in value) return mapText(value.M);
  if ('L' in value) {
    let text = '[';
    for (let i = 0; i < value.L.length; i++) {
      if (i > 0) text += ',';
      text += valueText(value.L[i] as AttributeValue);
    }
    return `${text}]`;
  }
  if ('B' in value) return JSON.stringify(value.B);
  if ('SS' in value) return stringArray(value.SS, compareUtf8);
  if ('NS' in value) return numberArray(value.NS);
  return stringArray(value.BS, compareBase64Bytes);
}

/**
 * The canonical plain JSON text of one value (see the top of this file). Deterministic: equal
 * values give equal text. The value is validated and normalized first, so hand-built values with
 * "1.0" or unsorted sets give the same text as their canonical forms.
 * @param path the value's attribute path, used in errors.
 * @throws InvalidAttributeValueError when the value is not valid DynamoDB JSON.
 */
export function valueToPlainJson(value: AttributeValue, path = ''): string {
  return valueText(parseAttributeValue(value, path));
}

/**
 * `valueToPlainJson` of a value parse.ts returned (validated and normalized already), without
 * validating it again: for hot paths over parsed items only. Pure.
 */
export function parsedValueToPlainJson(value: AttributeValue): string {
  return valueText(value);
}

/**
 * The canonical plain JSON text of an item: an object with names sorted by UTF-8 bytes. Same
 * contract as `valueToPlainJson`.
 * @throws InvalidAttributeValueError when the item is not valid DynamoDB JSON.
 */
export function itemToPlainJson(item: Item, path = ''): string {
  return mapText(parseItem(item, path));
}
