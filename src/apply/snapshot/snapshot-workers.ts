import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ExportDataFile } from '../../formats/export-layout.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import {
  convertDataFile,
  observeDataFile,
  type PreparedRowsContext,
  prepareGuess,
  prepareRowsContext,
  type RowsFileResult,
  type RowsGuess,
  type RowsPassContext,
  type SchemaFileResult,
  type SchemaPassContext,
  type SnapshotPassContext,
} from './snapshot-file-tasks.ts';
import type { FromWorker, ToWorker } from './snapshot-load-worker.ts';
import { rebuildError, type SerializedError, serializeError } from './snapshot-worker-errors.ts';

/*
 * The threads of the snapshot load: a few worker threads (snapshot-load-worker.ts), each running
 * one data file's work of one pass at a time, so that JSON parsing, validation and row encoding use
 * every core while the main thread serves the data files' bytes from its object store and keeps
 * the spool files the workers complete. Where worker threads cannot run this source (a Node without type
 * stripping running the .ts files), the same work runs on the main thread.
 */

const EXTENSION = path.extname(fileURLToPath(import.meta.url));
const WORKER_URL = new URL(`./snapshot-load-worker${EXTENSION}`, import.meta.url);

/** True when worker threads can load the worker module (compiled, or .ts under type stripping). */
export function workerThreadsAvailable(): boolean {
  return EXTENSION !== '.ts' || Boolean((process.features as { typescript?: unknown }).typescript);
}

/** Threads for a pass over `files` data files: one per core, no more than files (0: none can run). */
export function snapshotThreads(files: number): number {
  if (!workerThreadsAvailable()) return 0;
  return Math.min(availableParallelism(), files);
}

interface Task {
  readonly resolve: (result: SchemaFileResult | RowsFileResult) => void;
  readonly reject: (error: Error) => void;
  readonly onSpool: (file: string, rows: number, bucket: number) => void;
}

/** One worker thread with the streams it reads and the task it runs. */
class SnapshotThread {
  readonly #worker: Worker;
  readonly #store: ObjectStore;
  readonly #streams = new Map<number, { source: Readable; chunks: AsyncIterator<Buffer> }>();
  readonly #tasks = new Map<number, Task>();
  /** Errors of the store kept here by reference; the worker sends back their number. */
  readonly #storeErrors: Map<number, unknown>;
  #nextError = 0;
  #dead: Error | undefined;

  constructor(store: ObjectStore, context: SnapshotPassContext, storeErrors: Map<number, unknown>) {
    this.#store = store;
    this.#storeErrors = storeErrors;
    this.#worker = new Worker(WORKER_URL);
    this.#worker.on('message', (message: FromWorker) => this.#onMessage(message));
    this.#worker.on('error', (error) => this.#die(error));
    this.#worker.on('exit', (code) => {
      this.#die(new Error(`a worker thread of the snapshot load stopped (exit code ${code})`));
    });
    this.#send({ type: 'context', context });
  }

  get busy(): boolean {
    return this.#tasks.size > 0;
  }

  run(
    id: number,
    file: ExportDataFile,
    index: number,
    onSpool: Task['onSpool'],
    guess: RowsGuess | undefined,
  ): Promise<SchemaFileResult | RowsFileResult> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    return new Promise((resolve, reject) => {
      this.#tasks.set(id, { resolve, reject, onSpool });
      this.#send({ type: 'task', task: id, file, index, ...(guess === undefined ? {} : { guess }) });
    });
  }

  async terminate(): Promise<void> {
    this.#die(new Error('the snapshot load stopped its worker threads'));
    for (const stream of this.#streams.values()) stream.source.destroy();
    this.#streams.clear();
    await this.#worker.terminate();
  }

  #send(message: ToWorker): void {
    this.#worker.postMessage(message);
  }

  #die(error: Error): void {
    if (this.#dead !== undefined) return;
    this.#dead = error;
    for (const task of this.#tasks.values()) task.reject(error);
    this.#tasks.clear();
  }

  #storeFailure(stream: number, error: unknown): void {
    this.#streams.delete(stream);
    const ref = this.#nextError++;
    this.#storeErrors.set(ref, error);
    const serialized = serializeError(error);
    this.#send({
      type: 'failed',
      stream,
      error: { ...serialized, fields: { ...serialized.fields, storeError: ref } },
    });
  }

  #onMessage(message: FromWorker): void {
    switch (message.type) {
      case 'get':
        this.#store.get(message.key, message.range).then(
          (source) => {
            this.#streams.set(message.stream, {
              source,
              chunks: (source as AsyncIterable<Buffer>)[Symbol.asyncIterator](),
            });
            this.#send({ type: 'opened', stream: message.stream });
          },
          (error: unknown) => this.#storeFailure(message.stream, error),
        );
        return;
      case 'pull': {
        const stream = this.#streams.get(message.stream);
        stream?.chunks.next().then(
          (next) => {
            if (next.done) {
              this.#streams.delete(message.stream);
              this.#send({ type: 'end', stream: message.stream });
            } else {
              // A copy of its own, moved rather than cloned: a stream's chunk may share its buffer.
              const bytes = Uint8Array.prototype.slice.call(next.value);
              this.#worker.postMessage({ type: 'chunk', stream: message.stream, bytes } satisfies ToWorker, [
                bytes.buffer,
              ]);
            }
          },
          (error: unknown) => this.#storeFailure(message.stream, error),
        );
        return;
      }
      case 'cancel':
        this.#streams.get(message.stream)?.source.destroy();
        this.#streams.delete(message.stream);
        return;
      case 'spool':
        this.#tasks.get(message.task)?.onSpool(message.file, message.rows, message.bucket);
        return;
      case 'done':
        this.#tasks.get(message.task)?.resolve(message.result);
        this.#tasks.delete(message.task);
        return;
      case 'failed':
        this.#tasks.get(message.task)?.reject(this.#rebuild(message.error));
        this.#tasks.delete(message.task);
        return;
    }
  }

  #rebuild(error: SerializedError): Error {
    return rebuildError(error, (serialized) => {
      const ref = serialized.fields['storeError'];
      if (typeof ref !== 'number' || !this.#storeErrors.has(ref)) return undefined;
      const original = this.#storeErrors.get(ref);
      return original instanceof Error ? original : new Error(String(original));
    });
  }
}

