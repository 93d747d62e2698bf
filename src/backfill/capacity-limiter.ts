import { sleep } from '../sleep.ts';

/** Time as the limiter and the retries see it: the system's, or a test's. */
export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  /** Resolves after `ms` milliseconds, or at once when `signal` aborts (without throwing). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The system clock: `performance.now()` and timers. */
export const SYSTEM_CLOCK: Clock = { now: () => performance.now(), sleep };

export interface CapacityLimiterOptions {
  /** The target: capacity units per second. `Infinity` turns the limiter off (it still counts). */
  readonly unitsPerSecond: number;
  /** How many seconds of the target rate may be spent at once after a pause (default 1). */
  readonly burstSeconds?: number;
  /** On throttling the rate is multiplied by this (default 0.5), at most once per second. */
  readonly decreaseFactor?: number;
  /** The rate never falls below this share of the target (default 0.02, and never below 1 unit/s). */
  readonly minShare?: number;
  /** After throttling, the rate climbs back by this share of the target per second (default 0.05). */
  readonly recoveryPerSecond?: number;
  readonly clock?: Clock;
}

/** A decrease no sooner than this after the previous one: concurrent throttles are one event. */
const DECREASE_INTERVAL_MS = 1000;

/**
 * A token bucket of capacity units, shared by every segment of a run, that follows what DynamoDB
 * reports as consumed (`ReturnConsumedCapacity: TOTAL`) rather than guesses: a request first
 * `acquire`s an estimate of its cost, and `settle` then books the difference to what it actually
 * consumed, so the bucket may go into debt and later requests wait it off. Over any window longer
 * than the burst, the units consumed stay at the rate plus at most one burst.
 *
 * On throttling (`throttled`) the rate drops multiplicatively and then climbs back linearly to the
 * target (additive increase, multiplicative decrease), so a table that cannot serve the target
 * share, or that other traffic is using, is not hammered. Waiters are served first come, first
 * served.
 */
export class CapacityLimiter {
  readonly target: number;
  readonly burstSeconds: number;
  readonly #decreaseFactor: number;
  readonly #floor: number;
  readonly #recoveryPerMs: number;
  readonly #clock: Clock;
  #tokens: number;
  #refilledAt: number;
  #rateAfterDecrease: number;
  #decreasedAt: number | undefined;
  #queue: Promise<void> = Promise.resolve();
  #consumed = 0;
  #throttles = 0;

  constructor(options: CapacityLimiterOptions) {
    if (!(options.unitsPerSecond > 0)) throw new RangeError('unitsPerSecond must be a positive number');
    this.target = options.unitsPerSecond;
    this.burstSeconds = options.burstSeconds ?? 1;
    this.#decreaseFactor = options.decreaseFactor ?? 0.5;
    this.#floor = Math.max(1, this.target * (options.minShare ?? 0.02));
    this.#recoveryPerMs = (this.target * (options.recoveryPerSecond ?? 0.05)) / 1000;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#refilledAt = this.#clock.now();
    this.#rateAfterDecrease = this.target;
    this.#tokens = this.#capacity(this.target);
  }

  /** Whether this limiter limits anything (a finite target). */
  get limited(): boolean {
    return Number.isFinite(this.target);
  }

  /** The rate allowed now, in units per second: the target, or less after throttling. */
  get unitsPerSecond(): number {
    return this.#rateAt(this.#clock.now());
  }

  /** Units booked by `settle` so far: what the requests consumed. */
  get consumed(): number {
    return this.#consumed;
  }

  /** How many times `throttled` lowered the rate. */
  get throttles(): number {
    return this.#throttles;
  }

  /**
   * Waits until `units` (an estimate of the next request's cost) may be spent, and takes them.
   * A request larger than the whole bucket waits for a full bucket and leaves it in debt. Resolves
   * early, without taking anything, when `signal` aborts.
   */
  acquire(units: number, signal?: AbortSignal): Promise<void> {
    if (!this.limited) return Promise.resolve();
    const turn = this.#queue.then(() => this.#take(Math.max(0, units), signal));
    this.#queue = turn.catch(() => {});
    return turn;
  }

  /** Books what a request consumed, having acquired `reserved` for it. */
  settle(reserved: number, consumed: number): void {
    this.#consumed += consumed;
    if (!this.limited) return;
    this.#refill(this.#clock.now());
    this.#tokens -= consumed - reserved;
  }

  /** DynamoDB throttled a request: lower the rate (at most once per second) and drop the burst. */
  throttled(): void {
    if (!this.limited) return;
    const now = this.#clock.now();
    if (this.#decreasedAt !== undefined && now - this.#decreasedAt < DECREASE_INTERVAL_MS) return;
    this.#refill(now);
    this.#rateAfterDecrease = Math.max(this.#floor, this.#rateAt(now) * this.#decreaseFactor);
    this.#decreasedAt = now;
    this.#tokens = Math.min(this.#tokens, 0);
    this.#throttles++;
  }

  async #take(units: number, signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      if (signal?.aborted) return;
      const now = this.#clock.now();
      this.#refill(now);
      const rate = this.#rateAt(now);
      const needed = Math.min(units, this.#capacity(rate));
      if (this.#tokens >= needed) {
        this.#tokens -= units;
        return;
      }
      const waitMs = ((needed - this.#tokens) / rate) * 1000;
      await this.#clock.sleep(Math.max(1, Math.ceil(waitMs)), signal);
    }
  }

  #refill(now: number): void {
    const elapsed = now - this.#refilledAt;
    if (elapsed <= 0) return;
    const rate = this.#rateAt(now);
    this.#tokens = Math.min(this.#capacity(rate), this.#tokens + (elapsed * rate) / 1000);
    this.#refilledAt = now;
  }

  #rateAt(now: number): number {
    if (this.#decreasedAt === undefined) return this.target;
    const recovered = this.#rateAfterDecrease + (now - this.#decreasedAt) * this.#recoveryPerMs;
    return Math.min(this.target, recovered);
  }

  #capacity(rate: number): number {
    return Math.max(1, rate * this.burstSeconds);
  }
}
