import type { Item } from '../dynamo/attribute-value.ts';
import type { ChangeRecord } from '../formats/change-record.ts';
import type { IncrementalExportChange } from '../formats/export-line.ts';
import { type ChangeOrder, compareChangeOrder } from './change-order.ts';
import { bucketOf, keyText, type TableKeys } from './key-identity.ts';
import { KeyAttributeError } from './model-errors.ts';
import { paddedSeq, SNAPSHOT_SEQ } from './sequence-number.ts';

/*
 * The fold of one batch (DESIGN.md rules 1–3): every record of the batch — snapshot items, stream
 * change records, incremental-export lines — reduced to one winner per `_ddb_key`, the newest by
 * change-order.ts:
 *   - the greatest sequence number wins among stream records (BigInt order, as padded text);
 *   - records that repeat a `(key, seq)` already seen collapse into it and are counted;
 *   - records older than T − margin (`ts`, or an incremental line's write time) are skipped and
 *     counted: the snapshot already holds them;
 *   - any change beats the snapshot item; incremental-export lines follow the full export they
 *     repair, replace snapshot items and lines of earlier incremental exports (by write time), and
 *     give way to stream records whose ts is after their write time (change-order.ts, rule 4);
 *   - a winning REMOVE (or an incremental line without NewImage) is a delete, its TTL flag kept.
 * The result does not depend on the order records are added in (apart from which of two exact
 * duplicates is kept, and they are equal).
 *
 * Memory: one entry per distinct key of the batch (its key text, key item and at most one candidate
 * per source: snapshot, stream, incremental export), plus the sequence numbers seen for keys with
 * several records, to recognise duplicates. That is fine up to a few million keys per batch; the
 * run keeps batches within that (a snapshot bulk load of a new table does not need this fold: each
 * of its keys appears once).
 */

/** Where a record came from (store-relative file key, 1-based line), for errors and quarantine. */
export interface RecordOrigin {
  readonly file: string;
  readonly line: number;
}

/** The winner of one key: what the batch does to that item. */
export interface ReducedChange {
  /** `_ddb_key`. */
  readonly key: string;
  /** `_ddb_bucket`. */
  readonly bucket: number;
  /** `put`: the item becomes `item`; `delete`: the item is gone (hard) or flagged deleted (soft). */
  readonly op: 'put' | 'delete';
  /** The key attributes only. */
  readonly keys: Item;
  /** For a put, the whole new item (new image or snapshot item); null for a delete. */
  readonly item: Item | null;
  /** For a delete, the item before it when the record carried it (soft deletes may keep it). */
  readonly oldImage: Item | null;
  readonly order: ChangeOrder;
  /** A delete by TTL expiry (stream records only). */
  readonly ttl: boolean;
  readonly origin: RecordOrigin | undefined;
}

/** What the fold saw. `records = skipped + duplicates + superseded + keys`. */
export interface ReductionCounts {
  readonly records: number;
  readonly snapshotItems: number;
  readonly streamRecords: number;
  readonly incrementalChanges: number;
  /** Older than T − margin: already in the snapshot. */
  readonly skipped: number;
  /** Repeats of a `(key, seq)` already seen (Lambda retries, re-listed files). */
  readonly duplicates: number;
  /** Lost to a newer record of the same key in the batch. */
  readonly superseded: number;
  /** Distinct keys: the winners. */
  readonly keys: number;
  /** Winners that are deletes. */
  readonly deletes: number;
}

export interface ChangeReductionOptions {
  readonly keys: TableKeys;
  readonly buckets: number;
  /** T, epoch milliseconds. */
  readonly exportTime: number;
  readonly marginMs: number;
}

type Slot = 'snapshot' | 'stream' | 'incremental';

interface Candidate {
  readonly op: 'put' | 'delete';
  readonly item: Item | null;
  readonly oldImage: Item | null;
  readonly order: ChangeOrder;
  readonly ttl: boolean;
  readonly origin: RecordOrigin | undefined;
}

interface Entry {
  readonly keys: Item;
  snapshot?: Candidate;
  stream?: Candidate;
  incremental?: Candidate;
  /** `slot:seq` of every record kept or collapsed, once the key has more than one. */
  seen?: Set<string>;
}

function keyItemOf(item: Item, keys: TableKeys): Item {
  const partition = item[keys.partition];
  const sort = keys.sort === undefined ? undefined : item[keys.sort];
  if (partition === undefined) return {};
  if (keys.sort === undefined || sort === undefined) return { [keys.partition]: partition };
  return { [keys.partition]: partition, [keys.sort]: sort };
}

/**
 * Folds the records of one batch into one winner per key (see the top of this file). Add records
 * in any order with the `add…` methods, then read `winners()` and `counts()`.
 */
export class ChangeReduction {
  readonly #options: ChangeReductionOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #horizonMicros: bigint;
  readonly #exportMicros: bigint;
  #snapshotItems = 0;
  #streamRecords = 0;
  #incrementalChanges = 0;
  #skipped = 0;
  #duplicates = 0;

  constructor(options: ChangeReductionOptions) {
    this.#options = options;
    this.#exportMicros = BigInt(options.exportTime) * 1000n;
    this.#horizonMicros = BigInt(options.exportTime - options.marginMs) * 1000n;
  }

