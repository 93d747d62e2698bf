import { describe, expect, it } from 'vitest';
import { InvalidExportRequestError } from '../../src/backfill/native-export-errors.ts';
import {
  clientTokenOf,
  exportRequestOf,
  type NativeExportSpec,
  parseS3Landing,
  requestIdentityOf,
  validateExportSpec,
} from '../../src/backfill/native-export-request.ts';
import { TABLE_ARN } from './native-export-support.ts';

const NOW = new Date('2026-11-24T12:00:00Z');
const MINUTE = 60_000;

function fullSpec(changes: Partial<NativeExportSpec> = {}): NativeExportSpec {
  return {
    tableArn: TABLE_ARN,
    destination: parseS3Landing('s3://lake/landing/orders'),
    kind: { type: 'FULL_EXPORT', exportTime: new Date('2026-11-24T10:00:00Z') },
    ...changes,
  };
}

function windowSpec(from: Date, lengthMs: number): NativeExportSpec {
  return fullSpec({ kind: { type: 'INCREMENTAL_EXPORT', from, to: new Date(from.getTime() + lengthMs) } });
}

describe('the landing area of a native export', () => {
  it.each([['./landing'], ['/var/lake/landing'], ['file:///var/lake/landing'], ['s3a://lake/landing']])(
    '%s is refused: DynamoDB exports only to S3, and the message names s3:// and backfill scan',
    (url) => {
      const error = (() => {
        try {
          parseS3Landing(url);
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(InvalidExportRequestError);
      expect((error as Error).message).toContain('s3://bucket/prefix');
      expect((error as Error).message).toContain('backfill scan');
    },
  );

  it('s3://bucket/prefix/ gives the bucket and the prefix without slashes', () => {
    expect(parseS3Landing('s3://lake/landing/orders/')).toEqual({
      bucket: 'lake',
      prefix: 'landing/orders',
      url: 's3://lake/landing/orders',
    });
    expect(parseS3Landing('s3://lake')).toEqual({ bucket: 'lake', prefix: '', url: 's3://lake' });
  });

  it('a bucket name S3 refuses and a prefix with a ".." segment are refused', () => {
    expect(() => parseS3Landing('s3://a/x')).toThrow(InvalidExportRequestError);
    expect(() => parseS3Landing('s3://lake/a/../b')).toThrow(/segment/);
  });
});

describe('the ExportTableToPointInTime request', () => {
  it('a full export sends the table ARN, its time, the bucket and prefix of the landing URL, and DYNAMODB_JSON', () => {
    const request = exportRequestOf(fullSpec({ bucketOwner: '444455556666', sse: { algorithm: 'AES256' } }));
    expect(request).toEqual({
      TableArn: TABLE_ARN,
      ClientToken: expect.stringMatching(/^ddb-lake-[0-9a-f]{32}$/),
      S3Bucket: 'lake',
      S3Prefix: 'landing/orders',
      S3BucketOwner: '444455556666',
      S3SseAlgorithm: 'AES256',
      ExportFormat: 'DYNAMODB_JSON',
      ExportType: 'FULL_EXPORT',
      ExportTime: new Date('2026-11-24T10:00:00Z'),
    });
  });

  it('an incremental export sends its window with NEW_AND_OLD_IMAGES and no ExportTime; KMS sends its key', () => {
    const from = new Date('2026-11-24T08:00:00Z');
    const spec = {
      ...windowSpec(from, 60 * MINUTE),
      sse: { algorithm: 'KMS' as const, kmsKeyId: 'alias/lake' },
    };
    const request = exportRequestOf(spec);
    expect(request.ExportType).toBe('INCREMENTAL_EXPORT');
    expect(request.ExportTime).toBeUndefined();
    expect(request.IncrementalExportSpecification).toEqual({
      ExportFromTime: from,
      ExportToTime: new Date('2026-11-24T09:00:00Z'),
      ExportViewType: 'NEW_AND_OLD_IMAGES',
    });
    expect(request.S3SseAlgorithm).toBe('KMS');
    expect(request.S3SseKmsKeyId).toBe('alias/lake');
  });

  it('a landing area at the bucket root sends no S3Prefix', () => {
    const request = exportRequestOf(fullSpec({ destination: parseS3Landing('s3://lake') }));
    expect(request.S3Bucket).toBe('lake');
    expect('S3Prefix' in request).toBe(false);
  });
});

describe('the ClientToken', () => {
  it('is the same for the same request, built twice from separate values', () => {
    expect(clientTokenOf(fullSpec())).toBe(clientTokenOf(fullSpec()));
    expect(exportRequestOf(fullSpec()).ClientToken).toBe(clientTokenOf(fullSpec()));
  });

  it('differs when any one parameter differs', () => {
    const base = fullSpec();
    const variants: NativeExportSpec[] = [
      fullSpec({ tableArn: `${TABLE_ARN}2` }),
      fullSpec({ kind: { type: 'FULL_EXPORT', exportTime: new Date('2026-11-24T10:00:01Z') } }),
      fullSpec({ destination: parseS3Landing('s3://lake/landing/other') }),
      fullSpec({ destination: parseS3Landing('s3://lake2/landing/orders') }),
      fullSpec({ bucketOwner: '444455556666' }),
      fullSpec({ sse: { algorithm: 'AES256' } }),
      fullSpec({ sse: { algorithm: 'KMS' } }),
      fullSpec({ sse: { algorithm: 'KMS', kmsKeyId: 'alias/lake' } }),
      fullSpec({ attempt: 2 }),
      windowSpec(new Date('2026-11-24T09:00:00Z'), 60 * MINUTE),
      windowSpec(new Date('2026-11-24T09:00:00Z'), 61 * MINUTE),
    ];
    const tokens = new Set([clientTokenOf(base), ...variants.map(clientTokenOf)]);
    expect(tokens.size).toBe(variants.length + 1);
  });

  it('attempt 1 is the default, so leaving it out gives the same token', () => {
    expect(clientTokenOf(fullSpec({ attempt: 1 }))).toBe(clientTokenOf(fullSpec()));
  });

  it('requests that differ only in a full export time share their identity, and nothing else does', () => {
    const later = fullSpec({ kind: { type: 'FULL_EXPORT', exportTime: new Date('2026-11-24T11:00:00Z') } });
    expect(requestIdentityOf(later)).toBe(requestIdentityOf(fullSpec()));
    expect(requestIdentityOf(fullSpec({ attempt: 2 }))).not.toBe(requestIdentityOf(fullSpec()));
  });
});

describe('checks made before calling DynamoDB', () => {
  const from = new Date('2026-11-24T08:00:00Z');

  it('a window of exactly 15 minutes and of exactly 24 hours is accepted', () => {
    expect(() => validateExportSpec(windowSpec(from, 15 * MINUTE), NOW)).not.toThrow();
    expect(() =>
      validateExportSpec(windowSpec(new Date('2026-11-23T08:00:00Z'), 24 * 60 * MINUTE), NOW),
    ).not.toThrow();
  });

  it('a window a second short of 15 minutes or a second past 24 hours is refused, saying its length', () => {
    expect(() => validateExportSpec(windowSpec(from, 15 * MINUTE - 1000), NOW)).toThrow(
      /15 minutes to 24 hours/,
    );
    expect(() =>
      validateExportSpec(windowSpec(new Date('2026-11-23T08:00:00Z'), 24 * 60 * MINUTE + 1000), NOW),
    ).toThrow(/24 hours.*is 24 hours/);
  });

  it('a window that ends before it starts, or ends in the future, is refused', () => {
    expect(() => validateExportSpec(windowSpec(from, -20 * MINUTE), NOW)).toThrow(/must come before --to/);
    expect(() => validateExportSpec(windowSpec(new Date('2026-11-24T11:50:00Z'), 20 * MINUTE), NOW)).toThrow(
      /--to .* is in the future/,
    );
  });

  it('an export time in the future is refused', () => {
    const spec = fullSpec({ kind: { type: 'FULL_EXPORT', exportTime: new Date(NOW.getTime() + 1000) } });
    expect(() => validateExportSpec(spec, NOW)).toThrow(/in the future/);
  });

  it('times before the earliest restorable time are refused, naming that time', () => {
    const pitr = { earliestRestorable: new Date('2026-11-24T10:30:00Z') };
    expect(() => validateExportSpec(fullSpec(), NOW, pitr)).toThrow(
      /earliest restorable time.*2026-11-24T10:30:00.000Z/,
    );
    expect(() => validateExportSpec(windowSpec(from, 60 * MINUTE), NOW, pitr)).toThrow(/--from/);
    expect(() =>
      validateExportSpec(windowSpec(new Date('2026-11-24T10:30:00Z'), 60 * MINUTE), NOW, pitr),
    ).not.toThrow();
    const atEarliest = fullSpec({ kind: { type: 'FULL_EXPORT', exportTime: pitr.earliestRestorable } });
    expect(() => validateExportSpec(atEarliest, NOW, pitr)).not.toThrow();
  });

  it('a bucket owner that is not a 12-digit account id and an attempt below 1 are refused', () => {
    expect(() => validateExportSpec(fullSpec({ bucketOwner: '12345' }), NOW)).toThrow(/12-digit/);
    expect(() => validateExportSpec(fullSpec({ attempt: 0 }), NOW)).toThrow(/--attempt/);
  });

  it('every refusal is a usage error (exit code 2)', () => {
    try {
      validateExportSpec(windowSpec(from, MINUTE), NOW);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidExportRequestError);
      expect((error as InvalidExportRequestError).code).toBe('USAGE');
    }
  });
});
