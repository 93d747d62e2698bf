import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { CapacityLimiter, type Clock } from '../../src/backfill/capacity-limiter.ts';
import { ThrottledError } from '../../src/backfill/scan-errors.ts';
import { isThrottleError, throttleDelay, withThrottleRetry } from '../../src/backfill/throttle-retry.ts';

/**
 * Virtual time: `sleep` moves the clock forward at once. The limiter serves its waiters one at a
 * time, so only one sleeper exists at any moment and the sum of the sleeps is the elapsed time.
 */
class VirtualClock implements Clock {
  ms = 0;
  readonly sleeps: number[] = [];
  now(): number {
    return this.ms;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.ms += ms;
  }
}

/**
 * `workers` loops that each acquire `estimate`, then book `actual` as consumed, until the virtual
 * clock reaches `untilMs`. Returns the units consumed.
 */
async function simulate(
  limiter: CapacityLimiter,
  clock: VirtualClock,
  options: { workers: number; estimate: number; actual: number; untilMs: number },
): Promise<number> {
  const before = limiter.consumed;
  const worker = async () => {
    while (clock.now() < options.untilMs) {
      await limiter.acquire(options.estimate);
      if (clock.now() >= options.untilMs) {
        limiter.settle(options.estimate, 0);
        return;
      }
      limiter.settle(options.estimate, options.actual);
    }
  };
  await Promise.all(Array.from({ length: options.workers }, worker));
  return limiter.consumed - before;
}

describe('CapacityLimiter (virtual clock)', () => {
  it('keeps what four segments consume over a minute at the target rate, plus at most one burst', async () => {
    const clock = new VirtualClock();
    const limiter = new CapacityLimiter({ unitsPerSecond: 100, clock });
    const consumed = await simulate(limiter, clock, { workers: 4, estimate: 8, actual: 8, untilMs: 60_000 });
    expect(consumed).toBeGreaterThanOrEqual(100 * 60 * 0.98);
    expect(consumed).toBeLessThanOrEqual(100 * 60 + limiter.burstSeconds * 100 + 8);
  });

  it('makes requests that cost more than their estimate pay the difference back', async () => {
    const clock = new VirtualClock();
    const limiter = new CapacityLimiter({ unitsPerSecond: 50, clock });
    // Each page is estimated at 2 units but consumes 12 (items larger than DescribeTable said).
    const consumed = await simulate(limiter, clock, { workers: 3, estimate: 2, actual: 12, untilMs: 30_000 });
    expect(consumed / 30).toBeGreaterThan(50 * 0.95);
    expect(consumed / 30).toBeLessThan(50 * 1.1);
  });

  it('lets a request larger than the bucket through on a full bucket, and makes the next one wait off the debt', async () => {
    const clock = new VirtualClock();
    const limiter = new CapacityLimiter({ unitsPerSecond: 10, clock });
    await limiter.acquire(50);
    expect(clock.now()).toBe(0);
    await limiter.acquire(1);
    // 40 units of debt plus the unit asked for, at 10 units a second.
    expect(clock.now()).toBeGreaterThanOrEqual(4100);
    expect(clock.now()).toBeLessThanOrEqual(4102);
  });

  it('halves the rate on throttling, once per second however many segments report it', async () => {
    const clock = new VirtualClock();
    const limiter = new CapacityLimiter({ unitsPerSecond: 200, clock });
    limiter.throttled();
    limiter.throttled();
    limiter.throttled();
    expect(limiter.unitsPerSecond).toBe(100);
    expect(limiter.throttles).toBe(1);
    clock.ms += 1000;
    limiter.throttled();
    // 100 units/s climbed back 5 % of 200 per second for one second (110), then halved.
    expect(limiter.unitsPerSecond).toBeCloseTo(55, 6);
    expect(limiter.throttles).toBe(2);
  });

  it('climbs back to the target linearly after throttling, and consumption follows the lowered rate', async () => {
    const clock = new VirtualClock();
    const limiter = new CapacityLimiter({ unitsPerSecond: 100, clock });
    await simulate(limiter, clock, { workers: 2, estimate: 5, actual: 5, untilMs: 5_000 });
    limiter.throttled();
    const throttledAt = clock.now();
    expect(limiter.unitsPerSecond).toBe(50);
    const consumed = await simulate(limiter, clock, {
      workers: 2,
      estimate: 5,
      actual: 5,
      untilMs: throttledAt + 4_000,
    });
    // The rate over those four seconds goes from 50 to 70 units/s: 240 units in all.
    expect(consumed).toBeGreaterThanOrEqual(240 * 0.95);
    expect(consumed).toBeLessThanOrEqual(240 + 5);
    clock.ms = throttledAt + 10_000;
    expect(limiter.unitsPerSecond).toBe(100);
    clock.ms = throttledAt + 60_000;
    expect(limiter.unitsPerSecond).toBe(100);
  });

  it('never lowers the rate below its floor', () => {
    const clock = new VirtualClock();
    const limiter = new CapacityLimiter({ unitsPerSecond: 1000, clock, minShare: 0.1 });
    for (let i = 0; i < 20; i++) {
      limiter.throttled();
      clock.ms += 1000;
    }
    expect(limiter.unitsPerSecond).toBeGreaterThanOrEqual(100);
  });

  it('does not wait at all when the target is unlimited, and still counts what was consumed', async () => {
    const clock = new VirtualClock();
    const limiter = new CapacityLimiter({ unitsPerSecond: Number.POSITIVE_INFINITY, clock });
    for (let i = 0; i < 1000; i++) {
      await limiter.acquire(128);
      limiter.settle(128, 64);
    }
    expect(clock.sleeps).toEqual([]);
    expect(limiter.limited).toBe(false);
    expect(limiter.consumed).toBe(64_000);
  });

  it('serves waiters in the order they asked', async () => {
    const clock = new VirtualClock();
    const limiter = new CapacityLimiter({ unitsPerSecond: 10, clock });
    const order: number[] = [];
    await Promise.all(
      [30, 1, 1, 1].map(async (units, index) => {
        await limiter.acquire(units);
        order.push(index);
      }),
    );
    expect(order).toEqual([0, 1, 2, 3]);
  });
});

