import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  capacityTarget,
  defaultSegments,
  describeBackfillTable,
  MAX_SEGMENTS,
} from '../backfill/backfill-table.ts';
import { CapacityLimiter, type Clock, SYSTEM_CLOCK } from '../backfill/capacity-limiter.ts';
import { READ_UNIT_BYTES } from '../backfill/item-size.ts';
import { DuckSession } from '../duckdb/session.ts';
import { itemToPlainJson } from '../dynamo/plain-json.ts';
import { keyText } from '../lake/key-identity.ts';
import { sleep as systemSleep } from '../sleep.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { KeyComparison, type KeyState, kindOf, MISMATCH_KINDS } from './key-comparison.ts';
import { appendLakeHashes, type LakeTable, openLakeTable, readLakeItems } from './lake-side.ts';
import { attributeDifferences } from './plain-members.ts';
import { chooseSegments } from './segment-sample.ts';
import { appendTableHashes, itemKeyAndHash } from './source-scan.ts';
import {
  assertSameKeys,
  type ConsistentGetOptions,
  getItemsConsistently,
  keyOfKeyText,
  keySchemaOf,
  type SourceKeySchema,
} from './source-table.ts';
import { VerifyError, VerifyErrorCode } from './verify-errors.ts';
import { type VerifyEvent, VerifyEventCode } from './verify-events.ts';
import type { DifferentKey, VerifyReport, VerifySample, VerifySettle } from './verify-report.ts';

export interface VerifyOptions {
  readonly client: DynamoDBClient;
  /** Table name or ARN. */
  readonly table: string;
  /** The Delta table's location. */
  readonly delta: ObjectStore;
  /** Parallel Scan segments; default as the Scan export's (and at least 10 / sample when sampling). */
  readonly segments?: number | undefined;
  /** Segments scanned at once (default: all of those read, at most 16). */
  readonly concurrency?: number | undefined;
  /** Share of the table's read capacity to use, in percent (default 50; see `capacityTarget`). */
  readonly readPercent?: number | undefined;
  /** Read units per second instead of a share (`Infinity`: no limit). */
  readonly maxReadUnitsPerSecond?: number | undefined;
  /** Strongly consistent Scan reads (twice the read units); the re-checks are always consistent. */
  readonly consistentRead?: boolean | undefined;
  /** Wait this long before re-checking mismatched keys (default 60,000; 0: no re-check). */
  readonly settleMs?: number | undefined;
  /** Share of the segments to scan, 0 < P ≤ 1 (default 1: all). */
  readonly sample?: number | undefined;
  /** The sample's seed (default: a random one, reported). */
  readonly sampleSeed?: number | undefined;
  /** Keys of each kind listed in the report (default 20). */
  readonly limit?: number | undefined;
  /** At most this many items per Scan page (tests). */
  readonly pageLimit?: number | undefined;
  readonly onEvent?: ((event: VerifyEvent) => void) | undefined;
  /** Epoch ms, for the elapsed time (default `Date.now`). */
  readonly now?: (() => number) | undefined;
  /** The settle wait (default: a timer). */
  readonly sleep?: ((ms: number) => Promise<void>) | undefined;
}

export const DEFAULT_SETTLE_MS = 60_000;
export const DEFAULT_LIMIT = 20;
/** Mismatched keys re-checked after the settle wait, at most. */
export const MAX_SETTLE_KEYS = 10_000;
const MAX_DEFAULT_CONCURRENCY = 16;
/** Keys read back per round of the point checks. */
const RECHECK_CHUNK = 1_000;

function checkOptions(options: VerifyOptions): { sample: number; limit: number; settleMs: number } {
  const bad = (what: string) => new VerifyError(VerifyErrorCode.badOption, what);
  const sample = options.sample ?? 1;
  if (!(sample > 0 && sample <= 1))
    throw bad(`The sample share must be above 0 and at most 1, got ${sample}.`);
  const limit = options.limit ?? DEFAULT_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 0)
    throw bad(`The limit must be a whole number of 0 or more, got ${limit}.`);
  const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  if (!(settleMs >= 0) || !Number.isFinite(settleMs))
    throw bad(`The settle time must be 0 or more milliseconds, got ${settleMs}.`);
  const segments = options.segments;
  if (segments !== undefined && (!Number.isInteger(segments) || segments < 1 || segments > MAX_SEGMENTS)) {
    throw bad(`The segment count must be a whole number from 1 to ${MAX_SEGMENTS}, got ${segments}.`);
  }
  return { sample, limit, settleMs };
}

/**
 * Re-reads `keys` now: each item with a strongly consistent read, each row from `lake`, both as
 * canonical plain JSON (null where absent). Holds `RECHECK_CHUNK` items at a time per round.
 */
