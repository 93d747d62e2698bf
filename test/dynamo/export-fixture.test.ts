import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Item } from '../../src/dynamo/attribute-value.ts';
import { lakeTypeSql } from '../../src/dynamo/lake-type.ts';
import { parseItem } from '../../src/dynamo/parse.ts';
import { itemToPlainJson, valueToPlainJson } from '../../src/dynamo/plain-json.ts';
import { inferSchema } from '../../src/dynamo/schema-inference.ts';
import { SAMPLE_EXPORT } from '../support/fixtures.ts';

/*
 * The sample native export in test/fixtures/export (see its README): a full export of `orders`
 * and an incremental one, gzip JSON lines as DynamoDB writes them.
 */
const exportRoot = `${SAMPLE_EXPORT}/`;
const FULL = 'AWSDynamoDB/01795392000000-5a1c9e20';
const INCREMENTAL = 'AWSDynamoDB/01795392900000-c07e5b19';

/** The data files a manifest lists, in its order, each as its parsed JSON lines. */
function readExport(prefix: string): { file: string; lines: Record<string, unknown>[] }[] {
  const manifest = readFileSync(`${exportRoot}${prefix}/manifest-files.json`, 'utf8');
  return manifest
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const { dataFileS3Key } = JSON.parse(line) as { dataFileS3Key: string };
      const text = gunzipSync(readFileSync(`${exportRoot}${dataFileS3Key}`)).toString('utf8');
      const lines = text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      return { file: dataFileS3Key, lines };
    });
}

function fullExportItems(): Item[] {
  return readExport(FULL).flatMap(({ file, lines }) =>
    lines.map((line, index) => parseItem(line.Item, `${file}:${index + 1} Item`)),
  );
}

describe('the sample native export', () => {
  it('parses every item of the full export', () => {
    const items = fullExportItems();
    expect(items).toHaveLength(4);
    expect(items.map((item) => itemToPlainJson({ pk: item.pk!, sk: item.sk! }))).toEqual([
      '{"pk":"customer#1","sk":"order#0001"}',
      '{"pk":"customer#1","sk":"order#0002"}',
      '{"pk":"customer#2","sk":"profile"}',
      '{"pk":"customer#3","sk":"order#0001"}',
    ]);
  });

  it('parses every image of the incremental export', () => {
    const files = readExport(INCREMENTAL);
    const records = files.flatMap(({ lines }) => lines);
    expect(records).toHaveLength(3);
    for (const record of records) {
      for (const part of ['Metadata', 'Keys', 'NewImage', 'OldImage']) {
        if (record[part] !== undefined) expect(() => parseItem(record[part], part)).not.toThrow();
      }
    }
    const updated = records.find((r) => r.OldImage !== undefined && r.NewImage !== undefined)!;
    expect(valueToPlainJson(parseItem(updated.NewImage).total!)).toBe('139.95');
  });

  it('normalizes the extreme numbers to the plain text DynamoDB returns', () => {
    const items = fullExportItems();
    const profile = items[2]!;
    expect(valueToPlainJson(profile.meta!)).toBe(`{"nested":{"deep":[1${'0'.repeat(125)},"x",false]}}`);
    expect(profile.scores).toEqual({ NS: ['1', '2.5', `-0.${'0'.repeat(129)}1`] });
    expect(items[1]!.total).toEqual({ N: '12345678901234567890123456789012345678' });
  });

  it('infers the lake types DESIGN.md gives: one type per column, scale at most 18, the rest explained', () => {
    const schema = inferSchema(fullExportItems());
    const summary = schema.columns.map((c) => [
      c.name,
      c.valueType,
      lakeTypeSql(c.lakeType),
      c.nullable,
      c.notHeld,
    ]);
    expect(summary).toEqual([
      ['pk', 'S', 'string', false, 0],
      ['sk', 'S', 'string', false, 0],
      // 129.95 and a 38-digit integer: no decimal(38,s) holds both; of those holding one, the
      // smallest scale.
      ['total', 'N', 'decimal(38,0)', true, 1],
      // 3 and 0.1000000000000000000000000000000000001 (scale 37, more than 18).
      ['qty', 'N', 'bigint', true, 1],
      ['paid', 'BOOL', 'boolean', true, 0],
      ['tags', 'SS', 'array<string>', true, 0],
      ['lines', 'L', 'string', true, 0],
      ['note', 'S', 'string', true, 0],
      ['refund', 'S', 'string', true, 0],
      ['sig', 'B', 'binary', true, 0],
      // -1E-130 needs scale 130: the one set goes to the conflict column.
      ['scores', 'NS', 'array<bigint>', true, 1],
      ['blobs', 'BS', 'array<binary>', true, 0],
      ['meta', 'M', 'string', true, 0],
    ]);
    const byName = new Map(schema.columns.map((c) => [c.name, c]));
    const total = byName.get('total')!;
    expect(total.encoding).toBe('value');
    expect(total.conflict?.types).toEqual([
      { type: 'N', count: 2 },
      { type: 'S', count: 1 },
    ]);
    expect(total.conflict?.reason).toMatch(/N in 2 items and S in 1 item; the column holds N/);
    expect(byName.get('qty')!.numbers).toMatchObject({ maxScale: 37, maxIntegerDigits: 1, decimalCount: 1 });
    expect(byName.get('qty')!.notes.join()).toMatch(/1 value of 2 needs more than bigint holds/);
    expect(byName.get('scores')!.setNumbers).toMatchObject({ maxScale: 130, values: 1 });
    expect(byName.get('lines')!.encoding).toBe('plain-json');
    expect(byName.get('meta')!.encoding).toBe('plain-json');
    expect(byName.get('refund')).toMatchObject({ nullCount: 1, absentCount: 3 });
    expect(byName.get('refund')!.notes).toEqual([
      'only NULL seen: a string column, the NULL values in the NULL column',
    ]);
  });
});