/**
 * The per-data-file work of one pass of the snapshot load over `store`, on `threads` worker
 * threads (0: on the calling thread). Run at most `threads` files at once (or any number with 0
 * threads); close in a `finally`.
 */
export class SnapshotWorkers {
  readonly #store: ObjectStore;
  readonly #context: SnapshotPassContext;
  readonly #threads: readonly SnapshotThread[];
  #prepared: PreparedRowsContext | undefined;
  #guessed: { readonly id: number; readonly prepared: PreparedRowsContext | undefined } | undefined;
  #nextTask = 0;

  private constructor(store: ObjectStore, context: SnapshotPassContext, threads: number) {
    this.#store = store;
    this.#context = context;
    const storeErrors = new Map<number, unknown>();
    this.#threads = Array.from({ length: threads }, () => new SnapshotThread(store, context, storeErrors));
  }

  /** Starts `threads` worker threads for the pass `context` describes. */
  static start(store: ObjectStore, context: SnapshotPassContext, threads: number): SnapshotWorkers {
    return new SnapshotWorkers(store, context, threads);
  }

  /** Files that may run at once. */
  get concurrency(): number {
    return Math.max(1, this.#threads.length);
  }

  /**
   * The schema pass over the `index`-th data file (observeDataFile), converting its rows under
   * `guess` when given and the context asks for rows (`onSpool` hears of their spool files, as in
   * `convert`). Errors thrown in a worker arrive as objects of their own class, message and code;
   * the store's errors as the store threw them.
   */
  observe(
    file: ExportDataFile,
    index = 0,
    guess?: RowsGuess,
    onSpool: (file: string, rows: number, bucket: number) => void = () => {},
  ): Promise<SchemaFileResult> {
    const context = this.#context as SchemaPassContext;
    if (this.#threads.length === 0) {
      if (guess !== undefined && this.#guessed?.id !== guess.id) {
        this.#guessed = { id: guess.id, prepared: prepareGuess(context, guess) };
      }
      const prepared = guess === undefined ? undefined : this.#guessed?.prepared;
      return observeDataFile(
        this.#store,
        file,
        context,
        prepared === undefined || guess === undefined
          ? undefined
          : { guess: guess.id, prepared, index, onSpool },
      );
    }
    return this.#run(file, index, onSpool, guess) as Promise<SchemaFileResult>;
  }

  /** The rows pass over the `index`-th data file (convertDataFile), with the same errors as `observe`. */
  convert(
    file: ExportDataFile,
    index: number,
    onSpool: (file: string, rows: number, bucket: number) => void,
  ): Promise<RowsFileResult> {
    if (this.#threads.length === 0) {
      this.#prepared ??= prepareRowsContext(this.#context as RowsPassContext);
      return convertDataFile(this.#store, file, index, this.#prepared, onSpool);
    }
    return this.#run(file, index, onSpool, undefined) as Promise<RowsFileResult>;
  }

  #run(
    file: ExportDataFile,
    index: number,
    onSpool: (file: string, rows: number, bucket: number) => void,
    guess: RowsGuess | undefined,
  ): Promise<SchemaFileResult | RowsFileResult> {
    const thread = this.#threads.find((candidate) => !candidate.busy);
    if (thread === undefined) {
      return Promise.reject(new RangeError('more snapshot files at once than the load has threads'));
    }
    return thread.run(this.#nextTask++, file, index, onSpool, guess);
  }

  /** Stops every thread (a running task's spool file being written is left in the scratch folder). */
  async close(): Promise<void> {
    await Promise.all(this.#threads.map((thread) => thread.terminate()));
  }
}
