import type { Readable } from 'node:stream';
import { StorageError } from '../../src/storage/errors.ts';
import type { ObjectInfo, ObjectStore, PutBody, PutIfAbsentOutcome } from '../../src/storage/object-store.ts';

/** Which writes fail. Each decision gets the key and the 1-based count of that kind of write so far. */
export interface Faults {
  /** `true` fails this `put` before anything reaches the inner store. */
  readonly failPut?: (key: string, attempt: number) => boolean;
  /** `true` fails this `putIfAbsent` before anything reaches the inner store. */
  readonly failPutIfAbsent?: (key: string, attempt: number) => boolean;
}

/** The error a `FaultyStore` throws for an injected fault: a `StorageError` as a real store throws. */
export const INJECTED_FAULT = 'INJECTED_FAULT';

/**
 * A real store (a `LocalFolderStore`, say) with writes that fail on demand, for testing what the
 * code above it does when the landing area or the lake is unavailable: reads, listings and every
 * write that is not failed go to the inner store, so the outcome is read back from real files.
 * A failed write leaves nothing behind, as a put that S3 refuses does.
 */
export class FaultyStore implements ObjectStore {
  readonly url: string;
  /** Keys of every `put` and `putIfAbsent` asked for, in order, failed or not. */
  readonly attemptedWrites: string[] = [];
  /** Keys of the writes that were failed on purpose. */
  readonly failedWrites: string[] = [];
  readonly #inner: ObjectStore;
  readonly #faults: Faults;
  #puts = 0;
  #putsIfAbsent = 0;

  constructor(inner: ObjectStore, faults: Faults) {
    this.#inner = inner;
    this.#faults = faults;
    this.url = inner.url;
  }

  /** A store whose every `put` of a key starting with `prefix` fails. */
  static failingPutsUnder(inner: ObjectStore, prefix: string): FaultyStore {
    return new FaultyStore(inner, { failPut: (key) => key.startsWith(prefix) });
  }

  list(prefix: string, options?: { readonly startAfter?: string }): AsyncIterable<ObjectInfo> {
    return this.#inner.list(prefix, options);
  }

  head(key: string): Promise<ObjectInfo | undefined> {
    return this.#inner.head(key);
  }

  get(key: string, range?: { readonly start: number; readonly end?: number }): Promise<Readable> {
    return this.#inner.get(key, range);
  }

  getBytes(key: string): Promise<Uint8Array> {
    return this.#inner.getBytes(key);
  }

  async put(key: string, body: PutBody): Promise<void> {
    this.attemptedWrites.push(key);
    const attempt = ++this.#puts;
    if (this.#faults.failPut?.(key, attempt) === true) throw this.#fault('put', key, attempt);
    await this.#inner.put(key, body);
  }

  async putIfAbsent(key: string, body: Uint8Array | string): Promise<PutIfAbsentOutcome> {
    this.attemptedWrites.push(key);
    const attempt = ++this.#putsIfAbsent;
    if (this.#faults.failPutIfAbsent?.(key, attempt) === true) {
      throw this.#fault('putIfAbsent', key, attempt);
    }
    return this.#inner.putIfAbsent(key, body);
  }

  delete(key: string): Promise<void> {
    return this.#inner.delete(key);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  #fault(operation: string, key: string, attempt: number): StorageError {
    this.failedWrites.push(key);
    return new StorageError(
      INJECTED_FAULT,
      `${operation} of "${key}" to ${this.url} failed (injected fault, write ${attempt}).`,
    );
  }
}