describe('withThrottleRetry', () => {
  const throttle = () =>
    new ProvisionedThroughputExceededException({ message: 'Rate exceeded', $metadata: {} });
  const policy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 1000 };

  it('retries a throttled request with growing waits and lowers the shared rate', async () => {
    const clock = new VirtualClock();
    const limiter = new CapacityLimiter({ unitsPerSecond: 100, clock });
    let calls = 0;
    const seen: number[] = [];
    const answer = await withThrottleRetry(
      async () => {
        calls++;
        if (calls <= 2) throw throttle();
        return { $metadata: { attempts: 1 }, value: 'page' };
      },
      {
        limiter,
        policy,
        clock,
        operation: 'the Scan of segment 0',
        next: 'Resume later.',
        onThrottle: (attempt) => seen.push(attempt),
      },
    );
    expect(answer.value).toBe('page');
    expect(calls).toBe(3);
    expect(seen).toEqual([1, 2]);
    expect(clock.sleeps.length).toBe(2);
    expect(clock.sleeps[0]).toBeGreaterThanOrEqual(50);
    expect(clock.sleeps[0]).toBeLessThanOrEqual(100);
    expect(clock.sleeps[1]).toBeGreaterThanOrEqual(100);
    expect(clock.sleeps[1]).toBeLessThanOrEqual(200);
    expect(limiter.unitsPerSecond).toBeLessThan(100);
  });

  it('gives up after the last attempt with an error that says how to resume', async () => {
    const clock = new VirtualClock();
    const limiter = new CapacityLimiter({ unitsPerSecond: 100, clock });
    const failing = withThrottleRetry(
      async (): Promise<{ $metadata: object }> => {
        throw throttle();
      },
      { limiter, policy, clock, operation: 'the Scan of segment 2', next: 'Run the same command again.' },
    );
    await expect(failing).rejects.toBeInstanceOf(ThrottledError);
    await expect(failing).rejects.toMatchObject({
      code: 'SCAN_THROTTLED',
      message: expect.stringContaining('the Scan of segment 2 4 times in a row'),
    });
    await expect(failing).rejects.toMatchObject({
      message: expect.stringContaining('Run the same command again.'),
    });
  });

  it('passes any other error through at once', async () => {
    const clock = new VirtualClock();
    const limiter = new CapacityLimiter({ unitsPerSecond: 100, clock });
    let calls = 0;
    const failing = withThrottleRetry(
      async (): Promise<{ $metadata: object }> => {
        calls++;
        throw Object.assign(new Error('no such table'), { name: 'ResourceNotFoundException' });
      },
      { limiter, policy, clock, operation: 'x', next: 'y' },
    );
    await expect(failing).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    expect(calls).toBe(1);
    expect(clock.sleeps).toEqual([]);
  });

  it('lowers the rate when the SDK needed retries to get an answer', async () => {
    const clock = new VirtualClock();
    const limiter = new CapacityLimiter({ unitsPerSecond: 100, clock });
    await withThrottleRetry(async () => ({ $metadata: { attempts: 3 } }), {
      limiter,
      policy,
      clock,
      operation: 'x',
      next: 'y',
    });
    expect(limiter.unitsPerSecond).toBe(50);
  });

  it('tells throttling errors from others, and caps the backoff', () => {
    expect(isThrottleError(throttle())).toBe(true);
    expect(isThrottleError({ name: 'ThrottlingException' })).toBe(true);
    expect(isThrottleError({ name: 'RequestLimitExceeded' })).toBe(true);
    expect(isThrottleError({ name: 'X', $retryable: { throttling: true } })).toBe(true);
    expect(isThrottleError({ name: 'ConditionalCheckFailedException' })).toBe(false);
    expect(isThrottleError(undefined)).toBe(false);
    expect(throttleDelay(30, policy, () => 1)).toBe(1000);
    expect(throttleDelay(1, policy, () => 0)).toBe(50);
  });
});
