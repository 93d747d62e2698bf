import type { BadLine } from '../../formats/bad-line.ts';
import { StateFileError } from '../../lake/model-errors.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { batchText, parseBatchText } from '../batch-number.ts';

/*
 * The quarantine of an apply batch (DESIGN.md rule 6): every record the batch could not read or
 * apply, with its file, line and reason and the line's exact text, so that after a fix it can be
 * replayed. Beside the table:
 *
 *   _ddb_lake/quarantine/apply/<20-digit batch>/<6-digit n>.jsonl
 *   {"file":"changes/…jsonl.gz","line":12,"reason":"…","path":"new.total","text":"<the raw line>"}
 *
 * Files hold up to 10,000 lines each, numbered from 000001 in the order lines were added; the
 * numbers are zero-padded so a listing is in order. Closing a writer removes files of an earlier
 * attempt at the same batch beyond the ones it wrote, so a rebuilt batch leaves exactly its own.
 */

export const QUARANTINE_FOLDER = '_ddb_lake/quarantine/apply/';
export const QUARANTINE_LINES_PER_FILE = 10_000;

/** The folder of one batch's quarantine, ending with `/`. @throws RangeError for a batch below 1. */
export function quarantineFolder(batch: number): string {
  return `${QUARANTINE_FOLDER}${batchText(batch)}/`;
}

/** The key of a batch's n-th quarantine file (n from 1). */
export function quarantineFileKey(batch: number, n: number): string {
  return `${quarantineFolder(batch)}${String(n).padStart(6, '0')}.jsonl`;
}

function lineOf(bad: BadLine): string {
  const record: Record<string, unknown> = { file: bad.file, line: bad.line, reason: bad.reason };
  if (bad.path !== undefined) record['path'] = bad.path;
  record['text'] = bad.text;
  return `${JSON.stringify(record)}\n`;
}

/** What a closed writer wrote. */
export interface QuarantineSummary {
  readonly batch: number;
  /** The batch's quarantine folder. */
  readonly folder: string;
  readonly count: number;
  /** Keys of the files written, in order. */
  readonly files: readonly string[];
}

/**
 * Collects the bad lines of one batch and writes them to its quarantine folder: a full file as
 * soon as it has `linesPerFile` lines, the rest at `close`. Not safe for concurrent `add` calls
 * from several readers: give each line in a deterministic order, so a rebuilt batch writes the same
 * files (the readers' `onBadLine` callbacks wait for `add`).
 */
export class QuarantineWriter {
  readonly #store: ObjectStore;
  readonly #batch: number;
  readonly #linesPerFile: number;
  #lines: string[] = [];
  #count = 0;
  readonly #files: string[] = [];
  #closed = false;

  constructor(store: ObjectStore, batch: number, options: { readonly linesPerFile?: number } = {}) {
    quarantineFolder(batch);
    this.#store = store;
    this.#batch = batch;
    this.#linesPerFile = options.linesPerFile ?? QUARANTINE_LINES_PER_FILE;
  }

  /** Lines added so far. */
  get count(): number {
    return this.#count;
  }

