import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { pollStream, type StreamPollSummary } from '../../../src/capture/stream-poller.ts';
import { streamsApiOf } from '../../../src/capture/stream-poller-api.ts';
import type { TableStream } from '../../../src/capture/stream-poller-table.ts';
import type { ObjectStore } from '../../../src/storage/object-store.ts';

/*
 * Capture as it runs in production, beside the writes: the stream poller reading continuously into
 * the landing area, started before a workload phase and drained after it (stopped at a batch
 * boundary, then run until the stream is idle), so that apply sees every change the phase made.
 */

export interface BackgroundCaptureOptions {
  readonly stream: TableStream;
  readonly streams: DynamoDBStreamsClient;
  readonly landing: ObjectStore;
  /** Records per change file at most; small, so that a phase spreads over many files. Default 25. */
  readonly batchSize?: number;
}

export class BackgroundCapture {
  readonly #options: BackgroundCaptureOptions;
  #running: { readonly stop: AbortController; readonly done: Promise<StreamPollSummary> } | undefined;
  #failure: unknown;
  /** Every run's summary, in order. */
  readonly summaries: StreamPollSummary[] = [];

  constructor(options: BackgroundCaptureOptions) {
    this.#options = options;
  }

  /** Starts the poller in the background (it resumes after the shard checkpoints). */
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

  /** Throws what the background poller failed with, if it did: a test waiting on capture must not wait forever. */
  check(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  /**
   * Stops the background poller after the batch in hand and reads the rest of the stream until it
   * is idle: afterwards the landing area holds every change made before the call. Throws what the
   * poller threw, and when either run recorded a gap (a lost change would make any comparison moot).
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

  /** Stops the background poller without draining (cleanup after a failed test). */
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
      throw new Error(`capture recorded ${summary.gaps.length} gap(s): ${JSON.stringify(summary.gaps)}`);
    }
  }

  #poll(mode: { untilIdle: boolean; signal?: AbortSignal }): Promise<StreamPollSummary> {
    return pollStream({
      stream: this.#options.stream,
      streams: streamsApiOf(this.#options.streams),
      store: this.#options.landing,
      batchSize: this.#options.batchSize ?? 25,
      pollIntervalMs: 50,
      ...mode,
    });
  }
}
