import { describe, expect, it } from 'vitest';
import {
  bucketsToOptimize,
  DEFAULT_ALONG_DELETED_SHARE,
  DEFAULT_DELETED_SHARE,
  optimizeThresholds,
  tableRowsPerFile,
} from '../../src/apply/optimize/optimize-plan.ts';
import type { AddFile } from '../../src/delta/actions.ts';
import type { Snapshot } from '../../src/delta/snapshot.ts';
import { ROWS_PER_FILE_PROPERTY } from '../../src/lake/table-layout.ts';

/*
 * The plan of an optimize, from the log alone: synthetic `add` actions with stats and deletion
 * vector descriptors (only their cardinality is read), no data files.
 */

function file(path: string, bucket: number, records: number | undefined, deleted = 0): AddFile {
  return {
    path: `b${bucket}/${path}`,
    partitionValues: { _ddb_bucket: String(bucket) },
    size: 1000 + (records ?? 0),
    modificationTime: 0,
    dataChange: true,
    stats: records === undefined ? null : JSON.stringify({ numRecords: records }),
    deletionVector:
      deleted === 0
        ? null
        : { storageType: 'u', pathOrInlineDv: `dv${path}`, sizeInBytes: 40, cardinality: deleted },
  };
}

function table(files: readonly AddFile[], rowsPerFile = 100): Snapshot {
  return {
    tableUrl: 'file:///t',
    version: 7,
    protocol: { minReaderVersion: 3, minWriterVersion: 7 },
    metadata: {
      id: 'id',
      format: { provider: 'parquet', options: {} },
      schemaString: '{"type":"struct","fields":[]}',
      partitionColumns: ['_ddb_bucket'],
      configuration: { [ROWS_PER_FILE_PROPERTY]: String(rowsPerFile) },
    },
    schema: { type: 'struct', fields: [] },
    partitionColumns: ['_ddb_bucket'],
    files,
    tombstones: [],
    txns: new Map(),
    domainMetadata: new Map(),
    commitInfo: null,
    checkpointVersion: null,
  };
}

const plan = (files: readonly AddFile[], given = {}, only?: number[]) => {
  const t = table(files);
  return bucketsToOptimize(t, optimizeThresholds(t, given), only);
};