async function readKeyStates(
  keys: readonly string[],
  lake: LakeTable,
  schema: SourceKeySchema,
  get: ConsistentGetOptions,
  onStates: (states: Map<string, KeyState>) => void | Promise<void>,
): Promise<void> {
  for (let start = 0; start < keys.length; start += RECHECK_CHUNK) {
    const chunk = keys.slice(start, start + RECHECK_CHUNK);
    const items = await getItemsConsistently(
      get,
      chunk.map((key) => keyOfKeyText(key, schema)),
    );
    const table = new Map(items.map((item) => [keyText(item, schema.keys), itemToPlainJson(item)]));
    const rows = await readLakeItems(lake, chunk);
    await onStates(
      new Map(chunk.map((key) => [key, { table: table.get(key) ?? null, lake: rows.get(key) ?? null }])),
    );
  }
}

/**
 * Compares the DynamoDB table with the Delta table apply maintains, key by key (issue 7): a
 * rate-limited parallel Scan gives each item's `_ddb_key` and the SHA-256 of its canonical plain
 * JSON; every live row of the Delta table's latest snapshot gives the same for the item it stands
 * for; DuckDB joins the two on key. Keys in DynamoDB only are missing, in the lake only extra, with
 * different hashes different. Exact for numbers (by value, 38 digits), sets (unordered), binary and
 * nested values.
 *
 * When something mismatched and `settleMs` > 0, verify waits that long, reloads the Delta table at
 * its latest version and re-checks up to `MAX_SETTLE_KEYS` mismatched keys with strongly consistent
 * reads: a key that now matches was a change in flight and is not reported. With `sample` < 1 only
 * that share of the Scan segments is read (missing and different are of the items read) and the
 * same share of the lake's keys is checked for extra keys with consistent reads.
 *
 * Read-only on both sides. The report's `equal` is true only when nothing mismatched.
 * @throws VerifyError for a lake table apply did not write, key schemas that differ, bad options;
 *   TableNotFoundError; ThrottledError; DeltaTableNotFoundError; the readers' errors.
 */
