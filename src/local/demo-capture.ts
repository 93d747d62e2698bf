import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { pollStream, type StreamPollSummary } from '../capture/stream-poller.ts';
import { streamsApiOf } from '../capture/stream-poller-api.ts';
import type { CaptureEvent } from '../capture/stream-poller-events.ts';
import type { TableStream } from '../capture/stream-poller-table.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { DemoError, DemoErrorCode } from './demo-errors.ts';

/*
 * Capture as it runs in production, beside the writes: the stream poller reading continuously into
 * the landing area, started before a phase of writes and drained after it (stopped at a batch
 * boundary, then run until the stream is idle), so that apply sees every change the phase made.
 * The demo runs it this way, and so do the end-to-end tests of apply.
 */

export interface BackgroundCaptureOptions {
  readonly stream: TableStream;
  readonly streams: DynamoDBStreamsClient;
  readonly landing: ObjectStore;
  /** Records per change file at most; default 25, so that a phase spreads over many files. */
  readonly batchSize?: number;
  /** Wait after a pass in which no shard returned records; default 50 ms. */
  readonly pollIntervalMs?: number;
  readonly onEvent?: (event: CaptureEvent) => void;
}

/** The stream poller run in the background of the caller, and drained on demand. */
export class BackgroundCapture {
  readonly #options: BackgroundCaptureOptions;
  #running: { readonly stop: AbortController; readonly done: Promise<StreamPollSummary> } | undefined;
  #failure: unknown;
  /** Every run's summary, in order. */
  readonly summaries: StreamPollSummary[] = [];

  constructor(options: BackgroundCaptureOptions) {
    this.#options = options;
  }

  /** Whether the background poller runs. */
  get running(): boolean {
    return this.#running !== undefined;
  }

  /**
   * Starts the poller in the background (it resumes after the shard checkpoints). Throws
   * `Error` when it runs already: a second poller would write every change twice.
   */
  start(): void {
    if (this.#running !== undefined) throw new Error('capture is running already');
    const stop = new AbortController();
    const done = this.#poll({ untilIdle: false, signal: stop.signal });
    // A failure surfaces in `check` and `drain`; until then it must not be an unhandled rejection.
    done.catch((error: unknown) => {
      this.#failure = error;
    });
    this.#running = { stop, done };
  }

  /** Throws what the background poller failed with, if it did: whoever waits on capture must not wait forever. */
  check(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  /**
   * Stops the background poller after the batch in hand and reads the rest of the stream until it
   * is idle: afterwards the landing area holds every change made before the call. Throws what the
   * poller threw, and `DemoError` (DEMO_CAPTURE_GAP) when either run recorded a gap (a lost change
   * would make any comparison moot).
   */
  async drain(): Promise<void> {
    const running = this.#running;
    this.#running = undefined;
    if (running !== undefined) {
      running.stop.abort();
      this.#record(await running.done);
    }
    this.#record(await this.#poll({ untilIdle: true }));
  }

  /** Stops the background poller without draining (cleanup after a failure). Idempotent; never throws. */
  async stop(): Promise<void> {
    const running = this.#running;
    this.#running = undefined;
    if (running === undefined) return;
    running.stop.abort();
    await running.done.catch(() => {});
  }

  #record(summary: StreamPollSummary): void {
    this.summaries.push(summary);
    if (summary.gaps.length > 0) {
      throw new DemoError(
        DemoErrorCode.captureGap,
        `Capture of ${summary.table} recorded ${summary.gaps.length} gap(s) in its stream (${JSON.stringify(summary.gaps)}): changes may be lost, so the lake cannot be shown equal to the table. Run again with a fresh landing area.`,
      );
    }
  }

  #poll(mode: { untilIdle: boolean; signal?: AbortSignal }): Promise<StreamPollSummary> {
    const options = this.#options;
    return pollStream({
      stream: options.stream,
      streams: streamsApiOf(options.streams),
      store: options.landing,
      batchSize: options.batchSize ?? 25,
      pollIntervalMs: options.pollIntervalMs ?? 50,
      ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
      ...mode,
    });
  }
}
