import { type BadLine, problemOf } from '../../formats/bad-line.ts';
import { changeRecordLine } from '../../formats/change-file-encoder.ts';
import { parseChangeFileKey } from '../../formats/change-file-key.ts';
import { readChangeFile } from '../../formats/change-file-reader.ts';
import {
  type IncrementalExportChange,
  parseExportItemLine,
  parseIncrementalExportLine,
} from '../../formats/export-line.ts';
import { readExportChanges } from '../../formats/export-reader.ts';
import { parseChangeRecord } from '../../formats/parse-change-record.ts';
import { KeyAttributeError, SequenceNumberError } from '../../lake/model-errors.ts';
import { mapLimited } from '../../map-limited.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import { type ApplyEvent, ApplyEventCode } from '../apply-events.ts';
import type { ChangeReduction } from '../changes/change-reduction.ts';
import { quarantineSequenceConflicts } from '../changes/sequence-conflicts.ts';
import { openIncrementalExport } from './input-discovery.ts';
import { readQuarantine } from './quarantine.ts';

/*
 * Reading a batch's change inputs (change files, then incremental exports) into the fold of the
 * batch (change-reduction.ts). A line that cannot be read, or a record that cannot be placed (no
 * key of the table, a sequence number that is not digits), is a bad line: it goes to the
 * quarantine with its file, line and reason, never silently away (DESIGN.md rule 7). So is every
 * copy of a stream record whose copies differ (sequence-conflicts.ts).
 */

/** Change files read at once: they are small, and a store answers each get after a round trip. */
const FILES_IN_FLIGHT = 8;

export interface BatchChangeInputs {
  readonly changeFiles: readonly string[];
  readonly incrementalExports: readonly string[];
  /** A batch whose quarantine (beside the table) is replayed. */
  readonly replayQuarantine?: number;
}

/** What reading the inputs saw. */
export interface ReadChangesOutcome {
  /** Records and incremental-export lines read (bad lines not included). */
  readonly records: number;
  /** The bad lines, in input order (file by file, line by line). */
  readonly badLines: readonly BadLine[];
}

/** A record the fold refused because it cannot be placed: a bad line with the fold's reason. */
function refused(error: unknown, file: string, line: number, text: string): BadLine {
  if (error instanceof KeyAttributeError) {
    return { file, line, reason: error.message, path: `keys.${error.attribute}`, text };
  }
  if (error instanceof SequenceNumberError) return { file, line, reason: error.message, path: 'seq', text };
  throw error;
}

/** The text of an incremental-export line as DynamoDB writes it (for the quarantine). */
function incrementalLineText(change: IncrementalExportChange): string {
  return JSON.stringify({
    Metadata: { WriteTimestampMicros: { N: change.writeTimestampMicros } },
    Keys: change.keys,
    ...(change.newImage === undefined ? {} : { NewImage: change.newImage }),
    ...(change.oldImage === undefined ? {} : { OldImage: change.oldImage }),
  });
}

/**
 * Reads every change file (8 at a time) and then every incremental export of `inputs` from the
 * landing area into `reduction`, and returns the bad lines in input order, then the copies of
 * stream records whose copies differ (voided in `reduction`, sequence-conflicts.ts). The fold does not
 * depend on the order records arrive in, so files are read concurrently; bad lines are gathered
 * per file and returned in the order of the inputs, so a rebuilt batch quarantines the same lines
 * in the same order.
 * @throws ObjectNotFoundError when a listed change file is gone (the batch cannot be built
 *   exactly); CorruptGzipError for a damaged gzip; the export readers' errors for a damaged export.
 */
export async function readBatchChanges(
  landing: ObjectStore,
  inputs: BatchChangeInputs,
  reduction: ChangeReduction,
  emit: (event: ApplyEvent) => void,
  replay?: { readonly delta: ObjectStore; readonly snapshotKind: 'export' | 'scan' },
): Promise<ReadChangesOutcome> {
  let records = 0;
  let filesDone = 0;
  const files = inputs.changeFiles.length;
  const perFile = await mapLimited(inputs.changeFiles, FILES_IN_FLIGHT, async (key) => {
    const bad: BadLine[] = [];
    let read = 0;
    for await (const { record, file, line } of readChangeFile(landing, key, {
      onBadLine: (line) => {
        bad.push(line);
      },
    })) {
      read++;
      try {
        reduction.addStreamRecord(record, { file, line });
      } catch (error) {
        bad.push(refused(error, file, line, changeRecordLine(record)));
      }
    }
    records += read;
    filesDone++;
    emit({ code: ApplyEventCode.changeFileRead, file: key, records, filesDone, files });
    return bad;
  });
  const badLines = perFile.flat();
  for (const exportId of inputs.incrementalExports) {
    const opened = await openIncrementalExport(landing, exportId);
    for await (const change of readExportChanges(landing, opened, {
      onBadLine: (line) => {
        badLines.push(line);
      },
    })) {
      records++;
      try {
        reduction.addIncrementalChange(change, { file: change.file, line: change.line });
      } catch (error) {
        badLines.push(refused(error, change.file, change.line, incrementalLineText(change)));
      }
    }
    emit({ code: ApplyEventCode.changeFileRead, file: opened.dir, records, filesDone, files });
  }
  const replayedLines = new Map<string, string>();
  if (inputs.replayQuarantine !== undefined && replay !== undefined) {
    records += await replayQuarantined(
      replay.delta,
      inputs.replayQuarantine,
      reduction,
      replay.snapshotKind,
      badLines,
      replayedLines,
    );
  }
  badLines.push(
    ...(await quarantineSequenceConflicts(landing, reduction, inputs.changeFiles, replayedLines)),
  );
  return { records, badLines };
}

/**
 * Feeds the quarantined lines of `batch` (as they are now: fixed in place, or not) to the fold, each
 * parsed as what its original file holds: a change record (a file under `changes/`), an
 * incremental-export line (it has `Keys`), or a snapshot item. A line still bad is a bad line of
 * this batch again, under its original file and line. Returns the lines read; `changeLines` gets
 * the canonical line of each replayed change record, keyed `<file>\n<line>` of its origin.
 */
async function replayQuarantined(
  delta: ObjectStore,
  batch: number,
  reduction: ChangeReduction,
  snapshotKind: 'export' | 'scan',
  badLines: BadLine[],
  changeLines: Map<string, string>,
): Promise<number> {
  let lines = 0;
  for await (const quarantined of readQuarantine(delta, batch)) {
    lines++;
    const origin = { file: quarantined.file, line: quarantined.line };
    try {
      const json: unknown = JSON.parse(quarantined.text);
      if (parseChangeFileKey(quarantined.file) !== undefined) {
        const record = parseChangeRecord(json);
        reduction.addStreamRecord(record, origin);
        changeLines.set(`${origin.file}\n${origin.line}`, changeRecordLine(record));
      } else if (typeof json === 'object' && json !== null && 'Keys' in json) {
        reduction.addIncrementalChange(parseIncrementalExportLine(json), origin);
      } else {
        reduction.addSnapshotItem(parseExportItemLine(json), snapshotKind, origin);
      }
    } catch (error) {
      const problem =
        error instanceof SyntaxError
          ? { reason: `not valid JSON (${error.message})` }
          : error instanceof KeyAttributeError || error instanceof SequenceNumberError
            ? { reason: error.message }
            : problemOf(error);
      badLines.push({
        ...origin,
        ...problem,
        reason: `replayed from ${quarantined.quarantineFile} line ${quarantined.quarantineLine}: ${problem.reason}`,
        text: quarantined.text,
      });
    }
  }
  return lines;
}
