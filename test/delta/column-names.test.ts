import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assignColumnNames,
  COLUMN_NAMES_PROPERTY,
  columnNameKey,
  columnNameMapping,
  invalidColumnNameReason,
  READER_RESERVED_COLUMNS,
  SYSTEM_COLUMNS,
} from '../../src/delta/column-names.ts';

const RUNS = 300;

/** Attribute names as DynamoDB allows them: any characters, and many near-clashes (case, forbidden characters, suffixes). */
const attributeName = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' }),
  fc
    .array(
      fc.constantFrom('a', 'A', 'b', 'B', ' ', ',', ';', '{', '}', '(', ')', '\n', '\t', '=', '_', '2', '3'),
      {
        minLength: 1,
        maxLength: 5,
      },
    )
    .map((chars) => chars.join('')),
  fc.constantFrom(
    ...SYSTEM_COLUMNS,
    ...READER_RESERVED_COLUMNS,
    '_DDB_SEQ',
    'File_Row_Number',
    'a_2',
    'A_2',
    'a b',
    'a_b',
  ),
);
const attributeNames = fc.array(attributeName, { maxLength: 25 });

function columnsOf(configuration: Record<string, string>, names: readonly string[]): string[] {
  const mapping = columnNameMapping(configuration);
  return names.map((name) => mapping.get(name) as string);
}

describe('assignColumnNames', () => {
  it('gives every attribute a column Spark accepts, unique ignoring case, never a system column or a reserved name', () => {
    fc.assert(
      fc.property(attributeNames, (names) => {
        const { columns } = assignColumnNames({}, names);
        expect([...columns.keys()].sort()).toEqual([...new Set(names)].sort());
        const keys = [...columns.values()].map(columnNameKey);
        expect(new Set(keys).size).toBe(keys.length);
        for (const column of columns.values()) {
          expect(invalidColumnNameReason(column)).toBeUndefined();
          expect([...SYSTEM_COLUMNS, ...READER_RESERVED_COLUMNS].map(columnNameKey)).not.toContain(
            columnNameKey(column),
          );
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('is stable: attributes mapped earlier keep their columns whatever attributes come later', () => {
    fc.assert(
      fc.property(attributeNames, attributeNames, attributeNames, (first, second, third) => {
        const one = assignColumnNames({ other: 'x' }, first);
        const two = assignColumnNames(one.configuration, second);
        const three = assignColumnNames(two.configuration, third);
        expect(columnsOf(three.configuration as Record<string, string>, first)).toEqual(
          columnsOf(one.configuration as Record<string, string>, first),
        );
        expect(columnsOf(three.configuration as Record<string, string>, second)).toEqual(
          columnsOf(two.configuration as Record<string, string>, second),
        );
        expect(three.configuration.other).toBe('x');
        const keys = [...three.columns.values()].map(columnNameKey);
        expect(new Set(keys).size).toBe(keys.length);
      }),
      { numRuns: RUNS },
    );
  });

  it('is idempotent: assigning names already mapped adds nothing and returns the same configuration', () => {
    fc.assert(
      fc.property(attributeNames, (names) => {
        const first = assignColumnNames({}, names);
        const again = assignColumnNames(first.configuration, [...names].reverse());
        expect(again.added).toEqual([]);
        expect(again.configuration).toBe(first.configuration);
      }),
      { numRuns: RUNS },
    );
  });

  it('keeps safe names as they are, replaces forbidden characters with _ and suffixes clashes _2, _3 in order', () => {
    const { columns, added, configuration } = assignColumnNames({}, [
      'Price',
      'price',
      'PRICE',
      'a b',
      'a_b',
      'x=(1)',
      '_ddb_seq',
      'ünïcödé.name',
      'price',
    ]);
    expect(Object.fromEntries(columns)).toEqual({
      Price: 'Price',
      price: 'price_2',
      PRICE: 'PRICE_3',
      'a b': 'a_b',
      a_b: 'a_b_2',
      'x=(1)': 'x__1_',
      _ddb_seq: '_ddb_seq_2',
      'ünïcödé.name': 'ünïcödé.name',
    });
    expect(added).toHaveLength(8);
    expect(JSON.parse(configuration[COLUMN_NAMES_PROPERTY] as string)).toEqual([...columns]);
  });

  it('avoids columns of the schema that no attribute owns', () => {
    const { columns } = assignColumnNames({}, ['legacy', 'Other'], ['LEGACY', 'other_2', 'other']);
    expect(Object.fromEntries(columns)).toEqual({ legacy: 'legacy_2', Other: 'Other_3' });
  });

  it('refuses a recorded mapping that maps two attributes to one column, naming the property', () => {
    const configuration = {
      [COLUMN_NAMES_PROPERTY]: JSON.stringify([
        ['a', 'x'],
        ['b', 'X'],
      ]),
    };
    expect(() => assignColumnNames(configuration, ['c'])).toThrow(
      /ddb_lake\.columnNames.*two attributes.*"X"/,
    );
    expect(() => columnNameMapping({ [COLUMN_NAMES_PROPERTY]: '{' })).toThrow(/not JSON/);
  });
});