  /**
   * Adds one bad line; writes a file when one is full.
   * @throws Error when the writer is closed.
   */
  async add(bad: BadLine): Promise<void> {
    if (this.#closed) throw new Error('the quarantine writer is closed');
    this.#lines.push(lineOf(bad));
    this.#count++;
    if (this.#lines.length >= this.#linesPerFile) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#lines.length === 0) return;
    const key = quarantineFileKey(this.#batch, this.#files.length + 1);
    const body = this.#lines.join('');
    this.#lines = [];
    await this.#store.put(key, body);
    this.#files.push(key);
  }

  /**
   * Writes the remaining lines, removes files of an earlier attempt at this batch that this one
   * did not write, and says what was written. A batch without bad lines leaves no files. Idempotent.
   */
  async close(): Promise<QuarantineSummary> {
    if (!this.#closed) {
      this.#closed = true;
      await this.#flush();
      const written = new Set(this.#files);
      for await (const object of this.#store.list(quarantineFolder(this.#batch))) {
        if (!written.has(object.key)) await this.#store.delete(object.key);
      }
    }
    return {
      batch: this.#batch,
      folder: quarantineFolder(this.#batch),
      count: this.#count,
      files: [...this.#files],
    };
  }
}

/**
 * Writes a batch's bad lines in one go (see `QuarantineWriter`), replacing an earlier attempt's.
 */
export async function writeQuarantine(
  store: ObjectStore,
  batch: number,
  lines: Iterable<BadLine>,
): Promise<QuarantineSummary> {
  const writer = new QuarantineWriter(store, batch);
  for (const bad of lines) await writer.add(bad);
  return writer.close();
}

/** One batch that has a quarantine. */
export interface QuarantinedBatch {
  readonly batch: number;
  readonly folder: string;
  /** Keys of its quarantine files, in order. */
  readonly files: readonly string[];
}

/** Every batch with quarantined lines, ascending by batch number. */
export async function listQuarantine(store: ObjectStore): Promise<QuarantinedBatch[]> {
  const batches = new Map<number, string[]>();
  for await (const object of store.list(QUARANTINE_FOLDER)) {
    const rest = object.key.slice(QUARANTINE_FOLDER.length);
    const slash = rest.indexOf('/');
    if (slash < 0 || !rest.endsWith('.jsonl')) continue;
    const batch = parseBatchText(rest.slice(0, slash));
    if (batch === undefined) continue;
    let files = batches.get(batch);
    if (files === undefined) {
      files = [];
      batches.set(batch, files);
    }
    files.push(object.key);
  }
  return [...batches]
    .sort((a, b) => a[0] - b[0])
    .map(([batch, files]) => ({ batch, folder: quarantineFolder(batch), files }));
}

/** A quarantined line as read back, with where it sits in the quarantine. */
export interface QuarantinedLine extends BadLine {
  readonly quarantineFile: string;
  /** 1-based line in the quarantine file. */
  readonly quarantineLine: number;
}

function parseQuarantined(text: string, file: string, line: number): QuarantinedLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const v = value as Record<string, unknown> | undefined;
  if (
    typeof v !== 'object' ||
    v === null ||
    typeof v['file'] !== 'string' ||
    typeof v['line'] !== 'number' ||
    !Number.isSafeInteger(v['line']) ||
    typeof v['reason'] !== 'string' ||
    (v['path'] !== undefined && typeof v['path'] !== 'string') ||
    typeof v['text'] !== 'string'
  ) {
    throw new StateFileError(
      file,
      `${file} line ${line} is not a quarantined record {file, line, reason, path?, text}. Quarantine files are written by ddb-lake apply; restore it, or remove the line after saving it elsewhere.`,
    );
  }
  const bad = {
    file: v['file'],
    line: v['line'],
    reason: v['reason'],
    ...(v['path'] === undefined ? {} : { path: v['path'] as string }),
    text: v['text'],
  };
  return { ...bad, quarantineFile: file, quarantineLine: line };
}

/**
 * Every quarantined line of a batch, in the order it was written (file by file, line by line), for
 * a replay after a fix. A batch without quarantine yields nothing.
 * @throws StateFileError naming the quarantine file and line that is not a quarantined record.
 */
export async function* readQuarantine(
  store: ObjectStore,
  batch: number,
): AsyncGenerator<QuarantinedLine, void, undefined> {
  for await (const object of store.list(quarantineFolder(batch))) {
    if (!object.key.endsWith('.jsonl')) continue;
    const text = Buffer.from(await store.getBytes(object.key)).toString('utf8');
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    for (let i = 0; i < lines.length; i++) yield parseQuarantined(lines[i] as string, object.key, i + 1);
  }
}
