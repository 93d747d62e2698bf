import type { BadLine } from '../../formats/bad-line.ts';
import { changeRecordLine } from '../../formats/change-file-encoder.ts';
import { readChangeFile } from '../../formats/change-file-reader.ts';
import { mapLimited } from '../../map-limited.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { ApplyErrorCode, ApplyRunError } from '../apply-errors.ts';
import type { ChangeReduction, RecordOrigin } from './change-reduction.ts';

/*
 * Copies of one stream record must be equal (DESIGN.md rule 1). A stream record is written once
 * with one sequence number; capture may write it again (a Lambda retry, a poller batch cut off
 * before its checkpoint), always with the same content. Two records of one key with the same
 * sequence number and different content therefore mean corrupt input, and choosing one by the
 * order files happen to be read would be a silent guess. So every copy of such a record is a bad
 * line of the batch, naming the files and lines of the others (the batch fails unless --max-bad
 * lets it through), and the fold takes that sequence number of the key out (`voidStreamRecord`):
 * no copy is applied, and neither is an older record of the key, which any copy would supersede.
 *
 * The fold keeps only where each copy came from, so that recognising duplicates costs nothing
 * when there are none; the copies' lines are read again here, only from the files that hold
 * repeated records.
 */

/** Change files read again at once. */
const FILES_IN_FLIGHT = 8;

function lineId(origin: RecordOrigin): string {
  return `${origin.file}\n${origin.line}`;
}

function where(origin: RecordOrigin): string {
  return `${origin.file} line ${origin.line}`;
}

/**
 * Compares the copies of every stream record the fold saw more than once
 * (`reduction.repeatedStreamRecords`). Copies whose canonical lines differ are voided in the fold
 * and returned as bad lines (`path` `seq`, `text` the copy's canonical line), one per copy, ordered
 * by the position of their file in `fileOrder` (the batch's inputs), then by line. `known` gives the
 * canonical line of copies that do not come from a change file as it stands (replayed quarantine
 * lines), keyed `<file>\n<line>`; the others are read again from `landing`.
 * @throws ApplyRunError when a line read before is no longer in its change file (the file changed
 *   while the batch read it); the readers' errors.
 */
export async function quarantineSequenceConflicts(
  landing: ObjectStore,
  reduction: ChangeReduction,
  fileOrder: readonly string[],
  known: ReadonlyMap<string, string> = new Map(),
): Promise<BadLine[]> {
  const repeats = reduction.repeatedStreamRecords();
  if (repeats.length === 0) return [];
  const wanted = new Map<string, Set<number>>();
  for (const repeat of repeats) {
    for (const copy of repeat.copies) {
      if (known.has(lineId(copy))) continue;
      const lines = wanted.get(copy.file) ?? new Set<number>();
      lines.add(copy.line);
      wanted.set(copy.file, lines);
    }
  }
  const texts = new Map(known);
  await mapLimited([...wanted], FILES_IN_FLIGHT, async ([file, lines]) => {
    for await (const { record, line } of readChangeFile(landing, file, { onBadLine: () => {} })) {
      if (lines.has(line)) texts.set(lineId({ file, line }), changeRecordLine(record));
    }
  });
  const bad: BadLine[] = [];
  for (const repeat of repeats) {
    const copies = repeat.copies.map((copy) => {
      const text = texts.get(lineId(copy));
      if (text === undefined) {
        throw new ApplyRunError(
          ApplyErrorCode.inputChanged,
          `${where(copy)} held a record of ${repeat.key} (sequence number ${repeat.seq}) when the batch read it, and no longer does: the change file changed while apply read it. Change files are written once; find what rewrites it, then run apply again.`,
        );
      }
      return { ...copy, text };
    });
    if (new Set(copies.map((copy) => copy.text)).size === 1) continue;
    reduction.voidStreamRecord(repeat.key, repeat.seq, copies.length);
    for (const copy of copies) {
      const others = copies.filter((other) => other !== copy).map(where);
      bad.push({
        file: copy.file,
        line: copy.line,
        path: 'seq',
        reason: `the stream record of ${repeat.key} with sequence number ${repeat.seq} is also in ${others.join(', ')} with different content; a stream record is written once, so one copy is corrupt. No copy is applied, and the key keeps its state from before this record (a newer record of it still applies). Correct or delete the wrong copy in the quarantine and apply it with --replay-quarantine, or let the batch through without it with --max-bad`,
        text: copy.text,
      });
    }
  }
  const position = new Map(fileOrder.map((file, index) => [file, index]));
  const rank = (file: string) => position.get(file) ?? fileOrder.length;
  return bad.sort(
    (a, b) =>
      rank(a.file) - rank(b.file) || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) || a.line - b.line,
  );
}
