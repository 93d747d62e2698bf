import type { _Record as SdkStreamRecord } from '@aws-sdk/client-dynamodb-streams';
import { sleep } from '../sleep.ts';
import { type StreamsApi, streamsErrorKind } from './stream-poller-api.ts';
import { backoffDelay, type RetryPolicy } from './stream-poller-backoff.ts';
import {
  captureRequestError,
  StreamsProtocolError,
  StreamsUnavailableError,
} from './stream-poller-errors.ts';

/** Where reading a shard starts: its oldest record, or just after a checkpointed record. */
export type ShardStart =
  | { readonly type: 'TRIM_HORIZON' }
  | { readonly type: 'AFTER_SEQUENCE_NUMBER'; readonly sequenceNumber: string };

/** One read of a shard. */
export type ShardPage =
  /** Records in stream order (possibly none); `ended` when the closed shard's end was reached. */
  | { readonly kind: 'records'; readonly records: readonly SdkStreamRecord[]; readonly ended: boolean }
  /** The position asked for was trimmed (TrimmedDataAccessException): changes after it may be lost. */
  | { readonly kind: 'trimmed'; readonly cause: unknown }
  /** The shard is no longer in the stream (ResourceNotFoundException). */
  | { readonly kind: 'gone'; readonly cause: unknown };

/** A throttled or failed call that will be made again after `delayMs`. */
export interface StreamsRetry {
  readonly operation: 'GetShardIterator' | 'GetRecords';
  readonly shardId: string;
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: unknown;
}

export interface ShardReaderOptions {
  readonly api: StreamsApi;
  readonly streamArn: string;
  readonly shardId: string;
  readonly start: ShardStart;
  /** Records per GetRecords call, 1 to 1000. */
  readonly limit: number;
  readonly retry: RetryPolicy;
  /** Called before each wait on a throttled or failed call. */
  readonly onRetry?: (retry: StreamsRetry) => void;
  /** Called when an iterator expired and a new one is taken after `resumeAfter` (or from the start). */
  readonly onIteratorExpired?: (resumeAfter: string | undefined) => void;
  /** Ends a retry wait early; the read then returns an empty page. */
  readonly signal?: AbortSignal;
}

/**
 * Reads one shard page by page, in stream order, with the iterator bookkeeping DynamoDB Streams
 * asks for: a new iterator after the last record returned when one expires (15 minutes), bounded
 * exponential backoff when throttled or failing (then `StreamsUnavailableError`), and trimming or a
 * vanished shard reported as a page kind rather than thrown, since the caller must record them.
 * Records are checked to come in strictly increasing sequence numbers (compared as integers);
 * anything else throws `StreamsProtocolError`.
 */
export class ShardReader {
  readonly shardId: string;
  readonly #options: ShardReaderOptions;
  #position: ShardStart;
  /** `undefined`: take a new iterator from `#position`; `null`: the shard's end was read. */
  #iterator: string | null | undefined;

  constructor(options: ShardReaderOptions) {
    this.#options = options;
    this.shardId = options.shardId;
    this.#position = options.start;
  }

  /** Where a new iterator would start: after the last record returned so far. */
  get position(): ShardStart {
    return this.#position;
  }

  /** Reads on from the shard's oldest record the stream still holds (after a trimmed gap). */
  restartFromTrimHorizon(): void {
    this.#position = { type: 'TRIM_HORIZON' };
    this.#iterator = undefined;
  }

