import type { DeltaType, StructType } from '../../delta/schema.ts';
import type { LakeValue } from '../../duckdb/lake-value.ts';
import type { AttributeValue, Item } from '../../dynamo/attribute-value.ts';
import { compareBase64Bytes } from '../../dynamo/base64.ts';
import { sortNumbers } from '../../dynamo/number.ts';
import { compareUtf8, parsedValueToPlainJson } from '../../dynamo/plain-json.ts';
import { numberFits } from '../../lake/column-fit.ts';
import { type AttributeCodec, conflictCell, rowCodec } from '../../lake/item-to-row.ts';
import { SYSTEM_COLUMN, type TableLayout } from '../../lake/table-layout.ts';
import { type CellEncoder, cellEncoder, quotedSpoolField, SPOOL_QUOTE } from './snapshot-spool-file.ts';

/*
 * The hot path of the snapshot load and of a later batch's change table: an item straight to its
 * spool line (snapshot-spool-file.ts), the line `itemToRow` plus the system cells plus
 * `SpoolFileWriter.append` would write, with no lake row in between. Parsed items already hold
 * canonical numbers and base64 (parse.ts), so a number's cell is its text (long, string) or the
 * digits of its unscaled value (decimal), and a binary's cell is its base64 as read: nothing is
 * decoded to be encoded again. The cells every snapshot row shares are encoded once. Whatever this
 * does not handle (a value that fits neither its column nor a conflict column, a column type it
 * does not know) it leaves to the general path (`line` returns undefined), so errors are the
 * general path's.
 */

/**
 * Plain JSON text as a quoted spool field: JSON escapes every control character, so the text never
 * holds a raw SPOOL_QUOTE and needs no scan for one.
 */
function jsonSpoolField(json: string): string {
  return `${SPOOL_QUOTE}${json}${SPOOL_QUOTE}`;
}

/** An attribute's field text when its value fits the column, or undefined (conflict or unknown). */
type FieldText = (value: AttributeValue) => string | undefined;

/** The decimal(p,s) cell of canonical number text that fits the column: the digits of value × 10^s. */
function unscaledDigits(canonical: string, scale: number): string {
  const dot = canonical.indexOf('.');
  const digits =
    dot < 0
      ? canonical + '0'.repeat(scale)
      : canonical.slice(0, dot) + canonical.slice(dot + 1) + '0'.repeat(scale - (canonical.length - dot - 1));
  return `${BigInt(digits)}`;
}

/** A fitting number's cell text for a column or element of `type`, or undefined for a type not handled. */
function numberText(type: DeltaType): ((canonical: string) => string) | undefined {
  if (type.type === 'decimal') return (canonical) => unscaledDigits(canonical, type.scale);
  if (type.type === 'primitive' && (type.name === 'long' || type.name === 'string')) return (c) => c;
  return undefined;
}

function fieldText(codec: AttributeCodec): FieldText | undefined {
  const { type, kind } = codec;
  const isString = type.type === 'primitive' && type.name === 'string';
  switch (kind) {
    case 'JSON':
      return isString ? (value) => jsonSpoolField(parsedValueToPlainJson(value)) : undefined;
    case 'M':
    case 'L':
      return isString
        ? (value) => (kind in value ? jsonSpoolField(parsedValueToPlainJson(value)) : undefined)
        : undefined;
    case 'S':
      return isString ? (value) => ('S' in value ? quotedSpoolField(value.S) : undefined) : undefined;
    case 'N': {
      const text = numberText(type);
      if (text === undefined) return undefined;
      return (value) => ('N' in value && numberFits(value.N, type) ? text(value.N) : undefined);
    }
    case 'B':
      return type.type === 'primitive' && type.name === 'binary'
        ? (value) => ('B' in value ? quotedSpoolField(value.B) : undefined)
        : undefined;
    case 'BOOL':
      return type.type === 'primitive' && type.name === 'boolean'
        ? (value) => ('BOOL' in value ? (value.BOOL ? 'true' : 'false') : undefined)
        : undefined;
    case 'SS': {
      const element = type.type === 'array' ? type.elementType : undefined;
      if (element?.type !== 'primitive' || element.name !== 'string') return undefined;
      return (value) => {
        if (!('SS' in value)) return undefined;
        const sorted = value.SS.slice().sort(compareUtf8);
        let array = '[';
        for (let i = 0; i < sorted.length; i++) {
          if (i > 0) array += ',';
          array += JSON.stringify(sorted[i]);
        }
        return jsonSpoolField(`${array}]`);
      };
    }
    case 'NS': {
      if (type.type !== 'array') return undefined;
      const element = type.elementType;
      const text = numberText(element);
      if (text === undefined) return undefined;
      // Decimal and long elements are JSON strings of plain digits, string elements escaped ones.
      const json =
        element.type === 'primitive' && element.name === 'string'
          ? (canonical: string) => JSON.stringify(canonical)
          : (canonical: string) => `"${text(canonical)}"`;
      return (value) => {
        if (!('NS' in value)) return undefined;
        for (const number of value.NS) if (!numberFits(number, element)) return undefined;
        const sorted = sortNumbers(value.NS);
        let array = '[';
        for (let i = 0; i < sorted.length; i++) {
          if (i > 0) array += ',';
          array += json(sorted[i] as string);
        }
        return jsonSpoolField(`${array}]`);
      };
    }
    case 'BS': {
      const element = type.type === 'array' ? type.elementType : undefined;
      if (element?.type !== 'primitive' || element.name !== 'binary') return undefined;
      return (value) => {
        if (!('BS' in value)) return undefined;
        const sorted = value.BS.slice().sort(compareBase64Bytes);
        let array = '[';
        for (let i = 0; i < sorted.length; i++) {
          if (i > 0) array += ',';
          array += `"${sorted[i]}"`;
        }
        return jsonSpoolField(`${array}]`);
      };
    }
  }
}