export async function verifyTable(options: VerifyOptions): Promise<VerifyReport> {
  const now = options.now ?? Date.now;
  const started = now();
  const emit = options.onEvent ?? (() => {});
  const { sample, limit, settleMs } = checkOptions(options);
  const clock: Clock = SYSTEM_CLOCK;

  const table = await describeBackfillTable(options.client, options.table);
  const schema = keySchemaOf(table);
  let lake = await openLakeTable(options.delta);
  const comparedVersion = lake.snapshot.version;
  assertSameKeys(schema, lake.layout.keys, table.name, options.delta.url);
  const target = capacityTarget(table, 'read', {
    percent: options.readPercent,
    maxUnitsPerSecond: options.maxReadUnitsPerSecond,
  });
  const limiter = new CapacityLimiter({ unitsPerSecond: target.unitsPerSecond, clock });
  const totalSegments =
    options.segments ??
    (sample < 1
      ? Math.min(MAX_SEGMENTS, Math.max(defaultSegments(table), Math.ceil(10 / sample)))
      : defaultSegments(table));
  const seed = options.sampleSeed ?? Math.floor(Math.random() * 2 ** 31);
  const scanned =
    sample < 1
      ? chooseSegments(totalSegments, sample, seed)
      : Array.from({ length: totalSegments }, (_, i) => i);
  const concurrency = options.concurrency ?? Math.min(scanned.length, MAX_DEFAULT_CONCURRENCY);
  const consistentRead = options.consistentRead ?? false;
  const averageBytes = table.itemCount > 0 && table.sizeBytes > 0 ? table.sizeBytes / table.itemCount : 1024;
  const get: ConsistentGetOptions = {
    client: options.client,
    table: table.name,
    limiter,
    clock,
    readUnitsPerItem: Math.ceil(averageBytes / READ_UNIT_BYTES),
  };
  emit({
    code: VerifyEventCode.started,
    table: table.name,
    delta: options.delta.url,
    deltaVersion: lake.snapshot.version,
    totalSegments,
    segmentsScanned: scanned.length,
    concurrency,
    consistentRead,
    readCapacity: target,
    estimatedItems: table.itemCount,
  });

  const session = await DuckSession.open();
  try {
    const comparison = await KeyComparison.create(session, sample < 1 ? { seed, share: sample } : null);

    const lakeStarted = now();
    const lakeAppender = await comparison.appender('lake');
    let lakeRows: number;
    try {
      lakeRows = await appendLakeHashes(lake, lakeAppender, (rows) =>
        emit({ code: VerifyEventCode.lakeProgress, rows }),
      );
    } finally {
      lakeAppender.closeSync();
    }
    emit({ code: VerifyEventCode.lakeRead, rows: lakeRows, elapsedMs: now() - lakeStarted });

    const scanStarted = now();
    const sourceAppender = await comparison.appender('source');
    let scannedItems: number;
    try {
      scannedItems = await appendTableHashes(
        {
          client: options.client,
          table: table.arn,
          keys: schema.keys,
          totalSegments,
          segments: scanned,
          concurrency,
          consistentRead,
          limiter,
          readUnitsPerItem: (averageBytes / READ_UNIT_BYTES) * (consistentRead ? 1 : 0.5),
          pageLimit: options.pageLimit,
          clock,
          onProgress: (items, segmentsDone) =>
            emit({
              code: VerifyEventCode.scanProgress,
              items,
              segmentsDone,
              segments: scanned.length,
              readUnits: limiter.consumed,
              elapsedMs: now() - scanStarted,
            }),
          onThrottle: (throttle) =>
            emit({
              code: VerifyEventCode.throttled,
              segment: throttle.segment,
              delayMs: throttle.delayMs,
              unitsPerSecond: throttle.unitsPerSecond,
              error: throttle.error,
            }),
        },
        sourceAppender,
      );
    } finally {
      sourceAppender.closeSync();
    }
    emit({ code: VerifyEventCode.scanned, items: scannedItems, elapsedMs: now() - scanStarted });

    let sampleReport: VerifySample | null = null;
    if (sample < 1) {
      // Lake keys of unscanned segments: an item exists for each unless the key is extra.
      let read = 0;
      let found = 0;
      for (;;) {
        const keys = await comparison.sampledLakeKeys(0, RECHECK_CHUNK);
        if (keys.length === 0) break;
        const items = await getItemsConsistently(
          get,
          keys.map((key) => keyOfKeyText(key, schema)),
        );
        const appender = await comparison.appender('source');
        try {
          for (const item of items) {
            const [key, hash] = itemKeyAndHash(item, schema.keys);
            appender.appendVarchar(key);
            appender.appendVarchar(hash);
            appender.endRow();
          }
          appender.flushSync();
        } finally {
          appender.closeSync();
        }
        read += keys.length;
        found += items.length;
        emit({ code: VerifyEventCode.sampleRead, keys: read, found });
        // A key read but not found stays out of `source` (it is extra): it must not be read again.
        await comparison.markSampleRead(keys);
      }
      sampleReport = {
        share: sample,
        seed,
        segments: scanned,
        totalSegments,
        lakeKeysChecked: await comparison.sampledLakeKeyCount(),
        lakeKeysRead: read,
      };
    }

    const matched = await comparison.compare();
    const initial = await comparison.mismatchCounts();
    emit({ code: VerifyEventCode.compared, matched, ...initial });

    let settle: VerifySettle | null = null;
    const known = new Map<string, KeyState>();
    const mismatched = initial.missing + initial.extra + initial.different;
    if (mismatched > 0 && settleMs > 0) {
      const keys = (await comparison.mismatchedKeys(MAX_SETTLE_KEYS)).map((entry) => entry.key);
      emit({ code: VerifyEventCode.settling, keys: keys.length, waitMs: settleMs });
      await (options.sleep ?? systemSleep)(settleMs);
      lake = await openLakeTable(options.delta);
      assertSameKeys(schema, lake.layout.keys, table.name, options.delta.url);
      let settled = 0;
      await readKeyStates(keys, lake, schema, get, (states) => {
        for (const [key, state] of states) {
          if (kindOf(state) === 'matched') settled++;
          else if (known.size < limit * MISMATCH_KINDS.length) known.set(key, state);
        }
        return comparison.recheck(states);
      });
      settle = {
        waitedMs: settleMs,
        rechecked: keys.length,
        settled,
        capped: mismatched > MAX_SETTLE_KEYS,
        maxKeys: MAX_SETTLE_KEYS,
        deltaVersion: lake.snapshot.version,
      };
      emit({ code: VerifyEventCode.settled, rechecked: keys.length, settled });
    }

    const counts = await comparison.mismatchCounts();
    const listed = async (kind: 'missing' | 'extra') => ({
      count: counts[kind],
      keys: (await comparison.mismatchedKeys(limit, kind)).map((entry) => entry.key),
    });
    const missing = await listed('missing');
    const extra = await listed('extra');
    const differentKeys = (await comparison.mismatchedKeys(limit, 'different')).map((entry) => entry.key);
    const unknown = differentKeys.filter((key) => !known.has(key));
    if (unknown.length > 0) {
      await readKeyStates(unknown, lake, schema, get, (states) => {
        for (const [key, state] of states) known.set(key, state);
      });
    }
    const different: DifferentKey[] = differentKeys.map((key) => {
      const state = known.get(key);
      return {
        key,
        attributes:
          state === undefined || state.table === null || state.lake === null
            ? []
            : attributeDifferences(state.table, state.lake),
      };
    });

    const tableItems = await comparison.count('source');
    const elapsedMs = now() - started;
    return {
      equal: counts.missing + counts.extra + counts.different === 0,
      table: table.name,
      tableArn: table.arn,
      delta: options.delta.url,
      deltaVersion: comparedVersion,
      tableItems,
      lakeRows,
      matched: matched + (settle?.settled ?? 0),
      missing,
      extra,
      different: { count: counts.different, keys: different },
      sample: sampleReport,
      settle,
      scan: { totalSegments, concurrency, consistentRead, readCapacity: target, readUnits: limiter.consumed },
      elapsedMs,
      itemsPerSecond: tableItems / (Math.max(elapsedMs, 1) / 1000),
    };
  } finally {
    await session.close();
  }
}
