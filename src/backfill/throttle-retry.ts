import type { CapacityLimiter, Clock } from './capacity-limiter.ts';
import { ThrottledError } from './scan-errors.ts';

/**
 * How a throttled request is retried: attempt n (1-based) waits `baseDelayMs · 2^(n-1)`, capped at
 * `maxDelayMs`, the upper half of it jittered so that segments throttled together spread out.
 */
export interface ThrottleRetryPolicy {
  /** How many times a request is sent in all before giving up (at least 1). */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** About three minutes of trying before a run stops (and can be resumed). */
export const THROTTLE_RETRY: ThrottleRetryPolicy = { attempts: 15, baseDelayMs: 100, maxDelayMs: 20_000 };

const THROTTLE_ERRORS: ReadonlySet<string> = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
]);

/**
 * Whether DynamoDB refused a request for lack of capacity: ProvisionedThroughputExceededException
 * (provisioned, or beyond an on-demand table's maximum), ThrottlingException, RequestLimitExceeded
 * (the account's throughput quota), or any error the SDK marks as throttling.
 */
export function isThrottleError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name, $retryable } = error as { name?: unknown; $retryable?: { throttling?: unknown } };
  return (typeof name === 'string' && THROTTLE_ERRORS.has(name)) || $retryable?.throttling === true;
}

/** The wait before retry `attempt` (1 = the first retry). */
export function throttleDelay(
  attempt: number,
  policy: ThrottleRetryPolicy,
  random: () => number = Math.random,
): number {
  const capped = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(capped / 2 + (capped / 2) * random());
}

export interface ThrottleRetryOptions {
  readonly limiter: CapacityLimiter;
  readonly policy: ThrottleRetryPolicy;
  readonly clock: Clock;
  readonly signal?: AbortSignal | undefined;
  /** Names the request in the error: `Scan of segment 3 of orders`. */
  readonly operation: string;
  /** What the user can do when the retries run out (the error message's last sentence). */
  readonly next: string;
  /** Told of each throttled attempt before its wait. */
  readonly onThrottle?: ((attempt: number, delayMs: number, error: unknown) => void) | undefined;
}

/**
 * Sends a request, retrying it while DynamoDB throttles it: each throttle lowers the limiter's rate
 * and waits with exponential backoff. A request that the SDK had to retry before it succeeded
 * (`$metadata.attempts` > 1) lowers the rate too, since the SDK retries throttles on its own.
 * Other errors pass through at once. Throws `ThrottledError` once the policy's attempts are spent.
 */
export async function withThrottleRetry<T extends { $metadata?: { attempts?: number } }>(
  send: () => Promise<T>,
  options: ThrottleRetryOptions,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      const answer = await send();
      if ((answer.$metadata?.attempts ?? 1) > 1) options.limiter.throttled();
      return answer;
    } catch (error) {
      if (!isThrottleError(error)) throw error;
      options.limiter.throttled();
      if (attempt >= options.policy.attempts || options.signal?.aborted) {
        throw new ThrottledError(options.operation, attempt, options.next, { cause: error });
      }
      const delayMs = throttleDelay(attempt, options.policy);
      options.onThrottle?.(attempt, delayMs, error);
      await options.clock.sleep(delayMs, options.signal);
    }
  }
}
