/*
 * One small seedable pseudo-random generator for sample data, workloads and sampled segment
 * choices: the same seed gives the same sequence, so a run can be repeated. Not for anything secret.
 */

/** mulberry32: a fast, well-mixed 32-bit generator; each call returns a float in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