  /**
   * Adds one snapshot item (full export or Scan export): a put with seq 0 at time T, beaten by any
   * change of its key.
   * @throws KeyAttributeError when the item lacks a key attribute or holds it with another type.
   */
  addSnapshotItem(item: Item, source: 'export' | 'scan' = 'export', origin?: RecordOrigin): void {
    const key = keyText(item, this.#options.keys);
    this.#snapshotItems++;
    this.#offer(key, keyItemOf(item, this.#options.keys), 'snapshot', {
      op: 'put',
      item,
      oldImage: null,
      order: { source, seq: SNAPSHOT_SEQ, tsMicros: this.#exportMicros },
      ttl: false,
      origin,
    });
  }

  /**
   * Adds one stream change record (a line of a change file, validated by `parseChangeRecord`).
   * @throws KeyAttributeError when `record.keys` is not exactly the table's key attributes.
   * @throws SequenceNumberError when `seq` is not 1 to 40 digits.
   */
  addStreamRecord(record: ChangeRecord, origin?: RecordOrigin): void {
    const key = this.#recordKey(record.keys);
    const seq = paddedSeq(record.seq);
    this.#streamRecords++;
    const tsMicros = BigInt(record.ts) * 1000n;
    if (tsMicros < this.#horizonMicros) {
      this.#skipped++;
      return;
    }
    const remove = record.op === 'REMOVE';
    this.#offer(key, record.keys, 'stream', {
      op: remove ? 'delete' : 'put',
      item: remove ? null : record.new,
      oldImage: remove ? record.old : null,
      order: { source: 'stream', seq, tsMicros },
      ttl: remove && record.ttl,
      origin,
    });
  }

  /**
   * Adds one incremental-export line (validated by `parseIncrementalExportLine`): a put of its
   * NewImage, or a delete when it has none, ordered by its write time (change-order.ts).
   * @throws KeyAttributeError when `change.keys` is not exactly the table's key attributes.
   * @throws SequenceNumberError when the write time is not 1 to 40 digits.
   */
  addIncrementalChange(change: IncrementalExportChange, origin?: RecordOrigin): void {
    const key = this.#recordKey(change.keys);
    const seq = paddedSeq(change.writeTimestampMicros);
    this.#incrementalChanges++;
    const tsMicros = BigInt(change.writeTimestampMicros);
    if (tsMicros < this.#horizonMicros) {
      this.#skipped++;
      return;
    }
    const remove = change.newImage === undefined;
    this.#offer(key, change.keys, 'incremental', {
      op: remove ? 'delete' : 'put',
      item: remove ? null : (change.newImage as Item),
      oldImage: remove ? (change.oldImage ?? null) : null,
      order: { source: 'incremental-export', seq, tsMicros },
      ttl: false,
      origin,
    });
  }

  #recordKey(keys: Item): string {
    const { partition, sort } = this.#options.keys;
    for (const name in keys) {
      if (name !== partition && name !== sort) {
        throw new KeyAttributeError(
          name,
          `The record's key holds the attribute "${name}", which is not a key attribute of the table (${sort === undefined ? `"${partition}"` : `"${partition}" and "${sort}"`}): the change files or exports come from another table, or ddb_lake.keys / --keys is wrong.`,
        );
      }
    }
    return keyText(keys, this.#options.keys);
  }

  #offer(key: string, keys: Item, slot: Slot, candidate: Candidate): void {
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { keys };
      entry[slot] = candidate;
      this.#entries.set(key, entry);
      return;
    }
    const id = `${slot}:${candidate.order.seq}`;
    if (entry.seen === undefined) {
      entry.seen = new Set();
      for (const held of ['snapshot', 'stream', 'incremental'] as const) {
        const present = entry[held];
        if (present !== undefined) entry.seen.add(`${held}:${present.order.seq}`);
      }
    }
    if (entry.seen.has(id)) {
      this.#duplicates++;
      return;
    }
    entry.seen.add(id);
    const current = entry[slot];
    if (current === undefined || compareChangeOrder(candidate.order, current.order) > 0)
      entry[slot] = candidate;
  }

  /** The counts so far (see `ReductionCounts`). */
  counts(): ReductionCounts {
    let deletes = 0;
    for (const entry of this.#entries.values()) if (winnerOf(entry).op === 'delete') deletes++;
    const records = this.#snapshotItems + this.#streamRecords + this.#incrementalChanges;
    const keys = this.#entries.size;
    return {
      records,
      snapshotItems: this.#snapshotItems,
      streamRecords: this.#streamRecords,
      incrementalChanges: this.#incrementalChanges,
      skipped: this.#skipped,
      duplicates: this.#duplicates,
      superseded: records - this.#skipped - this.#duplicates - keys,
      keys,
      deletes,
    };
  }

  /**
   * One winner per key, ordered by bucket, then key text (code-unit order): deterministic for the
   * same records. Does not change the accumulated state.
   */
  winners(): ReducedChange[] {
    const { buckets } = this.#options;
    const result: ReducedChange[] = [];
    for (const [key, entry] of this.#entries) {
      const winner = winnerOf(entry);
      result.push({
        key,
        bucket: bucketOf(key, buckets),
        op: winner.op,
        keys: entry.keys,
        item: winner.item,
        oldImage: winner.oldImage,
        order: winner.order,
        ttl: winner.ttl,
        origin: winner.origin,
      });
    }
    return result.sort((a, b) => a.bucket - b.bucket || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}

/** The newest of an entry's candidates (change-order.ts): at most three comparisons. */
function winnerOf(entry: Entry): Candidate {
  let best: Candidate | undefined;
  for (const candidate of [entry.snapshot, entry.stream, entry.incremental]) {
    if (candidate === undefined) continue;
    if (best === undefined || compareChangeOrder(candidate.order, best.order) > 0) best = candidate;
  }
  return best as Candidate;
}
