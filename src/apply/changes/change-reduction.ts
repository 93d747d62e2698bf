import type { Item } from '../../dynamo/attribute-value.ts';
import type { ChangeRecord } from '../../formats/change-record.ts';
import type { IncrementalExportChange } from '../../formats/export-line.ts';
import { type ChangeOrder, compareChangeOrder } from '../../lake/change-order.ts';
import { bucketOf, keyText, type TableKeys } from '../../lake/key-identity.ts';
import { KeyAttributeError } from '../../lake/model-errors.ts';
import { paddedSeq, SNAPSHOT_SEQ } from '../../lake/sequence-number.ts';

/*
 * The fold of one batch (DESIGN.md rules 1–3): every record of the batch — snapshot items, stream
 * change records, incremental-export lines — reduced to one winner per `_ddb_key`, the newest by
 * change-order.ts:
 *   - the greatest sequence number wins among stream records (BigInt order, as padded text);
 *   - records that repeat a `(key, seq)` already seen collapse into it and are counted; the
 *     stream records among them are listed (`repeatedStreamRecords`) with where each copy came from,
 *     so that the caller can check that the copies are equal (sequence-conflicts.ts); copies that
 *     differ are corrupt input, and `voidStreamRecord` then takes that sequence number of the key
 *     out of the fold (see there);
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
 * several records and where each was first seen, to recognise duplicates and name their copies. That is fine up to a few million keys per batch; the
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

/** What the fold saw. `records = skipped + duplicates + conflicting + superseded + keys`. */
export interface ReductionCounts {
  readonly records: number;
  readonly snapshotItems: number;
  readonly streamRecords: number;
  readonly incrementalChanges: number;
  /** Older than T − margin: already in the snapshot. */
  readonly skipped: number;
  /** Repeats of a `(key, seq)` already seen (Lambda retries, re-listed files). */
  readonly duplicates: number;
  /** Copies of stream records whose `(key, seq)` holds different content (voided, see `voidStreamRecord`). */
  readonly conflicting: number;
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
  /** `slot:seq` of every record kept or collapsed, once the key has more than one, and where it was first seen. */
  seen?: Map<string, RecordOrigin | undefined>;
  /** Padded sequence numbers of stream records voided by `voidStreamRecord`. */
  voided?: Set<string>;
}

/** A stream record of the batch seen more than once: the copies to compare. */
export interface RepeatedStreamRecord {
  /** `_ddb_key`. */
  readonly key: string;
  /** The sequence number as the records spell it. */
  readonly seq: string;
  /** Where each copy came from, the first seen first. */
  readonly copies: readonly RecordOrigin[];
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
  /** `key` NUL `padded seq` → the repeated stream record and its copies. */
  readonly #repeats = new Map<string, { key: string; seq: string; copies: RecordOrigin[] }>();
  #conflicting = 0;
  #conflictDuplicates = 0;

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
    this.#offer(
      key,
      record.keys,
      'stream',
      {
        op: remove ? 'delete' : 'put',
        item: remove ? null : record.new,
        oldImage: remove ? record.old : null,
        order: { source: 'stream', seq, tsMicros },
        ttl: remove && record.ttl,
        origin,
      },
      record.seq,
    );
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

  #offer(key: string, keys: Item, slot: Slot, candidate: Candidate, seqText?: string): void {
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { keys };
      entry[slot] = candidate;
      this.#entries.set(key, entry);
      return;
    }
    const id = `${slot}:${candidate.order.seq}`;
    if (entry.seen === undefined) {
      entry.seen = new Map();
      for (const held of ['snapshot', 'stream', 'incremental'] as const) {
        const present = entry[held];
        if (present !== undefined) entry.seen.set(`${held}:${present.order.seq}`, present.origin);
      }
    }
    if (entry.seen.has(id)) {
      this.#duplicates++;
      const first = entry.seen.get(id);
      if (
        slot === 'stream' &&
        seqText !== undefined &&
        first !== undefined &&
        candidate.origin !== undefined
      ) {
        const repeatId = `${key}\u0000${candidate.order.seq}`;
        const repeat = this.#repeats.get(repeatId) ?? { key, seq: seqText, copies: [first] };
        repeat.copies.push(candidate.origin);
        this.#repeats.set(repeatId, repeat);
      }
      return;
    }
    entry.seen.set(id, candidate.origin);
    const current = entry[slot];
    if (current === undefined || compareChangeOrder(candidate.order, current.order) > 0)
      entry[slot] = candidate;
  }

  /**
   * The stream records of the batch seen more than once under one `(key, seq)`, with where each
   * copy came from (records added without an origin are left out), ordered by key text then
   * sequence number: deterministic for the same records, whatever order they were added in.
   */
  repeatedStreamRecords(): RepeatedStreamRecord[] {
    return [...this.#repeats.values()]
      .map((repeat) => ({ key: repeat.key, seq: repeat.seq, copies: [...repeat.copies] }))
      .sort((a, b) => compareText(a.key, b.key) || compareText(paddedSeq(a.seq), paddedSeq(b.seq)));
  }

  /**
   * Takes the stream record `(key, seq)` out of the fold because its copies differ (corrupt input;
   * the caller quarantines every copy, `copies` of them). Whichever copy is right, it supersedes
   * the key's older stream records, so those cannot win either: when `seq` is the newest stream
   * record of the key, the batch takes none of the key's stream records, and the key keeps what
   * the snapshot or an incremental export of the batch gives it, else its row in the table. A
   * newer stream record of the key wins as usual. Idempotent for one `(key, seq)`.
   */
  voidStreamRecord(key: string, seq: string, copies: number): void {
    const entry = this.#entries.get(key);
    const padded = paddedSeq(seq);
    if (entry === undefined || entry.voided?.has(padded) === true) return;
    entry.voided ??= new Set();
    entry.voided.add(padded);
    this.#conflicting += copies;
    this.#conflictDuplicates += copies - 1;
  }

  /** The counts so far (see `ReductionCounts`). */
  counts(): ReductionCounts {
    let deletes = 0;
    let keys = 0;
    for (const entry of this.#entries.values()) {
      const winner = winnerOf(entry);
      if (winner === undefined) continue;
      keys++;
      if (winner.op === 'delete') deletes++;
    }
    const records = this.#snapshotItems + this.#streamRecords + this.#incrementalChanges;
    const duplicates = this.#duplicates - this.#conflictDuplicates;
    return {
      records,
      snapshotItems: this.#snapshotItems,
      streamRecords: this.#streamRecords,
      incrementalChanges: this.#incrementalChanges,
      skipped: this.#skipped,
      duplicates,
      conflicting: this.#conflicting,
      superseded: records - this.#skipped - duplicates - this.#conflicting - keys,
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
      if (winner === undefined) continue;
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
    return result.sort((a, b) => a.bucket - b.bucket || compareText(a.key, b.key));
  }
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The newest of an entry's candidates (change-order.ts): at most three comparisons. A stream
 * candidate whose sequence number was voided does not compete (its copies differ, and it would
 * supersede every older stream record of the key); undefined when nothing is left.
 */
function winnerOf(entry: Entry): Candidate | undefined {
  const stream =
    entry.stream !== undefined && entry.voided?.has(entry.stream.order.seq) === true
      ? undefined
      : entry.stream;
  let best: Candidate | undefined;
  for (const candidate of [entry.snapshot, stream, entry.incremental]) {
    if (candidate === undefined) continue;
    if (best === undefined || compareChangeOrder(candidate.order, best.order) > 0) best = candidate;
  }
  return best;
}