  /** The next page of records. After a page with `ended`, further reads return `ended` with no records. */
  async read(): Promise<ShardPage> {
    let expired = 0;
    for (;;) {
      if (this.#iterator === null) return { kind: 'records', records: [], ended: true };
      if (this.#iterator === undefined) {
        const answer = await this.#call('GetShardIterator', () =>
          this.#options.api.getShardIterator({
            StreamArn: this.#options.streamArn,
            ShardId: this.shardId,
            ShardIteratorType: this.#position.type,
            ...(this.#position.type === 'AFTER_SEQUENCE_NUMBER'
              ? { SequenceNumber: this.#position.sequenceNumber }
              : {}),
          }),
        );
        // GetShardIterator issues iterators; it has none to find expired.
        if (answer.kind === 'expired') throw answer.cause;
        if (answer.kind !== 'ok') return answer.kind === 'aborted' ? emptyPage : answer;
        // No iterator: the shard is closed and nothing is left after the position.
        this.#iterator = answer.value.ShardIterator ?? null;
        if (this.#iterator === null) return { kind: 'records', records: [], ended: true };
      }
      const iterator: string = this.#iterator;
      const answer = await this.#call('GetRecords', () =>
        this.#options.api.getRecords({ ShardIterator: iterator, Limit: this.#options.limit }),
      );
      if (answer.kind === 'expired') {
        expired++;
        if (expired > this.#options.retry.attempts) {
          throw new StreamsUnavailableError('GetRecords', `shard ${this.shardId}`, expired, {
            cause: answer.cause,
          });
        }
        this.#iterator = undefined;
        this.#options.onIteratorExpired?.(
          this.#position.type === 'AFTER_SEQUENCE_NUMBER' ? this.#position.sequenceNumber : undefined,
        );
        continue;
      }
      if (answer.kind !== 'ok') return answer.kind === 'aborted' ? emptyPage : answer;
      const records = answer.value.Records ?? [];
      this.#checkOrder(records);
      const last = records[records.length - 1]?.dynamodb?.SequenceNumber;
      if (last !== undefined) this.#position = { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: last };
      this.#iterator = answer.value.NextShardIterator ?? null;
      return { kind: 'records', records, ended: this.#iterator === null };
    }
  }

  async #call<T>(
    operation: StreamsRetry['operation'],
    call: () => Promise<T>,
  ): Promise<
    | { kind: 'ok'; value: T }
    | { kind: 'expired'; cause: unknown }
    | { kind: 'trimmed'; cause: unknown }
    | { kind: 'gone'; cause: unknown }
    | { kind: 'aborted' }
  > {
    const policy = this.#options.retry;
    for (let attempt = 1; ; attempt++) {
      try {
        return { kind: 'ok', value: await call() };
      } catch (error) {
        // A call cut short by the stop signal is the stop, not a failure.
        if (this.#options.signal?.aborted) return { kind: 'aborted' };
        const kind = streamsErrorKind(error);
        if (kind === 'expired-iterator') return { kind: 'expired', cause: error };
        if (kind === 'trimmed') return { kind: 'trimmed', cause: error };
        if (kind === 'not-found') return { kind: 'gone', cause: error };
        if (kind === 'fatal') {
          throw captureRequestError('DynamoDB Streams', operation, `shard ${this.shardId}`, error);
        }
        if (attempt >= policy.attempts) {
          throw new StreamsUnavailableError(operation, `shard ${this.shardId}`, attempt, { cause: error });
        }
        const delayMs = backoffDelay(attempt, policy);
        this.#options.onRetry?.({ operation, shardId: this.shardId, attempt, delayMs, error });
        await sleep(delayMs, this.#options.signal);
        if (this.#options.signal?.aborted) return { kind: 'aborted' };
      }
    }
  }

  #checkOrder(records: readonly SdkStreamRecord[]): void {
    let previous =
      this.#position.type === 'AFTER_SEQUENCE_NUMBER' ? BigInt(this.#position.sequenceNumber) : undefined;
    for (const record of records) {
      const text = record.dynamodb?.SequenceNumber;
      if (text === undefined || !/^[0-9]{1,40}$/.test(text)) {
        throw new StreamsProtocolError(
          `GetRecords on shard ${this.shardId} returned a record without a valid SequenceNumber (${JSON.stringify(text)})`,
        );
      }
      const sequence = BigInt(text);
      if (previous !== undefined && sequence <= previous) {
        throw new StreamsProtocolError(
          `GetRecords on shard ${this.shardId} returned record ${text} after ${previous}: not in stream order`,
        );
      }
      previous = sequence;
    }
  }
}

const emptyPage: ShardPage = { kind: 'records', records: [], ended: false };