describe('which buckets and files an optimize rewrites', () => {
  it('rewrites a file once its deleted share reaches 20 %, not before', () => {
    expect(DEFAULT_DELETED_SHARE).toBe(0.2);
    const plans = plan([file('a', 0, 100, 19), file('b', 1, 100, 20), file('c', 2, 100, 0)]);
    expect(plans.map((p) => [p.bucket, p.files.map((f) => [f.file.path, f.reason])])).toEqual([
      [1, [['b1/b', 'deleted-share']]],
    ]);
    expect(plans[0]).toMatchObject({ rows: 80, deletedRows: 20, bucketFiles: 1 });
  });

  it('a bucket rewritten anyway takes along its files past 5 % deleted, as Delta OPTIMIZE would; a bucket not due keeps them', () => {
    expect(DEFAULT_ALONG_DELETED_SHARE).toBe(0.05);
    const small = [1, 2, 3, 4, 5].map((n) => file(`s${n}`, 0, 10));
    const plans = plan([
      ...small,
      file('worn', 0, 100, 6),
      file('light', 0, 100, 5),
      file('alone', 1, 100, 15),
    ]);
    expect(plans.map((p) => [p.bucket, p.files.map((f) => [f.file.path, f.reason])])).toEqual([
      [
        0,
        [
          ['b0/s1', 'small-file'],
          ['b0/s2', 'small-file'],
          ['b0/s3', 'small-file'],
          ['b0/s4', 'small-file'],
          ['b0/s5', 'small-file'],
          ['b0/worn', 'deleted-along'],
        ],
      ],
    ]);
    expect(plans[0]).toMatchObject({ rows: 50 + 94, deletedRows: 6, bucketFiles: 7, smallFiles: 5 });
    // A worn file that is small counts toward the small files, and takes its bucket's small files along.
    const wornSmall = plan([...small.slice(0, 4), file('ws', 0, 20, 2), file('big', 0, 100)]);
    expect(wornSmall[0]?.files.map((f) => [f.file.path, f.reason])).toEqual([
      ['b0/s1', 'small-file'],
      ['b0/s2', 'small-file'],
      ['b0/s3', 'small-file'],
      ['b0/s4', 'small-file'],
      ['b0/ws', 'deleted-along'],
    ]);
    // Never above the deleted share, and validated.
    expect(optimizeThresholds(table([]), { deletedShare: 0.03 }).alongDeletedShare).toBe(0.03);
    expect(() => optimizeThresholds(table([]), { alongDeletedShare: 1.5 })).toThrow(RangeError);
  });

  it('merges small files only when a bucket holds more than four, and takes them all', () => {
    const four = [1, 2, 3, 4].map((n) => file(`s${n}`, 0, 10));
    expect(plan([...four, file('full', 0, 100)])).toEqual([]);
    const five = [...four, file('s5', 0, 49), file('half', 0, 50), file('full', 0, 100)];
    const plans = plan(five);
    expect(plans).toHaveLength(1);
    expect(plans[0]?.files.map((f) => f.file.path)).toEqual(['b0/s1', 'b0/s2', 'b0/s3', 'b0/s4', 'b0/s5']);
    expect(plans[0]).toMatchObject({ rows: 89, smallFiles: 5, bucketFiles: 7 });
  });

  it('counts a file by its live rows: one with many deleted rows below the share can be small', () => {
    const files = [1, 2, 3, 4].map((n) => file(`s${n}`, 0, 10));
    // 100 rows, 19 deleted: below the share; 81 live rows: not small.
    expect(plan([...files, file('x', 0, 100, 19)])).toEqual([]);
    // 60 rows, 11 deleted: below the share (18 %), 49 live rows: small, the fifth.
    expect(plan([...files, file('x', 0, 60, 11)])[0]?.files).toHaveLength(5);
  });

  it('takes the small files of a bucket it rewrites for deleted rows along', () => {
    const plans = plan([file('damaged', 3, 100, 50), file('small', 3, 5), file('full', 3, 100)]);
    expect(plans.map((p) => p.files.map((f) => [f.file.path, f.reason]))).toEqual([
      [
        ['b3/damaged', 'deleted-share'],
        ['b3/small', 'small-file'],
      ],
    ]);
    expect(plans[0]).toMatchObject({ rows: 55, deletedRows: 50 });
  });

  it('plans a file whose rows are all deleted (the rewrite writes nothing for it)', () => {
    expect(plan([file('gone', 0, 10, 10)])[0]).toMatchObject({ rows: 0, deletedRows: 10 });
  });

  it('leaves files without stats alone: their share and size are unknown', () => {
    const small = [1, 2, 3, 4].map((n) => file(`s${n}`, 0, 10));
    expect(plan([...small, file('nostats', 0, undefined)])).toEqual([]);
  });

  it('looks only at the buckets it is given (apply: the buckets a batch touched)', () => {
    const files = [file('a', 0, 100, 50), file('b', 1, 100, 50), file('c', 2, 100, 50)];
    expect(plan(files, {}, [2, 0]).map((p) => p.bucket)).toEqual([0, 2]);
  });

  it('honours other thresholds: any deleted row at share 0, small below a given row count', () => {
    expect(plan([file('a', 0, 100, 1)], { deletedShare: 0 }).map((p) => p.bucket)).toEqual([0]);
    expect(plan([file('a', 0, 100, 0)], { deletedShare: 0 })).toEqual([]);
    const files = [1, 2].map((n) => file(`s${n}`, 0, 10));
    expect(plan(files, { maxSmallFiles: 1 })[0]?.files).toHaveLength(2);
    expect(plan(files, { maxSmallFiles: 1, smallFileRows: 10 })).toEqual([]);
  });

  it("takes small below half the table's rows per file, 250,000 without the property", () => {
    const t = table([], 1001);
    expect(optimizeThresholds(t).smallFileRows).toBe(501);
    const bare = { ...t, metadata: { ...t.metadata, configuration: {} } };
    expect(tableRowsPerFile(bare)).toBe(250_000);
  });

  it('refuses a deleted share outside 0 to 1 and a negative count', () => {
    const t = table([]);
    expect(() => optimizeThresholds(t, { deletedShare: 1.5 })).toThrow(RangeError);
    expect(() => optimizeThresholds(t, { deletedShare: Number.NaN })).toThrow(RangeError);
    expect(() => optimizeThresholds(t, { maxSmallFiles: -1 })).toThrow(RangeError);
  });
});

describe('small files merge tiered', () => {
  it('merges appended small files among themselves while they hold under a quarter of the largest file, then with it', () => {
    // rowsPerFile 100: every file is small (under 50); the largest holds 40 rows.
    const appended = (count: number, rows: number) =>
      Array.from({ length: count }, (_, i) => file(`a${i}`, 0, rows));
    const light = plan([file('base', 0, 40), ...appended(5, 1)]);
    expect(light).toHaveLength(1);
    expect(light[0]?.files.map((p) => p.file.path)).not.toContain('b0/base');
    expect(light[0]?.files).toHaveLength(5);
    // The appended files hold 10 rows, a quarter of the base: the base is taken along.
    const heavy = plan([file('base', 0, 40), ...appended(5, 2)]);
    expect(heavy[0]?.files.map((p) => p.file.path)).toContain('b0/base');
    expect(heavy[0]?.files).toHaveLength(6);
    // A damaged file takes every small file along, the largest included.
    const damaged = plan([file('base', 0, 40), file('hurt', 0, 10, 5), ...appended(2, 1)]);
    expect(damaged[0]?.files.map((p) => p.file.path).sort()).toEqual([
      'b0/a0',
      'b0/a1',
      'b0/base',
      'b0/hurt',
    ]);
  });
});
