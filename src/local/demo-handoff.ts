import { checkHandoff, type HandoffCheck } from '../plan/handoff-check.ts';
import { sleep } from '../sleep.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { DemoError, DemoErrorCode } from './demo-errors.ts';

/*
 * The demo's wait before its Scan. DynamoDB Local stamps stream records to the whole minute,
 * rounded down, so the handoff margin is 60 s (a change made after the Scan starts at T is stamped
 * after T − 60 s, and apply replays it), and the first captured stamp S must be ≤ T − 60 s: the
 * Scan may start only once the minute of the first write plus a minute has passed. `checkHandoff`
 * is the check apply makes; waiting on it keeps the demo honest about why it waits.
 */

/** Why the demo is still waiting for the handoff, as `checkHandoff` says it. */
export interface HandoffWait {
  /** The code of the first problem (CAPTURE_STARTED_LATE while the captured window is too short). */
  readonly problem: string;
  readonly message: string;
  /** The stamp of the earliest captured change, if one is captured. */
  readonly coveredFrom: string | null;
  /** The earliest export time the captured changes cover (coveredFrom + margin), if known. */
  readonly readyAt: string | null;
}

export interface AwaitHandoffOptions {
  readonly landing: ObjectStore;
  readonly table: string;
  readonly marginMs: number;
  /** Give up after this long; default 3 minutes. */
  readonly timeoutMs?: number;
  /** Called before each check: throws what a background part failed with, so no wait is endless. */
  readonly check?: () => void;
  /** Called when the wait starts, and again whenever its reason changes. */
  readonly onWait?: (wait: HandoffWait) => void;
}

/**
 * Resolves with the covering check once a Scan started now would hand off to the captured changes
 * (DESIGN.md rule 2), checking every half second. Read-only. Throws `DemoError`
 * (DEMO_HANDOFF_TIMEOUT) after `timeoutMs` with the last reason, and what `check` or
 * `checkHandoff` throws.
 */
export async function awaitHandoff(options: AwaitHandoffOptions): Promise<HandoffCheck> {
  const deadline = Date.now() + (options.timeoutMs ?? 180_000);
  let last: HandoffWait | undefined;
  for (;;) {
    options.check?.();
    const check = await checkHandoff({
      store: options.landing,
      table: options.table,
      exportTime: new Date(),
      marginMs: options.marginMs,
    });
    if (check.ok) return check;
    const problem = check.problems[0];
    const wait: HandoffWait = {
      problem: problem?.code ?? 'UNKNOWN',
      message: problem?.message ?? 'the handoff is not covered',
      coveredFrom: check.coveredFrom,
      readyAt: check.readyAt,
    };
    if (last === undefined || last.problem !== wait.problem || last.readyAt !== wait.readyAt) {
      options.onWait?.(wait);
    }
    last = wait;
    if (Date.now() > deadline) {
      throw new DemoError(
        DemoErrorCode.handoffTimeout,
        `The captured changes of ${options.table} still do not cover a handoff after ${Math.round((options.timeoutMs ?? 180_000) / 1000)} s: ${wait.message}. Check that capture runs (its errors are reported above) and run the demo again.`,
      );
    }
    await sleep(500);
  }
}
