import { Readable } from 'node:stream';
import { parentPort } from 'node:worker_threads';
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
  type SchemaFileResult,
  type SnapshotPassContext,
} from './snapshot-file-tasks.ts';
import { type SerializedError, serializeError } from './snapshot-worker-errors.ts';

/*
 * A worker thread of the snapshot load (snapshot-workers.ts starts it): runs the per-data-file
 * work of snapshot-file-tasks.ts, one file at a time, for the pass its context names. The data
 * files' bytes come from the main thread's object store, streamed over the message port on
 * demand, so every store (local folder, S3, a test's wrapper) works unchanged; spool files are
 * written straight to the session's scratch folder.
 */

/** From the main thread. */
export type ToWorker =
  | { readonly type: 'context'; readonly context: SnapshotPassContext }
  | {
      readonly type: 'task';
      readonly task: number;
      readonly file: ExportDataFile;
      readonly index: number;
      readonly guess?: RowsGuess;
    }
  | { readonly type: 'opened'; readonly stream: number }
  | { readonly type: 'chunk'; readonly stream: number; readonly bytes: Uint8Array }
  | { readonly type: 'end'; readonly stream: number }
  | { readonly type: 'failed'; readonly stream: number; readonly error: SerializedError };

/** To the main thread. */
export type FromWorker =
  | {
      readonly type: 'get';
      readonly stream: number;
      readonly key: string;
      readonly range: { readonly start: number; readonly end?: number } | undefined;
    }
  | { readonly type: 'pull'; readonly stream: number }
  | { readonly type: 'cancel'; readonly stream: number }
  | {
      readonly type: 'spool';
      readonly task: number;
      readonly file: string;
      readonly rows: number;
      readonly bucket: number;
    }
  | { readonly type: 'done'; readonly task: number; readonly result: SchemaFileResult | RowsFileResult }
  | { readonly type: 'failed'; readonly task: number; readonly error: SerializedError };

/** Bytes of a data file buffered ahead of the gunzip. */
const STREAM_HIGH_WATER_MARK = 1 << 20;

const port = parentPort;
if (port === null) throw new Error('snapshot-load-worker.ts runs as a worker thread only');
const post = (message: FromWorker): void => port.postMessage(message);

interface PendingStream {
  opened?: { resolve: () => void; reject: (error: Error) => void };
  readable?: Readable;
}

const streams = new Map<number, PendingStream>();
let nextStream = 0;

function failure(error: SerializedError): Error {
  return Object.assign(new Error(error.message), { storeError: error.fields['storeError'] });
}

/** The main thread's store, seen through the port: `get` only, which is all the readers use. */
const remoteStore: ObjectStore = {
  url: 'worker:',
  async get(key, range) {
    const stream = nextStream++;
    const entry: PendingStream = {};
    streams.set(stream, entry);
    await new Promise<void>((resolve, reject) => {
      entry.opened = { resolve, reject };
      post({ type: 'get', stream, key, range });
    });
    const readable = new Readable({
      highWaterMark: STREAM_HIGH_WATER_MARK,
      read: () => post({ type: 'pull', stream }),
      destroy: (error, callback) => {
        if (streams.delete(stream)) post({ type: 'cancel', stream });
        callback(error);
      },
    });
    entry.readable = readable;
    return readable;
  },
  list: () => {
    throw unavailable('list');
  },
  head: () => Promise.reject(unavailable('head')),
  getBytes: () => Promise.reject(unavailable('getBytes')),
  put: () => Promise.reject(unavailable('put')),
  putIfAbsent: () => Promise.reject(unavailable('putIfAbsent')),
  delete: () => Promise.reject(unavailable('delete')),
  close: async () => {},
};

function unavailable(method: string): Error {
  return new Error(`the snapshot load's worker store has no ${method}`);
}

function onStream(message: Exclude<ToWorker, { type: 'context' | 'task' }>): void {
  const entry = streams.get(message.stream);
  if (entry === undefined) return;
  switch (message.type) {
    case 'opened':
      entry.opened?.resolve();
      return;
    case 'chunk':
      entry.readable?.push(Buffer.from(message.bytes.buffer, message.bytes.byteOffset, message.bytes.length));
      return;
    case 'end':
      streams.delete(message.stream);
      entry.readable?.push(null);
      return;
    case 'failed':
      streams.delete(message.stream);
      if (entry.readable === undefined) entry.opened?.reject(failure(message.error));
      else entry.readable.destroy(failure(message.error));
      return;
  }
}

let context: SnapshotPassContext | undefined;
let prepared: PreparedRowsContext | undefined;
/** The last guess of the schema pass, prepared (undefined: it cannot hold rows). */
let guessed: { readonly id: number; readonly prepared: PreparedRowsContext | undefined } | undefined;

async function runTask(task: number, file: ExportDataFile, index: number, guess?: RowsGuess): Promise<void> {
  try {
    if (context === undefined) throw new Error('a snapshot task arrived before its context');
    let result: SchemaFileResult | RowsFileResult;
    if (context.pass === 'schema') {
      if (guess !== undefined && guessed?.id !== guess.id) {
        guessed = { id: guess.id, prepared: prepareGuess(context, guess) };
      }
      const convert =
        guess === undefined || guessed?.prepared === undefined
          ? undefined
          : {
              guess: guess.id,
              prepared: guessed.prepared,
              index,
              onSpool: (spool: string, rows: number, bucket: number) =>
                post({ type: 'spool', task, file: spool, rows, bucket }),
            };
      result = await observeDataFile(remoteStore, file, context, convert);
    } else {
      prepared ??= prepareRowsContext(context);
      result = await convertDataFile(remoteStore, file, index, prepared, (spool, rows, bucket) =>
        post({ type: 'spool', task, file: spool, rows, bucket }),
      );
    }
    post({ type: 'done', task, result });
  } catch (error) {
    post({ type: 'failed', task, error: serializeError(error) });
  }
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'context':
      context = message.context;
      prepared = undefined;
      guessed = undefined;
      return;
    case 'task':
      void runTask(message.task, message.file, message.index, message.guess);
      return;
    default:
      onStream(message);
  }
});
