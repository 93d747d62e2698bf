import { EXIT_CODES, type ExitCode } from './exit-codes.ts';
import type { Output } from './output.ts';

/** The signals a person stops a command with, and the exit code of a command they interrupted. */
const STOP_SIGNALS = { SIGINT: EXIT_CODES.INTERRUPTED, SIGTERM: EXIT_CODES.TERMINATED } as const;
type StopSignal = keyof typeof STOP_SIGNALS;

/** A stop signal the command running in this process received. */
export interface ReceivedStop {
  readonly signal: StopSignal;
  /** Whether it cut unfinished work short (false for a command that runs until stopped). */
  readonly interrupted: boolean;
  /** 130 for SIGINT, 143 for SIGTERM, as a shell reports a process such a signal ended. */
  readonly exitCode: ExitCode;
}

let received: ReceivedStop | undefined;

/** Options of `untilStopped`. */
export interface UntilStoppedOptions {
  /**
   * The command's job is to run until it is stopped (`capture` without `--until-idle`,
   * `apply --every`): a signal is its normal end, and it exits as its result says. Otherwise a
   * signal interrupts unfinished work, and the command exits 130 (SIGINT) or 143 (SIGTERM).
   */
  readonly runsUntilStopped?: boolean;
}

/**
 * Runs `body` with a signal that the first SIGINT or SIGTERM aborts, after printing `stopping`:
 * the body passes it to its AWS calls and waits, so requests in flight end at once, and stops at
 * its next safe point (checkpoints written). Our listeners are gone after the first signal, so a
 * second one ends the process at once, by that signal.
 */
export async function untilStopped<T>(
  output: Output,
  stopping: string,
  body: (signal: AbortSignal) => Promise<T>,
  options: UntilStoppedOptions = {},
): Promise<T> {
  const stop = new AbortController();
  const onSignal = (signal: StopSignal) => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    received ??= { signal, interrupted: options.runsUntilStopped !== true, exitCode: STOP_SIGNALS[signal] };
    output.progress(stopping);
    stop.abort(new StoppedBySignalError(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await body(stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * The stop signal received while the current command ran, if any; forgets it, so the next command
 * run in this process starts clean.
 */
export function takeReceivedStop(): ReceivedStop | undefined {
  const stop = received;
  received = undefined;
  return stop;
}

/** Whether `error` is how an aborted request or wait ended, rather than a failure. */
export function isAbortError(error: unknown): boolean {
  if (error instanceof StoppedBySignalError) return true;
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError';
}

/** The abort reason `untilStopped` gives: which signal stopped the command. */
export class StoppedBySignalError extends Error {
  readonly signal: StopSignal;

  constructor(signal: StopSignal) {
    super(`stopped by ${signal}`);
    this.name = 'AbortError';
    this.signal = signal;
  }
}
