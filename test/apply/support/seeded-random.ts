import { mulberry32 } from '../../../src/seeded-random.ts';

/*
 * A small seedable pseudo-random source for workloads: the same seed gives the same sequence, so a
 * failing seed can be run again. Not for anything secret.
 */

/** A seeded source of pseudo-random choices (mulberry32 underneath). */
export class SeededRandom {
  readonly #next: () => number;

  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }

  /** A float in [0, 1). */
  next(): number {
    return this.#next();
  }

  /** An integer in [0, below). */
  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  /** An integer in [from, to]. */
  between(from: number, to: number): number {
    return from + this.int(to - from + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element, uniformly. Throws on an empty list: a workload bug, not a data case. */
  pick<T>(values: readonly T[]): T {
    if (values.length === 0) throw new Error('pick from an empty list');
    return values[this.int(values.length)] as T;
  }

  /** One key of `weights`, with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as [K, number][];
    const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
    let at = this.next() * total;
    for (const [key, weight] of entries) {
      at -= weight;
      if (at < 0) return key;
    }
    return (entries[entries.length - 1] as [K, number])[0];
  }

  /** `count` decimal digits, the first one not zero when `leading` is set. */
  digits(count: number, leading = false): string {
    let text = '';
    for (let i = 0; i < count; i++) text += String(i === 0 && leading ? 1 + this.int(9) : this.int(10));
    return text;
  }

  /** `length` random bytes. */
  bytes(length: number): Uint8Array {
    return Uint8Array.from({ length }, () => this.int(256));
  }
}