interface AttributeSlot {
  readonly column: number;
  /** Undefined: every value of the attribute takes the general path. */
  readonly text: FieldText | undefined;
  /** Field index and text of each conflict column, by DynamoDB type. */
  readonly conflicts: ReadonlyMap<string, { readonly column: number; readonly text: FieldText }>;
}

/**
 * Spool lines of a snapshot's items for one layout and schema (see the top of this file). One per
 * pass and thread.
 */
export class ItemSpoolLineEncoder {
  readonly #slots: ReadonlyMap<string, AttributeSlot>;
  /** Every field's text with only the shared cells filled; a row starts as a copy. */
  readonly #template: readonly string[];
  readonly #keyColumn: number;
  readonly #bucketColumn: number;
  readonly #index: ReadonlyMap<string, number>;
  readonly #encoders: readonly CellEncoder[];
  /** Per column, the last per-row cell encoded and its text: rows of a batch share most of them. */
  readonly #lastCell: (LakeValue | undefined)[];
  readonly #lastText: string[];

  /**
   * @param cells the system cells every row shares (key and bucket are given per item).
   * @throws RangeError for a schema a spool does not carry; RowShapeError as `rowCodec`.
   */
  constructor(layout: TableLayout, schema: StructType, cells: Readonly<Record<string, LakeValue>>) {
    const index = new Map(schema.fields.map((field, i) => [field.name, i]));
    const encoders = schema.fields.map((field) => cellEncoder(field.name, field.type));
    if (encoders.some((encoder) => encoder === undefined)) {
      throw new RangeError('the schema has a column type the row spool does not carry');
    }
    const slots = new Map<string, AttributeSlot>();
    for (const [attribute, codec] of rowCodec(layout, schema)) {
      const conflicts = new Map<string, { column: number; text: FieldText }>();
      for (const [type, conflict] of codec.conflicts) {
        conflicts.set(type, {
          column: index.get(conflict.column) as number,
          text: (value) => quotedSpoolField(conflictCell(value, conflict)),
        });
      }
      slots.set(attribute, { column: index.get(codec.column) as number, text: fieldText(codec), conflicts });
    }
    this.#slots = slots;
    this.#index = index;
    this.#encoders = encoders as CellEncoder[];
    this.#lastCell = schema.fields.map(() => undefined);
    this.#lastText = schema.fields.map(() => '');
    this.#template = schema.fields.map((field, i) => {
      const value = cells[field.name];
      return value === undefined || value === null ? '' : (encoders[i] as CellEncoder)(value, 0);
    });
    this.#keyColumn = index.get(SYSTEM_COLUMN.key) ?? -1;
    this.#bucketColumn = index.get(SYSTEM_COLUMN.bucket) ?? -1;
    if (this.#keyColumn < 0 || this.#bucketColumn < 0) {
      throw new RangeError('the schema has no key or bucket column');
    }
  }

  /**
   * The spool line (without its line break) of `item` (parsed by parse.ts) with key `key` in
   * `bucket`, or undefined when the item takes the general path (itemToRow, which throws for an
   * item the schema was not evolved for).
   */
  line(item: Item, key: string, bucket: number): string | undefined {
    const fields = this.#template.slice();
    fields[this.#keyColumn] = quotedSpoolField(key);
    fields[this.#bucketColumn] = `${bucket}`;
    return this.#withAttributes(fields, item);
  }

  /**
   * As `line`, with the cells of `cells` (a later batch's system cells, which differ per row) in
   * place of the shared ones: the line `itemToRow`'s row with those cells would be.
   * @throws LakeValueError from the column's encoder for a cell that does not fit its column.
   */
  lineWithCells(item: Item, cells: Readonly<Record<string, LakeValue>>): string | undefined {
    const fields = this.#template.slice();
    for (const name in cells) {
      const column = this.#index.get(name);
      if (column === undefined) return undefined;
      const value = cells[name];
      if (value === undefined || value === null) {
        fields[column] = '';
      } else if (value === this.#lastCell[column]) {
        fields[column] = this.#lastText[column] as string;
      } else {
        const text = (this.#encoders[column] as CellEncoder)(value, 0);
        this.#lastCell[column] = value;
        this.#lastText[column] = text;
        fields[column] = text;
      }
    }
    return this.#withAttributes(fields, item);
  }

  #withAttributes(fields: string[], item: Item): string | undefined {
    for (const attribute in item) {
      const slot = this.#slots.get(attribute);
      if (slot?.text === undefined) return undefined;
      const value = item[attribute] as AttributeValue;
      const text = slot.text(value);
      if (text !== undefined) {
        fields[slot.column] = text;
        continue;
      }
      const conflict = slot.conflicts.get(attributeTypeOf(value));
      if (conflict === undefined) return undefined;
      fields[conflict.column] = conflict.text(value) as string;
    }
    return fields.join(',');
  }
}

/** The type tag of a parsed value (its only key). */
function attributeTypeOf(value: AttributeValue): string {
  for (const tag in value) return tag;
  return '';
}
