import type { DuckDBAppender } from '@duckdb/node-api';
import type { DuckSession } from '../duckdb/session.ts';

/*
 * The comparison itself, in DuckDB: the table's (key, hash) pairs and the lake's in two tables, a
 * FULL OUTER JOIN on key, and the keys that do not match kept in a third table by kind. DuckDB
 * spills to disk past its memory limit, so a table of any size is compared in bounded memory; JS
 * only ever holds the first keys of each kind and the keys being re-checked.
 */

export type MismatchKind = 'missing' | 'extra' | 'different';

export const MISMATCH_KINDS: readonly MismatchKind[] = ['missing', 'extra', 'different'];

/** A key's state on a re-check: its item and its row as plain JSON, null where absent. */
export interface KeyState {
  readonly table: string | null;
  readonly lake: string | null;
}

/** What a re-checked key is now, or `matched` when item and row agree (or both are gone). */
export function kindOf(state: KeyState): MismatchKind | 'matched' {
  if (state.table === state.lake) return 'matched';
  if (state.lake === null) return 'missing';
  if (state.table === null) return 'extra';
  return 'different';
}

/** The sample of lake keys for the extra check: a hash of key and seed, below share × 1,000,000. */
function sampledSql(alias: string): string {
  return `(hash(${alias}.key || $seed) % 1000000) < $threshold`;
}

/** The comparison's tables in one DuckDB session (see the top of this file). */
export class KeyComparison {
  readonly #session: DuckSession;
  /** null: every lake row takes part; otherwise only those whose key the table side holds or the sample picks. */
  readonly #sample: { readonly seed: number; readonly share: number } | null;

  private constructor(
    session: DuckSession,
    sample: { readonly seed: number; readonly share: number } | null,
  ) {
    this.#session = session;
    this.#sample = sample;
  }

  /** Creates the empty tables `source`, `lake` and `mismatch` in `session`. */
  static async create(
    session: DuckSession,
    sample: { readonly seed: number; readonly share: number } | null,
  ): Promise<KeyComparison> {
    await session.run('CREATE TABLE source (key VARCHAR, hash VARCHAR)');
    await session.run('CREATE TABLE lake (key VARCHAR, hash VARCHAR)');
    await session.run('CREATE TABLE mismatch (key VARCHAR, kind VARCHAR)');
    await session.run('CREATE TABLE sample_read (key VARCHAR)');
    return new KeyComparison(session, sample);
  }

  /** An appender of (key, hash) rows into `source` or `lake`; the caller closes it. */
  appender(side: 'source' | 'lake'): Promise<DuckDBAppender> {
    return this.#session.connection.createAppender(side);
  }

  #params(): Record<string, string | number> {
    if (this.#sample === null) return {};
    return { seed: String(this.#sample.seed), threshold: Math.floor(this.#sample.share * 1_000_000) };
  }

  /** The lake rows that take part in the comparison. */
  #lakeChecked(): string {
    if (this.#sample === null) return 'lake';
    return `(SELECT l.* FROM lake AS l WHERE l.key IN (SELECT key FROM source) OR ${sampledSql('l')})`;
  }

  /**
   * Sampled runs: the lake keys the sample picks that the scanned segments did not hold, in key
   * order, `limit` at a time from `offset`; and how many the sample picks in all.
   */
  async sampledLakeKeys(offset: number, limit: number): Promise<string[]> {
    const reader = await this.#session.all(
      `SELECT l.key FROM lake AS l WHERE ${sampledSql('l')} AND l.key NOT IN (SELECT key FROM source) AND l.key NOT IN (SELECT key FROM sample_read) ORDER BY l.key LIMIT ${limit} OFFSET ${offset}`,
      this.#params(),
    );
    return reader.getRows().map((row) => String(row[0]));
  }

  /** Records sampled lake keys as read, so that `sampledLakeKeys` skips them from now on. */
  async markSampleRead(keys: readonly string[]): Promise<void> {
    await this.#session.appendTextRows('sample_read', keys);
  }

  async sampledLakeKeyCount(): Promise<number> {
    const reader = await this.#session.all(
      `SELECT count(*) FROM lake AS l WHERE ${sampledSql('l')}`,
      this.#params(),
    );
    return Number(reader.getRows()[0]?.[0] ?? 0);
  }

  /** Joins the two sides and fills `mismatch`. Returns the number of matched keys. */
  async compare(): Promise<number> {
    const params = this.#params();
    await this.#session.run(
      `INSERT INTO mismatch SELECT coalesce(s.key, l.key), CASE WHEN l.key IS NULL THEN 'missing' WHEN s.key IS NULL THEN 'extra' ELSE 'different' END FROM source AS s FULL OUTER JOIN ${this.#lakeChecked()} AS l ON s.key = l.key WHERE s.hash IS DISTINCT FROM l.hash`,
      params,
    );
    const reader = await this.#session.all(
      `SELECT count(*) FROM source AS s JOIN ${this.#lakeChecked()} AS l ON s.key = l.key AND s.hash = l.hash`,
      params,
    );
    return Number(reader.getRows()[0]?.[0] ?? 0);
  }

  /** Rows in `source` (items compared) or `lake`. */
  async count(side: 'source' | 'lake'): Promise<number> {
    const reader = await this.#session.all(`SELECT count(*) FROM ${side}`);
    return Number(reader.getRows()[0]?.[0] ?? 0);
  }

  /** Mismatched keys per kind. */
  async mismatchCounts(): Promise<Record<MismatchKind, number>> {
    const counts: Record<MismatchKind, number> = { missing: 0, extra: 0, different: 0 };
    const reader = await this.#session.all('SELECT kind, count(*) FROM mismatch GROUP BY kind');
    for (const [kind, count] of reader.getRows()) counts[String(kind) as MismatchKind] = Number(count);
    return counts;
  }

  /** The first `limit` mismatched keys (of one kind, or of every kind), in key order. */
  async mismatchedKeys(limit: number, kind?: MismatchKind): Promise<{ key: string; kind: MismatchKind }[]> {
    const reader = await this.#session.all(
      `SELECT key, kind FROM mismatch${kind === undefined ? '' : ' WHERE kind = $kind'} ORDER BY key LIMIT ${limit}`,
      kind === undefined ? {} : { kind },
    );
    return reader
      .getRows()
      .map(([key, found]) => ({ key: String(key), kind: String(found) as MismatchKind }));
  }

  /** Replaces the kinds of re-checked keys: matched ones leave `mismatch`, the rest take their new kind. */
  async recheck(states: ReadonlyMap<string, KeyState>): Promise<void> {
    await this.#session.run('CREATE OR REPLACE TABLE rechecked (key VARCHAR, kind VARCHAR)');
    const appender = await this.#session.connection.createAppender('rechecked');
    try {
      for (const [key, state] of states) {
        const kind = kindOf(state);
        appender.appendVarchar(key);
        if (kind === 'matched') appender.appendNull();
        else appender.appendVarchar(kind);
        appender.endRow();
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    await this.#session.run('DELETE FROM mismatch WHERE key IN (SELECT key FROM rechecked)');
    await this.#session.run('INSERT INTO mismatch SELECT key, kind FROM rechecked WHERE kind IS NOT NULL');
    await this.#session.run('DROP TABLE rechecked');
  }
}
