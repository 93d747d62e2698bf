import { UsageError } from '../errors.ts';

/*
 * Flag values shared by several commands, parsed one way everywhere so that `--margin 15m` and
 * `--settle 15m` mean the same thing.
 */

/**
 * Minutes, or a number with a unit: `90s`, `15m`, `1h` (`ms` and `min` too), in milliseconds.
 * @throws UsageError naming the flag for any other text.
 */
export function durationMs(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?$/.exec(text.trim());
  if (match === null) {
    throw new UsageError(`${flag} must be minutes or a duration such as 90s, 15m or 1h, got "${text}"`);
  }
  const unit = match[2] ?? 'm';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'h' ? 3_600_000 : 60_000;
  return Math.round(Number(match[1]) * factor);
}
