import { describe, expect, it } from 'vitest';
import { BadInputError } from '../../src/formats/errors.ts';
import { parseExportItemLine, parseIncrementalExportLine } from '../../src/formats/export-line.ts';
import { parseManifestFiles, parseManifestSummary } from '../../src/formats/export-manifest.ts';

const KEYS = { pk: { S: 'customer#1' }, sk: { S: 'order#0001' } };
const METADATA = { WriteTimestampMicros: { N: '1795392060123456' } };

function problem(run: () => unknown): { path?: string | undefined; reason: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof BadInputError) return { path: error.path, reason: error.reason };
    throw error;
  }
  throw new Error('expected a BadInputError');
}

describe('incremental export lines', () => {
  it('reads a deletion of a NEW_IMAGE export, which carries only Keys and Metadata', () => {
    const change = parseIncrementalExportLine({ Metadata: METADATA, Keys: KEYS });
    expect(change).toEqual({ keys: KEYS, writeTimestampMicros: '1795392060123456' });
    expect('newImage' in change || 'oldImage' in change).toBe(false);
  });

  it('keeps WriteTimestampMicros as exact decimal text beyond 2^53', () => {
    const micros = '9007199254740993123';
    expect(
      parseIncrementalExportLine({ Metadata: { WriteTimestampMicros: { N: micros } }, Keys: KEYS })
        .writeTimestampMicros,
    ).toBe(micros);
  });

  it.each([
    ['a missing Metadata', { Keys: KEYS }, 'Metadata'],
    [
      'a WriteTimestampMicros that is not whole',
      { Metadata: { WriteTimestampMicros: { N: '1.5' } }, Keys: KEYS },
      'Metadata.WriteTimestampMicros',
    ],
    [
      'a WriteTimestampMicros as a JSON number',
      { Metadata: { WriteTimestampMicros: 1 }, Keys: KEYS },
      'Metadata.WriteTimestampMicros',
    ],
    ['an unknown field', { Metadata: METADATA, Keys: KEYS, Extra: {} }, 'Extra'],
    ['empty Keys', { Metadata: METADATA, Keys: {} }, 'Keys'],
    [
      'a NewImage without the keys',
      { Metadata: METADATA, Keys: KEYS, NewImage: { pk: KEYS.pk } },
      'NewImage.sk',
    ],
    [
      'an OldImage with another key value',
      { Metadata: METADATA, Keys: KEYS, OldImage: { ...KEYS, pk: { S: 'x' } } },
      'OldImage.pk',
    ],
    [
      'an invalid value in NewImage',
      { Metadata: METADATA, Keys: KEYS, NewImage: { ...KEYS, n: { N: '--1' } } },
      'NewImage.n',
    ],
  ])('refuses %s naming its path', (_name, line, path) => {
    expect(problem(() => parseIncrementalExportLine(line)).path).toBe(path);
  });
});

describe('full export lines', () => {
  it('refuses a line with more than Item, or without it', () => {
    expect(problem(() => parseExportItemLine({ Item: KEYS, Keys: KEYS })).path).toBe('Keys');
    expect(problem(() => parseExportItemLine({})).path).toBe('Item');
    expect(problem(() => parseExportItemLine([KEYS])).reason).toContain('JSON object');
  });

  it('names attribute paths the way DynamoDB document paths read', () => {
    const line = { Item: { ...KEYS, 'unit price': { N: 'x' } } };
    expect(problem(() => parseExportItemLine(line)).path).toBe('Item["unit price"]');
  });
});

describe('manifests', () => {
  const summary = {
    version: '2020-06-30',
    exportArn: 'arn:aws:dynamodb:us-east-1:111122223333:table/orders/export/01795392000000-5a1c9e20',
    startTime: '2026-11-23T00:00:00.000Z',
    endTime: '2026-11-23T00:06:12.480Z',
    tableArn: 'arn:aws:dynamodb:us-east-1:111122223333:table/orders',
    tableId: '0b6a7c2e-9f1d-4c55-8e3a-5d2f1c0e9a77',
    exportTime: '2026-11-23T00:00:00.000Z',
    s3Bucket: 'lake',
    s3Prefix: 'landing',
    s3SseAlgorithm: 'AES256',
    s3SseKmsKeyId: null,
    manifestFilesS3Key: 'landing/AWSDynamoDB/01795392000000-5a1c9e20/manifest-files.json',
    billedSizeBytes: 0,
    itemCount: 8,
    outputFormat: 'DYNAMODB_JSON',
  };
  const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));

  it('takes a summary without exportType for a full export and ignores fields added later', () => {
    const parsed = parseManifestSummary(bytes({ ...summary, someNewField: 1 }), 'm');
    expect(parsed).toMatchObject({
      exportType: 'FULL_EXPORT',
      exportTime: summary.exportTime,
      s3Prefix: 'landing',
    });
  });

  it('refuses a summary missing a field the readers need, naming the file and the field', () => {
    const { exportTime: _, ...withoutTime } = summary;
    expect(() => parseManifestSummary(bytes(withoutTime), 'AWSDynamoDB/x/manifest-summary.json')).toThrow(
      /AWSDynamoDB\/x\/manifest-summary.json: exportTime must be an ISO-8601 time, it is missing/,
    );
    expect(() => parseManifestSummary(bytes({ ...summary, itemCount: '8' }), 'm')).toThrow(/itemCount/);
    expect(() => parseManifestSummary(bytes({ ...summary, exportType: 'DELTA' }), 'm')).toThrow(/exportType/);
  });

  it('refuses a files manifest with a malformed line or a file listed twice, naming the line', () => {
    const entry = {
      itemCount: 1,
      md5Checksum: 'KJ+yfkJS67dfymREYxTuAA==',
      etag: 'e',
      dataFileS3Key: 'AWSDynamoDB/x/data/a.json.gz',
    };
    const good = `${JSON.stringify(entry)}\n`;
    expect(parseManifestFiles(Buffer.from(good), 'f')).toEqual([entry]);
    expect(() => parseManifestFiles(Buffer.from(`${good}${good}`), 'f')).toThrow(/f line 2: .*listed twice/);
    expect(() => parseManifestFiles(Buffer.from(`${good}{"itemCount":-1}\n`), 'f')).toThrow(/f line 2/);
    expect(() =>
      parseManifestFiles(Buffer.from(JSON.stringify({ ...entry, md5Checksum: 'abc' })), 'f'),
    ).toThrow(/md5Checksum/);
  });
});
