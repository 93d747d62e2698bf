import { compareUtf8 } from '../dynamo/plain-json.ts';

/*
 * Attribute-level differences between two canonical plain JSON items (plain-json.ts): the text of
 * each top-level member, cut out of the item's text as it is, so a number keeps every digit (a
 * JSON.parse would round it) and a set keeps its canonical order.
 */

/** One attribute that differs between the table's item and the lake's row. */
export interface AttributeDifference {
  readonly attribute: string;
  /** The table's value as plain JSON, or null when the item lacks the attribute. */
  readonly table: string | null;
  /** The lake's value as plain JSON, or null when the row lacks the attribute. */
  readonly lake: string | null;
}

function stringEnd(text: string, from: number): number {
  let i = from + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}

/**
 * The members of a canonical plain JSON object (`{"a":1,"b":[…]}`, no whitespace, as
 * `itemToPlainJson` and `rowToPlainItem` write it), name → the member's exact value text. Pure.
 * @throws SyntaxError for text that is not such an object.
 */
export function plainMembers(text: string): Map<string, string> {
  const members = new Map<string, string>();
  if (!text.startsWith('{') || !text.endsWith('}')) {
    throw new SyntaxError(`not a plain JSON object: ${text.slice(0, 80)}`);
  }
  let at = 1;
  while (at < text.length - 1) {
    if (text[at] !== '"') throw new SyntaxError(`not a plain JSON object at ${at}: ${text.slice(0, 80)}`);
    const nameEnd = stringEnd(text, at);
    const name = JSON.parse(text.slice(at, nameEnd)) as string;
    if (text[nameEnd] !== ':')
      throw new SyntaxError(`not a plain JSON object at ${nameEnd}: ${text.slice(0, 80)}`);
    const valueStart = nameEnd + 1;
    let i = valueStart;
    let depth = 0;
    while (i < text.length - 1 && !(depth === 0 && text[i] === ',')) {
      const c = text[i];
      if (c === '"') {
        i = stringEnd(text, i);
        continue;
      }
      if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') depth--;
      i++;
    }
    members.set(name, text.slice(valueStart, i));
    at = i + 1;
  }
  return members;
}

/**
 * The attributes whose plain JSON differs between the table's item and the lake's row, by name in
 * UTF-8 order; an attribute only one side has is listed with null on the other. Empty when the
 * texts are equal. Pure.
 * @throws SyntaxError when either text is not a canonical plain JSON object.
 */
export function attributeDifferences(tableText: string, lakeText: string): AttributeDifference[] {
  if (tableText === lakeText) return [];
  const table = plainMembers(tableText);
  const lake = plainMembers(lakeText);
  const names = [...new Set([...table.keys(), ...lake.keys()])].sort(compareUtf8);
  const differences: AttributeDifference[] = [];
  for (const attribute of names) {
    const tableValue = table.get(attribute) ?? null;
    const lakeValue = lake.get(attribute) ?? null;
    if (tableValue !== lakeValue) differences.push({ attribute, table: tableValue, lake: lakeValue });
  }
  return differences;
}
