import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StructType } from '../../src/delta/schema.ts';
import { loadLakeRows, readLakeRows } from '../../src/duckdb/lake-rows.ts';
import { formatTimestampMicros } from '../../src/duckdb/lake-text.ts';
import { DuckSession } from '../../src/duckdb/session.ts';
import {
  CHANGE_SOURCES,
  type ChangeOrder,
  compareChangeOrder,
  supersedes,
  supersedesSql,
} from '../../src/lake/change-order.ts';
import { paddedSeq } from '../../src/lake/sequence-number.ts';

const order: fc.Arbitrary<ChangeOrder> = fc.record({
  source: fc.constantFrom(...CHANGE_SOURCES),
  seq: fc.bigInt({ min: 0n, max: 10n ** 40n - 1n }).map((n) => paddedSeq(n.toString())),
  tsMicros: fc.oneof(
    fc.bigInt({ min: 1_795_392_000_000_000n, max: 1_795_392_000_000_010n }),
    fc.bigInt({ min: 0n, max: 4_102_444_800_000_000n }),
  ),
});

const STRING = { type: 'primitive', name: 'string' } as const;
const TIMESTAMP = { type: 'primitive', name: 'timestamp' } as const;
const field = (name: string, type: typeof STRING | typeof TIMESTAMP) => ({
  name,
  type,
  nullable: true,
  metadata: {},
});
const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    field('i_source', STRING),
    field('i_seq', STRING),
    field('i_ts', TIMESTAMP),
    field('e_source', STRING),
    field('e_seq', STRING),
    field('e_ts', TIMESTAMP),
  ],
};

let session: DuckSession;
beforeAll(async () => {
  session = await DuckSession.open({ threads: 1 });
});
afterAll(async () => {
  await session.close();
});

describe('change order', () => {
  it('is antisymmetric: a version never both beats and loses to another', () => {
    fc.assert(
      fc.property(order, order, (a, b) => {
        expect(compareChangeOrder(a, b)).toBe(-compareChangeOrder(b, a) || 0);
      }),
      { numRuns: 2000 },
    );
  });

  it('supersedesSql agrees with supersedes when DuckDB evaluates it, and applies where nothing exists', async () => {
    const pairs = fc.sample(fc.tuple(order, order), { numRuns: 3000, seed: 42 });
    const rows = pairs.map(([incoming, existing]) => ({
      i_source: incoming.source,
      i_seq: incoming.seq,
      i_ts: formatTimestampMicros(incoming.tsMicros, true),
      e_source: existing.source,
      e_seq: existing.seq,
      e_ts: formatTimestampMicros(existing.tsMicros, true),
    }));
    rows.push({
      ...(rows[0] as (typeof rows)[number]),
      e_source: null as never,
      e_seq: null as never,
      e_ts: null as never,
    });
    await loadLakeRows(session, 'pairs', SCHEMA, rows);
    const sql = supersedesSql(
      { source: 'i_source', seq: 'i_seq', ts: 'i_ts' },
      { source: 'e_source', seq: 'e_seq', ts: 'e_ts' },
    );
    const result = await readLakeRows(session, `SELECT ${sql} AS applies FROM pairs ORDER BY rowid`);
    const expected = [...pairs.map(([incoming, existing]) => supersedes(incoming, existing)), true];
    expect(result.map((row) => row['applies'])).toEqual(expected);
    // The generator reaches every branch of the rule.
    expect(new Set(pairs.map(([a, b]) => `${a.source}>${b.source}`)).size).toBe(16);
  });
});
