import type { AddFile, DeletionVectorDescriptor } from './actions.ts';

/*
 * A data file under a new deletion vector (PROTOCOL.md, "Deletion Vectors", "Per-file
 * Statistics"): the same path, size and partition values, now a new logical file. Its statistics
 * stay those of the physical file (`numRecords` counts every row of it) but bound the live rows
 * only from outside: `tightBounds` false, since a min or max may belong to a deleted row. The stats
 * text is edited, never parsed and re-serialized: it holds exact numbers a JS number would round.
 */

/** The text index range of the top-level member `"name": value` of a JSON object text, or undefined. */
function topLevelMember(text: string, name: string): { start: number; end: number } | undefined {
  let depth = 0;
  let memberStart = -1;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth === 1 && memberStart === -1 && text.slice(start + 1, i) === name) memberStart = start;
      continue;
    }
    if (char === '{' || char === '[') depth++;
    else if (char === '}' || char === ']') {
      if (depth === 1 && memberStart !== -1) return { start: memberStart, end: i };
      depth--;
    } else if (char === ',' && depth === 1 && memberStart !== -1) return { start: memberStart, end: i };
  }
  return undefined;
}

/** Stats text with `tightBounds` set to false (added, or replacing the member that was there). */
export function looseBoundsStats(stats: string): string {
  const trimmed = stats.trimEnd();
  const member = topLevelMember(trimmed, 'tightBounds');
  if (member !== undefined)
    return `${trimmed.slice(0, member.start)}"tightBounds":false${trimmed.slice(member.end)}`;
  if (!trimmed.endsWith('}')) return stats;
  const body = trimmed.slice(0, -1).trimEnd();
  return `${body}${body.endsWith('{') ? '' : ','}"tightBounds":false}`;
}

/**
 * The `add` of `file` under `descriptor` (replacing whatever vector it had), with `dataChange`
 * true and its stats marked `tightBounds: false`. Pure.
 */
export function deletionVectorAdd(file: AddFile, descriptor: DeletionVectorDescriptor): AddFile {
  const stats = typeof file.stats === 'string' ? looseBoundsStats(file.stats) : file.stats;
  return { ...file, dataChange: true, deletionVector: descriptor, ...(stats === undefined ? {} : { stats }) };
}
