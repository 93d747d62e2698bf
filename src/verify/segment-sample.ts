import { mulberry32 } from '../seeded-random.ts';

/*
 * Which Scan segments a sampled verify reads: a share of them chosen at random from a seed, so the
 * choice is reported and can be repeated (the same seed and segment count choose the same ones).
 */

/**
 * `round(share × totalSegments)` segments (at least one) out of 0 … totalSegments − 1, chosen by a
 * seeded shuffle, ascending. Pure: the same arguments give the same segments.
 * @throws RangeError for a share outside (0, 1] or a segment count below 1.
 */
export function chooseSegments(totalSegments: number, share: number, seed: number): number[] {
  if (!(share > 0 && share <= 1)) throw new RangeError(`share must be above 0 and at most 1, got ${share}`);
  if (!Number.isInteger(totalSegments) || totalSegments < 1) {
    throw new RangeError(`totalSegments must be a whole number of at least 1, got ${totalSegments}`);
  }
  const wanted = Math.max(1, Math.min(totalSegments, Math.round(share * totalSegments)));
  const random = mulberry32(seed);
  const segments = Array.from({ length: totalSegments }, (_, index) => index);
  // A partial Fisher–Yates shuffle: the first `wanted` places are a uniform choice.
  for (let i = 0; i < wanted; i++) {
    const j = i + Math.floor(random() * (totalSegments - i));
    [segments[i], segments[j]] = [segments[j] as number, segments[i] as number];
  }
  return segments.slice(0, wanted).sort((a, b) => a - b);
}
