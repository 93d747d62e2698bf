/*
 * The result document of one `npm run bench` (every bench's rows, how each bench process ended,
 * the machine it ran on), its file in bench/results/, the table printed at the end of a run, and
 * the comparison of two documents' ratios. No process is started here: bench/run-all.ts runs the
 * benches and hands their rows over.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BenchGoal, BenchRow } from './results.ts';

/** How one bench process ended. */
export interface BenchRun {
  readonly bench: string;
  readonly status: 'passed' | 'failed';
  /** The exit code, or null when a signal ended the process. */
  readonly exitCode: number | null;
  readonly signal?: string;
  readonly seconds: number;
  /** The arguments the bench ran with (its size parameters). */
  readonly args: readonly string[];
  /** The last lines the bench wrote to stderr; kept for a failed run. */
  readonly stderrTail: readonly string[];
}

/** The machine a run measured. */
export interface MachineFacts {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGb: number;
  readonly platform: string;
  readonly arch: string;
  readonly node: string;
  /** `git rev-parse HEAD`, or null outside a repository. */
  readonly commit: string | null;
  /** Whether the working tree had changes against that commit. */
  readonly dirty: boolean;
}

/** One result file of bench/results/. */
export interface ResultDocument {
  /** ISO 8601, UTC. */
  readonly createdAt: string;
  readonly size: string;
  readonly machine: MachineFacts;
  readonly runs: readonly BenchRun[];
  readonly rows: readonly BenchRow[];
}

/** A ratio of the current run next to the same bench and metric in an older one. */
export interface RatioChange {
  readonly bench: string;
  readonly metric: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  /** Undefined when the older run has no such row. */
  readonly before?: number;
  /** Undefined when the current run has no such row (its bench failed or was not run). */
  readonly after?: number;
  /** Whether both rows were measured with the same parameters (sizes); false when either is missing. */
  readonly sameParameters: boolean;
}

