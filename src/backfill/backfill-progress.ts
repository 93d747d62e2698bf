import type { Clock } from './capacity-limiter.ts';

/** Running totals of a Scan export or a touch run, as progress events carry them. */
export interface BackfillProgress {
  /** Items handled (exported, or touched and skipped), counting those of earlier runs resumed. */
  readonly items: number;
  /** Items handled by this run. */
  readonly itemsThisRun: number;
  /** Scan export: bytes of JSON lines written by this run (before gzip). 0 for touch. */
  readonly bytes: number;
  /** Read units consumed by this run, as DynamoDB reported them. */
  readonly readUnits: number;
  /** Touch: write units consumed by this run. 0 for a Scan export. */
  readonly writeUnits: number;
  readonly elapsedMs: number;
  /** Averages over this run. */
  readonly itemsPerSecond: number;
  readonly readUnitsPerSecond: number;
  readonly writeUnitsPerSecond: number;
  readonly segmentsDone: number;
  readonly segments: number;
  /** DescribeTable's ItemCount (refreshed about every six hours); 0 when it has none. */
  readonly estimatedItems: number;
  /**
   * Time left at this run's pace, from the estimated item count; null while unknown (no estimate,
   * nothing read yet, or more items read than estimated).
   */
  readonly etaMs: number | null;
}

/** Counts a run's work and turns it into `BackfillProgress`. */
export class ProgressMeter {
  readonly #clock: Clock;
  readonly #startedAt: number;
  readonly #itemsBefore: number;
  readonly #segments: number;
  readonly #estimatedItems: number;
  #items = 0;
  #bytes = 0;
  #readUnits = 0;
  #writeUnits = 0;
  #segmentsDone: number;

  constructor(options: {
    readonly clock: Clock;
    readonly segments: number;
    /** Segments finished by earlier runs. */
    readonly segmentsDone: number;
    /** Items handled by earlier runs. */
    readonly itemsBefore: number;
    readonly estimatedItems: number;
  }) {
    this.#clock = options.clock;
    this.#startedAt = options.clock.now();
    this.#segments = options.segments;
    this.#segmentsDone = options.segmentsDone;
    this.#itemsBefore = options.itemsBefore;
    this.#estimatedItems = options.estimatedItems;
  }

  /** A page was read: its read units. */
  read(readUnits: number): void {
    this.#readUnits += readUnits;
  }

  /** Items handled, with the bytes written for them (Scan export) or the write units (touch). */
  handled(items: number, work: { readonly bytes?: number; readonly writeUnits?: number } = {}): void {
    this.#items += items;
    this.#bytes += work.bytes ?? 0;
    this.#writeUnits += work.writeUnits ?? 0;
  }

  segmentDone(): void {
    this.#segmentsDone++;
  }

  snapshot(): BackfillProgress {
    const elapsedMs = Math.max(0, this.#clock.now() - this.#startedAt);
    const seconds = Math.max(elapsedMs, 1) / 1000;
    const items = this.#itemsBefore + this.#items;
    const itemsPerSecond = this.#items / seconds;
    const left = this.#estimatedItems - items;
    const etaMs =
      this.#estimatedItems > 0 && left >= 0 && itemsPerSecond > 0 ? (left / itemsPerSecond) * 1000 : null;
    return {
      items,
      itemsThisRun: this.#items,
      bytes: this.#bytes,
      readUnits: this.#readUnits,
      writeUnits: this.#writeUnits,
      elapsedMs,
      itemsPerSecond,
      readUnitsPerSecond: this.#readUnits / seconds,
      writeUnitsPerSecond: this.#writeUnits / seconds,
      segmentsDone: this.#segmentsDone,
      segments: this.#segments,
      estimatedItems: this.#estimatedItems,
      etaMs: this.#segmentsDone === this.#segments ? 0 : etaMs,
    };
  }
}
