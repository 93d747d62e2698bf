/**
 * Bounded exponential backoff: attempt n (1-based) waits `baseDelayMs · 2^(n-1)`, capped at
 * `maxDelayMs`, with up to half of it as random jitter so that retries of several pollers spread.
 */
export interface RetryPolicy {
  /** How many times a call is made in all before giving up (at least 1). */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** For throttled or failing DynamoDB Streams calls: about two minutes in all before giving up. */
export const STREAMS_RETRY: RetryPolicy = { attempts: 10, baseDelayMs: 250, maxDelayMs: 20_000 };

/** For handler calls that report failed records: about half a minute in all before giving up. */
export const BATCH_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 500, maxDelayMs: 10_000 };

/** The wait before retry number `attempt` (1 = the first retry). Never negative. */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const exponential = policy.baseDelayMs * 2 ** Math.max(0, attempt - 1);
  const capped = Math.min(policy.maxDelayMs, exponential);
  return Math.max(0, Math.round(capped / 2 + (capped / 2) * random()));
}
