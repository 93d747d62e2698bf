/*
 * Ages as a person reads them at a glance, in status lines and problem messages: the two largest
 * units, rounded down.
 */

const UNITS: readonly (readonly [string, number])[] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['min', 60_000],
  ['s', 1000],
];

/** `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`; `0 s` below a second. Rounded down. Pure. */
export function ageText(ms: number): string {
  const rest = Math.max(0, Math.floor(ms));
  const index = UNITS.findIndex(([, size]) => rest >= size);
  if (index < 0) return '0 s';
  const [unit, size] = UNITS[index] as readonly [string, number];
  const whole = Math.floor(rest / size);
  const next = UNITS[index + 1];
  if (next === undefined) return `${whole} ${unit}`;
  const part = Math.floor((rest - whole * size) / next[1]);
  return part === 0 ? `${whole} ${unit}` : `${whole} ${unit} ${part} ${next[0]}`;
}