/** `2026-11-23_14-05-09.json`: the file name of a run started at `date` (UTC), sortable by time. */
export function resultFileName(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace('T', '_').replaceAll(':', '-')}.json`;
}

/**
 * Writes `document` into `folder` (created if missing) as `resultFileName(createdAt)` and returns
 * the file's path. Overwrites a file of the same second.
 */
export async function writeResultDocument(folder: string, document: ResultDocument): Promise<string> {
  await mkdir(folder, { recursive: true });
  const file = path.join(folder, resultFileName(new Date(document.createdAt)));
  await writeFile(file, `${formatJson(document, '')}\n`);
  return file;
}

/** The project's formatter's line width (biome.json): a result file must pass `npm run lint` as written. */
const LINE_WIDTH = 110;

/**
 * JSON as the project's formatter lays it out: objects expanded, one member a line; an array of
 * plain values on one line when that line fits, otherwise one value a line. `prefix` is what
 * precedes the value on its line (indentation and key), so the fit can be measured.
 */
function formatJson(value: unknown, indent: string, prefix = indent): string {
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((item) => item === null || typeof item !== 'object')) {
      const inline = `[${value.map((item) => JSON.stringify(item)).join(', ')}]`;
      // The trailing comma a following member adds counts towards the width.
      if (prefix.length + inline.length + 1 <= LINE_WIDTH) return inline;
    }
    return `[\n${value.map((item) => `${inner}${formatJson(item, inner)}`).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, member]) => member !== undefined);
    if (entries.length === 0) return '{}';
    const members = entries.map(([key, member]) => {
      const head = `${inner}${JSON.stringify(key)}: `;
      return `${head}${formatJson(member, inner, head)}`;
    });
    return `{\n${members.join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value);
}

/** Reads a result file written by writeResultDocument; throws naming the file when it is not one. */
export async function readResultDocument(file: string): Promise<ResultDocument> {
  const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<ResultDocument>;
  if (typeof parsed.createdAt !== 'string' || !Array.isArray(parsed.rows) || !Array.isArray(parsed.runs)) {
    throw new Error(`${file} is not a bench result file (it needs createdAt, runs and rows)`);
  }
  return parsed as ResultDocument;
}

/** A figure with about three significant digits, thousands separated. */
export function formatFigure(value: number): string {
  const magnitude = Math.abs(value);
  const digits = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A ratio with two decimals, or two significant digits below 0.1 (a share such as 0.0042). */
export function formatRatio(ratio: number): string {
  return Math.abs(ratio) >= 0.1 || ratio === 0 ? ratio.toFixed(2) : ratio.toPrecision(2);
}

/** Whether `row` meets its goal; undefined when it has none. */
export function goalMet(row: BenchRow): boolean | undefined {
  if (row.goal === undefined) return undefined;
  const value = row.goal.on === 'ratio' ? row.ratio : row.ours;
  return row.better === 'higher' ? value >= row.goal.value : value <= row.goal.value;
}

function goalText(goal: BenchGoal | undefined, row: BenchRow): string {
  if (goal === undefined) return '';
  const sign = row.better === 'higher' ? '≥' : '≤';
  const threshold = goal.on === 'ratio' ? formatRatio(goal.value) : `${formatFigure(goal.value)} ${row.unit}`;
  return `${goal.on} ${sign} ${threshold}: ${goalMet(row) ? 'met' : 'NOT met'}`;
}

/** Columns padded to their widest cell; `right` lists the right-aligned columns. */
function renderColumns(header: readonly string[], body: readonly string[][], right: ReadonlySet<number>) {
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...body.map((line) => (line[column] ?? '').length)),
  );
  const render = (cells: readonly string[]) =>
    cells
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        return right.has(column) ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [render(header), rule, ...body.map(render)].join('\n');
}

/**
 * The table of a run: one line per row (bench, metric, ours, baseline, ratio, goal, peak RSS), in
 * the order of `runs`; a failed bench gets one line saying so with its exit code, and its last
 * stderr lines follow the table. A bench that passed without reporting a row says so too.
 */
export function renderResultTable(document: ResultDocument): string {
  const body: string[][] = [];
  const failures: string[] = [];
  for (const run of document.runs) {
    const rows = document.rows.filter((row) => row.bench === run.bench);
    for (const row of rows) {
      body.push([
        row.bench,
        row.metric,
        `${formatFigure(row.ours)} ${row.unit}`,
        `${formatFigure(row.baseline)} ${row.unit}`,
        `${formatRatio(row.ratio)} (${row.better} is better)`,
        goalText(row.goal, row),
        `${row.peakRssMb.toFixed(0)} MB`,
      ]);
    }
    if (run.status === 'failed') {
      const ended = run.exitCode === null ? `signal ${run.signal ?? '?'}` : `exit code ${run.exitCode}`;
      body.push([run.bench, `FAILED (${ended}) after ${run.seconds.toFixed(0)} s`, '', '', '', '', '']);
      failures.push(`${run.bench} (${ended}), last stderr lines:`, ...run.stderrTail.map((l) => `  ${l}`));
    } else if (rows.length === 0) {
      body.push([run.bench, 'passed but reported no figures', '', '', '', '', '']);
    }
  }
  const table = renderColumns(
    ['bench', 'metric', 'ours', 'baseline', 'ratio', 'goal', 'peak RSS'],
    body,
    new Set([2, 3, 6]),
  );
  return failures.length === 0 ? table : `${table}\n\n${failures.join('\n')}`;
}

/**
 * Every (bench, metric) of either document with its ratio before and after, in the current
 * document's order, then the older document's rows the current one lacks.
 */
export function ratioChanges(current: ResultDocument, older: ResultDocument): RatioChange[] {
  const key = (row: BenchRow) => `${row.bench}\u0000${row.metric}`;
  const before = new Map(older.rows.map((row) => [key(row), row]));
  const changes: RatioChange[] = [];
  const seen = new Set<string>();
  for (const row of current.rows) {
    seen.add(key(row));
    const old = before.get(key(row));
    changes.push({
      bench: row.bench,
      metric: row.metric,
      unit: row.unit,
      better: row.better,
      ...(old === undefined ? {} : { before: old.ratio }),
      after: row.ratio,
      sameParameters: old !== undefined && sameParameters(old, row),
    });
  }
  for (const row of older.rows) {
    if (seen.has(key(row))) continue;
    changes.push({
      bench: row.bench,
      metric: row.metric,
      unit: row.unit,
      better: row.better,
      before: row.ratio,
      sameParameters: false,
    });
  }
  return changes;
}

function sameParameters(a: BenchRow, b: BenchRow): boolean {
  const keys = new Set([...Object.keys(a.parameters), ...Object.keys(b.parameters)]);
  return [...keys].every((key) => a.parameters[key] === b.parameters[key]);
}

/**
 * The comparison table: each ratio before and after, its change in percent, and whether that is
 * better or worse (by the row's `better`; a change under 2 % reads as the same), flagged when the
 * two rows were measured with other parameters.
 */
export function renderComparison(changes: readonly RatioChange[], olderLabel: string): string {
  const body = changes.map((change) => {
    const before = change.before === undefined ? 'none' : formatRatio(change.before);
    const after = change.after === undefined ? 'none' : formatRatio(change.after);
    let delta = '';
    let verdict = change.after === undefined ? 'not in this run' : 'new';
    if (change.before !== undefined && change.after !== undefined) {
      const relative = change.after / change.before - 1;
      delta = `${relative >= 0 ? '+' : ''}${(relative * 100).toFixed(1)} %`;
      const improved = change.better === 'higher' ? relative > 0 : relative < 0;
      verdict = Math.abs(relative) < 0.02 ? 'same' : improved ? 'better' : 'worse';
      if (!change.sameParameters) verdict += ' (measured with other parameters)';
    }
    return [change.bench, change.metric, before, after, delta, verdict];
  });
  return renderColumns(
    ['bench', 'metric', `ratio in ${olderLabel}`, 'ratio now', 'change', ''],
    body,
    new Set([2, 3, 4]),
  );
}
